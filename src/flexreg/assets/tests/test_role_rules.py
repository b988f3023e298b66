"""Which roles may register which asset categories, and the extra information each gives
(``role_rules``, the rule set's ``[assets.roles.<ROLE>]``): the rules in force and their cache,
the start-up check against the catalogue, single registration (API), bulk registration (CSV and
JSON Lines, templates) and the portal's form."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from tests.signin import helpers as signin_helpers

from conftest import organisation_payload
from flexreg.assets import conformance, imports, role_rules, services
from flexreg.assets.models import Asset, AssetImport, AssetImportRow
from flexreg.assets.tests import helpers_registration
from flexreg.assets.tests.helpers_registration import Registrant, mpan, record
from flexreg.assets.tests.test_portal import _form_data
from flexreg.core.errors import DomainError, ValidationFailed
from flexreg.core.models import AuditEvent
from flexreg.entry import ruleset

pytestmark = pytest.mark.django_db

qualify = helpers_registration.qualify

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
NOT_ALLOWED = "asset.category_not_allowed_for_role"
SUPPLY_REF = "role_details.supply_contract_reference"
REGISTRANT_ROLES = ["FSP", "ASSET_OWNER", "AGGREGATOR", "SUPPLIER", "OEM", "PLATFORM"]


# --- who registers ------------------------------------------------------------------------------


@pytest.fixture
def company(registered: Any) -> tuple[Any, str]:
    """Brightwatt (verified), holding every role that registers assets."""
    user, body, _ = registered(organisation_payload(requested_roles=REGISTRANT_ROLES))
    return user, body["participant_id"]


@pytest.fixture
def supplier(company: tuple[Any, str], qualify: Any) -> Registrant:
    return qualify(*company, "SUPPLIER")


@pytest.fixture
def aggregator(company: tuple[Any, str], qualify: Any) -> Registrant:
    return qualify(*company, "AGGREGATOR")


@pytest.fixture
def platform(company: tuple[Any, str], qualify: Any) -> Registrant:
    return qualify(*company, "PLATFORM")


@pytest.fixture
def fsp(company: tuple[Any, str], qualify: Any) -> Registrant:
    return qualify(*company, "FSP")


def heat_pump(**overrides: Any) -> dict[str, Any]:
    """A valid heat pump record (a category suppliers and manufacturers may register)."""
    rec = record(category="HEAT_PUMP", capacity={"installed_kw": "7", "import_kw": "7"})
    rec["capacity"].pop("export_kw")
    rec["capacity"].pop("storage_kwh")
    rec.update(overrides)
    return rec


def wind_turbine(**overrides: Any) -> dict[str, Any]:
    """A valid wind turbine record (a category suppliers may not register)."""
    rec = record(
        category="WIND_TURBINE",
        energy_source="WIND",
        capacity={"installed_kw": "50", "export_kw": "50"},
    )
    rec["capacity"].pop("import_kw")
    rec["capacity"].pop("storage_kwh")
    rec.update(overrides)
    return rec


def _errors(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.content
    return {e["field"]: e["code"] for e in response.json()["errors"]}


@pytest.fixture
def rules_file(settings: Any, tmp_path: Path) -> Any:
    """write(text) -> a rule file of that text, in force (``FLEXREG_ENTRY_RULES``)."""

    def write(text: str) -> Path:
        path = tmp_path / "rules.toml"
        path.write_text(text, encoding="utf-8")
        settings.FLEXREG_ENTRY_RULES = str(path)
        return path

    return write


DEFAULT_TEXT = ruleset.DEFAULT_FILE.read_text(encoding="utf-8")
SUPPLIER_CATEGORIES = (
    'categories = ["BESS", "ELECTRIC_BOILER", "EV_CHARGER", "HEAT_PUMP", "SOLAR_PV"]'
)


# --- the rules in force -------------------------------------------------------------------------


def test_each_role_gets_its_rules_from_the_rule_file() -> None:
    fsp_rules = role_rules.rules_for("FSP")
    assert fsp_rules.categories is None and fsp_rules.fields == ()
    assert fsp_rules.allows("WIND_TURBINE")
    supplier_rules = role_rules.rules_for("SUPPLIER")
    assert supplier_rules.allows("HEAT_PUMP") and not supplier_rules.allows("WIND_TURBINE")
    assert supplier_rules.columns == (SUPPLY_REF,)
    assert role_rules.rules_for("OEM").categories == frozenset({"BESS", "EV_CHARGER", "HEAT_PUMP"})
    for nobody in ("PLATFORM", "DNO", "MARKET_FACILITATOR", None, ""):
        assert not role_rules.rules_for(nobody).allows("BESS"), nobody


def test_the_rules_are_cached_until_the_file_changes(rules_file: Any) -> None:
    assert role_rules.rules_for("SUPPLIER") is role_rules.rules_for("SUPPLIER")
    path = rules_file(DEFAULT_TEXT.replace(SUPPLIER_CATEGORIES, 'categories = ["BESS"]'))
    first = role_rules.rules_for("SUPPLIER")
    assert first.categories == frozenset({"BESS"})
    assert role_rules.rules_for("SUPPLIER") is first
    path.write_text(DEFAULT_TEXT.replace(SUPPLIER_CATEGORIES, 'categories = ["BESS", "CHP"]'))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert role_rules.rules_for("SUPPLIER").categories == frozenset({"BESS", "CHP"})


def test_a_rule_file_broken_in_place_keeps_the_last_good_rules(rules_file: Any) -> None:
    path = rules_file(DEFAULT_TEXT.replace(SUPPLIER_CATEGORIES, 'categories = ["BESS"]'))
    assert role_rules.rules_for("SUPPLIER").categories == frozenset({"BESS"})
    path.write_text(DEFAULT_TEXT.replace(SUPPLIER_CATEGORIES, 'categories = "BESS"'))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert role_rules.rules_for("SUPPLIER").categories == frozenset({"BESS"})


def test_without_any_readable_rules_registration_is_unavailable_not_a_crash(
    rules_file: Any,
) -> None:
    rules_file("schema = 2")
    role_rules.forget()
    try:
        with pytest.raises(DomainError) as err:
            role_rules.rules_for("FSP")
        assert err.value.status == 503 and err.value.code == "asset.rules_unavailable"
    finally:
        role_rules.forget()


# --- the start-up check -------------------------------------------------------------------------


def test_the_default_rules_pass_the_start_up_check() -> None:
    assert role_rules.categories_exist() == []


def test_a_category_missing_from_the_catalogue_stops_the_start(rules_file: Any) -> None:
    rules_file(DEFAULT_TEXT.replace(SUPPLIER_CATEGORIES, 'categories = ["BESS", "SPACESHIP"]'))
    [error] = role_rules.categories_exist()
    assert error.id == "flexreg.E511"
    assert "assets.roles.SUPPLIER.categories.1: 'SPACESHIP' is not a category" in error.msg


def test_a_registrant_role_without_asset_rules_is_pointed_out(rules_file: Any) -> None:
    rules_file(DEFAULT_TEXT.replace("[assets.roles.PLATFORM]\ncategories = []\n", ""))
    [warning] = role_rules.categories_exist()
    assert warning.id == "flexreg.W511" and "PLATFORM role may register no asset" in warning.msg


# --- checking one record ------------------------------------------------------------------------


def test_check_refuses_a_category_and_validates_the_fields_as_form_answers() -> None:
    clean, errors = role_rules.check("SUPPLIER", "heat pump", {"supply_contract_reference": " A1 "})
    assert (clean, errors) == ({"supply_contract_reference": "A1"}, [])
    clean, errors = role_rules.check(
        "SUPPLIER", "WIND_TURBINE", {"supply_contract_reference": "x" * 61, "colour": "red"}
    )
    assert clean == {}
    assert [(e.field, e.code) for e in errors] == [
        ("category", NOT_ALLOWED),
        ("role_details.colour", "unknown_field"),
        (SUPPLY_REF, "too_long"),
    ]
    assert "may not register wind turbine assets" in errors[0].message
    assert role_rules.check("SUPPLIER", "BESS", "SC-1")[1][0].field == "role_details"
    # An unknown category is conformance's to report.
    assert role_rules.check("ASSET_OWNER", "SPACESHIP", None) == ({}, [])


# --- single registration (API) ------------------------------------------------------------------


def test_a_role_registers_an_allowed_category_and_its_details_are_stored_and_shown(
    supplier: Registrant,
) -> None:
    response = supplier.api.post(
        "/assets", heat_pump(role_details={"supply_contract_reference": " SC-2041 "})
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["role_details"] == {"supply_contract_reference": "SC-2041"}
    asset = Asset.objects.get(asset_id=body["asset_id"])
    assert asset.role_details == {"supply_contract_reference": "SC-2041"}
    assert asset.registered_by_role == "SUPPLIER"
    shown = supplier.api.get(f"/assets/{asset.asset_id}").json()
    assert shown["view"] == "full"
    assert shown["role_details"] == {"supply_contract_reference": "SC-2041"}
    event = AuditEvent.objects.get(action="asset.registered", object_id=asset.asset_id)
    assert event.changes["after"]["role_details"] == {"supply_contract_reference": "SC-2041"}


def test_a_category_the_role_may_not_register_is_a_422_at_category(
    supplier: Registrant, platform: Registrant
) -> None:
    before = (Asset.objects.count(), AuditEvent.objects.count())
    response = supplier.api.post(
        "/assets", wind_turbine(role_details={"supply_contract_reference": "SC-1"})
    )
    assert _errors(response) == {"category": NOT_ALLOWED}
    [error] = response.json()["errors"]
    assert "Electricity Supplier" in error["message"] and "Heat pump" in error["message"]
    response = platform.api.post("/assets", heat_pump())
    assert _errors(response) == {"category": NOT_ALLOWED}
    assert "may not register assets itself" in response.json()["errors"][0]["message"]
    assert (Asset.objects.count(), AuditEvent.objects.count()) == before


def test_role_field_errors_come_with_the_conformance_errors_in_one_response(
    supplier: Registrant,
) -> None:
    bad = wind_turbine(contract_reference="x" * 101)
    bad["site"]["postcode"] = "NOT A CODE"
    assert _errors(supplier.api.post("/assets", bad)) == {
        "site.postcode": "postcode.invalid_format",
        "contract_reference": "too_long",
        "category": NOT_ALLOWED,
        SUPPLY_REF: "required",
    }
    bad = heat_pump(role_details={"supply_contract_reference": "y" * 61, "colour": "red"})
    assert _errors(supplier.api.post("/assets", bad)) == {
        SUPPLY_REF: "too_long",
        "role_details.colour": "unknown_field",
    }
    bad = heat_pump(role_details=["SC-1"])
    assert _errors(supplier.api.post("/assets", bad)) == {"role_details": "type_error"}
    assert not Asset.objects.exists()


def test_a_confirmation_must_be_given(aggregator: Registrant) -> None:
    errors = _errors(aggregator.api.post("/assets", record()))
    assert errors == {"role_details.owner_agreed": "entry.confirmation_required"}
    response = aggregator.api.post("/assets", record(role_details={"owner_agreed": True}))
    assert response.status_code == 201, response.content
    assert response.json()["role_details"] == {"owner_agreed": True}


def test_a_role_that_asks_for_nothing_refuses_details(fsp: Registrant) -> None:
    with pytest.raises(ValidationFailed) as err:
        services.register(fsp.acting, record(role_details={"note": "hello"}))
    assert [(e.field, e.code) for e in err.value.errors] == [("role_details.note", "unknown_field")]
    asset = services.register(fsp.acting, wind_turbine())
    assert asset.role_details == {}


# --- bulk registration --------------------------------------------------------------------------


def _flat(rec: dict[str, Any]) -> dict[str, str]:
    row: dict[str, str] = {}
    for key, value in rec.items():
        if isinstance(value, dict):
            row.update({f"{key}.{k}": str(v) for k, v in value.items()})
        else:
            row[key] = str(value)
    return row


def _csv(rows: list[dict[str, str]], extra: tuple[str, ...] = ()) -> bytes:
    columns = [*conformance.ALL_CSV_COLUMNS, imports.CONTRACT_REFERENCE, *extra]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue().encode()


def _upload(who: Registrant, content: bytes, capture: Any, name: str = "assets.csv") -> Any:
    with capture(execute=True):
        return who.api.client.post(
            "/api/v1/asset-imports",
            {"file": SimpleUploadedFile(name, content, "text/csv")},
            headers={"Authorization": f"Bearer {who.api.token}"},
        )


def _rows(response: Any) -> dict[int, AssetImportRow]:
    assert response.status_code == 202, response.content
    batch = AssetImport.objects.get(public_id=response.json()["import_id"])
    assert batch.status == AssetImport.Status.DONE, batch.error
    return {r.row_number: r for r in AssetImportRow.objects.filter(batch=batch)}


def test_an_import_applies_the_importing_roles_rules_to_every_row(
    supplier: Registrant, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.TASKS = IMMEDIATE
    ok = _flat(heat_pump(serial_number="HP-1"))
    ok[SUPPLY_REF] = " SC-1 "
    refused = _flat(wind_turbine(serial_number="WT-2"))
    refused[SUPPLY_REF] = "SC-2"
    missing = _flat(heat_pump(serial_number="HP-3", metering={"import_mpan": mpan("11")}))
    too_long = _flat(heat_pump(serial_number="HP-4", metering={"import_mpan": mpan("12")}))
    too_long[SUPPLY_REF] = "z" * 61
    content = _csv([ok, refused, missing, too_long], extra=(SUPPLY_REF,))
    rows = _rows(_upload(supplier, content, django_capture_on_commit_callbacks))
    assert rows[1].outcome == "accepted"
    assert Asset.objects.get(asset_id=rows[1].asset_id).role_details == {
        "supply_contract_reference": "SC-1"
    }
    assert [(e["field"], e["code"]) for e in rows[2].errors] == [("category", NOT_ALLOWED)]
    assert [(e["field"], e["code"]) for e in rows[3].errors] == [(SUPPLY_REF, "required")]
    assert [(e["field"], e["code"]) for e in rows[4].errors] == [(SUPPLY_REF, "too_long")]
    assert [rows[n].outcome for n in (2, 3, 4)] == ["rejected"] * 3
    assert Asset.objects.count() == 1


def test_json_lines_carry_a_role_details_object(
    supplier: Registrant, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.TASKS = IMMEDIATE
    lines = [
        heat_pump(serial_number="HP-J1", role_details={"supply_contract_reference": "SC-J1"}),
        heat_pump(
            serial_number="HP-J2",
            metering={"import_mpan": mpan("13")},
            role_details={"supply_contract_reference": "SC-J2", "colour": "red"},
        ),
    ]
    content = "".join(json.dumps(line) + "\n" for line in lines).encode()
    rows = _rows(_upload(supplier, content, django_capture_on_commit_callbacks, "a.jsonl"))
    assert rows[1].outcome == "accepted"
    assert Asset.objects.get(asset_id=rows[1].asset_id).role_details == {
        "supply_contract_reference": "SC-J1"
    }
    assert [(e["field"], e["code"]) for e in rows[2].errors] == [
        ("role_details.colour", "unknown_field")
    ]


def test_a_csv_header_may_only_name_the_importing_roles_columns(
    fsp: Registrant, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.TASKS = IMMEDIATE
    content = _csv([_flat(record())], extra=(SUPPLY_REF,))
    response = _upload(fsp, content, django_capture_on_commit_callbacks)
    assert response.status_code == 422
    assert response.json()["code"] == "asset_import.unknown_columns"
    assert "role_details.supply_contract_reference" in response.json()["detail"]


def test_templates_hold_the_roles_columns(supplier: Registrant) -> None:
    def header(path: str, **params: Any) -> list[str]:
        response = supplier.api.get(path, **params)
        assert response.status_code == 200, response.content
        body = b"".join(response.streaming_content).decode()
        return next(csv.reader(io.StringIO(body)))

    plain = [*conformance.csv_columns("HEAT_PUMP"), imports.CONTRACT_REFERENCE]
    # The caller's acting role by default, or the role asked for.
    assert header("/asset-imports/templates/HEAT_PUMP") == [*plain, SUPPLY_REF]
    assert header("/asset-imports/templates/heat_pump", role="asset_owner") == plain
    assert header("/asset-imports/templates/BESS", role="OEM")[-1] == (
        "role_details.model_registry_reference"
    )
    assert supplier.api.get("/asset-imports/templates/WIND_TURBINE").status_code == 404
    assert supplier.api.get("/asset-imports/templates/BESS", role="PLATFORM").status_code == 404


# --- the portal ---------------------------------------------------------------------------------


def _client(reg: Registrant) -> Client:
    return signin_helpers.portal_client(reg.user, reg.membership)


def test_the_portal_offers_only_the_roles_categories_and_asks_for_its_fields(
    supplier: Registrant,
) -> None:
    client = _client(supplier)
    start = client.get("/assets/register/").content.decode()
    assert 'value="HEAT_PUMP"' in start and 'value="WIND_TURBINE"' not in start
    assert client.get("/assets/register/WIND_TURBINE/").status_code == 404
    page = client.get("/assets/register/HEAT_PUMP/").content.decode()
    assert "What your role must tell us" in page
    assert 'name="role_details.supply_contract_reference"' in page
    assert 'for="role_details-supply_contract_reference">Supply contract reference<' in page

    response = client.post("/assets/register/HEAT_PUMP/", _form_data(heat_pump()))
    assert response.status_code == 422
    html = response.content.decode()
    assert re.search(r'href="#role_details-supply_contract_reference">\s*Enter supply', html)
    assert 'id="role_details-supply_contract_reference-error"' in html
    assert not Asset.objects.exists()

    data = _form_data(heat_pump(role_details={"supply_contract_reference": "SC-P1"}))
    response = client.post("/assets/register/HEAT_PUMP/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    asset = Asset.objects.get()
    assert asset.role_details == {"supply_contract_reference": "SC-P1"}
    page = client.get(f"/assets/{asset.asset_id}/").content.decode()
    assert "Supply contract reference" in page and "SC-P1" in page


def test_the_portal_shows_a_confirmation_as_a_checkbox(aggregator: Registrant) -> None:
    client = _client(aggregator)
    page = client.get("/assets/register/BESS/").content.decode()
    assert re.search(
        r'<input class="govuk-checkboxes__input" id="role_details-owner_agreed" '
        r'name="role_details.owner_agreed" type="checkbox" value="true"',
        page,
    )
    response = client.post("/assets/register/BESS/", _form_data(record()))
    assert response.status_code == 422
    assert 'href="#role_details-owner_agreed"' in response.content.decode()
    data = {**_form_data(record()), "role_details.owner_agreed": "true"}
    assert client.post("/assets/register/BESS/", data).status_code == 302
    assert Asset.objects.get().role_details == {"owner_agreed": True}


def test_a_role_that_registers_nothing_is_told_so(platform: Registrant) -> None:
    client = _client(platform)
    response = client.get("/assets/register/")
    assert response.status_code == 200
    assert "Your role does not register assets" in response.content.decode()
    assert 'name="category"' not in response.content.decode()
    assert client.get("/assets/register/BESS/").status_code == 404
    page = client.get("/assets/imports/new/").content.decode()
    assert "/assets/imports/templates/" not in page


def test_the_upload_page_links_the_roles_templates(supplier: Registrant) -> None:
    client = _client(supplier)
    page = client.get("/assets/imports/new/").content.decode()
    assert 'href="/assets/imports/templates/heat_pump.csv"' in page
    assert "templates/wind_turbine" not in page
    # The portal's own download, with the session (the API takes bearer tokens only): the
    # role's columns are in it; a category the role may not register is not found.
    template = client.get("/assets/imports/templates/heat_pump.csv")
    assert template.status_code == 200
    header = b"".join(template.streaming_content).decode().splitlines()[0].split(",")
    assert header[-1] == SUPPLY_REF
    assert client.get("/assets/imports/templates/wind_turbine.csv").status_code == 404
