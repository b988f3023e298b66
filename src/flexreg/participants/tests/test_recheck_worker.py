"""The re-check through the real plumbing: the scheduler queues it (its own transaction commits
first), the database worker runs it outside any transaction, time moved by the test."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from conftest import organisation_payload
from flexreg.accounts.acting import acting_for
from flexreg.core import scheduler
from flexreg.participants import recheck, services
from flexreg.participants.models import (
    CompanyRecheck,
    Participant,
    ParticipantChange,
    Verification,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_scheduler_queues_the_recheck_and_the_worker_suspends_a_dissolved_company(
    registered: Any, operator: Any
) -> None:
    _, body, _ = registered(
        organisation_payload(
            company_number="99000002",
            legal_name="Oldgrid Storage Limited (Sample)",
            email_domains=["oldgrid.example"],
        )
    )
    participant = Participant.objects.get(participant_id=body["participant_id"])
    user, membership = operator
    services.decide_verification(
        acting_for(user, membership, via="session"),
        Verification.objects.get(participant=participant),
        "approve",
        "Trading again under the same number",
    )
    assert recheck.JOB_NAME in scheduler.JOBS
    later = timezone.now() + recheck.interval() + dt.timedelta(minutes=1)
    queued = scheduler.run_due(now=later, only={recheck.JOB_NAME})
    assert str(queued[recheck.JOB_NAME]).startswith("queued")
    participant.refresh_from_db()
    assert participant.status == "active"  # nothing runs inside the scheduler's transaction
    call_command("db_worker", batch=True, reload=False, startup_delay=False, verbosity=0)
    participant.refresh_from_db()
    assert participant.status == "suspended"
    assert CompanyRecheck.objects.get(participant=participant).last_checked_at == later
    # not due again until an interval later: a second worker run changes nothing
    assert scheduler.run_due(now=later + dt.timedelta(hours=1), only={recheck.JOB_NAME}) == {}


def test_the_sweep_finishes_a_change_check_deferred_by_an_outage(
    registered: Any, settings: Any, ch_stub: Any
) -> None:
    _, body, api = registered()
    pid = body["participant_id"]
    settings.COMPANIES_HOUSE_API_URL = "http://127.0.0.1:9"
    asked = api.post(
        f"/participants/{pid}/changes",
        {
            "field": "registered_address",
            "registered_address": {
                "line1": "Unit 1 Sample Business Park",
                "town": "Reading",
                "postcode": "RG1 1AA",
            },
        },
    )
    assert asked.json()["status"] == "pending" and asked.json()["attempts"] == 1
    settings.COMPANIES_HOUSE_API_URL = ch_stub.url
    ParticipantChange.objects.update(next_attempt_at=timezone.now())
    later = timezone.now() + dt.timedelta(minutes=16)
    scheduler.run_due(now=later, only={"participants.change_checks_sweep"})
    call_command("db_worker", batch=True, reload=False, startup_delay=False, verbosity=0)
    assert ParticipantChange.objects.get().status == "applied"
    assert Participant.objects.get(participant_id=pid).registered_address["town"] == "Reading"
