"""Matrix rows: the central operator's back office for market entry (entry/api_backoffice.py).

Only the central operator may use it: participants' members lack ``entry:read_all`` and
``entry:review`` (403, whatever participant they act for); anonymous callers get 401.
"""

from __future__ import annotations

from typing import Any

from tests.matrix.base import Scenario, World, _expect

OPERATOR_ONLY = _expect(401, 403, 403, 403, 200)
OPERATOR_CREATES = _expect(401, 403, 403, 403, 201)
P = "/operator/entry"


def _entry(w: World) -> dict[str, str]:
    """A's FSP case with an answer waiting for review and an ad hoc request, made once per
    world (outside the rolled-back savepoints)."""
    cached = w.__dict__.get("_entry_backoffice")
    if cached is not None:
        return cached
    from django.core.files.base import ContentFile

    from flexreg.accounts.acting import acting_for
    from flexreg.entry import services
    from flexreg.entry.models import Document, EntryCase
    from flexreg.participants.models import Membership

    case = EntryCase.objects.select_related("participant_role__participant").get(
        participant_role__participant=w.a, participant_role__role="FSP"
    )
    member = Membership.objects.filter(
        participant_role=case.participant_role, is_authorised_person=True
    ).first()
    assert member is not None
    operator = Membership.objects.filter(
        participant_role__role="MARKET_FACILITATOR", is_active=True
    ).first()
    assert operator is not None
    document = Document(
        participant=w.a,
        original_name="insurance.pdf",
        content_type="application/pdf",
        size=9,
        sha256="0" * 64,
        scan_status=Document.Scan.CLEAN,
        uploaded_by=member.user,
    )
    document.file.save("insurance.pdf", ContentFile(b"%PDF-1.4\n"), save=False)
    document.save()
    answer = services.answer(
        acting_for(member.user, member, via="session"),
        case.requests.get(step_key="insurance_certificate"),
        document=document,
    )
    adhoc = services.raise_request(
        acting_for(operator.user, operator, via="session"),
        case,
        title="Send your latest accounts",
        why="To check the company can meet its obligations.",
        kind="document",
        due_days=10,
    )
    cached = {
        "case": str(case.public_id),
        "answer": str(answer.public_id),
        "adhoc": str(adhoc.public_id),
    }
    w.__dict__["_entry_backoffice"] = cached
    return cached


def _get(path: str) -> Any:
    return lambda w: (path, None)


SCENARIOS = [
    Scenario(f"GET /api/v1{P}/queues", _get(f"{P}/queues"), OPERATOR_ONLY),
    Scenario(f"GET /api/v1{P}/queues/reviews", _get(f"{P}/queues/reviews"), OPERATOR_ONLY),
    Scenario(f"GET /api/v1{P}/queues/cases", _get(f"{P}/queues/cases"), OPERATOR_ONLY),
    Scenario(f"GET /api/v1{P}/queues/escalations", _get(f"{P}/queues/escalations"), OPERATOR_ONLY),
    Scenario(f"GET /api/v1{P}/dashboard", _get(f"{P}/dashboard"), OPERATOR_ONLY),
    Scenario(f"GET /api/v1{P}/cases", _get(f"{P}/cases"), OPERATOR_ONLY),
    Scenario(
        f"GET /api/v1{P}/cases/{{case_id}}",
        lambda w: (f"{P}/cases/{_entry(w)['case']}", None),
        # A's own members still get 403: the operator's view needs entry:read_all
        OPERATOR_ONLY,
    ),
    Scenario(
        f"POST /api/v1{P}/cases/{{case_id}}/decision",
        lambda w: (
            f"{P}/cases/{_entry(w)['case']}/decision",
            {"decision": "reject", "reason": "Not a flexibility provider."},
        ),
        OPERATOR_ONLY,
    ),
    Scenario(
        f"POST /api/v1{P}/cases/{{case_id}}/requests",
        lambda w: (
            f"{P}/cases/{_entry(w)['case']}/requests",
            {"title": "Explain your metering", "why": "We need to know.", "kind": "text"},
        ),
        OPERATOR_CREATES,
    ),
    Scenario(
        f"POST /api/v1{P}/requests/{{request_id}}/cancel",
        lambda w: (f"{P}/requests/{_entry(w)['adhoc']}/cancel", {"reason": "Raised in error"}),
        OPERATOR_ONLY,
    ),
    Scenario(
        f"POST /api/v1{P}/answers/{{answer_id}}/review",
        lambda w: (f"{P}/answers/{_entry(w)['answer']}/review", {"decision": "accept"}),
        OPERATOR_ONLY,
    ),
    Scenario(
        f"POST /api/v1{P}/assignments",
        lambda w: (
            f"{P}/assignments",
            {"items": [{"case_id": _entry(w)["case"]}], "assignee": "me"},
        ),
        OPERATOR_ONLY,
    ),
    Scenario(
        f"POST /api/v1{P}/answers/bulk-review",
        lambda w: (f"{P}/answers/bulk-review", {"answer_ids": [_entry(w)["answer"]]}),
        OPERATOR_ONLY,
    ),
]
