"""Verification against the Companies House stand-in over real HTTP, and the operator's queue."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from conftest import organisation_payload
from flexreg.core import audit
from flexreg.core.models import AuditEvent
from flexreg.participants import services
from flexreg.participants.models import Membership, Participant, Verification

pytestmark = pytest.mark.django_db


def _declared(
    name: str,
    number: str = "99000001",
    legal: str = "Brightwatt Flex Limited (Sample)",
    **extra: Any,
) -> dict[str, Any]:
    return organisation_payload(
        company_number=number,
        legal_name=legal,
        declaration={
            "declarant_name": name,
            "declarant_is_applicant": True,
            "statement_accepted": True,
        },
        **extra,
    )


@pytest.mark.parametrize(
    ("payload", "codes"),
    [
        (
            _declared("Jane Smith", "99000002", "Oldgrid Storage Limited (Sample)"),
            {"company.not_active"},
        ),
        (
            _declared("Jane Smith", "99000003", "Handover Heat Pumps Limited (Sample)"),
            {"declarant.resigned"},
        ),
        (
            _declared("Peter Brown", "99000007", "Holdco Owned Flex Limited (Sample)"),
            {"declarant.role_cannot_bind"},
        ),
        (
            _declared("Susan Clarke", "99000008", "Wound Down Batteries Limited (Sample)"),
            {"company.not_active"},
        ),
        (
            _declared("John Smith", "99000009", "Twin Smiths Demand Response Limited (Sample)"),
            {"declarant.ambiguous"},
        ),
        (_declared("Nobody Known"), {"declarant.not_found"}),
        (_declared("Jane Smith", legal="Completely Different Ltd"), {"company.name_mismatch"}),
        (_declared("Jane Smith", "99999999", "Missing Ltd"), {"company.not_found"}),
    ],
    ids=[
        "dissolved",
        "resigned",
        "corporate-only",
        "liquidation",
        "ambiguous",
        "unknown-person",
        "name-mismatch",
        "no-such-company",
    ],
)
def test_anything_that_does_not_match_goes_to_the_operator_queue(
    registered: Any, operator_api: Any, payload: dict[str, Any], codes: set[str]
) -> None:
    _, body, _ = registered(payload)
    assert body["status"] == "pending_verification"
    verification = body["verification"]
    assert verification["status"] == "needs_review"
    assert codes <= {r["code"] for r in verification["reasons"]}
    queue = operator_api.get("/operator/verifications").json()
    assert body["participant_id"] in {v["participant_id"] for v in queue}


@pytest.mark.parametrize(
    ("number", "legal", "declarant", "officer"),
    [
        ("OC990004", "Solar Commons LLP (Sample)", "amira khan", "KHAN, Amira"),
        (
            "99000005",
            "Gridscale Aggregation PLC (Sample)",
            "Ruth Zephaniah",
            "ZEPHANIAH, Ruth Abigail",
        ),
        ("99000006", "Bronte Heat Co-operative Limited (Sample)", "Sean O'Neill", "O'NEILL, Seán"),
        ("99000001", "BRIGHTWATT FLEX LTD (SAMPLE)", "JANE E. SMITH", "SMITH, Jane Elizabeth"),
    ],
    ids=["llp-member", "second-page-of-officers", "accents", "case-and-initials"],
)
def test_automatic_pass_for_current_binding_officers(
    registered: Any, number: str, legal: str, declarant: str, officer: str
) -> None:
    organisation_type = "llp" if number.startswith("OC") else "company"
    _, body, _ = registered(
        _declared(declarant, number, legal, organisation_type=organisation_type)
    )
    assert body["verification"]["status"] == "passed", body["verification"]["reasons"]
    assert body["verification"]["matched_officer"]["name"] == officer
    assert body["status"] == "active"


def test_operator_approves_a_mismatch_and_applicant_becomes_authorised_person(
    registered: Any, operator_api: Any, operator: Any
) -> None:
    user, body, api = registered(_declared("J Smith"))
    vid = body["verification"]["verification_id"]
    assert body["verification"]["status"] == "needs_review"
    # Before approval the applicant can follow but not manage access.
    membership = Membership.objects.filter(user=user).first()
    assert membership is not None and not membership.is_authorised_person
    response = operator_api.post(
        f"/operator/verifications/{vid}/decision",
        {"decision": "approve", "reason": "Called the director, confirmed."},
    )
    assert response.status_code == 200
    assert response.json()["status"] == "approved"
    participant = api.get(f"/participants/{body['participant_id']}").json()
    assert participant["status"] == "active"
    assert {r["status"] for r in participant["roles"]} == {"active"}
    assert all(m.is_authorised_person for m in Membership.objects.filter(user=user))
    event = AuditEvent.objects.get(action="verification.approved", object_id=vid)
    assert event.actor_user_id == operator[0].pk
    assert event.acting_role == "MARKET_FACILITATOR"
    assert event.changes["after"]["reason"] == "Called the director, confirmed."
    # Decided once only.
    again = operator_api.post(
        f"/operator/verifications/{vid}/decision",
        {"decision": "reject", "reason": "Changed my mind."},
    )
    assert again.status_code == 409 and again.json()["code"] == "verification.already_decided"


def test_operator_rejects_with_reason_and_applicant_may_reapply(
    registered: Any, operator_api: Any
) -> None:
    _, body, api = registered(_declared("J Smith"))
    vid = body["verification"]["verification_id"]
    rejected = operator_api.post(
        f"/operator/verifications/{vid}/decision",
        {"decision": "reject", "reason": "Director denies it."},
    )
    assert rejected.status_code == 200
    pid = body["participant_id"]
    seen = api.get(f"/participants/{pid}").json()
    assert seen["status"] == "rejected" and seen["status_reason"] == "Director denies it."
    again = api.post(
        f"/participants/{pid}/verification",
        {
            "declarant_name": "Jane Elizabeth Smith",
            "declarant_is_applicant": True,
            "statement_accepted": True,
        },
    )
    assert again.status_code == 202 and again.json()["status"] == "passed"
    assert api.get(f"/participants/{pid}").json()["status"] == "active"


def test_decision_needs_a_reason_and_the_review_permission(
    registered: Any, operator_api: Any
) -> None:
    _, body, api = registered(_declared("J Smith"))
    vid = body["verification"]["verification_id"]
    missing = operator_api.post(f"/operator/verifications/{vid}/decision", {"decision": "approve"})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "reason"
    forbidden = api.post(
        f"/operator/verifications/{vid}/decision",
        {"decision": "approve", "reason": "I approve myself"},
    )
    assert forbidden.status_code == 403
    assert api.get("/operator/verifications").status_code == 403
    unknown = operator_api.post(
        "/operator/verifications/not-a-uuid/decision", {"decision": "approve", "reason": "ok ok"}
    )
    assert unknown.status_code == 404


def test_companies_house_outage_keeps_the_registration_and_retries(
    registered: Any, settings: Any, ch_stub: Any
) -> None:
    settings.COMPANIES_HOUSE_API_URL = "http://127.0.0.1:9"  # nothing listens: connection refused
    _, body, _ = registered(_declared("Jane Smith"))
    assert body["status"] == "pending_verification"
    verification = Verification.objects.get(public_id=body["verification"]["verification_id"])
    assert verification.status == "pending" and verification.attempts == 1
    assert verification.next_attempt_at is not None and verification.last_error
    assert AuditEvent.objects.filter(action="verification.retry_scheduled").exists()
    # The service comes back; the worker's sweep finishes the job.
    settings.COMPANIES_HOUSE_API_URL = ch_stub.url
    Verification.objects.filter(pk=verification.pk).update(next_attempt_at=timezone.now())
    assert services.retry_due_verifications() == 1
    verification.refresh_from_db()
    assert verification.status == "passed"
    assert Participant.objects.get(participant_id=body["participant_id"]).status == "active"


def test_a_long_outage_goes_to_the_operator_queue(registered: Any, settings: Any) -> None:
    settings.COMPANIES_HOUSE_API_URL = "http://127.0.0.1:9"
    _, body, _ = registered(_declared("Jane Smith"))
    verification = Verification.objects.get(public_id=body["verification"]["verification_id"])
    Verification.objects.filter(pk=verification.pk).update(
        submitted_at=timezone.now() - dt.timedelta(hours=25), next_attempt_at=timezone.now()
    )
    services.retry_due_verifications()
    verification.refresh_from_db()
    assert verification.status == "needs_review"
    assert verification.reasons[0]["code"] == "companies_house.unavailable"


def test_server_errors_from_companies_house_are_retried_not_fatal(registered: Any) -> None:
    _, body, _ = registered(_declared("Jane Smith", "99000500", "Always Failing Ltd"))
    assert body["status"] == "pending_verification"
    assert body["verification"]["status"] == "pending"
    assert body["verification"]["attempts"] == 1
    assert audit.verify().ok


def test_retry_task_runs_the_check(registered: Any, settings: Any, ch_stub: Any) -> None:
    from flexreg.participants.tasks import retry_verification

    settings.COMPANIES_HOUSE_API_URL = "http://127.0.0.1:9"
    _, body, _ = registered(_declared("Jane Smith"))
    settings.COMPANIES_HOUSE_API_URL = ch_stub.url
    verification = Verification.objects.get(public_id=body["verification"]["verification_id"])
    assert retry_verification.call(verification.pk) == "passed"
