"""Matrix rows: market entry for participants, and the rules API."""

from __future__ import annotations

from typing import Any

from tests.matrix.base import Scenario, World, _expect


def _entry(w: World) -> dict[str, Any]:
    """A's FSP case, its technical-contact request, and a live rule addition (made once)."""
    cached = w.__dict__.get("_entry")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    from flexreg.entry import services
    from flexreg.entry.models import EntryCase, RuleAddition

    case = EntryCase.objects.get(participant_role__participant=w.a, participant_role__role="FSP")
    request = case.requests.get(step_key="technical_contact")
    addition = RuleAddition.objects.create(
        key="matrix_extra",
        roles=["OEM"],
        step={"title": "Matrix extra", "kind": "text"},
    )
    version = services.current_version()
    w.__dict__["_entry"] = {
        "case": str(case.public_id),
        "request": str(request.public_id),
        "addition": str(addition.public_id),
        "version": version.number,
    }
    return w.__dict__["_entry"]


CONTACT = {"form_data": {"name": "Tom Tech", "email": "tom@example.test", "phone": "+447911123456"}}
STEP = {"title": "Insurance renewal", "kind": "document", "due_days": 10}

SCENARIOS = [
    Scenario(
        "GET /api/v1/entry/cases",
        lambda w: ("/entry/cases", None),
        _expect(401, 200, 403, 200, 200),
    ),
    Scenario(
        "GET /api/v1/entry/cases/{case_id}",
        lambda w: (f"/entry/cases/{_entry(w)['case']}", None),
        _expect(401, 404, 403, 200, 200),
    ),
    Scenario(
        "GET /api/v1/entry/requests/{request_id}",
        lambda w: (f"/entry/requests/{_entry(w)['request']}", None),
        _expect(401, 404, 403, 200, 200),
    ),
    Scenario(
        "POST /api/v1/entry/requests/{request_id}/answers",
        lambda w: (f"/entry/requests/{_entry(w)['request']}/answers", CONTACT),
        # the operator reviews answers, it does not give them
        _expect(401, 404, 403, 201, 403),
    ),
    Scenario(
        "POST /api/v1/entry/connectivity-test",
        lambda w: ("/entry/connectivity-test", None),
        _expect(401, 200, 403, 200, 403),
    ),
    Scenario(
        "GET /api/v1/operator/entry-rules/versions",
        lambda w: ("/operator/entry-rules/versions", None),
        _expect(401, 403, 403, 403, 200),
    ),
    Scenario(
        "GET /api/v1/operator/entry-rules/versions/{number}",
        lambda w: (f"/operator/entry-rules/versions/{_entry(w)['version']}", None),
        _expect(401, 403, 403, 403, 200),
    ),
    Scenario(
        "GET /api/v1/operator/entry-rules/additions",
        lambda w: ("/operator/entry-rules/additions", None),
        _expect(401, 403, 403, 403, 200),
    ),
    Scenario(
        "POST /api/v1/operator/entry-rules/additions",
        lambda w: (
            "/operator/entry-rules/additions",
            {"key": "insurance_renewal", "roles": ["FSP"], "step": STEP},
        ),
        _expect(401, 403, 403, 403, 201),
    ),
    Scenario(
        "POST /api/v1/operator/entry-rules/additions/{addition_id}/retire",
        lambda w: (
            f"/operator/entry-rules/additions/{_entry(w)['addition']}/retire",
            {"reason": "No longer needed"},
        ),
        _expect(401, 403, 403, 403, 200),
    ),
    Scenario(
        "POST /api/v1/operator/entry-rules/validate",
        lambda w: ("/operator/entry-rules/validate", {"toml": "schema = 1"}),
        _expect(401, 403, 403, 403, 200),
    ),
    Scenario(
        "POST /api/v1/operator/entry-rules/cases/{case_id}/move",
        lambda w: (f"/operator/entry-rules/cases/{_entry(w)['case']}/move", {}),
        _expect(401, 403, 403, 403, 200),
    ),
]
