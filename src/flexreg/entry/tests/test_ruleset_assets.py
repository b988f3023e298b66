"""Asset rules in the rule set (``[assets.roles.<ROLE>]``): which categories each role that
registers assets may register and the extra fields it gives. The default rules cover every
such role; every malformed rule is refused with its path; the compiled rules (and so the rule
version's checksum) carry them."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from flexreg.core.permissions import ASSET_REGISTRANTS
from flexreg.entry import ruleset, services

DEFAULT = tomllib.loads(ruleset.DEFAULT_FILE.read_text())


def _with_assets(assets: Any) -> dict[str, Any]:
    raw = copy.deepcopy(DEFAULT)
    raw["assets"] = assets
    return raw


def _with_role(role: str, table: Any) -> dict[str, Any]:
    raw = copy.deepcopy(DEFAULT)
    raw["assets"]["roles"][role] = table
    return raw


def _problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ruleset.RuleSetInvalid) as err:
        ruleset.compile_rules(raw)
    return err.value.problems


def test_the_default_rules_say_what_every_registrant_role_may_register() -> None:
    assets = ruleset.compile_rules(DEFAULT)["assets"]["roles"]
    assert set(assets) == set(ASSET_REGISTRANTS)
    assert assets["FSP"] == {"categories": ["*"], "fields": []}
    assert assets["ASSET_OWNER"]["categories"] == ["*"]
    assert assets["AGGREGATOR"]["categories"] == ["*"]
    [agreed] = assets["AGGREGATOR"]["fields"]
    assert agreed["name"] == "owner_agreed" and agreed["type"] == "confirm"
    assert {"HEAT_PUMP", "EV_CHARGER", "BESS", "SOLAR_PV"} <= set(assets["SUPPLIER"]["categories"])
    assert "WIND_TURBINE" not in assets["SUPPLIER"]["categories"]
    assert [f["name"] for f in assets["SUPPLIER"]["fields"]] == ["supply_contract_reference"]
    assert assets["OEM"]["categories"] == ["BESS", "EV_CHARGER", "HEAT_PUMP"]
    assert [f["name"] for f in assets["OEM"]["fields"]] == ["model_registry_reference"]
    assert assets["PLATFORM"] == {"categories": [], "fields": []}


def test_the_asset_rules_change_the_checksum() -> None:
    with_assets = ruleset.compile_rules(DEFAULT)
    without = copy.deepcopy(DEFAULT)
    del without["assets"]
    compiled = ruleset.compile_rules(without)
    assert compiled["assets"] == {"roles": {}}  # no table: no role registers anything
    assert ruleset.checksum(compiled) != ruleset.checksum(with_assets)
    changed = _with_role("OEM", {"categories": ["BESS"]})
    assert ruleset.checksum(ruleset.compile_rules(changed)) != ruleset.checksum(with_assets)


def test_category_order_does_not_change_the_compiled_rules() -> None:
    one = _with_role("SUPPLIER", {"categories": ["BESS", "HEAT_PUMP"]})
    two = _with_role("SUPPLIER", {"categories": ["HEAT_PUMP", "BESS"]})
    assert ruleset.checksum(ruleset.compile_rules(one)) == ruleset.checksum(
        ruleset.compile_rules(two)
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (_with_assets("everything"), "assets: must be a table"),
        (
            _with_assets({"roles": {}, "colours": 1}),
            "assets.colours: unknown setting (allowed: roles)",
        ),
        (_with_assets({"roles": ["FSP"]}), "assets.roles: must be a table of roles"),
        (
            _with_role("DNO", {"categories": ["*"]}),
            "assets.roles.DNO: 'DNO' is not a role that registers assets (FSP, AGGREGATOR, "
            "ASSET_OWNER, SUPPLIER, OEM, PLATFORM)",
        ),
        (
            _with_role("MARKET_FACILITATOR", {"categories": ["*"]}),
            "assets.roles.MARKET_FACILITATOR: 'MARKET_FACILITATOR' is not a role that registers",
        ),
        (_with_role("OEM", "BESS"), "assets.roles.OEM: must be a table with categories and fields"),
        (
            _with_role("OEM", {"categories": ["BESS"], "category": "BESS"}),
            "assets.roles.OEM.category: unknown setting (allowed: categories, fields)",
        ),
        (
            _with_role("OEM", {"fields": []}),
            'assets.roles.OEM.categories: is required: category codes, or ["*"] for all',
        ),
        (
            _with_role("OEM", {"categories": "BESS"}),
            "assets.roles.OEM.categories: must be a list of text values",
        ),
        (
            _with_role("OEM", {"categories": ["*", "BESS"]}),
            'assets.roles.OEM.categories: "*" (every category) stands alone',
        ),
        (
            _with_role("OEM", {"categories": ["BESS", "ev charger"]}),
            "assets.roles.OEM.categories.1: 'ev charger' is not a category code (upper-case "
            "letters, digits and _)",
        ),
        (
            _with_role("OEM", {"categories": ["BESS", "BESS"]}),
            "assets.roles.OEM.categories: lists a value twice",
        ),
        (
            _with_role("OEM", {"categories": ["BESS"], "fields": {"name": "x"}}),
            "assets.roles.OEM.fields: must be a list of fields",
        ),
        (
            _with_role("OEM", {"categories": ["BESS"], "fields": ["model"]}),
            "assets.roles.OEM.fields.0: must be a table with name, label and type",
        ),
        (
            _with_role("OEM", {"categories": ["BESS"], "fields": [{"name": "x", "label": "X"}]}),
            "assets.roles.OEM.fields.0.name: must be lower-case letters, digits and _ (2-60)",
        ),
        (
            _with_role(
                "OEM",
                {"categories": ["BESS"], "fields": [{"name": "ref", "label": "R", "type": "fax"}]},
            ),
            "assets.roles.OEM.fields.0.type: 'fax' is not one of text, email",
        ),
        (
            _with_role("OEM", {"categories": ["BESS"], "fields": [{"name": "ref"}]}),
            "assets.roles.OEM.fields.0.label: is required",
        ),
        (
            _with_role(
                "OEM",
                {
                    "categories": ["BESS"],
                    "fields": [{"name": "ref", "label": "R", "pattern": "[unclosed"}],
                },
            ),
            "assets.roles.OEM.fields.0.pattern: is not a valid regular expression",
        ),
        (
            _with_role(
                "OEM",
                {
                    "categories": ["BESS"],
                    "fields": [{"name": "kind", "label": "K", "type": "select"}],
                },
            ),
            "assets.roles.OEM.fields.0.options: a select field needs at least one option",
        ),
        (
            _with_role(
                "OEM",
                {
                    "categories": ["BESS"],
                    "fields": [{"name": "ref", "label": "R", "required": "yes"}],
                },
            ),
            "assets.roles.OEM.fields.0.required: must be true or false",
        ),
        (
            _with_role(
                "OEM",
                {
                    "categories": ["BESS"],
                    "fields": [{"name": "ref", "label": "R"}, {"name": "ref", "label": "S"}],
                },
            ),
            "assets.roles.OEM.fields: two fields have the same name",
        ),
    ],
)
def test_malformed_asset_rules_are_refused_with_their_path(
    raw: dict[str, Any], expected: str
) -> None:
    problems = _problems(raw)
    assert any(p.startswith(expected) for p in problems), problems


def test_every_problem_is_reported_at_once() -> None:
    raw = _with_assets(
        {
            "roles": {
                "DNO": {"categories": ["*"]},
                "OEM": {"categories": ["bess"], "fields": [{"name": "Ref", "label": "R"}]},
                "SUPPLIER": {"categories": ["*"], "extra": True},
            }
        }
    )
    paths = {p.split(":")[0] for p in _problems(raw)}
    assert {
        "assets.roles.DNO",
        "assets.roles.OEM.categories.0",
        "assets.roles.OEM.fields.0.name",
        "assets.roles.SUPPLIER.extra",
    } <= paths


def test_an_empty_list_says_the_role_registers_nothing() -> None:
    compiled = ruleset.compile_rules(_with_role("OEM", {"categories": []}))
    assert compiled["assets"]["roles"]["OEM"] == {"categories": [], "fields": []}


@pytest.mark.django_db
def test_a_new_rule_version_records_changed_asset_rules(settings: Any, tmp_path: Path) -> None:
    first = services.current_version()
    assert first.content["assets"]["roles"]["OEM"]["categories"] == [
        "BESS",
        "EV_CHARGER",
        "HEAT_PUMP",
    ]
    text = ruleset.DEFAULT_FILE.read_text().replace(
        'categories = ["BESS", "EV_CHARGER", "HEAT_PUMP"]', 'categories = ["EV_CHARGER"]'
    )
    rules = tmp_path / "rules.toml"
    rules.write_text(text)
    settings.FLEXREG_ENTRY_RULES = str(rules)
    second = services.current_version()
    assert second.number == first.number + 1
    assert second.checksum != first.checksum
    assert second.content["assets"]["roles"]["OEM"]["categories"] == ["EV_CHARGER"]
