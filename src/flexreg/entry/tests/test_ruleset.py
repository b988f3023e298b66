"""Rules as data: the default rule set is valid and covers every role; malformed rules are
refused with clear messages naming where the problem is; changing the rules never changes a
case under way until an operator moves it."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import pytest
from django.core import checks

from conftest import individual_payload, organisation_payload
from flexreg.core.roles import INDIVIDUAL_ROLES, ROLES
from flexreg.entry import ruleset, services
from flexreg.entry.models import EntryCase, RequestStatus

DEFAULT = tomllib.loads(ruleset.DEFAULT_FILE.read_text())
SELF_REQUESTABLE = [c for c, r in ROLES.items() if r.self_requestable]


def _problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ruleset.RuleSetInvalid) as err:
        ruleset.compile_rules(raw)
    return err.value.problems


def _with(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(DEFAULT)
    for dotted, value in changes.items():
        node = raw
        *path, last = dotted.split("__")
        for key in path:
            node = node[key]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return raw


def test_the_default_rules_are_valid() -> None:
    compiled = ruleset.compile_rules(DEFAULT)
    assert set(compiled["roles"]) == set(SELF_REQUESTABLE)


@pytest.mark.parametrize("role", SELF_REQUESTABLE)
@pytest.mark.parametrize("kind", ruleset.PARTICIPANT_KINDS)
def test_every_role_has_a_sensible_path_for_every_kind(role: str, kind: str) -> None:
    if kind == "individual" and role not in INDIVIDUAL_ROLES:
        pytest.skip("individuals cannot hold this role")
    steps = ruleset.steps_for(ruleset.compile_rules(DEFAULT), role, kind)
    keys = [s["key"] for s in steps]
    # verified first, through the check that fits the kind of participant
    assert keys[0] == ("identity_proven" if kind == "individual" else "organisation_verified")
    assert any(s["kind"] != "check" or s["check"] != "participant_verified" for s in steps)
    if kind == "non_uk" and role not in ("DNO", "IDNO", "NESO", "TO"):
        assert "incorporation_documents" in keys
    # every "after" points at a step of the same path
    for step in steps:
        assert set(step["after"]) <= set(keys)


def test_the_issue_examples_are_in_the_default_rules() -> None:
    compiled = ruleset.compile_rules(DEFAULT)
    fsp = [s["key"] for s in ruleset.steps_for(compiled, "FSP", "organisation")]
    assert {
        "insurance_certificate",
        "framework_agreement",
        "technical_contact",
        "api_connectivity",
    } <= set(fsp)
    assert "network_licence" in compiled["roles"]["DNO"]["steps"]
    individual = [s["key"] for s in ruleset.steps_for(compiled, "FSP", "individual")]
    assert individual[0] == "identity_proven"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (_with(schema=2), "schema: must be 1"),
        (_with(steps__insurance_certificate__kind="fax"), "steps.insurance_certificate.kind:"),
        (
            _with(steps__insurance_certificate__title=None),
            "steps.insurance_certificate.title: is required",
        ),
        (
            _with(steps__insurance_certificate__due_days=0),
            "steps.insurance_certificate.due_days: must be a whole number",
        ),
        (
            _with(steps__insurance_certificate__colour="red"),
            "steps.insurance_certificate.colour: unknown setting",
        ),
        (
            _with(steps__insurance_certificate__after=["nowhere"]),
            "steps.insurance_certificate.after: names an unknown step 'nowhere'",
        ),
        (
            _with(steps__insurance_certificate__accept=["text/html"]),
            "steps.insurance_certificate.accept: 'text/html' is not one of",
        ),
        (
            _with(steps__technical_contact__fields=[]),
            "steps.technical_contact.fields: a form step needs at least one field",
        ),
        (
            _with(steps__api_connectivity__check="telepathy"),
            "steps.api_connectivity.check: 'telepathy' is not one of",
        ),
        (
            _with(steps__eic_party_code__fields=None),
            "steps.eic_party_code.fields: the eic_register check needs a field of type eic",
        ),
        (
            _with(roles__FSP__steps=["insurance_certificate", "ghost"]),
            "roles.FSP.steps: names an unknown step 'ghost'",
        ),
        (
            _with(roles__FSP__steps=["insurance_certificate"]),
            "roles.FSP.steps: has no participant_verified check",
        ),
        (_with(roles__OEM=None), "roles.OEM: is missing"),
        (
            _with(roles__REGULATOR={"steps": []}),
            "roles.REGULATOR: 'REGULATOR' is not a role participants ask for",
        ),
        (
            _with(service_levels__bank_holidays=["25/12/2026"]),
            "service_levels.bank_holidays.0: '25/12/2026' is not a date",
        ),
        (
            _with(notifications__email_mandatory=["entry.carrier_pigeon"]),
            "notifications.email_mandatory: 'entry.carrier_pigeon' is not one of",
        ),
    ],
)
def test_malformed_rules_are_refused_with_the_path_and_reason(
    raw: dict[str, Any], expected: str
) -> None:
    problems = _problems(raw)
    assert any(p.startswith(expected) for p in problems), problems


def test_every_problem_is_reported_at_once() -> None:
    raw = _with(schema=2, steps__insurance_certificate__kind="fax", roles__OEM=None)
    assert len(_problems(raw)) >= 3


def test_steps_waiting_in_a_circle_are_refused() -> None:
    raw = _with(
        steps__insurance_certificate__after=["framework_agreement"],
        steps__framework_agreement__after=["insurance_certificate"],
    )
    assert any("in a circle" in p for p in _problems(raw))


def test_a_field_pattern_must_be_a_regular_expression() -> None:
    raw = _with()
    raw["steps"]["supply_licence"]["fields"][1]["pattern"] = "([A-Z"
    assert any("is not a valid regular expression" in p for p in _problems(raw))


def test_not_toml_at_all() -> None:
    with pytest.raises(ruleset.RuleSetInvalid) as err:
        ruleset.parse("schema = = 1")
    assert err.value.problems[0].startswith("rules: not valid TOML")


def test_start_up_refuses_a_malformed_rule_file(settings: Any, tmp_path: Any) -> None:
    bad = tmp_path / "rules.toml"
    bad.write_text(ruleset.DEFAULT_FILE.read_text().replace('kind = "document"', 'kind = "fax"', 1))
    settings.FLEXREG_ENTRY_RULES = str(bad)
    errors = [e for e in checks.run_checks() if e.id == "flexreg.E102"]
    assert errors and "kind" in errors[0].msg
    settings.FLEXREG_ENTRY_RULES = str(tmp_path / "missing.toml")
    assert any(e.id == "flexreg.E101" for e in checks.run_checks())


# --- versions -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_new_rules_apply_to_new_cases_and_cases_under_way_keep_theirs(
    registered: Any, operator_api: Any, settings: Any, tmp_path: Any
) -> None:
    _, first, _ = registered()
    old_case = EntryCase.objects.get(
        participant_role__participant__participant_id=first["participant_id"],
        participant_role__role="FSP",
    )
    old_version = old_case.rule_version.number

    response = operator_api.post(
        "/operator/entry-rules/additions",
        {
            "key": "grid_code_statement",
            "roles": ["FSP"],
            "step": {"title": "Upload your Grid Code compliance statement", "kind": "document"},
        },
    )
    assert response.status_code == 201, response.content
    new_version = response.json()["rule_version"]
    assert new_version > old_version

    _, second, _ = registered(
        organisation_payload(
            company_number="OC990004",
            legal_name="Solar Commons LLP (Sample)",
            organisation_type="llp",
            declaration={
                "declarant_name": "Amira Khan",
                "declarant_is_applicant": True,
                "statement_accepted": True,
            },
        )
    )
    new_case = EntryCase.objects.get(
        participant_role__participant__participant_id=second["participant_id"],
        participant_role__role="FSP",
    )
    assert new_case.rule_version.number == new_version
    assert new_case.requests.filter(
        step_key="grid_code_statement", status=RequestStatus.OPEN
    ).exists()
    old_case.refresh_from_db()
    assert old_case.rule_version.number == old_version
    assert not old_case.requests.filter(step_key="grid_code_statement").exists()

    # the operator moves the old case: accepted steps stay accepted, the new step is added
    moved = operator_api.post(f"/operator/entry-rules/cases/{old_case.public_id}/move", {})
    assert moved.status_code == 200, moved.content
    assert moved.json()["rule_version"] == new_version
    steps = {r["step"]: r["status"] for r in moved.json()["requests"]}
    assert steps["grid_code_statement"] == "open"
    assert steps["organisation_verified"] == "accepted"
    again = operator_api.post(f"/operator/entry-rules/cases/{old_case.public_id}/move", {})
    assert again.status_code == 409
    assert again.json()["code"] == "entry.version_not_newer"


@pytest.mark.django_db
def test_an_invalid_addition_is_refused_and_nothing_is_stored(operator_api: Any) -> None:
    from flexreg.entry.models import RuleAddition

    response = operator_api.post(
        "/operator/entry-rules/additions",
        {"key": "broken", "roles": ["FSP"], "step": {"title": "Broken", "kind": "fax"}},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_failed"
    assert any(e["field"] == "additions.broken.kind" for e in body["errors"])
    assert not RuleAddition.objects.exists()


@pytest.mark.django_db
def test_retiring_an_addition_makes_a_new_version_and_is_audited(operator_api: Any) -> None:
    from flexreg.core.models import AuditEvent

    added = operator_api.post(
        "/operator/entry-rules/additions",
        {"key": "extra", "roles": ["OEM"], "step": {"title": "Extra", "kind": "text"}},
    ).json()
    retired = operator_api.post(
        f"/operator/entry-rules/additions/{added['addition_id']}/retire", {"reason": "Done"}
    )
    assert retired.status_code == 200
    assert retired.json()["retired_at"] and retired.json()["rule_version"] != added["rule_version"]
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"entry_rules.addition_added", "entry_rules.addition_retired"} <= actions


@pytest.mark.django_db
def test_validating_a_rule_file_through_the_api(operator_api: Any) -> None:
    good = operator_api.post(
        "/operator/entry-rules/validate", {"toml": ruleset.DEFAULT_FILE.read_text()}
    )
    assert good.json()["valid"] is True and "FSP" in good.json()["roles"]
    bad = operator_api.post("/operator/entry-rules/validate", {"toml": "schema = 1\n"})
    assert bad.json()["valid"] is False
    assert any(p.startswith("name: is required") for p in bad.json()["problems"])


@pytest.mark.django_db
def test_an_unchanged_rule_file_makes_no_new_version() -> None:
    first = services.current_version()
    assert services.current_version().pk == first.pk


@pytest.mark.django_db
def test_individual_cases_follow_the_individual_path(registered: Any) -> None:
    _, body, _ = registered(individual_payload(requested_roles=["FSP"]))
    case = EntryCase.objects.get(
        participant_role__participant__participant_id=body["participant_id"]
    )
    keys = list(case.requests.order_by("position").values_list("step_key", flat=True))
    assert keys == [
        "identity_proven",
        "insurance_certificate",
        "framework_agreement",
        "technical_contact",
    ]
    assert case.participant_kind == "individual"
