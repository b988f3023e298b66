"""Conformance validation of asset records: every rule with a passing and a failing case,
identifier variants that must normalise to one key, DOMAIN.md's distributor table, all errors
at once, and the CSV mapping. Pure Python: no database."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flexreg.assets import conformance
from flexreg.assets.catalogue import default_catalogue, load_file
from flexreg.assets.conformance import (
    ALL_CSV_COLUMNS,
    CSV_COLUMNS,
    ERROR_CODES,
    CleanAsset,
    ExternalId,
    Validator,
    csv_columns,
    flatten_csv_row,
    manufacturer_key,
    resolve_dno,
    serial_key,
    validate,
)
from flexreg.core.errors import FieldError
from flexreg.identifiers import ERROR_CODES as IDENTIFIER_CODES
from flexreg.identifiers import IdentifierError, MPANCore, Postcode, mpan_check_digit

TODAY = dt.date(2026, 12, 1)


def mpan(distributor: str = "10", body: str = "1234567890") -> str:
    base = distributor + body
    return base + mpan_check_digit(base)


IMPORT = mpan("10", "1234567890")  # 1012345678903
EXPORT = mpan("10", "9876543210")

SITE = {"address_line1": "1 Station Road", "town": "Cambridge", "postcode": "CB1 2AB"}
IDENTITY = {"manufacturer": "Acme Energy Ltd", "model": "X1", "serial_number": "SN-0001"}


def example(category: str) -> dict[str, Any]:
    """A minimal valid record of each category (fresh copy each time)."""
    rec: dict[str, Any] = {
        "name": f"My {category.lower()}",
        "category": category,
        "flexibility_direction": "both",
        "site": dict(SITE),
        "network": {"connection_status": "CONNECTED"},
        "commissioning_date": "2024-01-15",
    }
    demand = {"installed_kw": "12", "import_kw": "12"}
    specs: dict[str, dict[str, Any]] = {
        "BESS": {
            **IDENTITY,
            "capacity": {
                "installed_kw": "5",
                "export_kw": "5",
                "import_kw": "5",
                "storage_kwh": "13.5",
            },
            "metering": {"import_mpan": IMPORT},
        },
        "SOLAR_PV": {
            **IDENTITY,
            "capacity": {"installed_kw": "4", "export_kw": "3.68"},
            "metering": {"export_mpan": EXPORT},
        },
        "WIND_TURBINE": {
            **IDENTITY,
            "capacity": {"installed_kw": "10", "export_kw": "10"},
            "metering": {"export_mpan": EXPORT},
        },
        "CHP": {
            **IDENTITY,
            "energy_source": "NATURAL_GAS",
            "capacity": {"installed_kw": "100", "export_kw": "90"},
            "metering": {"export_mpan": EXPORT},
        },
        "EV_CHARGER": {
            **IDENTITY,
            "capacity": {"installed_kw": "7.4", "import_kw": "7.4"},
            "metering": {"import_mpan": IMPORT},
        },
        "HEAT_PUMP": {**IDENTITY, "capacity": demand, "metering": {"import_mpan": IMPORT}},
        "ELECTRIC_BOILER": {**IDENTITY, "capacity": demand, "metering": {"import_mpan": IMPORT}},
        "HVAC": {"capacity": demand, "metering": {"import_mpan": IMPORT}},
        "REFRIGERATION": {"capacity": demand, "metering": {"import_mpan": IMPORT}},
        "INDUSTRIAL_LOAD": {"capacity": demand, "metering": {"import_mpan": IMPORT}},
        "OTHER": {
            "description": "Pumped heat store",
            "capacity": {"installed_kw": "50"},
            "metering": {"import_mpan": IMPORT},
        },
    }
    rec.update(copy.deepcopy(specs[category]))
    return rec


CATEGORIES = [
    "BESS",
    "SOLAR_PV",
    "WIND_TURBINE",
    "CHP",
    "EV_CHARGER",
    "HEAT_PUMP",
    "ELECTRIC_BOILER",
    "HVAC",
    "REFRIGERATION",
    "INDUSTRIAL_LOAD",
    "OTHER",
]


def ok(record: dict[str, Any], **kwargs: Any) -> CleanAsset:
    asset, errors = validate(record, today=TODAY, **kwargs)
    assert errors == [], errors
    assert asset is not None
    return asset


def fails(record: Any, **kwargs: Any) -> set[tuple[str, str]]:
    asset, errors = validate(record, today=TODAY, **kwargs)
    assert asset is None
    assert errors, "expected errors"
    assert all(isinstance(e, FieldError) and e.message for e in errors)
    return {(e.field, e.code) for e in errors}


def with_(kind: str, /, **changes: Any) -> dict[str, Any]:
    """The example of category ``kind`` with changes (``a__b`` is ``a.b``; None removes)."""
    rec = example(kind)
    for path, value in changes.items():
        parts = path.split("__")
        target = rec
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        if value is None:
            target.pop(parts[-1], None)
        else:
            target[parts[-1]] = value
    return rec


# --- every category ---------------------------------------------------------------------------


def test_the_examples_cover_every_category_of_the_catalogue() -> None:
    assert set(CATEGORIES) == set(default_catalogue().categories)


@pytest.mark.parametrize("category", CATEGORIES)
def test_minimal_valid_example_of_each_category(category: str) -> None:
    asset = ok(example(category))
    assert asset.category == category
    assert asset.distributor_id == "10"
    assert asset.dno_licence_area == "EELC"
    assert asset.gsp_group == "_A"


@pytest.mark.parametrize("category", CATEGORIES)
def test_a_clean_asset_validates_back_to_itself(category: str) -> None:
    asset = ok(example(category))
    assert ok(asset.as_record()) == asset


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_required_field_of_each_category_is_reported_when_missing(category: str) -> None:
    schema = default_catalogue().categories[category]
    got = fails({"category": category})
    for field, rule in schema.required_rules:
        if field == "energy_source" and schema.default_energy_source:
            continue  # filled in from the category's default
        assert (field, rule.code) in got
    assert ("name", "required") in got


def test_a_full_record_is_normalised() -> None:
    rec = {
        "name": "  Home battery ",
        "category": "bess",
        "description": "Garage wall\nnext to the consumer unit",
        "manufacturer": "Tesla, Inc.",
        "model": "Powerwall 2",
        "serial_number": " tg-1234.56 7 ",
        "eic": "48wtestbess0001g",
        "external_ids": [
            {"scheme": "bm_unit", "value": "v__abc001"},
            {"scheme": "OCPP charge point", "value": "cp:0001"},
        ],
        "energy_source": "grid",
        "capacity": {
            "installed_kw": 5,
            "export_kw": "5.0",
            "import_kw": 4.6,
            "storage_kwh": "13.5",
        },
        "flexibility_direction": "Both",
        "v2g": False,
        "metering": {"import_mpan": "10 1234 5678 903", "export_mpan": EXPORT},
        "site": {
            "address_line1": "1 High Street",
            "address_line2": "Flat 2",
            "town": "Cambridge",
            "postcode": "cb1 1aa",
            "latitude": "52.2053",
            "longitude": 0.1218,
            "domestic": True,
            "consumer_consent_reference": "CONSENT-42",
        },
        "network": {
            "dno": "UKPN",
            "gsp_group": "a",
            "voltage_level": "lv",
            "connection_status": "connected",
            "connection_type": "non-firm",
            "connection_reference": "EPN/12345",
        },
        "commissioning_date": "2023-05-01",
        "effective_from": dt.date(2024, 1, 1),
    }
    asset = ok(rec)
    assert asset == CleanAsset(
        name="Home battery",
        category="BESS",
        description="Garage wall\nnext to the consumer unit",
        manufacturer="Tesla, Inc.",
        manufacturer_key="TESLA",
        model="Powerwall 2",
        serial_number="tg-1234.56 7",
        serial_key="TG1234567",
        eic="48WTESTBESS0001G",
        external_ids=(
            ExternalId("BM_UNIT", "V__ABC001"),
            ExternalId("OCPP_CHARGE_POINT", "CP:0001"),
        ),
        energy_source="GRID",
        installed_kw=Decimal("5.00"),
        export_kw=Decimal("5.00"),
        import_kw=Decimal("4.60"),
        storage_kwh=Decimal("13.50"),
        flexibility_direction="both",
        v2g=False,
        import_mpan="1012345678903",
        export_mpan=EXPORT,
        distributor_id="10",
        dno_licence_area="EELC",
        gsp_group="_A",
        address_line1="1 High Street",
        address_line2="Flat 2",
        town="Cambridge",
        postcode="CB1 1AA",
        latitude=Decimal("52.205300"),
        longitude=Decimal("0.121800"),
        domestic=True,
        consumer_consent_reference="CONSENT-42",
        voltage_level="LV",
        connection_status="CONNECTED",
        connection_type="NON_FIRM",
        dno_connection_reference="EPN/12345",
        commissioning_date=dt.date(2023, 5, 1),
        effective_from=dt.date(2024, 1, 1),
    )
    assert str(asset.installed_kw) == "5.00"
    assert asset.mpan_cores == ("1012345678903", EXPORT)
    with pytest.raises(AttributeError):
        asset.name = "changed"  # type: ignore[misc]


def test_all_errors_are_reported_at_once() -> None:
    rec = {
        "name": "",
        "category": "BESS",
        "serial_number": "ABC\x00",
        "eic": "10YGB----------A",
        "external_ids": [{"scheme": "BM_UNIT", "value": "X_BAD"}],
        "capacity": {"installed_kw": "10", "export_kw": "12", "import_kw": "1,5"},
        "flexibility_direction": "sideways",
        "v2g": True,
        "metering": {"import_mpan": "1012345678900"},
        "site": {"address_line1": "1 Road", "town": "Town", "postcode": "QX1 1AA", "colour": "red"},
        "network": {"connection_status": "CONNECTED"},
        "commissioning_date": "2030-01-01",
        "effective_from": "2029-12-31",
        "surplus": 1,
    }
    assert fails(rec) == {
        ("surplus", "unknown_field"),
        ("site.colour", "unknown_field"),
        ("name", "required"),
        ("serial_number", "text.control_character"),
        ("eic", "eic.wrong_type"),
        ("external_ids.0.value", "external_id.bad_prefix"),
        ("capacity.import_kw", "decimal.invalid"),
        ("flexibility_direction", "choice.invalid"),
        ("metering.import_mpan", "mpan.bad_check_digit"),
        ("site.postcode", "postcode.invalid_letter"),
        ("manufacturer", "required"),
        ("model", "required"),
        ("capacity.storage_kwh", "asset.storage_required"),
        ("v2g", "asset.v2g_only_ev_charger"),
        ("capacity.export_kw", "asset.export_exceeds_installed"),
        ("commissioning_date", "asset.commissioning_in_future"),
        ("effective_from", "asset.effective_before_commissioning"),
    }


def test_every_code_the_module_can_give_is_documented() -> None:
    source = Path(conformance.__file__).read_text()
    used = set(
        re.findall(r'"((?:asset|choice|decimal|date|text|serial|external_id)\.[a-z_]+)"', source)
    )
    used |= {"type_error", "unknown_field", "required", "not_allowed", "too_long"}
    assert used <= set(ERROR_CODES)
    # The codes the default catalogue's rules give are documented too.
    for schema in default_catalogue().categories.values():
        for rule in schema.fields.values():
            if rule.code:
                assert rule.code in ERROR_CODES
    assert not set(ERROR_CODES) & set(IDENTIFIER_CODES)


# --- types, text, unknown fields --------------------------------------------------------------


def test_a_record_must_be_an_object() -> None:
    assert fails(["not", "a", "record"]) == {("", "type_error")}
    assert fails("BESS") == {("", "type_error")}


def test_unknown_fields_anywhere_are_reported_with_their_path() -> None:
    rec = with_("BESS", asset_id="A-3M9QX2HDK7A", capacity__peak_kw="3", network__region="x")
    rec["external_ids"] = [{"scheme": "BM_UNIT", "value": "E_ABC-1", "note": "x"}]
    assert fails(rec) == {
        ("asset_id", "unknown_field"),
        ("capacity.peak_kw", "unknown_field"),
        ("network.region", "unknown_field"),
        ("external_ids.0.note", "unknown_field"),
    }


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("name", 42, "name"),
        ("category", ["BESS"], "category"),
        ("capacity", "5 kW", "capacity"),
        ("site", ["1 Road"], "site"),
        ("capacity__installed_kw", True, "capacity.installed_kw"),
        ("capacity__installed_kw", [5], "capacity.installed_kw"),
        ("v2g", "yes", "v2g"),
        ("site__domestic", 1, "site.domestic"),
        ("metering__import_mpan", 10.5, "metering.import_mpan"),
        ("site__postcode", 123, "site.postcode"),
        ("eic", 1, "eic"),
        ("external_ids", "BM_UNIT:E_ABC-1", "external_ids"),
        ("commissioning_date", 20240115, "commissioning_date"),
        ("commissioning_date", dt.datetime(2024, 1, 15, 12, 0), "commissioning_date"),
        ("network__gsp_group", 1, "network.gsp_group"),
        ("network__dno", 10, "network.dno"),
    ],
)
def test_a_value_of_the_wrong_type_is_a_type_error(path: str, value: Any, field: str) -> None:
    assert (field, "type_error") in fails(with_("BESS", **{path: value}))


def test_a_section_of_the_wrong_type_does_not_also_report_its_fields_missing() -> None:
    got = fails(with_("BESS", capacity="5 kW"))
    assert got == {("capacity", "type_error")}


def test_strings_are_stripped_and_blank_means_not_given() -> None:
    asset = ok(with_("BESS", name="  Garage battery  ", model="\tX1 "))
    assert (asset.name, asset.model) == ("Garage battery", "X1")
    assert fails(with_("BESS", name="   ")) == {("name", "required")}
    assert fails(with_("BESS", model="")) == {("model", "required")}
    assert ok(with_("BESS", description="  ")).description == ""


@pytest.mark.parametrize("bad", ["Garage\x00battery", "Garage\nbattery", "bell\x07", "del\x7f"])
def test_nul_bytes_and_control_characters_are_refused(bad: str) -> None:
    assert fails(with_("BESS", name=bad)) == {("name", "text.control_character")}


def test_a_description_may_span_lines_but_not_hold_a_nul() -> None:
    assert ok(with_("BESS", description="line one\nline two\ttab")).description == (
        "line one\nline two\ttab"
    )
    assert fails(with_("BESS", description="a\x00b")) == {("description", "text.control_character")}


def test_text_is_normalised_to_nfc_and_length_limited() -> None:
    assert ok(with_("BESS", name="Cafe\u0301 battery")).name == "Caf\u00e9 battery"
    assert ok(with_("BESS", name="x" * 200)).name == "x" * 200
    assert fails(with_("BESS", name="x" * 201)) == {("name", "too_long")}


# --- controlled lists -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "raw", "attribute", "code"),
    [
        ("category", "solar pv", "category", "SOLAR_PV"),
        ("category", "Solar-PV", "category", "SOLAR_PV"),
        ("flexibility_direction", "UP", "flexibility_direction", "up"),
        ("network__connection_type", "non firm", "connection_type", "NON_FIRM"),
        ("network__connection_type", "Dynamic", "connection_type", "DYNAMIC"),
        ("network__voltage_level", "132kv", "voltage_level", "132KV"),
        ("network__connection_status", "pending", "connection_status", "PENDING"),
    ],
)
def test_controlled_list_values_ignore_case_and_separators(
    path: str, raw: str, attribute: str, code: str
) -> None:
    rec = with_("SOLAR_PV", **{path: raw})
    assert getattr(ok(rec), attribute) == code


def test_a_value_not_on_a_list_is_refused_with_the_choices() -> None:
    asset, errors = validate(with_("BESS", category="NUCLEAR"), today=TODAY)
    assert asset is None
    assert [(e.field, e.code) for e in errors] == [("category", "choice.invalid")]
    assert "BESS" in errors[0].message and "OTHER" in errors[0].message
    assert ("network.connection_status", "choice.invalid") in fails(
        with_("BESS", network__connection_status="ENERGISED")
    )


def test_a_retired_value_is_refused_for_new_registrations() -> None:
    catalogue = load_file(
        overlays=[
            {"lists": {"connection_types": {"DYNAMIC": {"retired": True}}}},
            {"categories": {"CHP": {"retired": True}}},
        ]
    )
    got = fails(with_("CHP", network__connection_type="DYNAMIC"), catalogue=catalogue)
    assert got == {("category", "choice.retired"), ("network.connection_type", "choice.retired")}
    ok(with_("BESS", network__connection_type="FIRM"), catalogue=catalogue)


def test_a_value_added_by_the_operator_is_accepted() -> None:
    catalogue = load_file(
        overlays=[
            {"lists": {"energy_sources": {"TIDAL": {"label": "Tidal"}}}},
            {"categories": {"OTHER": {"energy_sources": ["TIDAL", "HYDRO"]}}},
        ]
    )
    assert ok(with_("OTHER", energy_source="tidal"), catalogue=catalogue).energy_source == "TIDAL"
    assert ("energy_source", "choice.invalid") in fails(with_("OTHER", energy_source="TIDAL"))


# --- category rules ---------------------------------------------------------------------------


def test_a_battery_needs_its_storage_energy_and_both_capacities() -> None:
    assert fails(with_("BESS", capacity__storage_kwh=None)) == {
        ("capacity.storage_kwh", "asset.storage_required")
    }
    assert fails(with_("BESS", capacity__export_kw=None, capacity__import_kw=None)) == {
        ("capacity.export_kw", "required"),
        ("capacity.import_kw", "required"),
    }


@pytest.mark.parametrize("category", ["SOLAR_PV", "WIND_TURBINE", "CHP", "EV_CHARGER", "HEAT_PUMP"])
def test_only_storage_assets_have_a_storage_energy(category: str) -> None:
    assert fails(with_(category, capacity__storage_kwh="10")) == {
        ("capacity.storage_kwh", "not_allowed")
    }


def test_other_assets_may_give_a_storage_energy() -> None:
    assert ok(with_("OTHER", capacity__storage_kwh="100")).storage_kwh == Decimal("100.00")


@pytest.mark.parametrize(
    ("category", "source"), [("SOLAR_PV", "SOLAR"), ("WIND_TURBINE", "WIND"), ("BESS", "GRID")]
)
def test_the_energy_source_defaults_to_the_categorys(category: str, source: str) -> None:
    assert ok(example(category)).energy_source == source
    assert ok(with_(category, energy_source=source.lower())).energy_source == source


@pytest.mark.parametrize(
    ("category", "source"),
    [
        ("SOLAR_PV", "WIND"),
        ("WIND_TURBINE", "SOLAR"),
        ("CHP", "SOLAR"),
        ("CHP", "GRID"),
        ("HEAT_PUMP", "DIESEL"),
        ("BESS", "NATURAL_GAS"),
    ],
)
def test_an_energy_source_the_category_cannot_have_is_refused(category: str, source: str) -> None:
    assert fails(with_(category, energy_source=source)) == {
        ("energy_source", "asset.energy_source_not_allowed")
    }


@pytest.mark.parametrize("fuel", ["NATURAL_GAS", "BIOGAS", "BIOMASS", "HYDROGEN", "DIESEL"])
def test_chp_runs_on_a_fuel(fuel: str) -> None:
    assert ok(with_("CHP", energy_source=fuel)).energy_source == fuel


def test_chp_must_name_its_fuel() -> None:
    assert fails(with_("CHP", energy_source=None)) == {("energy_source", "required")}


def test_other_assets_may_have_any_energy_source_or_none() -> None:
    assert ok(example("OTHER")).energy_source is None
    assert ok(with_("OTHER", energy_source="HYDRO")).energy_source == "HYDRO"


@pytest.mark.parametrize("category", ["SOLAR_PV", "WIND_TURBINE", "CHP"])
def test_generation_needs_its_export_capacity(category: str) -> None:
    assert fails(with_(category, capacity__export_kw=None)) == {("capacity.export_kw", "required")}


@pytest.mark.parametrize(
    "category", ["HEAT_PUMP", "ELECTRIC_BOILER", "HVAC", "REFRIGERATION", "INDUSTRIAL_LOAD"]
)
def test_demand_side_assets_import_and_never_export(category: str) -> None:
    asset = ok(example(category))
    assert asset.energy_source == "GRID"
    assert asset.import_kw == Decimal("12.00")
    assert fails(with_(category, capacity__import_kw=None)) == {("capacity.import_kw", "required")}
    assert fails(with_(category, capacity__export_kw="1")) == {
        ("capacity.export_kw", "not_allowed")
    }
    assert fails(with_(category, metering__import_mpan=None, metering__export_mpan=EXPORT)) == {
        ("metering.import_mpan", "required")
    }


@pytest.mark.parametrize("category", ["BESS", "SOLAR_PV", "HEAT_PUMP", "CHP"])
def test_identity_fields_are_required_for_manufactured_units(category: str) -> None:
    assert fails(with_(category, manufacturer=None, model=None, serial_number=None)) == {
        ("manufacturer", "required"),
        ("model", "required"),
        ("serial_number", "required"),
    }


def test_a_serial_number_needs_its_manufacturer() -> None:
    assert fails(with_("HVAC", serial_number="HV-1")) == {
        ("manufacturer", "asset.serial_needs_manufacturer")
    }
    assert ok(with_("HVAC", serial_number="HV-1", manufacturer="Daikin")).serial_key == "HV1"


def test_other_needs_a_description_of_at_most_200_characters() -> None:
    assert fails(with_("OTHER", description=None)) == {
        ("description", "asset.other_needs_description")
    }
    assert ok(with_("OTHER", description="d" * 200)).description == "d" * 200
    assert fails(with_("OTHER", description="d" * 201)) == {("description", "too_long")}


def test_v2g_only_for_ev_chargers() -> None:
    asset = ok(with_("EV_CHARGER", v2g=True, capacity__export_kw="7"))
    assert asset.v2g is True
    assert asset.export_kw == Decimal("7.00")
    assert fails(with_("HEAT_PUMP", v2g=True)) == {("v2g", "asset.v2g_only_ev_charger")}
    assert fails(with_("BESS", v2g=True)) == {("v2g", "asset.v2g_only_ev_charger")}
    # Saying "not V2G" is harmless anywhere.
    assert ok(with_("HEAT_PUMP", v2g=False)).v2g is False


def test_an_ev_charger_exports_only_when_it_is_v2g() -> None:
    assert fails(with_("EV_CHARGER", capacity__export_kw="7")) == {
        ("capacity.export_kw", "asset.export_needs_v2g")
    }
    assert ok(with_("EV_CHARGER", capacity__export_kw="0")).export_kw == Decimal("0.00")
    assert fails(with_("EV_CHARGER", v2g=True)) == {
        ("capacity.export_kw", "asset.v2g_needs_export")
    }
    assert fails(with_("EV_CHARGER", v2g=True, capacity__export_kw="0")) == {
        ("capacity.export_kw", "asset.v2g_needs_export")
    }


def test_export_and_import_never_exceed_the_installed_capacity() -> None:
    ok(with_("BESS", capacity__export_kw="5.00", capacity__import_kw="5"))
    assert fails(with_("BESS", capacity__export_kw="5.01")) == {
        ("capacity.export_kw", "asset.export_exceeds_installed")
    }
    assert fails(with_("BESS", capacity__import_kw="6")) == {
        ("capacity.import_kw", "asset.import_exceeds_installed")
    }
    assert fails(with_("SOLAR_PV", capacity__export_kw="4.5")) == {
        ("capacity.export_kw", "asset.export_exceeds_installed")
    }
    assert fails(with_("HEAT_PUMP", capacity__import_kw="13")) == {
        ("capacity.import_kw", "asset.import_exceeds_installed")
    }


def test_at_least_one_mpan() -> None:
    assert fails(with_("BESS", metering=None)) == {("metering", "asset.mpan_required")}
    assert fails(with_("OTHER", metering={"import_mpan": " "})) == {
        ("metering", "asset.mpan_required")
    }
    assert ok(with_("BESS", metering={"export_mpan": EXPORT})).import_mpan is None


def test_a_category_without_the_mpan_constraint_takes_the_network_from_the_registrant() -> None:
    catalogue = load_file(
        overlays=[{"categories": {"OTHER": {"constraints": ["export_le_installed"]}}}]
    )
    asset = ok(with_("OTHER", metering=None, network__gsp_group="_N"), catalogue=catalogue)
    assert (asset.distributor_id, asset.dno_licence_area, asset.gsp_group) == ("18", "SPOW", "_N")
    asset = ok(with_("OTHER", metering=None), catalogue=catalogue)
    assert (asset.distributor_id, asset.dno_licence_area, asset.gsp_group) == (None, None, None)


# --- capacities -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("5", "5.00"),
        ("5.1", "5.10"),
        ("5.120", "5.12"),
        (" 5.25 ", "5.25"),
        (5, "5.00"),
        (4.6, "4.60"),
        (Decimal("3.5"), "3.50"),
        ("2000000", "2000000.00"),
        (".5", "0.50"),
    ],
)
def test_capacities_are_decimals_with_two_places(raw: Any, clean: str) -> None:
    asset = ok(with_("OTHER", capacity__installed_kw=raw))
    assert asset.installed_kw == Decimal(clean)
    assert str(asset.installed_kw) == clean


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("5.123", "decimal.too_many_places"),
        (5.125, "decimal.too_many_places"),
        ("1,000", "decimal.invalid"),
        ("5 kW", "decimal.invalid"),
        ("1e3", "decimal.invalid"),
        ("1_000", "decimal.invalid"),
        ("NaN", "decimal.invalid"),
        (float("nan"), "decimal.invalid"),
        (float("inf"), "decimal.invalid"),
        (Decimal("Infinity"), "decimal.invalid"),
        ("0", "decimal.out_of_range"),
        ("-1", "decimal.out_of_range"),
        ("2000000.01", "decimal.out_of_range"),
        ("99999999999999999999999999999999", "decimal.out_of_range"),
    ],
)
def test_bad_installed_capacities(raw: Any, code: str) -> None:
    assert fails(with_("OTHER", capacity__installed_kw=raw)) == {("capacity.installed_kw", code)}


def test_export_and_import_may_be_zero_but_not_negative() -> None:
    assert ok(with_("SOLAR_PV", capacity__export_kw="0")).export_kw == Decimal("0.00")
    assert fails(with_("SOLAR_PV", capacity__export_kw="-0.01")) == {
        ("capacity.export_kw", "decimal.out_of_range")
    }
    assert str(ok(with_("SOLAR_PV", capacity__export_kw="-0")).export_kw) == "0.00"


def test_storage_energy_must_be_more_than_zero() -> None:
    assert fails(with_("BESS", capacity__storage_kwh="0")) == {
        ("capacity.storage_kwh", "decimal.out_of_range")
    }
    assert ok(with_("BESS", capacity__storage_kwh="20000000")).storage_kwh == Decimal("20000000")


# --- MPANs and the network --------------------------------------------------------------------

# DOMAIN.md's table: distributor ID -> (MPID, GSP group).
DNO_TABLE = {
    "10": ("EELC", "_A"),
    "11": ("EMEB", "_B"),
    "12": ("LOND", "_C"),
    "13": ("MANW", "_D"),
    "14": ("MIDE", "_E"),
    "15": ("NEEB", "_F"),
    "16": ("NORW", "_G"),
    "17": ("HYDE", "_P"),
    "18": ("SPOW", "_N"),
    "19": ("SEEB", "_J"),
    "20": ("SOUT", "_H"),
    "21": ("SWAE", "_K"),
    "22": ("SWEB", "_L"),
    "23": ("YELG", "_M"),
}


@pytest.mark.parametrize(("distributor", "expected"), DNO_TABLE.items())
def test_the_licence_area_and_gsp_group_follow_from_the_mpan(
    distributor: str, expected: tuple[str, str]
) -> None:
    core = mpan(distributor)
    asset = ok(with_("BESS", metering={"import_mpan": core}))
    assert (asset.dno_licence_area, asset.gsp_group) == expected
    assert asset.distributor_id == distributor
    # ... and the registrant may say so in either form.
    mpid, gsp = expected
    ok(with_("BESS", metering={"import_mpan": core}, network__dno=mpid, network__gsp_group=gsp))


def test_domain_facts_for_eastern_and_the_scottish_areas() -> None:
    eastern = ok(with_("BESS", metering={"import_mpan": mpan("10")}))
    north = ok(with_("BESS", metering={"import_mpan": mpan("17")}))
    south = ok(with_("BESS", metering={"import_mpan": mpan("18")}))
    assert (eastern.dno_licence_area, eastern.gsp_group) == ("EELC", "_A")
    assert (north.dno_licence_area, north.gsp_group) == ("HYDE", "_P")
    assert (south.dno_licence_area, south.gsp_group) == ("SPOW", "_N")


@pytest.mark.parametrize(
    "variant",
    [
        IMPORT,
        f" {IMPORT} ",
        "10 1234 5678 903",
        "10-1234-5678-903",
        "10.1234.5678.903",
        "10/1234/5678/903",
        "01 801 100 1012345678903",  # full 21-character MPAN
        "S 01 801 100 / 10 1234 5678 903",  # as printed on a bill
        "s018011001012345678903",
        "0580110A1012345678903",  # letters in the line loss factor class
        int(IMPORT),
    ],
)
def test_formatting_variants_of_one_mpan_normalise_to_its_core(variant: Any) -> None:
    assert IMPORT == "1012345678903"
    assert ok(with_("BESS", metering={"import_mpan": variant})).import_mpan == IMPORT


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("1012345678900", "mpan.bad_check_digit"),
        ("9912345678903", "mpan.unknown_distributor"),
        ("101234567890", "mpan.bad_length"),
        ("10123456789O3", "mpan.bad_character"),
        ("09 801 100 1012345678903", "mpan.bad_profile_class"),
        ("x" * 70, "mpan.bad_length"),
    ],
)
def test_bad_mpans_give_the_identifier_codes(raw: str, code: str) -> None:
    assert fails(with_("BESS", metering={"import_mpan": raw})) == {("metering.import_mpan", code)}


@given(st.text(alphabet="0123456789", min_size=13, max_size=13))
def test_the_mpan_fast_path_agrees_with_the_identifier_parser(raw: str) -> None:
    errors: list[FieldError] = []
    got = conformance._mpan(raw, "m", errors)
    try:
        expected: Any = MPANCore.parse(raw).value
        assert got == expected
        assert errors == []
    except IdentifierError as exc:
        assert got is conformance.BAD
        assert [e.code for e in errors] == [exc.code]


def test_the_same_mpan_for_import_and_export_is_refused() -> None:
    assert fails(
        with_("BESS", metering={"import_mpan": IMPORT, "export_mpan": "10 1234 5678 903"})
    ) == {("metering.export_mpan", "asset.same_mpan")}


def test_both_mpans_are_on_one_network() -> None:
    rec = with_("BESS", metering={"import_mpan": IMPORT, "export_mpan": mpan("12")})
    assert fails(rec) == {("metering.export_mpan", "asset.mpan_distributor_mismatch")}


@pytest.mark.parametrize(
    "dno", ["10", "EELC", "eelc", "Eastern", "UKPN EPN", "ukpn-epn", "UKPN", "UK Power Networks"]
)
def test_a_dno_the_registrant_gives_may_take_several_forms(dno: str) -> None:
    ok(with_("BESS", network__dno=dno))


def test_a_dno_other_than_the_mpans_is_refused() -> None:
    assert fails(with_("BESS", network__dno="LOND")) == {("network.dno", "asset.dno_mismatch")}
    assert fails(with_("BESS", network__dno="NGED")) == {("network.dno", "asset.dno_mismatch")}
    # An operator of several areas matches any of them.
    ok(with_("BESS", metering={"import_mpan": mpan("21")}, network__dno="NGED"))
    ok(with_("BESS", metering={"import_mpan": mpan("21")}, network__dno="WPD"))


def test_a_dno_we_do_not_know_is_refused() -> None:
    assert fails(with_("BESS", network__dno="Acme Grid")) == {("network.dno", "asset.dno_unknown")}
    assert resolve_dno("Acme Grid") == frozenset()
    assert resolve_dno("NGED") == frozenset({"11", "14", "21", "22"})
    assert resolve_dno("Northern Powergrid") == frozenset({"15", "23"})


def test_a_gsp_group_other_than_the_mpans_is_refused() -> None:
    ok(with_("BESS", network__gsp_group="a"))
    assert fails(with_("BESS", network__gsp_group="_B")) == {
        ("network.gsp_group", "asset.gsp_mismatch")
    }
    assert fails(with_("BESS", network__gsp_group="_I")) == {
        ("network.gsp_group", "gsp_group.unknown")
    }


def test_an_idno_mpan_needs_the_gsp_group() -> None:
    # IDNOs operate inside any licence area: the MPAN does not say which GSP group.
    idno = mpan("24")
    assert fails(with_("BESS", metering={"import_mpan": idno})) == {
        ("network.gsp_group", "asset.gsp_group_required")
    }
    asset = ok(with_("BESS", metering={"import_mpan": idno}, network__gsp_group="_C"))
    assert (asset.distributor_id, asset.dno_licence_area, asset.gsp_group) == ("24", "LOND", "_C")


def test_an_idno_mpan_takes_the_area_from_the_host_dno_named() -> None:
    idno = mpan("27")  # GTC
    asset = ok(with_("BESS", metering={"import_mpan": idno}, network__dno="LOND"))
    assert (asset.distributor_id, asset.dno_licence_area, asset.gsp_group) == ("27", "LOND", "_C")
    # Naming the IDNO itself is right too, with the GSP group.
    ok(with_("BESS", metering={"import_mpan": idno}, network__dno="GTC", network__gsp_group="_H"))
    # A host DNO that is not the GSP group's is a mismatch.
    assert fails(
        with_("BESS", metering={"import_mpan": idno}, network__dno="EELC", network__gsp_group="_C")
    ) == {("network.dno", "asset.dno_mismatch")}
    # An operator of several areas does not tell which one.
    assert fails(with_("BESS", metering={"import_mpan": idno}, network__dno="NGED")) == {
        ("network.gsp_group", "asset.gsp_group_required")
    }


def test_an_idno_and_a_dno_mpan_on_one_site_do_not_mix() -> None:
    rec = with_("BESS", metering={"import_mpan": mpan("24"), "export_mpan": EXPORT})
    assert fails(rec) == {("metering.export_mpan", "asset.mpan_distributor_mismatch")}


# --- postcode, coordinates, EIC ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("CB1 2AB", "CB1 2AB"),
        ("cb12ab", "CB1 2AB"),
        (" sw1a  1aa ", "SW1A 1AA"),
        ("EC1A1BB", "EC1A 1BB"),
        ("W1A 0AX", "W1A 0AX"),
        ("M1 1AE", "M1 1AE"),
        ("gir0aa", "GIR 0AA"),
    ],
)
def test_postcodes_are_normalised(raw: str, clean: str) -> None:
    assert ok(with_("BESS", site__postcode=raw)).postcode == clean


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("QX1 1AA", "postcode.invalid_letter"),
        ("CB1 1AC", "postcode.invalid_letter"),
        ("ABC", "postcode.invalid_format"),
        ("GIR 0AAX", "postcode.invalid_format"),
    ],
)
def test_bad_postcodes_give_the_identifier_codes(raw: str, code: str) -> None:
    assert fails(with_("BESS", site__postcode=raw)) == {("site.postcode", code)}


@given(
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ", min_size=5, max_size=9)
    | st.from_regex(r"[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}", fullmatch=True)
)
def test_the_postcode_fast_path_agrees_with_the_identifier_parser(raw: str) -> None:
    errors: list[FieldError] = []
    got = conformance._postcode(raw, "p", errors)
    if not raw.strip():
        assert got is None
        return
    try:
        expected: Any = Postcode.parse(raw).value
        assert got == expected
    except IdentifierError as exc:
        assert got is conformance.BAD
        assert [e.code for e in errors] == [exc.code]


def test_coordinates_in_great_britain() -> None:
    asset = ok(with_("BESS", site__latitude="60.15", site__longitude="-1.1449"))  # Shetland
    assert (asset.latitude, asset.longitude) == (Decimal("60.150000"), Decimal("-1.144900"))
    assert ok(with_("BESS", site__latitude=49.9123456789, site__longitude=-6.3)).latitude == (
        Decimal("49.912346")
    )
    assert fails(with_("BESS", site__latitude="48.8566", site__longitude="2.3522")) == {
        ("site.latitude", "asset.outside_gb"),
        ("site.longitude", "asset.outside_gb"),
    }
    assert fails(with_("BESS", site__latitude="52.2")) == {
        ("site.longitude", "asset.coordinates_incomplete")
    }
    assert fails(with_("BESS", site__longitude="0.12")) == {
        ("site.latitude", "asset.coordinates_incomplete")
    }
    assert fails(with_("BESS", site__latitude="north", site__longitude="0.1")) == {
        ("site.latitude", "decimal.invalid")
    }


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("10YGB----------A", "eic.wrong_type"),  # an area, not a resource object
        ("48WTESTBESS0001H", "eic.bad_check_character"),
        ("48WTESTBESS0001", "eic.bad_length"),
        ("48W TESTBESS0001", "eic.bad_character"),
    ],
)
def test_the_eic_must_be_a_valid_w_code(raw: str, code: str) -> None:
    assert fails(with_("BESS", eic=raw)) == {("eic", code)}


def test_a_w_code_is_normalised() -> None:
    assert ok(with_("BESS", eic=" 48wtestbess0001g ")).eic == "48WTESTBESS0001G"
    assert ok(example("BESS")).eic is None


# --- identity keys ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        "AB123456",
        "ab123456",
        "AB-123-456",
        "ab 123 456",
        "AB.123.456",
        "AB_123_456",
        "Ab - 12.34_56",
        "AB\u2013123\u2013456",  # en dashes
        "\uff21\uff22\uff11\uff12\uff13\uff14\uff15\uff16",  # full-width letters and digits
    ],
)
def test_serial_number_variants_have_one_key(variant: str) -> None:
    assert serial_key(variant) == "AB123456"
    asset = ok(with_("BESS", serial_number=variant))
    assert asset.serial_key == "AB123456"
    assert asset.serial_number == variant.strip()


def test_a_serial_number_needs_a_letter_or_digit() -> None:
    assert fails(with_("BESS", serial_number="- . -")) == {("serial_number", "serial.invalid")}


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Tesla, Inc.", "TESLA"),
        ("TESLA", "TESLA"),
        ("tesla inc", "TESLA"),
        ("GivEnergy Ltd", "GIVENERGY"),
        ("GivEnergy Limited", "GIVENERGY"),
        ("SMA Solar Technology AG", "SMASOLARTECHNOLOGY"),
        ("Mitsubishi Electric Europe B.V.", "MITSUBISHIELECTRICEUROPEBV"),
        ("Ltd", "LTD"),
    ],
)
def test_manufacturer_key(name: str, key: str) -> None:
    assert manufacturer_key(name) == key


# --- external identifiers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "raw", "clean"),
    [
        ("BM_UNIT", "t_draxx-1", "T_DRAXX-1"),
        ("BM_UNIT", "E_BRDUB-1", "E_BRDUB-1"),
        ("BM_UNIT", "2__AEDFD000", "2__AEDFD000"),
        ("BM_UNIT", "V__AFLEX001", "V__AFLEX001"),
        ("BM_UNIT", "I_IEG-FRAN1", "I_IEG-FRAN1"),
        ("OCPP_CHARGE_POINT", "cp-0001:a", "CP-0001:A"),
        ("ECR", "ukpn/ecr/123", "UKPN/ECR/123"),
        ("OTHER", "Piclo: site 42", "Piclo: site 42"),
    ],
)
def test_external_ids_are_normalised_by_their_scheme(scheme: str, raw: str, clean: str) -> None:
    asset = ok(with_("EV_CHARGER", external_ids=[{"scheme": scheme.lower(), "value": raw}]))
    assert asset.external_ids == (ExternalId(scheme, clean),)


@pytest.mark.parametrize(
    ("item", "field", "code"),
    [
        ({"scheme": "BM_UNIT", "value": "X_ABC"}, "external_ids.0.value", "external_id.bad_prefix"),
        ({"scheme": "BM_UNIT", "value": "2_ABC"}, "external_ids.0.value", "external_id.bad_prefix"),
        (
            {"scheme": "BM_UNIT", "value": "T_"},
            "external_ids.0.value",
            "external_id.invalid_format",
        ),
        ({"scheme": "BM_UNIT", "value": "T_ABCDEFGHIJ"}, "external_ids.0.value", "too_long"),
        (
            {"scheme": "OCPP_CHARGE_POINT", "value": "CP 0001"},
            "external_ids.0.value",
            "external_id.invalid_format",
        ),
        ({"scheme": "MPAN", "value": "1"}, "external_ids.0.scheme", "choice.invalid"),
        ({"value": "E_ABC-1"}, "external_ids.0.scheme", "required"),
        ({"scheme": "BM_UNIT"}, "external_ids.0.value", "required"),
        ({"scheme": "BM_UNIT", "value": 7}, "external_ids.0.value", "type_error"),
        ("BM_UNIT:E_ABC-1", "external_ids.0", "type_error"),
    ],
)
def test_bad_external_ids(item: Any, field: str, code: str) -> None:
    assert fails(with_("BESS", external_ids=[item])) == {(field, code)}


def test_an_external_id_given_twice_is_refused() -> None:
    items = [
        {"scheme": "OCPP_CHARGE_POINT", "value": "cp-1"},
        {"scheme": "BM_UNIT", "value": "E_ABC-1"},
        {"scheme": "ocpp_charge_point", "value": "CP-1"},
    ]
    assert fails(with_("EV_CHARGER", external_ids=items)) == {
        ("external_ids.2", "asset.duplicate_external_id")
    }


def test_at_most_ten_external_ids() -> None:
    items = [{"scheme": "OTHER", "value": f"id-{i}"} for i in range(11)]
    assert fails(with_("BESS", external_ids=items)) == {
        ("external_ids", "asset.too_many_external_ids")
    }
    assert len(ok(with_("BESS", external_ids=items[:10])).external_ids) == 10
    assert ok(with_("BESS", external_ids=[])).external_ids == ()


# --- site, consent, dates ---------------------------------------------------------------------


def test_a_domestic_site_needs_the_consumers_consent_reference() -> None:
    assert fails(with_("BESS", site__domestic=True)) == {
        ("site.consumer_consent_reference", "asset.consent_required")
    }
    asset = ok(with_("BESS", site__domestic=True, site__consumer_consent_reference=" C-9 "))
    assert (asset.domestic, asset.consumer_consent_reference) == (True, "C-9")
    assert ok(example("BESS")).domestic is False


def test_the_address_needs_a_first_line_town_and_postcode() -> None:
    assert fails(with_("BESS", site=None)) == {
        ("site.address_line1", "required"),
        ("site.town", "required"),
        ("site.postcode", "required"),
    }


def test_a_connected_asset_has_been_commissioned() -> None:
    assert fails(with_("BESS", commissioning_date=None)) == {("commissioning_date", "required")}
    assert fails(with_("BESS", commissioning_date="2026-12-02")) == {
        ("commissioning_date", "asset.commissioning_in_future")
    }
    assert ok(with_("BESS", commissioning_date="2026-12-01")).commissioning_date == TODAY
    assert fails(
        with_("BESS", network__connection_status="DISCONNECTED", commissioning_date="2027-01-01")
    ) == {("commissioning_date", "asset.commissioning_in_future")}


def test_a_pending_connection_may_give_a_planned_date_or_none() -> None:
    pending = ok(
        with_("BESS", network__connection_status="PENDING", commissioning_date="2027-03-01")
    )
    assert pending.commissioning_date == dt.date(2027, 3, 1)
    assert pending.effective_from == dt.date(2027, 3, 1)
    undated = ok(with_("BESS", network__connection_status="PENDING", commissioning_date=None))
    assert (undated.commissioning_date, undated.effective_from) == (None, TODAY)


def test_the_registration_takes_effect_today_unless_told_otherwise() -> None:
    assert ok(example("BESS")).effective_from == TODAY
    assert ok(with_("BESS", effective_from="2027-01-01")).effective_from == dt.date(2027, 1, 1)
    assert ok(with_("BESS", effective_from="2024-01-15")).effective_from == dt.date(2024, 1, 15)
    assert fails(with_("BESS", effective_from="2024-01-14")) == {
        ("effective_from", "asset.effective_before_commissioning")
    }


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("2024-02-30", "date.invalid"),
        ("20240115", "date.invalid"),
        ("2024-W03-1", "date.invalid"),
        ("15/01/2024", "date.invalid"),
        ("1899-12-31", "date.out_of_range"),
        ("2036-12-01", "date.out_of_range"),
    ],
)
def test_bad_dates(raw: str, code: str) -> None:
    rec = with_("BESS", network__connection_status="PENDING", commissioning_date=raw)
    assert fails(rec) == {("commissioning_date", code)}


def test_dates_may_be_date_objects() -> None:
    asset = ok(with_("BESS", commissioning_date=dt.date(2020, 2, 29)))
    assert asset.commissioning_date == dt.date(2020, 2, 29)


def test_today_defaults_to_the_date_in_the_uk() -> None:
    asset, errors = validate(example("BESS"))
    assert errors == []
    assert asset is not None
    assert asset.effective_from == dt.datetime.now(conformance.LONDON).date()


# --- one validator, many rows -----------------------------------------------------------------


def test_a_validator_keeps_nothing_between_rows() -> None:
    validator = Validator(today=TODAY)
    bad = with_("BESS", capacity__installed_kw="5.123", commissioning_date="2024-02-30")
    good = example("BESS")
    for _ in range(2):
        asset, errors = validator(bad)
        assert asset is None
        assert {(e.field, e.code) for e in errors} == {
            ("capacity.installed_kw", "decimal.too_many_places"),
            ("commissioning_date", "date.invalid"),
        }
        asset, errors = validator(good)
        assert errors == []
    results = list(conformance.validate_rows([good, bad, good], today=TODAY))
    assert [a is not None for a, _ in results] == [True, False, True]


def test_an_over_large_value_is_not_remembered_as_valid() -> None:
    validator = Validator(today=TODAY)
    assert validator(with_("OTHER", capacity__installed_kw="0"))[0] is None
    asset, _ = validator(with_("SOLAR_PV", capacity__export_kw="0"))
    assert asset is not None and asset.export_kw == Decimal("0.00")
    assert validator(with_("OTHER", capacity__installed_kw="0"))[0] is None


# --- CSV --------------------------------------------------------------------------------------


def test_csv_columns_per_category() -> None:
    assert ALL_CSV_COLUMNS[:2] == ("name", "category")
    assert set(CSV_COLUMNS) == set(CATEGORIES)
    assert "capacity.storage_kwh" in CSV_COLUMNS["BESS"]
    assert "capacity.storage_kwh" not in CSV_COLUMNS["SOLAR_PV"]
    assert "v2g" in CSV_COLUMNS["EV_CHARGER"]
    assert "v2g" not in CSV_COLUMNS["BESS"]
    assert "capacity.export_kw" not in CSV_COLUMNS["HEAT_PUMP"]
    assert csv_columns("OTHER") == CSV_COLUMNS["OTHER"]
    for columns in CSV_COLUMNS.values():
        assert set(columns) <= set(ALL_CSV_COLUMNS)
        assert "site.postcode" in columns and "metering.import_mpan" in columns


def _as_csv_row(record: dict[str, Any]) -> dict[str, str]:
    row: dict[str, str] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            row.update({f"{key}.{k}": "" if v is None else str(v) for k, v in value.items()})
        elif key == "external_ids":
            row[key] = ";".join(f"{x['scheme']}:{x['value']}" for x in value)
        elif isinstance(value, bool):
            row[key] = "yes" if value else "no"
        else:
            row[key] = "" if value is None else str(value)
    return row


@pytest.mark.parametrize("category", CATEGORIES)
def test_a_csv_template_row_validates_like_the_json_record(category: str) -> None:
    rec = example(category)
    if category == "EV_CHARGER":
        rec.update(v2g=True, external_ids=[{"scheme": "OCPP_CHARGE_POINT", "value": "CP-1"}])
        rec["capacity"]["export_kw"] = "7"
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=CSV_COLUMNS[category], extrasaction="raise")
    writer.writeheader()
    writer.writerow(dict.fromkeys(CSV_COLUMNS[category], "") | _as_csv_row(rec))
    [row] = list(csv.DictReader(io.StringIO(text.getvalue())))
    assert ok(flatten_csv_row(row)) == ok(rec)


def test_flatten_a_csv_row() -> None:
    row = {
        "\ufeffName": "Battery 1",
        " category ": "BESS",
        "capacity.installed_kw": "5",
        "capacity.export_kw": "",
        "external_ids": "BM_UNIT:E_ABC-1; OCPP_CHARGE_POINT:CP:01 ;;",
        "v2g": "No",
        "site.domestic": "Y",
        "site.postcode": "  ",
        "metering.import_mpan": IMPORT,
    }
    assert flatten_csv_row(row) == {
        "name": "Battery 1",
        "category": "BESS",
        "capacity": {"installed_kw": "5"},
        "external_ids": [
            {"scheme": "BM_UNIT", "value": "E_ABC-1"},
            {"scheme": "OCPP_CHARGE_POINT", "value": "CP:01"},
        ],
        "v2g": False,
        "site": {"domestic": True},
        "metering": {"import_mpan": IMPORT},
    }


def test_csv_mistakes_are_reported_by_validate() -> None:
    row = _as_csv_row(example("BESS"))
    row.update({"colour": "red", "site.domestic": "maybe", "external_ids": "E_ABC-1"})
    record = flatten_csv_row({**row, None: ["extra", "cells"]})
    assert fails(record) == {
        ("colour", "unknown_field"),
        ("_extra_cells", "unknown_field"),
        ("site.domestic", "type_error"),
        ("external_ids.0.scheme", "required"),
    }


def test_a_column_clashing_with_a_section_is_reported() -> None:
    record = flatten_csv_row({"capacity": "5", "capacity.installed_kw": "5"})
    assert record == {"capacity": "5", "capacity.installed_kw": "5"}
    got = fails(record)
    assert ("capacity", "type_error") in got
    assert ("capacity.installed_kw", "unknown_field") in got
