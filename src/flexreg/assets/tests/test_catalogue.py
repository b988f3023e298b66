"""The asset catalogue file: what it holds (DOMAIN.md's lists), how operators' overlays add and
retire values, and how the loader explains a broken file. Pure Python: no database."""

from __future__ import annotations

import copy
import tomllib
from decimal import Decimal
from typing import Any

import pytest

from flexreg.assets import catalogue as cat
from flexreg.assets.catalogue import (
    CONSTRAINTS,
    DEFAULT_FILE,
    RULE_FIELDS,
    CatalogueInvalid,
    compile_catalogue,
    default_catalogue,
    load_file,
)

RAW = tomllib.loads(DEFAULT_FILE.read_text())


def problems(raw: dict[str, Any], overlays: list[dict[str, Any]] | None = None) -> list[str]:
    with pytest.raises(CatalogueInvalid) as err:
        compile_catalogue(raw, overlays or [])
    assert str(err.value) == "; ".join(err.value.problems)
    return err.value.problems


def raw(**changes: Any) -> dict[str, Any]:
    """A deep copy of the default file with ``a__b`` set (or removed when None)."""
    data = copy.deepcopy(RAW)
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = data
        for part in parents:
            target = target[part]
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    return data


def _forbid_export_on_ev_chargers() -> dict[str, Any]:
    data = copy.deepcopy(RAW)
    data["categories"]["EV_CHARGER"]["fields"]["capacity.export_kw"] = "forbidden"
    return data


def test_the_default_file_compiles_and_is_cached() -> None:
    catalogue = default_catalogue()
    assert catalogue is default_catalogue()
    assert catalogue.name == "FlexReg asset catalogue"
    assert len(catalogue.checksum) == 64
    assert catalogue.checksum == load_file().checksum


def test_the_lists_are_domain_mds() -> None:
    c = default_catalogue()
    assert c.category_list.codes == (
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
    )
    assert set(c.energy_sources.codes) == {
        "SOLAR",
        "WIND",
        "HYDRO",
        "BIOMASS",
        "BIOGAS",
        "NATURAL_GAS",
        "DIESEL",
        "HYDROGEN",
        "GRID",
        "OTHER",
    }
    assert c.connection_statuses.codes == ("CONNECTED", "PENDING", "DISCONNECTED")
    assert c.connection_types.codes == ("FIRM", "NON_FIRM", "DYNAMIC")
    assert c.flexibility_directions.codes == ("up", "down", "both")
    assert "LV" in c.voltage_levels and "HV" in c.voltage_levels
    assert set(c.external_id_schemes) == {"BM_UNIT", "OCPP_CHARGE_POINT", "ECR", "OTHER"}


def test_the_limits() -> None:
    limits = default_catalogue().limits
    assert limits.kw_places == 2
    assert limits.max_kw == Decimal(2_000_000)
    assert limits.text["description"] == 200
    assert set(limits.text) == set(cat.TEXT_FIELDS)


def test_which_statuses_mean_commissioned() -> None:
    statuses = default_catalogue().connection_statuses
    assert [c.code for c in statuses if c.commissioned] == ["CONNECTED", "DISCONNECTED"]


def test_external_id_schemes_say_which_name_one_asset() -> None:
    schemes = default_catalogue().external_id_schemes
    assert schemes["OCPP_CHARGE_POINT"].unique
    # A BM Unit (a VLP's secondary unit most of all) and an ECR entry group many assets.
    assert not schemes["BM_UNIT"].unique
    assert not schemes["ECR"].unique
    assert schemes["BM_UNIT"].prefixes == ("T_", "E_", "I_", "2__", "C__", "V__", "M_")


def test_every_category_rules_on_every_field() -> None:
    for schema in default_catalogue().categories.values():
        assert tuple(schema.fields) == RULE_FIELDS
        assert schema.constraints <= set(CONSTRAINTS)
        assert set(schema.required_fields).isdisjoint(schema.forbidden_fields)


def test_category_schemas_as_the_issue_asks() -> None:
    c = default_catalogue()
    assert c.category("BESS").presence("capacity.storage_kwh") == "required"
    assert c.category("BESS").fields["capacity.storage_kwh"].code == "asset.storage_required"
    assert c.category("SOLAR_PV").energy_sources == ("SOLAR",)
    assert c.category("WIND_TURBINE").energy_sources == ("WIND",)
    assert set(c.category("CHP").energy_sources or ()) == {
        "NATURAL_GAS",
        "BIOGAS",
        "BIOMASS",
        "HYDROGEN",
        "DIESEL",
    }
    assert c.category("OTHER").fields["description"].code == "asset.other_needs_description"
    for code, schema in c.categories.items():
        v2g = schema.fields["v2g"]
        if code == "EV_CHARGER":
            assert v2g.presence == "optional"
        else:
            assert (v2g.presence, v2g.code) == ("forbidden", "asset.v2g_only_ev_charger")
        assert "export_le_installed" in schema.constraints
        assert "at_least_one_mpan" in schema.constraints
    for code in ("HEAT_PUMP", "ELECTRIC_BOILER", "HVAC", "REFRIGERATION", "INDUSTRIAL_LOAD"):
        schema = c.category(code)
        assert schema.kind == "demand"
        assert schema.presence("capacity.import_kw") == "required"
        assert schema.presence("capacity.storage_kwh") == "forbidden"
        assert schema.energy_sources == ("GRID",)


def test_lookups_ignore_case_and_separators() -> None:
    c = default_catalogue()
    assert c.category_list.lookup("solar pv").code == "SOLAR_PV"  # type: ignore[union-attr]
    assert c.category_list.lookup(" Heat-Pump ").code == "HEAT_PUMP"  # type: ignore[union-attr]
    assert c.flexibility_directions.lookup("BOTH").code == "both"  # type: ignore[union-attr]
    assert c.energy_sources.lookup("coal") is None
    assert cat.choice_key("non  firm") == "NON_FIRM"


def test_overlays_add_and_retire_values_but_remove_nothing() -> None:
    c = load_file(
        overlays=[
            {"lists": {"energy_sources": {"TIDAL": {"label": "Tidal"}}}},
            {"lists": {"energy_sources": {"DIESEL": {"retired": True}}}},
            {"categories": {"HVAC": {"label": "Heating and cooling"}}},
        ]
    )
    sources = c.energy_sources
    assert sources.codes[-1] == "TIDAL"
    assert sources.choices["DIESEL"].retired
    assert sources.choices["DIESEL"].label == "Diesel"  # kept from the file
    assert "DIESEL" not in {s.code for s in sources.active}
    assert c.category("HVAC").label == "Heating and cooling"
    assert c.checksum != default_catalogue().checksum


def test_an_overlay_is_validated_like_the_file() -> None:
    assert problems(RAW, [{"lists": {"energy_sources": {"TIDAL": {}}}}]) == [
        "lists.energy_sources.TIDAL.label: is required"
    ]
    assert problems(RAW, [{"categories": {"CHP": {"retired": "yes"}}}]) == [
        "categories.CHP.retired: must be true or false"
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (raw(schema=2), "schema: must be 1"),
        (raw(colour="blue"), "catalogue.colour: unknown setting"),
        (raw(name=None), "name: is required"),
        (raw(lists__energy_sources=None), "lists.energy_sources: is required"),
        (raw(lists__energy_sources={}), "lists.energy_sources: must list at least one value"),
        (raw(lists__colours={"RED": {"label": "Red"}}), "lists.colours: unknown setting"),
        (
            raw(lists__connection_types__FIRM={"label": "Firm", "colour": "x"}),
            "lists.connection_types.FIRM.colour: unknown setting",
        ),
        (
            raw(lists__connection_types__firm={"label": "Firm again"}),
            "lists.connection_types.firm: is the same code as 'FIRM'",
        ),
        (
            raw(lists__connection_types={"no spaces!": {"label": "x"}}),
            "lists.connection_types.no spaces!: a code is 1-40 letters",
        ),
        (
            raw(lists__connection_statuses__PENDING={"label": "Pending"}),
            "lists.connection_statuses.PENDING.commissioned: must be true or false",
        ),
        (
            raw(
                lists__flexibility_directions={
                    "up": {"label": "Up", "retired": True},
                }
            ),
            "lists.flexibility_directions: every value is retired",
        ),
        (raw(limits__max_kw="lots"), "limits.max_kw: 'lots' is not a number"),
        (raw(limits__max_kw=2.5), "limits.max_kw: must be a number written as text"),
        (raw(limits__max_kw="0"), "limits.max_kw: must be more than 0"),
        (raw(limits__kw_places=9), "limits.kw_places: must be a whole number from 0 to 6"),
        (raw(limits__earliest_date="1 Jan 1900"), "limits.earliest_date: must be a date"),
        (raw(limits__min_latitude="61"), "limits.min_latitude: latitudes run from -90 to 90"),
        (raw(limits__text__name=None), "limits.text.name: is missing"),
        (raw(limits__text__colour=3), "limits.text.colour: unknown setting"),
        (
            raw(external_id_schemes__BM_UNIT__pattern="(unclosed"),
            "external_id_schemes.BM_UNIT.pattern: is not a valid regular expression",
        ),
        (
            raw(external_id_schemes__BM_UNIT__case="lower"),
            "external_id_schemes.BM_UNIT.case: 'lower' is not one of upper, preserve",
        ),
        (
            raw(external_id_schemes__BM_UNIT__unique=None),
            "external_id_schemes.BM_UNIT.unique: must be true or false",
        ),
        (
            raw(external_id_schemes__BM_UNIT__max_length=0),
            "external_id_schemes.BM_UNIT.max_length: must be a whole number from 1 to 200",
        ),
        (
            raw(defaults__fields__eic=None),
            "defaults.fields.eic: is missing: say whether the field is required",
        ),
        (
            raw(defaults__fields__eic="mandatory"),
            "defaults.fields.eic.presence: 'mandatory' is not one of required, optional, forbidden",
        ),
        (
            raw(defaults__fields__eic={"presence": "optional", "code": "asset.eic_optional"}),
            "defaults.fields.eic.code: an optional field breaks no rule",
        ),
        (
            raw(defaults__fields__eic={"presence": "required", "code": "Bad Code"}),
            "defaults.fields.eic.code: an error code is dotted lower-case words",
        ),
        (raw(defaults__constraints=["export_le_nameplate"]), "defaults.constraints: 'export_le_"),
        (
            raw(categories__BESS__fields__colour="required"),
            "categories.BESS.fields.colour: unknown setting",
        ),
        (raw(categories__BESS__kind="battery"), "categories.BESS.kind: 'battery' is not one of"),
        (
            raw(categories__BESS__energy_sources=["GRID", "COAL"]),
            "categories.BESS.energy_sources: 'COAL' is not one of",
        ),
        (
            raw(categories__SOLAR_PV__default_energy_source="WIND"),
            "categories.SOLAR_PV.default_energy_source: is not one of the category's energy",
        ),
        (
            raw(categories__SOLAR_PV__default_energy_source="COAL"),
            "categories.SOLAR_PV.default_energy_source: 'COAL' is not an energy source",
        ),
        (
            raw(categories__HVAC__fields__energy_source="forbidden"),
            "categories.HVAC.energy_sources: the energy source is forbidden",
        ),
        (
            _forbid_export_on_ev_chargers(),
            "categories.EV_CHARGER.constraints: v2g_needs_export needs capacity.export_kw",
        ),
        (raw(categories={}), "categories: at least one category must be in use"),
        (
            raw(categories__bess={"label": "again", "kind": "storage"}),
            "categories.bess: is the same code as 'BESS'",
        ),
    ],
)
def test_a_broken_catalogue_is_explained(data: dict[str, Any], expected: str) -> None:
    found = problems(data)
    assert any(p.startswith(expected) for p in found), found


def test_every_problem_is_listed_at_once() -> None:
    found = problems(raw(schema=0, name=None, categories__BESS__kind="battery"))
    assert len(found) == 3


def test_a_file_that_is_not_toml_is_explained() -> None:
    with pytest.raises(CatalogueInvalid) as err:
        cat.parse("schema = = 1")
    assert err.value.problems[0].startswith("catalogue: not valid TOML")
