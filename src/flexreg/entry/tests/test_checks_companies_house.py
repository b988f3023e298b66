"""The Companies House status step re-checks the participant's company on the register (the
stand-in over HTTP): active passes, anything else goes to operator review with the evidence,
an unavailable service is retried by the worker's sweep and, after the configured hours, sent
to review."""

from __future__ import annotations

import datetime as dt
import socket
from typing import Any

import pytest
from django.utils import timezone

from conftest import organisation_payload
from flexreg.core import scheduler
from flexreg.core.acting import Acting
from flexreg.devtools.companies_house_stub import StubServer
from flexreg.entry import check_runners
from flexreg.entry.models import Answer, AnswerStatus, CheckRun, EntryCase, RequestStatus
from flexreg.participants import services as participant_services
from flexreg.participants.models import Membership, Participant, Verification

pytestmark = pytest.mark.django_db

RETRY_JOB = {"entry.retry_checks"}


def _dead_url() -> str:
    """A local address nothing listens on: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _as_operator(operator: Any) -> Acting:
    from flexreg.accounts.acting import acting_for

    user, membership = operator
    return acting_for(user, membership, via="session")


def _supplier(registered: Any, **overrides: Any) -> tuple[Any, str, EntryCase]:
    overrides.setdefault("requested_roles", ["SUPPLIER"])
    user, body, _ = registered(organisation_payload(**overrides))
    pid = body["participant_id"]
    case = EntryCase.objects.get(
        participant_role__participant__participant_id=pid, participant_role__role="SUPPLIER"
    )
    return user, pid, case


def _step_status(case: EntryCase) -> str:
    return str(case.requests.get(step_key="company_still_active").status)


def _run(case: EntryCase) -> CheckRun:
    return CheckRun.objects.filter(request__case=case, check_name="companies_house_status").latest(
        "pk"
    )


def _outcome(case: EntryCase) -> Answer:
    step = case.requests.get(step_key="company_still_active")
    return step.answers.exclude(check_outcome={}).latest("pk")


def _codes(answer: Answer) -> list[str]:
    return [r["code"] for r in answer.check_outcome.get("reasons", [])]


def test_an_active_company_passes_and_the_step_is_accepted(registered: Any) -> None:
    _, _, case = _supplier(registered)  # 99000001 verifies at once
    assert _step_status(case) == RequestStatus.CHECKING  # queued as a background task
    run = _run(case)
    assert run.status == CheckRun.Status.PENDING
    assert check_runners.run(run.pk) == CheckRun.Status.PASSED
    assert _step_status(case) == RequestStatus.ACCEPTED
    answer = _outcome(case)
    assert answer.status == AnswerStatus.ACCEPTED
    assert answer.check_outcome["company_status"] == "active"
    assert answer.check_outcome["company_name"] == "BRIGHTWATT FLEX LIMITED (SAMPLE)"


def test_a_company_in_liquidation_goes_to_operator_review(registered: Any, operator: Any) -> None:
    _, pid, case = _supplier(
        registered,
        legal_name="Wound Down Batteries Limited (Sample)",
        company_number="99000008",
        declaration={
            "declarant_name": "Susan Clarke",
            "declarant_is_applicant": True,
            "statement_accepted": True,
        },
    )
    # Verification sent it to review (not active); the operator approved it anyway.
    assert _step_status(case) == RequestStatus.WAITING
    verification = Verification.objects.get(participant__participant_id=pid, status="needs_review")
    participant_services.decide_verification(
        _as_operator(operator), verification, "approve", "Trading continues under a licence."
    )
    assert _step_status(case) == RequestStatus.CHECKING
    assert check_runners.run(_run(case).pk) == CheckRun.Status.FAILED
    assert _step_status(case) == RequestStatus.ANSWERED
    answer = _outcome(case)
    assert answer.status == AnswerStatus.PENDING_REVIEW
    assert _codes(answer) == ["company.not_active"]
    assert answer.check_outcome["company_status"] == "liquidation"
    assert "liquidation" in answer.check_outcome["detail"]


def test_a_participant_without_a_company_number_goes_to_review(
    registered: Any, operator: Any
) -> None:
    _, pid, case = _supplier(
        registered,
        legal_name="Hedgerow Energy Partners",
        organisation_type="partnership",
        company_number=None,
        declaration=None,
    )
    verification = Verification.objects.get(participant__participant_id=pid)
    participant_services.decide_verification(
        _as_operator(operator), verification, "approve", "Partnership deed checked."
    )
    assert check_runners.run(_run(case).pk) == CheckRun.Status.FAILED
    assert _codes(_outcome(case)) == ["company.no_number"]
    assert _step_status(case) == RequestStatus.ANSWERED


def test_companies_house_down_then_up_is_retried_by_the_sweep(
    registered: Any, settings: Any, ch_stub: StubServer
) -> None:
    _, _, case = _supplier(registered)
    settings.COMPANIES_HOUSE_API_URL = _dead_url()
    run = _run(case)
    assert check_runners.run(run.pk) == CheckRun.Status.ERROR
    run.refresh_from_db()
    assert run.status == CheckRun.Status.ERROR and run.attempts == 1
    assert run.next_attempt_at is not None
    assert run.outcome["reasons"][0]["code"] == "companies_house.unavailable"
    assert _step_status(case) == RequestStatus.CHECKING  # still waiting, nothing lost

    now = timezone.now()
    # Not due yet: the retry time has not come.
    assert check_runners.due_runs(run.next_attempt_at - dt.timedelta(seconds=1)) == []
    still_down = scheduler.run_due(now=now + dt.timedelta(minutes=10), only=RETRY_JOB)
    assert still_down == {"entry.retry_checks": {"error": 1}}
    run.refresh_from_db()
    assert run.attempts == 2

    settings.COMPANIES_HOUSE_API_URL = ch_stub.url
    back = scheduler.run_due(now=now + dt.timedelta(hours=1), only=RETRY_JOB)
    assert back == {"entry.retry_checks": {"passed": 1}}
    run.refresh_from_db()
    assert run.status == CheckRun.Status.PASSED and run.attempts == 3
    assert _step_status(case) == RequestStatus.ACCEPTED


def test_rate_limiting_is_retried_until_companies_house_answers(
    registered: Any, ch_stub: StubServer
) -> None:
    _, _, case = _supplier(
        registered,
        legal_name="Patient Retry Energy Limited (Sample)",
        company_number="99000429",
        declaration={
            "declarant_name": "Grace Lee",
            "declarant_is_applicant": True,
            "statement_accepted": True,
        },
    )
    ch_stub.reset()  # the stand-in answers 429 to the next two requests again
    run = _run(case)
    assert check_runners.run(run.pk) == CheckRun.Status.ERROR
    run.refresh_from_db()
    assert "rate limited" in run.outcome["detail"]
    done = scheduler.run_due(now=timezone.now() + dt.timedelta(minutes=10), only=RETRY_JOB)
    assert done == {"entry.retry_checks": {"passed": 1}}
    assert _step_status(case) == RequestStatus.ACCEPTED


def test_unavailable_for_longer_than_the_limit_goes_to_review(
    registered: Any, settings: Any
) -> None:
    _, _, case = _supplier(registered)
    settings.COMPANIES_HOUSE_API_URL = _dead_url()
    settings.VERIFICATION_UNAVAILABLE_REVIEW_AFTER_HOURS = 24
    assert check_runners.run(_run(case).pk) == CheckRun.Status.ERROR
    later = timezone.now() + dt.timedelta(hours=25)
    done = scheduler.run_due(now=later, only=RETRY_JOB)
    assert done == {"entry.retry_checks": {"failed": 1}}
    assert _step_status(case) == RequestStatus.ANSWERED
    answer = _outcome(case)
    assert _codes(answer) == ["companies_house.unavailable"]
    assert answer.check_outcome["detail"].startswith("Service unavailable")
    assert answer.check_outcome["company_number"] == "99000001"


def test_the_sweep_runs_lost_tasks_but_not_the_synchronous_checks(registered: Any) -> None:
    _, pid, case = _supplier(registered, requested_roles=["SUPPLIER", "FSP"])
    fsp_connectivity = CheckRun.objects.get(
        request__case__participant_role__participant__participant_id=pid,
        check_name="api_connectivity",
    )
    assert fsp_connectivity.status == CheckRun.Status.PENDING
    run = _run(case)
    now = timezone.now()
    assert check_runners.due_runs(now + dt.timedelta(minutes=1)) == []  # its task may still run
    assert check_runners.due_runs(now + dt.timedelta(minutes=11)) == [run.pk]
    done = scheduler.run_due(now=now + dt.timedelta(minutes=11), only=RETRY_JOB)
    assert done == {"entry.retry_checks": {"passed": 1}}
    fsp_connectivity.refresh_from_db()
    assert fsp_connectivity.status == CheckRun.Status.PENDING  # waits for the participant


def test_a_check_for_a_withdrawn_role_is_not_run(registered: Any) -> None:
    user, pid, case = _supplier(registered, requested_roles=["SUPPLIER", "FSP"])
    from flexreg.accounts.acting import acting_for

    membership = Membership.objects.get(
        user=user, participant_role__participant__participant_id=pid, participant_role__role="FSP"
    )
    participant_services.withdraw_role(
        acting_for(user, membership, via="session"),
        Participant.objects.get(participant_id=pid),
        "SUPPLIER",
        "Not supplying after all.",
    )
    run = _run(case)
    assert check_runners.run(run.pk) == "superseded"
    run.refresh_from_db()
    assert run.status == CheckRun.Status.PENDING and run.attempts == 0
    assert check_runners.due_runs(timezone.now() + dt.timedelta(hours=1)) == []
