"""Change requests for verified facts: re-verified against the Companies House stand-in (real
HTTP), or reviewed by the central operator; the old value stays in force until then."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from conftest import individual_payload, organisation_payload
from flexreg.accounts.acting import acting_for
from flexreg.core.acting import Acting
from flexreg.core.errors import PermissionDenied
from flexreg.core.models import AuditEvent
from flexreg.notifications.models import Notification
from flexreg.participants import services, services_changes
from flexreg.participants.companies_house import CompaniesHouseClient
from flexreg.participants.models import (
    Membership,
    Participant,
    ParticipantChange,
    Verification,
    VerificationStatus,
)
from flexreg.participants.schemas_changes import ChangeIn

pytestmark = pytest.mark.django_db

REGISTER_ADDRESS = {
    "line1": "Unit 1 Sample Business Park",
    "town": "Reading",
    "county": "Berkshire",
    "postcode": "rg1 1aa",
}


def _changes(pid: str) -> str:
    return f"/participants/{pid}/changes"


def _participant(pid: str) -> Participant:
    return Participant.objects.get(participant_id=pid)


def _fast_client(url: str) -> CompaniesHouseClient:
    return CompaniesHouseClient(url, "demo-key", timeout=1.0, max_retries=0)


def _acting(user: Any, pid: str) -> Acting:
    membership = (
        Membership.objects.filter(user=user, participant_role__participant__participant_id=pid)
        .select_related("participant_role__participant")
        .order_by("participant_role__role")
        .first()
    )
    return acting_for(user, membership, via="session")


def _decide(operator_api: Any, change_id: str, decision: str, reason: str = "Checked") -> Any:
    return operator_api.post(
        f"/operator/participant-changes/{change_id}/decision",
        {"decision": decision, "reason": reason},
    )


# --- automatic re-verification ------------------------------------------------------------------


def test_an_address_matching_the_register_is_applied_at_once_with_an_audited_before_after(
    registered: Any,
) -> None:
    user, body, api = registered()
    pid = body["participant_id"]
    version = _participant(pid).version
    response = api.post(
        _changes(pid),
        {"field": "registered_address", "registered_address": REGISTER_ADDRESS},
    )
    assert response.status_code == 201, response.content
    change = response.json()
    assert change["status"] == "applied"
    assert change["old_value"]["line1"] == "1 Sample Street"
    assert change["new_value"]["postcode"] == "RG1 1AA"
    assert change["company"]["company_name"] == "BRIGHTWATT FLEX LIMITED (SAMPLE)"
    participant = _participant(pid)
    assert participant.registered_address["line1"] == "Unit 1 Sample Business Park"
    assert participant.version == version + 1
    event = AuditEvent.objects.filter(
        action="participant.verified_fact_changed", object_id=pid
    ).latest("seq")
    assert event.changes["before"]["registered_address"]["line1"] == "1 Sample Street"
    assert event.changes["after"]["registered_address"]["postcode"] == "RG1 1AA"
    assert event.actor_label == "system:participant-change-check"
    assert AuditEvent.objects.filter(
        action="participant_change.applied", object_id=change["change_id"]
    ).exists()
    assert api.get(f"/participants/{pid}").json()["registered_address"]["town"] == "Reading"
    told = Notification.objects.get(kind="participant.change_reviewed")
    assert told.recipient_id == user.pk and told.participant_id == pid
    assert "accepted" in told.body_text and told.link == f"/participants/{pid}/changes/"


def test_premises_on_their_own_line_and_abbreviations_still_match(registered: Any) -> None:
    _, body, api = registered()
    response = api.post(
        _changes(body["participant_id"]),
        {
            "field": "registered_address",
            "registered_address": {
                "line1": "Unit 1",
                "line2": "Sample Business Pk",
                "town": "Reading",
                "postcode": "RG11AA",
            },
        },
    )
    assert response.json()["status"] == "applied", response.json()["reasons"]


def test_a_legal_name_is_compared_tolerantly(registered: Any) -> None:
    _, body, api = registered()
    pid = body["participant_id"]
    response = api.post(
        _changes(pid), {"field": "legal_name", "legal_name": "BRIGHTWATT FLEX LTD. (Sample)"}
    )
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "applied"
    assert _participant(pid).legal_name == "BRIGHTWATT FLEX LTD. (Sample)"


def test_a_new_declaration_naming_a_current_director_becomes_the_declaration_in_force(
    registered: Any,
) -> None:
    _, body, api = registered()
    pid = body["participant_id"]
    response = api.post(
        _changes(pid),
        {
            "field": "declaration",
            "declaration": {
                "declarant_name": "Yusuf Ahmed",
                "declarant_is_applicant": False,
                "statement_accepted": True,
            },
            "note": "Jane Smith is stepping down as our signatory.",
        },
    )
    change = response.json()
    assert change["status"] == "applied", change["reasons"]
    assert change["old_value"] == {"declarant_name": "Jane Smith", "declarant_is_applicant": True}
    assert change["matched_officer"]["name"] == "AHMED, Yusuf"
    latest = api.get(f"/participants/{pid}").json()["verification"]
    assert latest["declarant_name"] == "Yusuf Ahmed" and latest["status"] == "passed"
    assert Verification.objects.filter(participant__participant_id=pid).count() == 2
    # the declarant's name is personal data: only a digest enters the audit chain
    event = AuditEvent.objects.get(action="participant_change.requested")
    assert event.changes["after"]["new_value"] == "__personal__"


# --- operator review --------------------------------------------------------------------------


def test_a_mismatch_waits_for_the_operator_and_the_old_value_stays_in_force(
    registered: Any, operator_api: Any
) -> None:
    _, body, api = registered()
    pid = body["participant_id"]
    asked = api.post(
        _changes(pid), {"field": "legal_name", "legal_name": "Brightwatt Energy Limited"}
    ).json()
    assert asked["status"] == "needs_review"
    assert [r["code"] for r in asked["reasons"]] == ["change.name_mismatch"]
    assert api.get(f"/participants/{pid}").json()["legal_name"] == (
        "Brightwatt Flex Limited (Sample)"
    )
    # only one open change per field
    again = api.post(_changes(pid), {"field": "legal_name", "legal_name": "Brightwatt Two Ltd"})
    assert again.status_code == 409
    assert again.json()["code"] == "participant_change.already_open"
    assert again.json()["change_id"] == asked["change_id"]
    # ... another field is fine meanwhile
    other = api.post(
        _changes(pid), {"field": "registered_address", "registered_address": REGISTER_ADDRESS}
    )
    assert other.json()["status"] == "applied"

    queue = operator_api.get("/operator/participant-changes").json()
    assert [c["change_id"] for c in queue] == [asked["change_id"]]
    assert operator_api.get("/operator/participant-changes", field="declaration").json() == []
    decided = _decide(operator_api, asked["change_id"], "approve", "Renamed: see certificate")
    assert decided.status_code == 200, decided.content
    assert decided.json()["status"] == "approved"
    assert decided.json()["decision_reason"] == "Renamed: see certificate"
    assert _participant(pid).legal_name == "Brightwatt Energy Limited"
    assert operator_api.get("/operator/participant-changes").json() == []
    twice = _decide(operator_api, asked["change_id"], "reject", "Too late")
    assert twice.status_code == 409
    assert twice.json()["code"] == "participant_change.already_decided"
    history = api.get(_changes(pid)).json()["items"]
    assert [c["status"] for c in history] == ["applied", "approved"]


def test_a_resigned_declarant_is_rejected_with_a_reason_and_nothing_changes(
    registered: Any, operator_api: Any
) -> None:
    _, body, api = registered()
    pid = body["participant_id"]
    asked = api.post(
        _changes(pid),
        {
            "field": "declaration",
            "declaration": {
                "declarant_name": "Mark Taylor",
                "declarant_is_applicant": False,
                "statement_accepted": True,
            },
        },
    ).json()
    assert asked["status"] == "needs_review"
    assert "declarant.resigned" in {r["code"] for r in asked["reasons"]}
    rejected = _decide(operator_api, asked["change_id"], "reject", "He resigned in 2022")
    assert rejected.json()["status"] == "rejected"
    told = Notification.objects.get(kind="participant.change_reviewed")
    assert "not accepted" in told.body_text and "He resigned in 2022" in told.body_text
    latest = api.get(f"/participants/{pid}").json()["verification"]
    assert latest["declarant_name"] == "Jane Smith"
    listed = api.get(_changes(pid), status="rejected").json()["items"]
    assert listed[0]["decision_reason"] == "He resigned in 2022"


def test_a_company_number_change_is_always_reviewed_and_stays_unique(
    registered: Any, operator_api: Any
) -> None:
    _, body, api = registered()
    pid = body["participant_id"]
    registered(
        organisation_payload(
            company_number="99000006",
            legal_name="Bronte Heat Co-operative Limited (Sample)",
            email_domains=["bronte.example"],
            declaration={
                "declarant_name": "Anne Bronte",
                "declarant_is_applicant": True,
                "statement_accepted": True,
            },
        )
    )
    taken = api.post(_changes(pid), {"field": "company_number", "company_number": "99000006"})
    assert taken.status_code == 409
    assert taken.json()["code"] == "participant.company_already_registered"
    asked = api.post(_changes(pid), {"field": "company_number", "company_number": "99000005"})
    assert asked.status_code == 201, asked.content
    change = asked.json()
    assert change["status"] == "needs_review"
    codes = {r["code"] for r in change["reasons"]}
    assert codes == {"change.company_number_review", "company.name_mismatch"}
    assert change["company"]["company_name"] == "GRIDSCALE AGGREGATION PLC (SAMPLE)"
    assert _participant(pid).company_number == "99000001"
    approved = _decide(operator_api, change["change_id"], "approve", "Group restructure")
    assert approved.json()["status"] == "approved"
    assert _participant(pid).company_number == "99000005"
    # the old number is free again
    assert not Participant.objects.filter(company_number="99000001").exists()


def test_approving_a_company_number_taken_meanwhile_is_refused(
    registered: Any, operator_api: Any
) -> None:
    _, body, api = registered()
    change = api.post(
        _changes(body["participant_id"]), {"field": "company_number", "company_number": "99000005"}
    ).json()
    registered(
        organisation_payload(
            company_number="99000005",
            legal_name="Gridscale Aggregation PLC (Sample)",
            email_domains=["gridscale.example"],
        )
    )
    refused = _decide(operator_api, change["change_id"], "approve", "Looks right")
    assert refused.status_code == 409
    assert refused.json()["code"] == "participant.company_already_registered"
    assert ParticipantChange.objects.get().status == "needs_review"


def test_without_a_company_number_every_change_goes_to_the_operator(
    registered: Any, operator_api: Any
) -> None:
    _, body, api = registered(individual_payload())
    pid = body["participant_id"]
    services.record_proven_identity(
        Acting.system("tests"), _participant(pid), provider="test", level="P2", evidence={}
    )
    asked = api.post(
        _changes(pid), {"field": "legal_name", "legal_name": "Alex Q Householder"}
    ).json()
    assert asked["status"] == "needs_review"
    assert [r["code"] for r in asked["reasons"]] == ["change.manual_review"]
    refused = api.post(_changes(pid), {"field": "company_number", "company_number": "1"})
    assert refused.status_code == 422
    assert refused.json()["code"] == "participant_change.not_for_individuals"
    assert _decide(operator_api, asked["change_id"], "approve", "Deed poll").status_code == 200
    assert _participant(pid).legal_name == "Alex Q Householder"
    event = AuditEvent.objects.filter(action="participant.verified_fact_changed").latest("seq")
    assert event.changes["after"]["legal_name"] == "__personal__"  # an individual's name


# --- Companies House unavailable ------------------------------------------------------------


def test_an_outage_defers_the_check_then_a_retry_applies_it(
    registered: Any, ch_stub: Any, django_capture_on_commit_callbacks: Any
) -> None:
    user, body, _ = registered()
    pid = body["participant_id"]
    acting = _acting(user, pid)
    change = services_changes.request_change(
        acting,
        _participant(pid),
        ChangeIn.model_validate(
            {"field": "registered_address", "registered_address": REGISTER_ADDRESS}
        ),
    )
    with django_capture_on_commit_callbacks(execute=False) as queued:
        deferred = services_changes.run_change_check(
            change.pk, client=_fast_client("http://127.0.0.1:9")
        )
    assert deferred.status == "pending" and deferred.attempts == 1
    assert deferred.next_attempt_at is not None and deferred.last_error
    assert len(queued) == 1  # the retry task, queued after the commit
    assert _participant(pid).registered_address["line1"] == "1 Sample Street"
    ParticipantChange.objects.filter(pk=change.pk).update(next_attempt_at=timezone.now())
    assert services_changes.retry_due_changes(client=_fast_client(ch_stub.url)) == 1
    assert ParticipantChange.objects.get(pk=change.pk).status == "applied"
    assert _participant(pid).registered_address["postcode"] == "RG1 1AA"


def test_an_outage_longer_than_the_review_setting_goes_to_the_operator(
    registered: Any, settings: Any
) -> None:
    user, body, _ = registered()
    pid = body["participant_id"]
    change = services_changes.request_change(
        _acting(user, pid),
        _participant(pid),
        ChangeIn.model_validate({"field": "legal_name", "legal_name": "Brightwatt Flex Ltd"}),
    )
    ParticipantChange.objects.filter(pk=change.pk).update(
        requested_at=timezone.now()
        - dt.timedelta(hours=settings.VERIFICATION_UNAVAILABLE_REVIEW_AFTER_HOURS + 1)
    )
    reviewed = services_changes.run_change_check(
        change.pk, client=_fast_client("http://127.0.0.1:9")
    )
    assert reviewed.status == "needs_review"
    assert [r["code"] for r in reviewed.reasons] == ["companies_house.unavailable"]
    assert _participant(pid).legal_name == "Brightwatt Flex Limited (Sample)"


def test_a_company_number_change_goes_to_review_at_once_when_the_register_is_down(
    registered: Any,
) -> None:
    user, body, _ = registered()
    pid = body["participant_id"]
    change = services_changes.request_change(
        _acting(user, pid),
        _participant(pid),
        ChangeIn.model_validate({"field": "company_number", "company_number": "99000005"}),
    )
    reviewed = services_changes.run_change_check(
        change.pk, client=_fast_client("http://127.0.0.1:9")
    )
    assert reviewed.status == "needs_review"
    assert {r["code"] for r in reviewed.reasons} == {
        "change.company_number_review",
        "companies_house.unavailable",
    }


# --- what is refused ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"field": "legal_name"}, "participant_change.value_required"),
        (
            {"field": "legal_name", "legal_name": "X Ltd", "company_number": "99000005"},
            "participant_change.one_field",
        ),
        ({"field": "trading_name", "trading_name": "X"}, "not_allowed"),
        ({"field": "company_number", "company_number": "not-a-number"}, None),
    ],
)
def test_malformed_change_requests_are_refused_with_codes(
    registered: Any, body: dict[str, Any], code: str | None
) -> None:
    _, reg, api = registered()
    response = api.post(_changes(reg["participant_id"]), body)
    assert response.status_code == 422, response.content
    if code is not None:
        assert code in {e["code"] for e in response.json()["errors"]}
    assert not ParticipantChange.objects.exists()


def test_no_change_and_pending_participants_are_refused(registered: Any) -> None:
    _, body, api = registered()
    same = api.post(
        _changes(body["participant_id"]),
        {"field": "legal_name", "legal_name": "Brightwatt Flex Limited (Sample)"},
    )
    assert same.status_code == 422 and same.json()["code"] == "participant_change.no_change"
    _, pending, pending_api = registered(
        organisation_payload(
            company_number="99000003",
            legal_name="Handover Heat Pumps Limited (Sample)",
            email_domains=["handover.example"],
        )
    )
    assert pending["status"] == "pending_verification"
    refused = pending_api.post(
        _changes(pending["participant_id"]), {"field": "legal_name", "legal_name": "Handover Ltd"}
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "participant_change.not_active"


def test_withdrawing_cancels_open_change_requests(registered: Any, operator_api: Any) -> None:
    _, body, api = registered()
    pid = body["participant_id"]
    asked = api.post(_changes(pid), {"field": "legal_name", "legal_name": "Other Name Ltd"}).json()
    assert asked["status"] == "needs_review"
    withdrawn = operator_api.post(
        f"/participants/{pid}/transitions", {"transition": "withdraw", "reason": "Ceased trading"}
    )
    assert withdrawn.status_code == 200
    change = ParticipantChange.objects.get()
    assert change.status == "cancelled"
    assert "Ceased trading" in change.decision_reason
    assert operator_api.get("/operator/participant-changes").json() == []
    assert (
        operator_api.get(_changes(pid)).json()["items"][0]["status"] == "cancelled"
    )  # the operator still reads the history


def test_change_lists_are_keyset_paginated(registered: Any, operator_api: Any) -> None:
    _, body, api = registered()
    pid = body["participant_id"]
    names = ["First Name Ltd", "Second Name Ltd", "Third Name Ltd"]
    for name in names:
        change = api.post(_changes(pid), {"field": "legal_name", "legal_name": name}).json()
        _decide(operator_api, change["change_id"], "reject", "No evidence")
    first = api.get(_changes(pid), limit=2).json()
    assert [c["new_value"] for c in first["items"]] == names[:0:-1]
    rest = api.get(_changes(pid), limit=2, cursor=first["next_cursor"]).json()
    assert [c["new_value"] for c in rest["items"]] == names[:1]
    assert rest["next_cursor"] is None
    assert api.get(_changes(pid), cursor="garbage").json()["items"] == []


def test_only_reviewers_see_the_queue_and_decide(registered: Any) -> None:
    user, body, api = registered()
    pid = body["participant_id"]
    change = api.post(_changes(pid), {"field": "legal_name", "legal_name": "Zed Ltd"}).json()
    assert api.get("/operator/participant-changes").status_code == 403
    decided = api.post(
        f"/operator/participant-changes/{change['change_id']}/decision",
        {"decision": "approve", "reason": "Mine"},
    )
    assert decided.status_code == 403
    change_row = ParticipantChange.objects.get()
    with pytest.raises(PermissionDenied):
        services_changes.decide_change(_acting(user, pid), change_row, "approve", "Mine")
    assert change_row.status == VerificationStatus.NEEDS_REVIEW
