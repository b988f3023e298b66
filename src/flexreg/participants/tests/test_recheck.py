"""The periodic re-check of verified companies against the Companies House stand-in (real HTTP):
suspension for dissolved or insolvent companies, alerts, outages, idempotence."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from conftest import organisation_payload
from flexreg.accounts.acting import acting_for
from flexreg.core.acting import Acting
from flexreg.core.models import AuditEvent
from flexreg.notifications.models import Notification
from flexreg.participants import recheck, rules_changes, services
from flexreg.participants.companies_house import CompaniesHouseClient
from flexreg.participants.models import (
    CompanyRecheck,
    Participant,
    Verification,
)

pytestmark = pytest.mark.django_db

# number -> (legal name, declarant) on the stand-in
COMPANIES = {
    "99000001": ("Brightwatt Flex Limited (Sample)", "Jane Smith"),
    "99000002": ("Oldgrid Storage Limited (Sample)", "Jane Smith"),
    "99000008": ("Wound Down Batteries Limited (Sample)", "Susan Clarke"),
    "99000101": ("Greyfield Generation Limited (Sample)", "Megan Hughes"),
    "99000102": ("Keeper Power Limited (Sample)", "Chidi Okafor"),
    "99000103": ("Compass Rescue Energy Limited (Sample)", "Ellen Wright"),
    "99000104": ("Fading Flex Limited (Sample)", "Rhys Morgan"),
    "99000105": ("Converted Community Energy Limited (Sample)", "Isla Fraser"),
    "99000106": ("Distressed Demand Limited (Sample)", "Piotr Nowak"),
    "99000199": ("Vanished Volts Limited (Sample)", "Nobody Known"),
}


def _later(intervals: float = 1.0) -> dt.datetime:
    return timezone.now() + recheck.interval() * intervals + dt.timedelta(minutes=1)


def _client(url: str) -> CompaniesHouseClient:
    return CompaniesHouseClient(url, "demo-key", timeout=1.0, max_retries=0)


@pytest.fixture
def active_company(registered: Any, operator: Any) -> Any:
    """active_company(number) -> an active participant for that sample company, verified
    automatically or approved by the operator (the register may say otherwise today)."""

    def make(number: str) -> Participant:
        name, declarant = COMPANIES[number]
        _, body, _ = registered(
            organisation_payload(
                company_number=number,
                legal_name=name,
                email_domains=[f"c{number}.example"],
                declaration={
                    "declarant_name": declarant,
                    "declarant_is_applicant": True,
                    "statement_accepted": True,
                },
            )
        )
        participant = Participant.objects.get(participant_id=body["participant_id"])
        if participant.status != "active":
            user, membership = operator
            verification = Verification.objects.get(participant=participant)
            services.decide_verification(
                acting_for(user, membership, via="session"),
                verification,
                "approve",
                "Checked the documents by hand",
            )
            participant.refresh_from_db()
        assert participant.status == "active"
        return participant

    return make


@pytest.mark.parametrize(
    ("number", "status"),
    [
        ("99000002", "dissolved"),
        ("99000008", "liquidation"),
        ("99000101", "administration"),
        ("99000102", "receivership"),
        ("99000105", "converted-closed"),
        ("99000106", "insolvency-proceedings"),
    ],
)
def test_a_dissolved_or_insolvent_company_suspends_its_participant_once(
    active_company: Any, ch_stub: Any, number: str, status: str
) -> None:
    participant = active_company(number)
    report = recheck.run(now=_later(), client=_client(ch_stub.url))
    assert report["checked"] == 1 and report["suspended"] == 1, report
    participant.refresh_from_db()
    assert participant.status == "suspended"
    assert status in participant.status_reason and number in participant.status_reason
    row = CompanyRecheck.objects.get(participant=participant)
    assert (row.last_status, row.last_outcome, row.alerted_status) == (status, "suspended", status)
    suspension = AuditEvent.objects.get(
        action="participant.suspend", object_id=participant.participant_id
    )
    assert suspension.actor_label == "system:companies-house-recheck"
    ap = Notification.objects.get(kind="participant.suspended")
    assert ap.recipient_id == participant.created_by_id and ap.email_status == "pending"
    assert status in ap.body_text
    to_operators = Notification.objects.get(kind="participant.company_status")
    assert to_operators.recipient.email == "operator@flexreg.test"
    assert "has been suspended" in to_operators.body_text

    # the next run: already suspended, nothing twice
    again = recheck.run(now=_later(2), client=_client(ch_stub.url))
    assert again["suspended"] == 0 and again["already_suspended"] == 1
    assert AuditEvent.objects.filter(action="participant.suspend").count() == 1
    assert AuditEvent.objects.filter(action="participant.company_rechecked").count() == 1
    assert Notification.objects.filter(kind__startswith="participant.").count() == 2  # deduped


@pytest.mark.parametrize(
    ("number", "label"),
    [
        ("99000103", "voluntary-arrangement"),
        ("99000104", "active (active-proposal-to-strike-off)"),
        ("99000199", "not_found"),
    ],
)
def test_other_warning_signs_alert_the_operator_without_suspending(
    active_company: Any, ch_stub: Any, number: str, label: str
) -> None:
    participant = active_company(number)
    report = recheck.run(now=_later(), client=_client(ch_stub.url))
    assert report["suspended"] == 0 and report["checked"] == 1
    participant.refresh_from_db()
    assert participant.status == "active"
    row = CompanyRecheck.objects.get(participant=participant)
    assert row.alerted_status == label
    assert row.last_outcome == ("not_found" if label == "not_found" else "watch")
    mine = Notification.objects.filter(kind__startswith="participant.")
    assert list(mine.values_list("kind", flat=True)) == ["participant.company_status"]
    # the next run says nothing new
    recheck.run(now=_later(2), client=_client(ch_stub.url))
    assert mine.count() == 1


def test_a_healthy_company_is_recorded_and_not_checked_again_before_the_interval(
    active_company: Any, ch_stub: Any
) -> None:
    participant = active_company("99000001")
    # verified moments ago: not due yet
    assert recheck.run(now=timezone.now(), client=_client(ch_stub.url))["checked"] == 0
    first = _later()
    assert recheck.run(now=first, client=_client(ch_stub.url))["ok"] == 1
    row = CompanyRecheck.objects.get(participant=participant)
    assert row.last_checked_at == first and row.last_status == "active"
    assert recheck.run(now=first + dt.timedelta(hours=1), client=_client(ch_stub.url)) == {
        **recheck.RunReport().as_dict()
    }
    assert recheck.run(now=first + recheck.interval(), client=_client(ch_stub.url))["ok"] == 1
    # a routine "still active" is bookkeeping, not an audited change
    assert not AuditEvent.objects.filter(action="participant.company_rechecked").exists()


def test_an_outage_skips_and_the_next_run_retries_without_suspending(
    active_company: Any, ch_stub: Any
) -> None:
    participant = active_company("99000002")
    down = recheck.run(now=_later(), client=_client("http://127.0.0.1:9"))
    assert down["unavailable"] == 1 and down["suspended"] == 0
    participant.refresh_from_db()
    assert participant.status == "active"
    row = CompanyRecheck.objects.get(participant=participant)
    assert row.last_checked_at is None and row.last_outcome == "unavailable"
    assert row.consecutive_failures == 1 and row.last_error.startswith("companies_house.")
    back = recheck.run(now=_later(), client=_client(ch_stub.url))
    assert back["suspended"] == 1
    row.refresh_from_db()
    assert row.consecutive_failures == 0 and row.last_error == ""


def test_a_run_stops_after_failures_in_a_row(active_company: Any, monkeypatch: Any) -> None:
    active_company("99000001")
    active_company("99000002")
    monkeypatch.setattr(recheck, "MAX_CONSECUTIVE_FAILURES", 1)
    report = recheck.run(now=_later(), client=_client("http://127.0.0.1:9"))
    assert report["aborted"] is True and report["checked"] == 1


def test_an_already_suspended_participant_is_left_suspended_and_the_operator_told(
    active_company: Any, operator: Any, ch_stub: Any
) -> None:
    participant = active_company("99000008")
    user, membership = operator
    services.transition(
        acting_for(user, membership, via="session"), participant, "suspend", "Unpaid fees"
    )
    report = recheck.run(now=_later(), client=_client(ch_stub.url))
    assert report["already_suspended"] == 1
    participant.refresh_from_db()
    assert participant.status_reason == "Unpaid fees"
    assert CompanyRecheck.objects.get(participant=participant).alerted_status == "liquidation"


def test_withdrawn_and_pending_participants_are_not_rechecked(
    active_company: Any, registered: Any, ch_stub: Any
) -> None:
    participant = active_company("99000002")
    services.transition(
        Acting.system("tests", frozenset({"participants:transition"})),
        participant,
        "withdraw",
        "Left",
    )
    registered(
        organisation_payload(
            company_number="99000003",
            legal_name="Handover Heat Pumps Limited (Sample)",
            email_domains=["handover.example"],
        )
    )
    assert recheck.run(now=_later(), client=_client(ch_stub.url))["checked"] == 0


def test_status_verdicts_are_documented_choices() -> None:
    assert rules_changes.status_verdict("dissolved", None) == "suspend"
    assert rules_changes.status_verdict("removed", None) == "suspend"
    assert rules_changes.status_verdict("active", "") == "ok"
    assert rules_changes.status_verdict("active", "active-proposal-to-strike-off") == "watch"
    assert rules_changes.status_verdict("voluntary-arrangement", None) == "watch"
    assert rules_changes.status_verdict("something-new", None) == "watch"
