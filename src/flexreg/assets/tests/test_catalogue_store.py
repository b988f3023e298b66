"""Operator-managed controlled lists: the central operator adds, relabels, retires and restores
catalogue values (lists, identifier schemes, categories); registrations, bulk imports, the
catalogue read and the CSV templates follow the catalogue in force at once; the in-process
cache notices a change made by any process; every change is audited. Real PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import Api
from flexreg.assets import catalogue_store, services, services_catalogue
from flexreg.assets.catalogue import default_catalogue
from flexreg.assets.models import AssetImport, CatalogueEntry
from flexreg.assets.tests import helpers_registration, test_imports
from flexreg.assets.tests.helpers_registration import Registrant, record
from flexreg.assets.tests.test_imports import battery, csv_bytes, outcomes, run_upload
from flexreg.core.acting import Acting
from flexreg.core.errors import PermissionDenied, ValidationFailed
from flexreg.core.models import AuditEvent

pytestmark = pytest.mark.django_db

fsp = helpers_registration.fsp
qualify = helpers_registration.qualify
tasks_now = test_imports.tasks_now

OP = "/operator/asset-catalogue"


def _catalogue(api: Api) -> dict[str, Any]:
    response = api.get("/asset-catalogue")
    assert response.status_code == 200, response.content
    return response.json()  # type: ignore[no-any-return]


def _listed(body: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    return {c["code"]: c for c in body["lists"][name]}


def _errors(response: Any) -> dict[str, str]:
    assert response["Content-Type"] == "application/problem+json"
    return {e["field"]: e["code"] for e in response.json()["errors"]}


@pytest.fixture
def operator_acting(operator: Any) -> Acting:
    from flexreg.accounts.acting import acting_for

    user, membership = operator
    return acting_for(user, membership, via="session")


# --- adding a value ------------------------------------------------------------------------------


def test_a_value_added_by_the_operator_can_be_registered_at_once(
    fsp: Registrant, operator_api: Api
) -> None:
    flexible = record(network={"connection_type": "flexible"})
    refused = fsp.api.post("/assets", flexible)
    assert refused.status_code == 422
    assert _errors(refused) == {"network.connection_type": "choice.invalid"}

    added = operator_api.post(
        f"{OP}/connection_types",
        {"code": "flexible", "value": {"label": "Flexible", "hint": "A profiled connection."}},
    )
    assert added.status_code == 201, added.content
    body = added.json()
    assert body["section"] == "connection_types" and body["code"] == "FLEXIBLE"
    assert body["label"] == "Flexible" and body["retired"] is False and body["added"] is True
    assert body["created_by"] == body["updated_by"] == "Olive Operator"

    registered = fsp.api.post("/assets", record(network={"connection_type": "flexible"}))
    assert registered.status_code == 201, registered.content
    assert registered.json()["network"]["connection_type"] == "FLEXIBLE"
    listed = _listed(_catalogue(fsp.api), "connection_types")["FLEXIBLE"]
    assert listed == {
        "code": "FLEXIBLE",
        "label": "Flexible",
        "hint": "A profiled connection.",
        "retired": False,
        "commissioned": None,
    }
    event = AuditEvent.objects.get(action="asset_catalogue.value_added")
    assert event.object_type == "asset_catalogue_value"
    assert event.object_id == "connection_types.FLEXIBLE"
    assert event.changes["after"]["label"] == "Flexible"


def test_a_category_added_with_its_schema_is_registered_and_templated(
    fsp: Registrant, operator_api: Api
) -> None:
    schema = {
        "label": "Flywheel",
        "hint": "Kinetic energy storage.",
        "kind": "storage",
        "energy_sources": ["GRID"],
        "default_energy_source": "GRID",
        "fields": {
            "capacity.storage_kwh": {
                "presence": "required",
                "code": "asset.storage_required",
                "message": "Enter the flywheel's storage energy in kWh.",
            },
            "capacity.export_kw": "required",
            "capacity.import_kw": "required",
        },
    }
    assert fsp.api.post("/assets", record(category="FLYWHEEL")).status_code == 422
    added = operator_api.post(f"{OP}/categories", {"code": "Flywheel", "value": schema})
    assert added.status_code == 201, added.content

    flywheel = fsp.api.post("/assets", record(category="flywheel"))
    assert flywheel.status_code == 201, flywheel.content
    assert flywheel.json()["category"] == "FLYWHEEL"
    assert flywheel.json()["energy_source"] == "GRID"  # the category's default
    missing = fsp.api.post("/assets", record(category="FLYWHEEL", capacity={"storage_kwh": None}))
    assert _errors(missing) == {"capacity.storage_kwh": "asset.storage_required"}

    category = {c["code"]: c for c in _catalogue(fsp.api)["categories"]}["FLYWHEEL"]
    assert category["kind"] == "storage" and category["label"] == "Flywheel"
    assert "capacity.storage_kwh" in category["required"]
    assert "v2g" in category["forbidden"] and "description" in category["optional"]
    template = fsp.api.get("/asset-imports/templates/flywheel")
    assert template.status_code == 200
    header = b"".join(template.streaming_content).decode().splitlines()[0].split(",")
    assert "capacity.storage_kwh" in header and "v2g" not in header


def test_a_scheme_added_with_its_format_checks_identifiers(
    fsp: Registrant, operator_api: Api
) -> None:
    scheme = {
        "label": "Smart meter device ID",
        "pattern": "[0-9A-F]{2}(?:-[0-9A-F]{2}){7}",
        "max_length": 23,
        "case": "upper",
        "unique": True,
    }
    added = operator_api.post(
        f"{OP}/external-id-schemes", {"code": "SMETS_DEVICE", "value": scheme}
    )
    assert added.status_code == 201, added.content
    good = [{"scheme": "smets_device", "value": "00-1a-2b-3c-4d-5e-6f-70"}]
    registered = fsp.api.post("/assets", record(external_ids=good))
    assert registered.status_code == 201, registered.content
    assert registered.json()["external_ids"] == [
        {"scheme": "SMETS_DEVICE", "value": "00-1A-2B-3C-4D-5E-6F-70"}
    ]
    bad = fsp.api.post(
        "/assets", record(external_ids=[{"scheme": "SMETS_DEVICE", "value": "00-1A"}])
    )
    assert _errors(bad) == {"external_ids.0.value": "external_id.invalid_format"}
    taken = fsp.api.post("/assets", record(external_ids=good))
    assert taken.status_code == 409  # unique: the same device is not registered twice
    looked_up = fsp.api.post(
        "/assets/lookup", {"external_id": {"scheme": "smets_device", "value": good[0]["value"]}}
    )
    assert looked_up.status_code == 200 and looked_up.json()["registered"] is True


# --- retiring, restoring, relabelling ------------------------------------------------------------


def test_a_retired_value_is_refused_for_new_assets_and_kept_on_old_ones(
    fsp: Registrant, operator_api: Api
) -> None:
    old = services.register(fsp.acting, record(network={"connection_type": "NON_FIRM"}))
    retired = operator_api.post(
        f"{OP}/connection_types/non-firm/retire", {"reason": "Replaced by FLEXIBLE"}
    )
    assert retired.status_code == 200, retired.content
    assert retired.json()["retired"] is True and retired.json()["added"] is False
    assert retired.json()["stored"] == {"retired": True}

    refused = fsp.api.post("/assets", record(network={"connection_type": "NON_FIRM"}))
    assert refused.status_code == 422
    assert _errors(refused) == {"network.connection_type": "choice.retired"}
    still = fsp.api.get(f"/assets/{old.asset_id}")
    assert still.status_code == 200
    assert still.json()["network"]["connection_type"] == "NON_FIRM"
    assert _listed(_catalogue(fsp.api), "connection_types")["NON_FIRM"]["retired"] is True

    again = operator_api.post(f"{OP}/connection_types/NON_FIRM/retire", {"reason": "Twice"})
    assert again.status_code == 409 and again.json()["code"] == "catalogue.already_retired"
    restored = operator_api.post(f"{OP}/connection_types/NON_FIRM/restore", {"reason": "Back"})
    assert restored.status_code == 200 and restored.json()["retired"] is False
    accepted = fsp.api.post("/assets", record(network={"connection_type": "NON_FIRM"}))
    assert accepted.status_code == 201, accepted.content
    in_use = operator_api.post(f"{OP}/connection_types/NON_FIRM/restore", {"reason": "Again"})
    assert in_use.status_code == 409 and in_use.json()["code"] == "catalogue.not_retired"

    events = AuditEvent.objects.filter(object_id="connection_types.NON_FIRM").order_by("seq")
    assert [e.action for e in events] == [
        "asset_catalogue.value_retired",
        "asset_catalogue.value_restored",
    ]
    assert events[0].changes == {
        "before": {"retired": False},
        "after": {"retired": True, "reason": "Replaced by FLEXIBLE"},
    }


def test_a_relabelled_value_shows_in_the_catalogue(fsp: Registrant, operator_api: Api) -> None:
    changed = operator_api.patch(
        f"{OP}/voltage_levels/hv", {"label": "High voltage (6.6 kV to 22 kV)", "hint": "HV"}
    )
    assert changed.status_code == 200, changed.content
    hv = _listed(_catalogue(fsp.api), "voltage_levels")["HV"]
    assert hv["label"] == "High voltage (6.6 kV to 22 kV)" and hv["hint"] == "HV"
    cleared = operator_api.patch(f"{OP}/voltage_levels/HV", {"hint": None})
    assert cleared.status_code == 200
    assert _listed(_catalogue(fsp.api), "voltage_levels")["HV"]["hint"] == ""
    blank = operator_api.patch(f"{OP}/voltage_levels/HV", {"label": " "})
    assert blank.status_code == 422 and _errors(blank) == {"label": "catalogue.invalid"}
    unknown = operator_api.patch(f"{OP}/voltage_levels/HVDC", {"label": "HVDC"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "catalogue.unknown_value"
    event = AuditEvent.objects.filter(action="asset_catalogue.value_updated").earliest("seq")
    assert event.changes == {
        "before": {"label": "High voltage (above 1 kV up to 22 kV)", "hint": ""},
        "after": {"label": "High voltage (6.6 kV to 22 kV)", "hint": "HV"},
    }
    changes = operator_api.get(f"{OP}/changes")
    assert changes.status_code == 200
    [entry] = changes.json()
    assert entry["section"] == "voltage_levels" and entry["code"] == "HV"
    assert entry["stored"] == {"label": "High voltage (6.6 kV to 22 kV)", "hint": ""}


def test_what_the_catalogue_needs_cannot_be_retired(operator_acting: Acting) -> None:
    def retire(section: str, code: str) -> dict[str, str]:
        with pytest.raises(ValidationFailed) as err:
            services_catalogue.retire_value(operator_acting, section, code, "Tidy up")
        return {e.field: e.code for e in err.value.errors}

    # GRID is the default energy source of BESS, EV chargers, heat pumps...
    assert retire("energy_sources", "GRID") == {"code": "catalogue.still_needed"}
    # CHP requires an energy source: the last of its fuels stays in use.
    for fuel in ("NATURAL_GAS", "BIOGAS", "BIOMASS", "HYDROGEN"):
        services_catalogue.retire_value(operator_acting, "energy_sources", fuel, "Tidy up")
    assert retire("energy_sources", "DIESEL") == {"code": "catalogue.still_needed"}
    # The last value of a list in use.
    services_catalogue.retire_value(operator_acting, "flexibility_directions", "up", "x")
    services_catalogue.retire_value(operator_acting, "flexibility_directions", "down", "x")
    assert retire("flexibility_directions", "both") == {"code": "catalogue.still_needed"}
    assert not CatalogueEntry.objects.filter(code__in=["GRID", "DIESEL", "both"]).exists()
    # Nor may a category be added, or restored, that could not be registered.
    services_catalogue.retire_value(operator_acting, "energy_sources", "HYDRO", "x")
    river = {
        "label": "Run-of-river hydro",
        "kind": "generation",
        "energy_sources": ["HYDRO"],
        "fields": {"energy_source": "required"},
    }
    with pytest.raises(ValidationFailed) as err:
        services_catalogue.add_value(operator_acting, "categories", "RUN_OF_RIVER", river)
    assert {e.field: e.code for e in err.value.errors} == {
        "value.energy_sources": "catalogue.invalid"
    }
    services_catalogue.restore_value(operator_acting, "energy_sources", "HYDRO", "x")
    services_catalogue.add_value(operator_acting, "categories", "RUN_OF_RIVER", river)
    services_catalogue.retire_value(operator_acting, "categories", "RUN_OF_RIVER", "x")
    services_catalogue.retire_value(operator_acting, "energy_sources", "HYDRO", "x")
    with pytest.raises(ValidationFailed) as err:
        services_catalogue.restore_value(operator_acting, "categories", "RUN_OF_RIVER", "x")
    assert {e.field: e.code for e in err.value.errors} == {"code": "catalogue.invalid"}


def test_invalid_additions_are_422_with_paths(operator_api: Api) -> None:
    def add(section: str, code: str, value: Any) -> Any:
        return operator_api.post(f"{OP}/{section}", {"code": code, "value": value})

    no_label = add("energy_sources", "tidal", {"hint": "From the tides"})
    assert no_label.status_code == 422
    assert _errors(no_label) == {"value.label": "catalogue.invalid"}
    assert _errors(add("energy_sources", "tidal", {"label": "Tidal", "colour": "blue"})) == {
        "value.colour": "catalogue.invalid"
    }
    assert _errors(add("connection_statuses", "energised", {"label": "Energised"})) == {
        "value.commissioned": "catalogue.invalid"
    }
    bad_category = add(
        "categories",
        "SPACESHIP",
        {
            "label": "Spaceship",
            "kind": "vehicle",
            "energy_sources": ["ANTIMATTER"],
            "fields": {"warp_drive": "required", "v2g": "sometimes"},
        },
    )
    assert _errors(bad_category) == {
        "value.kind": "catalogue.invalid",
        "value.energy_sources": "catalogue.invalid",
        "value.fields.warp_drive": "catalogue.invalid",
        "value.fields.v2g.presence": "catalogue.invalid",
    }
    assert _errors(add("energy_sources", "solar", {"label": "Sun"})) == {
        "code": "catalogue.code_exists"
    }
    assert _errors(add("flexibility_directions", "UP", {"label": "Up again"})) == {
        "code": "catalogue.code_exists"
    }
    assert _errors(add("voltage_levels", "EXTRA_EXTRA_HIGH", {"label": "Too long"})) == {
        "code": "catalogue.code_invalid"
    }
    assert _errors(add("voltage_levels", "HV.2", {"label": "Dotted"})) == {
        "code": "catalogue.code_invalid"
    }
    assert _errors(add("energy_sources", "TIDAL", {"label": "Tidal", "retired": True})) == {
        "value.retired": "catalogue.invalid"
    }
    scheme = {"label": "Slow", "pattern": "(A+)+B", "max_length": 300, "unique": False}
    assert _errors(add("external_id_schemes", "SLOW", scheme)) == {
        "value.pattern": "catalogue.invalid",
        "value.max_length": "catalogue.invalid",
    }
    nowhere = add("colours", "RED", {"label": "Red"})
    assert nowhere.status_code == 404 and nowhere.json()["code"] == "catalogue.unknown_section"
    assert not CatalogueEntry.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="asset_catalogue.").exists()


def test_only_the_central_operator_changes_the_catalogue(fsp: Registrant) -> None:
    added = fsp.api.post(f"{OP}/energy_sources", {"code": "TIDAL", "value": {"label": "Tidal"}})
    assert added.status_code == 403
    assert fsp.api.post(f"{OP}/energy_sources/SOLAR/retire", {"reason": "x"}).status_code == 403
    assert fsp.api.get(f"{OP}/changes").status_code == 403
    with pytest.raises(PermissionDenied):
        services_catalogue.add_value(fsp.acting, "energy_sources", "TIDAL", {"label": "Tidal"})
    assert not CatalogueEntry.objects.exists()
    assert _catalogue(fsp.api)["lists"]["energy_sources"]  # but anyone signed in reads it
    assert Api(None).get("/asset-catalogue").status_code == 401


# --- the cache ------------------------------------------------------------------------------------


def test_the_cache_follows_changes_made_by_any_process() -> None:
    assert catalogue_store.current_catalogue() is default_catalogue()  # no changes stored
    row = CatalogueEntry.objects.create(
        section="energy_sources", code="TIDAL", value={"label": "Tidal"}
    )
    first = catalogue_store.current_catalogue()
    assert first.energy_sources.lookup("tidal") is not None
    with CaptureQueriesContext(connection) as ctx:
        assert catalogue_store.current_catalogue() is first  # not compiled again
    assert len(ctx.captured_queries) == 1  # the generation only

    CatalogueEntry.objects.filter(pk=row.pk).update(
        value={"label": "Tidal stream"}, updated_at=timezone.now()
    )
    relabelled = catalogue_store.current_catalogue()
    assert relabelled.energy_sources.choices["TIDAL"].label == "Tidal stream"
    CatalogueEntry.objects.create(section="categories", code="CHP", value={"retired": True})
    assert catalogue_store.current_catalogue().categories["CHP"].retired


def test_stored_changes_that_no_longer_compile_are_left_out_and_later_ones_still_apply(
    fsp: Registrant,
) -> None:
    CatalogueEntry.objects.create(section="voltage_levels", code="LV", value={"label": "LV!"})
    good = catalogue_store.current_catalogue()
    # As if a release made the file disagree with a stored change: GRID retired under BESS.
    CatalogueEntry.objects.create(section="energy_sources", code="GRID", value={"retired": True})
    kept = catalogue_store.current_catalogue()
    assert kept.checksum == good.checksum  # the change that does not compile is left out
    assert kept.voltage_levels.choices["LV"].label == "LV!"
    assert not kept.energy_sources.choices["GRID"].retired
    assert catalogue_store.current_catalogue() is kept  # not compiled again and again
    assert services.register(fsp.acting, record()).catalogue_checksum == good.checksum
    # The operator's next change still takes effect (it did not before: the process kept
    # serving the last good catalogue until it restarted).
    CatalogueEntry.objects.create(section="voltage_levels", code="HV", value={"label": "HV!"})
    later = catalogue_store.current_catalogue()
    assert later.voltage_levels.choices["HV"].label == "HV!"
    assert later.voltage_levels.choices["LV"].label == "LV!"
    assert not later.energy_sources.choices["GRID"].retired
    # A process started since keeps the same changes.
    catalogue_store.forget()
    assert catalogue_store.current_catalogue().checksum == later.checksum


def test_a_bulk_import_honours_a_retired_value(
    fsp: Registrant,
    operator_acting: Acting,
    tasks_now: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    services_catalogue.retire_value(
        operator_acting, "connection_types", "DYNAMIC", "Not offered any more"
    )
    rows = [
        battery(1, **{"network.connection_type": "dynamic"}),
        battery(2, **{"network.connection_type": "FIRM"}),
    ]
    response = run_upload(fsp, csv_bytes(rows), django_capture_on_commit_callbacks)
    assert response.status_code == 202, response.content
    batch = AssetImport.objects.get(public_id=response.json()["import_id"])
    assert batch.status == AssetImport.Status.DONE, batch.error
    done = outcomes(batch)
    assert done[2].outcome == "accepted"
    assert done[1].outcome == "rejected"
    assert [(e["field"], e["code"]) for e in done[1].errors] == [
        ("network.connection_type", "choice.retired")
    ]


# --- the operator's portal pages ------------------------------------------------------------------


def _signed_in(user: Any, membership: Any) -> Any:
    from tests.signin import helpers as signin_helpers

    return signin_helpers.portal_client(user, membership)


def _summary_texts(response: Any) -> list[str]:
    import html
    import re

    page = response.content.decode()
    box = re.search(r'<div class="govuk-error-summary".*?</ul>', page, re.S)
    assert box, "no error summary"
    return [html.unescape(t).strip() for t in re.findall(r"<a [^>]*>(.*?)</a>", box.group(0))]


def test_the_operator_adds_relabels_retires_and_restores_in_the_portal(
    operator: Any, fsp: Registrant
) -> None:
    client = _signed_in(*operator)
    page = client.get("/operator/asset-catalogue/")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'href="/operator/asset-catalogue/"' in text  # in the navigation
    assert 'id="energy_sources"' in text and 'id="categories"' in text
    assert 'href="/operator/asset-catalogue/add/connection_statuses/"' in text
    assert "/operator/asset-catalogue/add/categories/" not in text

    form = client.get("/operator/asset-catalogue/add/connection_statuses/")
    assert form.status_code == 200 and 'name="commissioned"' in form.content.decode()
    missing = client.post(
        "/operator/asset-catalogue/add/connection_statuses/", {"code": "energised", "label": ""}
    )
    assert missing.status_code == 422
    assert _summary_texts(missing) == [
        "Enter a label of 200 characters or fewer",
        "Say whether an asset with this status is in service",
    ]
    added = client.post(
        "/operator/asset-catalogue/add/connection_statuses/",
        {"code": "energised", "label": "Energised", "commissioned": "yes"},
    )
    assert added.status_code == 302 and added["Location"].endswith("#connection_statuses")
    accepted = fsp.api.post("/assets", record(network={"connection_status": "ENERGISED"}))
    assert accepted.status_code == 201, accepted.content

    value = client.get("/operator/asset-catalogue/connection_statuses/energised/")
    assert value.status_code == 302  # to the code as stored
    value = client.get("/operator/asset-catalogue/connection_statuses/ENERGISED/")
    assert value.status_code == 200 and "Retire ENERGISED" in value.content.decode()
    relabelled = client.post(
        "/operator/asset-catalogue/connection_statuses/ENERGISED/",
        {"action": "relabel", "label": "Energised and exporting", "hint": ""},
    )
    assert relabelled.status_code == 302
    no_reason = client.post(
        "/operator/asset-catalogue/connection_statuses/ENERGISED/", {"action": "retire"}
    )
    assert no_reason.status_code == 422
    assert _summary_texts(no_reason) == ["Give the reason for the change."]
    retired = client.post(
        "/operator/asset-catalogue/connection_statuses/ENERGISED/",
        {"action": "retire", "reason": "Replaced"},
    )
    assert retired.status_code == 302
    refused = fsp.api.post("/assets", record(network={"connection_status": "ENERGISED"}))
    assert _errors(refused) == {"network.connection_status": "choice.retired"}
    needed = client.post(
        "/operator/asset-catalogue/energy_sources/GRID/", {"action": "retire", "reason": "x"}
    )
    assert needed.status_code == 422
    assert any("categories.BESS.default_energy_source" in t for t in _summary_texts(needed))
    restore_page = client.get("/operator/asset-catalogue/connection_statuses/ENERGISED/")
    assert "Restore ENERGISED" in restore_page.content.decode()
    restored = client.post(
        "/operator/asset-catalogue/connection_statuses/ENERGISED/",
        {"action": "restore", "reason": "Back"},
    )
    assert restored.status_code == 302
    entry = CatalogueEntry.objects.get(section="connection_statuses", code="ENERGISED")
    assert entry.value == {
        "label": "Energised and exporting",
        "hint": "",
        "commissioned": True,
        "retired": False,
    }
    assert client.get("/operator/asset-catalogue/colours/RED/").status_code == 404
    assert client.get("/operator/asset-catalogue/add/categories/").status_code == 404


def test_the_portal_pages_are_for_the_central_operator_only(fsp: Registrant) -> None:
    client = _signed_in(fsp.user, fsp.membership)
    assert client.get("/operator/asset-catalogue/").status_code == 403
    assert "/operator/asset-catalogue/" not in client.get("/assets/").content.decode()
    posted = client.post(
        "/operator/asset-catalogue/add/energy_sources/", {"code": "TIDAL", "label": "Tidal"}
    )
    assert posted.status_code == 403
    assert not CatalogueEntry.objects.exists()


def test_labels_and_reasons_with_control_characters_are_refused(operator_api: Api) -> None:
    added = operator_api.post(
        f"{OP}/connection_types", {"code": "TIMED", "value": {"label": "Timed\x1b[0m"}}
    )
    assert added.status_code == 422
    assert added.json()["errors"][0]["code"] == "text.control_character"
    relabel = operator_api.patch(f"{OP}/connection_types/FIRM", {"label": "Firm\x07"})
    assert relabel.status_code == 422
    retire = operator_api.post(f"{OP}/connection_types/FIRM/retire", {"reason": "Old\x07"})
    assert retire.status_code == 422
