"""The EIC step checks the code a participant gives against ENTSO-E's imported lists: listed,
active, a party code, held under the participant's legal name; otherwise operator review with
the evidence. Run through the real flow: registration, the step's form, the queued check."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from conftest import organisation_payload
from flexreg.core import scheduler
from flexreg.core.acting import Acting
from flexreg.core.errors import ValidationFailed
from flexreg.entry import check_runners, eic_register, services
from flexreg.entry.models import (
    Answer,
    AnswerStatus,
    CheckRun,
    EntryCase,
    InformationRequest,
    RequestStatus,
)
from flexreg.identifiers import eic_check_character
from flexreg.participants.models import Membership

pytestmark = pytest.mark.django_db

FIXTURES = Path(eic_register.__file__).resolve().parents[1] / "devtools" / "eic_fixtures"
LISTS = [FIXTURES / "X_eicCodes.csv", FIXTURES / "W_eicCodes.csv"]
BRIGHTWATT = "48XBRIGHTWATT-FE"


def _as(user: Any, pid: str, role: str) -> Acting:
    from flexreg.accounts.acting import acting_for

    membership = Membership.objects.get(
        user=user,
        participant_role__participant__participant_id=pid,
        participant_role__role=role,
    )
    return acting_for(membership.user, membership, via="session")


def _aggregator(registered: Any, **overrides: Any) -> tuple[Any, str, EntryCase]:
    user, body, _ = registered(organisation_payload(requested_roles=["AGGREGATOR"], **overrides))
    pid = body["participant_id"]
    case = EntryCase.objects.get(
        participant_role__participant__participant_id=pid, participant_role__role="AGGREGATOR"
    )
    return user, pid, case


def _step(case: EntryCase) -> InformationRequest:
    return case.requests.get(step_key="eic_party_code")


def _give_eic(user: Any, pid: str, case: EntryCase, eic: str) -> CheckRun:
    step = _step(case)
    assert step.status == RequestStatus.OPEN  # opened once the organisation was verified
    services.answer(_as(user, pid, "AGGREGATOR"), step, form_data={"eic": eic})
    step.refresh_from_db()
    assert step.status == RequestStatus.CHECKING
    return step.checks.latest("pk")


def _outcome_answer(case: EntryCase) -> Answer:
    return _step(case).answers.exclude(check_outcome={}).latest("pk")


def _reason_codes(answer: Answer) -> list[str]:
    return [r["code"] for r in answer.check_outcome.get("reasons", [])]


def test_a_listed_active_party_code_in_the_participants_name_is_accepted(registered: Any) -> None:
    eic_register.import_files(LISTS)
    user, pid, case = _aggregator(registered)
    run = _give_eic(user, pid, case, BRIGHTWATT.lower())  # the form normalises it
    assert check_runners.run(run.pk) == CheckRun.Status.PASSED
    assert _step(case).status == RequestStatus.ACCEPTED
    answer = _outcome_answer(case)
    assert answer.status == AnswerStatus.ACCEPTED
    assert answer.form_data == {"eic": BRIGHTWATT}
    assert answer.check_outcome["status"] == "passed"
    assert answer.check_outcome["record"]["long_name"] == "BrightWatt Flex Ltd (SAMPLE)"
    assert answer.check_outcome["record"]["status"] == "Active"
    run.refresh_from_db()
    assert run.status == CheckRun.Status.PASSED and run.attempts == 1
    # A duplicate task run changes nothing.
    assert check_runners.run(run.pk) == CheckRun.Status.PASSED
    assert _step(case).answers.exclude(check_outcome={}).count() == 1


def test_accents_and_legal_forms_do_not_stop_a_match(registered: Any) -> None:
    eic_register.import_files(LISTS)
    user, pid, case = _aggregator(
        registered,
        legal_name="Brontë Heat Co-operative Limited (Sample)",
        company_number="99000006",
        declaration={
            "declarant_name": "Anne Bronte",
            "declarant_is_applicant": True,
            "statement_accepted": True,
        },
    )
    run = _give_eic(user, pid, case, "48XBRONTEHEAT-CZ")
    assert check_runners.run(run.pk) == CheckRun.Status.PASSED
    assert _step(case).status == RequestStatus.ACCEPTED


def test_someone_elses_code_goes_to_operator_review_with_the_evidence(
    registered: Any, operator: Any
) -> None:
    eic_register.import_files(LISTS)
    user, pid, case = _aggregator(registered)
    run = _give_eic(user, pid, case, "48XGRIDSCALE-AG5")
    assert check_runners.run(run.pk) == CheckRun.Status.FAILED
    step = _step(case)
    assert step.status == RequestStatus.ANSWERED  # in the operator's review queue
    answer = _outcome_answer(case)
    assert answer.status == AnswerStatus.PENDING_REVIEW
    assert _reason_codes(answer) == ["eic.name_mismatch"]
    assert answer.check_outcome["record"]["long_name"] == "Gridscale Aggregation PLC (Sample)"
    assert answer.check_outcome["legal_name"] == "Brightwatt Flex Limited (Sample)"
    assert "Gridscale Aggregation PLC (Sample)" in answer.check_outcome["detail"]
    # The operator knows better (a group company's code, say) and accepts it.
    from flexreg.accounts.acting import acting_for

    op_user, op_membership = operator
    services.review_answer(acting_for(op_user, op_membership, via="session"), answer, "accept", "")
    assert _step(case).status == RequestStatus.ACCEPTED


def test_an_inactive_code_goes_to_review(registered: Any) -> None:
    eic_register.import_files(LISTS)
    user, pid, case = _aggregator(registered)
    run = _give_eic(user, pid, case, "48XOLDGRID-STOR1")
    assert check_runners.run(run.pk) == CheckRun.Status.FAILED
    answer = _outcome_answer(case)
    assert "eic.not_active" in _reason_codes(answer)
    assert answer.check_outcome["record"]["status"] == "Inactive"


def test_a_code_not_in_the_lists_goes_to_review(registered: Any) -> None:
    eic_register.import_files(LISTS)
    user, pid, case = _aggregator(registered)
    unlisted = "48XNOTLISTED-01" + eic_check_character("48XNOTLISTED-01")
    run = _give_eic(user, pid, case, unlisted)
    assert check_runners.run(run.pk) == CheckRun.Status.FAILED
    answer = _outcome_answer(case)
    assert _reason_codes(answer) == ["eic.not_in_register"]
    assert answer.check_outcome["register_imported_at"] is not None
    assert _step(case).status == RequestStatus.ANSWERED


def test_the_form_refuses_a_resource_code_and_the_check_would_too(registered: Any) -> None:
    eic_register.import_files(LISTS)
    user, pid, case = _aggregator(registered)
    with pytest.raises(ValidationFailed) as err:
        services.answer(
            _as(user, pid, "AGGREGATOR"), _step(case), form_data={"eic": "48WBRIGHTWATT01G"}
        )
    assert err.value.errors[0].code == "eic.wrong_type"
    status, outcome = eic_register.assess("48WBRIGHTWATT01G", "Brightwatt Flex Battery 1 (Sample)")
    assert status == CheckRun.Status.FAILED
    assert [r["code"] for r in outcome["reasons"]] == ["eic.wrong_type"]
    status, outcome = eic_register.assess("48XBRIGHTWATT-FX", "Brightwatt Flex Limited")
    assert status == CheckRun.Status.FAILED
    assert [r["code"] for r in outcome["reasons"]] == ["eic.bad_check_character"]


def test_the_check_waits_for_the_register_and_concludes_once_it_is_imported(
    registered: Any,
) -> None:
    user, pid, case = _aggregator(registered)
    run = _give_eic(user, pid, case, BRIGHTWATT)
    assert check_runners.run(run.pk) == CheckRun.Status.ERROR
    run.refresh_from_db()
    assert run.attempts == 1 and run.next_attempt_at is not None
    assert run.outcome["reasons"][0]["code"] == "eic_register.not_imported"
    assert _step(case).status == RequestStatus.CHECKING

    eic_register.import_files(LISTS)
    now = timezone.now()
    done = scheduler.run_due(now=now + dt.timedelta(minutes=10), only={"entry.retry_checks"})
    assert done == {"entry.retry_checks": {"passed": 1}}
    assert _step(case).status == RequestStatus.ACCEPTED


def test_without_a_register_for_too_long_the_step_goes_to_review(registered: Any) -> None:
    user, pid, case = _aggregator(registered)
    run = _give_eic(user, pid, case, BRIGHTWATT)
    assert check_runners.run(run.pk) == CheckRun.Status.ERROR
    later = timezone.now() + dt.timedelta(hours=25)
    done = scheduler.run_due(now=later, only={"entry.retry_checks"})
    assert done == {"entry.retry_checks": {"failed": 1}}
    answer = _outcome_answer(case)
    assert _reason_codes(answer) == ["eic_register.not_imported"]
    assert answer.check_outcome["detail"].startswith("Service unavailable")
    assert answer.check_outcome["eic"] == BRIGHTWATT
    assert _step(case).status == RequestStatus.ANSWERED
