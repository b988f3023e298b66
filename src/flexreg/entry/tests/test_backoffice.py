"""The central operator's back office for market entry: queues with their filters, ageing against
the service level (weekends and bank holidays skipped), assignment, bulk actions with a mix of
good and bad items, the dashboard's figures, the case detail and who may do what."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import individual_payload, organisation_payload
from flexreg.core.acting import Acting
from flexreg.core.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from flexreg.entry import selectors_backoffice as bo
from flexreg.entry import services, services_backoffice
from flexreg.entry.models import (
    Answer,
    AnswerStatus,
    CaseStatus,
    CheckRun,
    Document,
    EntryCase,
    InformationRequest,
    RequestStatus,
)
from flexreg.entry.working_days import holidays
from flexreg.participants import selectors as participant_selectors
from flexreg.participants.models import Membership, Participant

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
DECLARATION = {"declarant_is_applicant": True, "statement_accepted": True}


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    """A London wall-clock time."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=LONDON)


def _as(membership: Membership) -> Acting:
    from flexreg.accounts.acting import acting_for

    return acting_for(membership.user, membership, via="session")


def _case(participant_id: str, role: str = "FSP") -> EntryCase:
    return EntryCase.objects.get(
        participant_role__participant__participant_id=participant_id, participant_role__role=role
    )


def _req(case: EntryCase, key: str) -> InformationRequest:
    return case.requests.get(step_key=key)


def _document(participant_id: str, user: Any, clean: bool = True) -> Document:
    from django.core.files.base import ContentFile

    doc = Document(
        participant=Participant.objects.get(participant_id=participant_id),
        original_name="cert.pdf",
        content_type="application/pdf",
        size=9,
        sha256="0" * 64,
        scan_status=Document.Scan.CLEAN if clean else Document.Scan.PENDING,
        uploaded_by=user,
    )
    doc.file.save("cert.pdf", ContentFile(b"%PDF-1.4\n"), save=False)
    doc.save()
    return doc


class Applicant:
    """A registered FSP applicant: its user, Participant ID, case and acting membership."""

    def __init__(self, registered: Any, payload: dict[str, Any] | None = None) -> None:
        self.user, body, self.api = registered(payload or organisation_payload())
        self.pid: str = body["participant_id"]
        self.case = _case(self.pid)
        membership = Membership.objects.get(
            user=self.user, participant_role=self.case.participant_role
        )
        self.acting = _as(membership)

    def upload(self, key: str, clean: bool = True) -> Answer:
        return services.answer(
            self.acting, _req(self.case, key), document=_document(self.pid, self.user, clean)
        )

    def request(self, key: str) -> InformationRequest:
        return _req(self.case, key)


SOLAR = organisation_payload(
    company_number="OC990004",
    legal_name="Solar Commons LLP (Sample)",
    organisation_type="llp",
    declaration={**DECLARATION, "declarant_name": "Amira Khan"},
    requested_roles=["FSP"],
)
BRONTE = organisation_payload(
    company_number="99000006",
    legal_name="Bronte Heat Co-operative Limited (Sample)",
    declaration={**DECLARATION, "declarant_name": "Anne Bronte"},
    requested_roles=["FSP"],
)


@pytest.fixture
def op(operator: Any) -> Acting:
    return _as(operator[1])


@pytest.fixture
def regulator(make_user: Any) -> Acting:
    from flexreg.participants import services as participant_services

    system = Acting.system("tests")
    held = participant_services.ensure_special_participant(system, "REGULATOR", "Ofgem")
    user = make_user("auditor@ofgem.test", "Rita Regulator")
    return _as(participant_services.grant_authorised_person(system, held, user.pk))


@pytest.fixture
def second_reviewer(make_user: Any, operator: Any) -> Any:
    from flexreg.participants import services as participant_services

    system = Acting.system("tests")
    held = participant_services.ensure_central_operator(system)
    user = make_user("omar@flexreg.test", "Omar Operator")
    participant_services.grant_authorised_person(system, held, user.pk)
    return user


def _set(answer: Answer, submitted_at: dt.datetime) -> None:
    Answer.objects.filter(pk=answer.pk).update(submitted_at=submitted_at)


# --- ageing ---------------------------------------------------------------------------------


XMAS = bo.ServiceLevel(2, holidays(["2026-12-25", "2026-12-28", "2027-01-01"]))


def test_ageing_skips_bank_holidays() -> None:
    since = at(2026, 12, 24, 10, 0)  # Thursday; Fri 25 and Mon 28 are bank holidays
    tuesday = bo.ageing(since, XMAS, at(2026, 12, 29, 9, 0))
    assert (tuesday.due_on, tuesday.working_days, tuesday.status) == (
        dt.date(2026, 12, 30),
        1,
        bo.WITHIN,
    )
    wednesday = bo.ageing(since, XMAS, at(2026, 12, 30, 17, 0))
    assert (wednesday.working_days, wednesday.status) == (2, bo.DUE_TODAY)
    thursday = bo.ageing(since, XMAS, at(2026, 12, 31, 8, 0))
    assert (thursday.working_days, thursday.status) == (3, bo.BREACHED)
    assert thursday.label == "Breached"


def test_ageing_skips_weekends() -> None:
    level = bo.ServiceLevel(2, frozenset())
    friday = at(2026, 11, 27, 16, 0)
    assert bo.ageing(friday, level, at(2026, 11, 28, 12, 0)).working_days == 0  # Saturday
    monday = bo.ageing(friday, level, at(2026, 11, 30, 12, 0))
    assert (monday.due_on, monday.working_days, monday.status) == (
        dt.date(2026, 12, 1),
        1,
        bo.WITHIN,
    )
    assert bo.ageing(friday, level, at(2026, 12, 1, 23, 0)).status == bo.DUE_TODAY
    assert bo.ageing(friday, level, at(2026, 12, 2, 0, 30)).status == bo.BREACHED
    # Submitted on a Saturday: the clock starts on Monday.
    saturday = bo.ageing(at(2026, 11, 28, 11, 0), level, at(2026, 11, 30, 9, 0))
    assert (saturday.due_on, saturday.working_days) == (dt.date(2026, 12, 1), 1)
    # A due date that fell on Friday is breached over the weekend.
    assert bo.ageing(at(2026, 11, 25, 9, 0), level, at(2026, 11, 28, 9, 0)).status == bo.BREACHED


def test_the_service_level_comes_from_the_rules() -> None:
    level = bo.service_level_of(
        {"service_levels": {"review_working_days": 5, "bank_holidays": ["2026-12-25"]}}
    )
    assert level == bo.ServiceLevel(5, frozenset({dt.date(2026, 12, 25)}))
    assert bo.service_level_of({}) == bo.ServiceLevel(2, frozenset())


@pytest.mark.parametrize("days", [1, 2, 3, 5])
@pytest.mark.parametrize("today", [dt.date(2026, 12, 21) + dt.timedelta(days=i) for i in range(14)])
def test_the_sql_breach_cutoff_agrees_with_the_ageing(days: int, today: dt.date) -> None:
    level = bo.ServiceLevel(days, XMAS.bank_holidays)
    now = at(today.year, today.month, today.day, 12, 0)
    cutoff = bo._breached_before(level, today)
    for back in range(0, 20):
        day = today - dt.timedelta(days=back)
        for hour in (0, 23):
            since = at(day.year, day.month, day.day, hour, 30)
            breached = bo.ageing(since, level, now).status == bo.BREACHED
            assert breached == (since < cutoff), (since, today)


def test_the_review_queue_ages_answers_with_the_rules_bank_holidays(
    registered: Any, op: Acting
) -> None:
    applicant = Applicant(registered)
    early = applicant.upload("insurance_certificate")
    late = applicant.upload("framework_agreement")
    _set(early, at(2026, 12, 24, 10, 0))  # due Wed 30 Dec (25th and 28th are bank holidays)
    _set(late, at(2026, 12, 29, 10, 0))  # due Thu 31 Dec
    now = at(2026, 12, 31, 12, 0)
    page = bo.review_queue(op, now=now)
    assert [i.answer.pk for i in page.items] == [early.pk, late.pk]  # oldest first
    assert [i.ageing.status for i in page.items] == [bo.BREACHED, bo.DUE_TODAY]
    assert [i.ageing.working_days for i in page.items] == [3, 2]
    assert page.items[0].ageing.sla_working_days == 2
    overdue = bo.review_queue(op, bo.Filters(overdue=True), now=now)
    assert [i.answer.pk for i in overdue.items] == [early.pk] and overdue.total == 1


# --- the queues and their filters -----------------------------------------------------------


def test_review_queue_holds_answers_and_failed_checks_but_not_reviewed_ones(
    registered: Any, op: Acting
) -> None:
    applicant = Applicant(registered)
    insurance = applicant.upload("insurance_certificate")
    framework = applicant.upload("framework_agreement")
    services.review_answer(op, framework, "accept")
    run = CheckRun.objects.get(request=applicant.request("api_connectivity"))
    services.record_check_outcome(run.pk, CheckRun.Status.FAILED, {"detail": "No call was made."})
    page = bo.review_queue(op)
    by_step = {i.request.step_key: i for i in page.items}
    assert set(by_step) == {"insurance_certificate", "api_connectivity"}
    assert by_step["api_connectivity"].check_failed
    assert not by_step["insurance_certificate"].check_failed
    assert by_step["insurance_certificate"].answer.pk == insurance.pk
    assert page.total == 2 and page.next_cursor is None
    # A newer answer replaces the one waiting: only the newest is in the queue.
    newer = applicant.upload("insurance_certificate")
    steps = [(i.request.step_key, i.answer.pk) for i in bo.review_queue(op).items]
    assert ("insurance_certificate", newer.pk) in steps
    assert ("insurance_certificate", insurance.pk) not in steps


def test_queue_filters(registered: Any, op: Acting, second_reviewer: Any) -> None:
    brightwatt = Applicant(registered)
    solar = Applicant(registered, SOLAR)
    bronte = Applicant(registered, BRONTE)
    a1 = brightwatt.upload("insurance_certificate")
    a2 = solar.upload("insurance_certificate")
    a3 = bronte.upload("framework_agreement")
    EntryCase.objects.filter(pk=bronte.case.pk).update(participant_kind="non_uk")
    services_backoffice.assign(op, request=a1.request, assignee="me")
    services_backoffice.assign(op, case=solar.case, assignee=second_reviewer.email)

    def ids(**f: Any) -> set[int]:
        return {i.answer.pk for i in bo.review_queue(op, bo.Filters(**f)).items}

    assert ids() == {a1.pk, a2.pk, a3.pk}
    assert ids(assigned="me") == {a1.pk}
    assert ids(assigned=second_reviewer.email) == {a2.pk}  # through the case's reviewer
    assert ids(assigned=second_reviewer.email.upper()) == {a2.pk}
    assert ids(assigned="unassigned") == {a3.pk}
    assert ids(assigned="nobody@nowhere.test") == set()
    assert ids(kind="non_uk") == {a3.pk}
    assert ids(kind="organisation") == {a1.pk, a2.pk}
    assert ids(q="solar") == {a2.pk}
    assert ids(q=bronte.pid.lower()) == {a3.pk}
    assert ids(q=bronte.pid[2:8]) == {a3.pk}  # part of an ID
    assert ids(role="FSP") == {a1.pk, a2.pk, a3.pk}
    assert ids(role="DNO") == set()
    assert ids(role="FSP", q="bright", assigned="me") == {a1.pk}


def test_queues_are_keyset_paginated_oldest_first(registered: Any, op: Acting) -> None:
    answers = []
    for payload in (None, SOLAR, BRONTE):
        applicant = Applicant(registered, payload)
        answers += [
            applicant.upload("insurance_certificate"),
            applicant.upload("framework_agreement"),
        ]
    base = timezone.now() - dt.timedelta(hours=10)
    for n, a in enumerate(reversed(answers)):
        _set(a, base + dt.timedelta(minutes=n))
    _set(answers[0], base + dt.timedelta(minutes=2))  # the same moment as answers[3]
    expected = [
        a.pk
        for a in sorted(
            Answer.objects.filter(pk__in=[x.pk for x in answers]),
            key=lambda a: (a.submitted_at, a.public_id),
        )
    ]
    seen: list[int] = []
    cursor = None
    while True:
        page = bo.review_queue(op, cursor=cursor, limit=4)
        assert page.total == 6
        seen += [i.answer.pk for i in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected
    with pytest.raises(ValidationFailed) as err:
        bo.review_queue(op, cursor="not-a-cursor")
    assert err.value.errors[0].code == "cursor_invalid"


def _ready_for_decision(applicant: Applicant, op: Acting) -> None:
    services.answer(
        applicant.acting,
        applicant.request("technical_contact"),
        form_data={"name": "Tom Tech", "email": "tom@example.test", "phone": "+447911123456"},
    )
    for key in ("insurance_certificate", "framework_agreement"):
        services.review_answer(op, applicant.upload(key), "accept")
    services.record_connectivity_test(applicant.acting, user_agent="pytest")


def test_case_queue_holds_cases_with_every_required_step_accepted(
    registered: Any, op: Acting
) -> None:
    ready = Applicant(registered)
    _ready_for_decision(ready, op)
    ready.case.refresh_from_db()
    assert ready.case.status == CaseStatus.UNDER_REVIEW
    waiting = Applicant(registered, SOLAR)
    services.answer(
        waiting.acting,
        waiting.request("technical_contact"),
        form_data={"name": "Sam Sun", "email": "sam@example.test", "phone": "+447911123456"},
    )
    services.review_answer(op, waiting.upload("insurance_certificate"), "accept")
    waiting.upload("framework_agreement")
    services.record_connectivity_test(waiting.acting, user_agent="pytest")
    waiting.case.refresh_from_db()
    assert waiting.case.status == CaseStatus.UNDER_REVIEW  # but an answer waits for review
    page = bo.case_queue(op)
    assert [i.case.pk for i in page.items] == [ready.case.pk]
    last = ready.case.requests.filter(status=RequestStatus.ACCEPTED).order_by("accepted_at").last()
    assert last is not None and page.items[0].ageing.since == last.accepted_at
    assert bo.case_queue(op, bo.Filters(q="solar")).items == []
    services.decide_case(op, ready.case, "qualify", "All in order.")
    assert bo.case_queue(op).items == []


def test_escalation_queue_holds_escalated_requests_still_open(registered: Any, op: Acting) -> None:
    applicant = Applicant(registered)
    insurance, framework = (
        applicant.request("insurance_certificate"),
        applicant.request("framework_agreement"),
    )
    escalated = at(2026, 12, 24, 9, 0)
    InformationRequest.objects.filter(pk__in=[insurance.pk, framework.pk]).update(
        escalated_at=escalated, due_at=escalated - dt.timedelta(days=5)
    )
    applicant.upload("framework_agreement")  # answered since: no longer an escalation
    page = bo.escalation_queue(op, now=at(2026, 12, 31, 9, 0))
    assert [i.request.pk for i in page.items] == [insurance.pk]
    assert page.items[0].ageing.status == bo.BREACHED
    assert bo.escalation_queue(op, bo.Filters(overdue=True), now=at(2026, 12, 29, 9, 0)).total == 0
    services_backoffice.assign(op, request=insurance, assignee="me")
    assert bo.escalation_queue(op, bo.Filters(assigned="me")).total == 1
    assert bo.escalation_queue(op, bo.Filters(assigned="unassigned")).total == 0


def test_a_request_escalated_by_the_reminders_job_lands_in_the_queue(
    registered: Any, op: Acting
) -> None:
    from flexreg.entry import reminders

    applicant = Applicant(registered)
    insurance = applicant.request("insurance_certificate")
    InformationRequest.objects.filter(pk=insurance.pk).update(
        due_at=timezone.now() - dt.timedelta(days=6)
    )
    reminders.run(now=timezone.now())
    page = bo.escalation_queue(op)
    assert [i.request.pk for i in page.items] == [insurance.pk]
    assert page.items[0].ageing.status == bo.WITHIN
    assert bo.dashboard(op).escalations_open == 1


def test_queue_counts_include_the_verification_reviews(registered: Any, op: Acting) -> None:
    registered(organisation_payload(company_number="99000003", legal_name="Handover (Sample)"))
    Applicant(registered).upload("insurance_certificate")
    counts = {c.key: c for c in bo.queue_counts(op)}
    assert counts["reviews"].total == 1 and counts["reviews"].breached == 0
    assert counts["cases"].total == 0 and counts["escalations"].total == 0
    waiting = participant_selectors.review_queue(op).count()
    assert waiting >= 1
    assert counts["verifications"].total == waiting
    assert counts["verifications"].url == "/operator/verifications/"


def test_the_query_count_does_not_grow_with_the_rows(registered: Any, op: Acting) -> None:
    from flexreg.entry import schemas_backoffice as schemas
    from flexreg.entry.views_backoffice import _rows

    out: dict[Any, Any] = {
        bo.review_queue: schemas.review_item_out,
        bo.escalation_queue: schemas.escalation_item_out,
        bo.case_queue: schemas.case_item_out,
        bo.case_list: schemas.case_summary_out,
    }

    def queries(fn: Any) -> int:
        with CaptureQueriesContext(connection) as ctx:
            page = fn(op)
            [out[fn](item) for item in page.items]  # what the API reads of each row
            if fn is not bo.case_list:  # and what the portal's queue page reads
                _rows(
                    fn.__name__.removesuffix("_queue")
                    .replace("review", "reviews")
                    .replace("escalation", "escalations")
                    .replace("case", "cases"),
                    page,
                )
        return len(ctx.captured_queries)

    fns = (bo.review_queue, bo.escalation_queue, bo.case_queue, bo.case_list)
    first = Applicant(registered)
    first.upload("insurance_certificate")
    InformationRequest.objects.filter(pk=first.request("framework_agreement").pk).update(
        escalated_at=timezone.now()
    )
    _ready_for_decision(Applicant(registered, BRONTE), op)
    one = {fn: queries(fn) for fn in fns}
    # More of everything: a failed check, another escalation, another case ready, assignees.
    run = CheckRun.objects.get(request=first.request("api_connectivity"))
    services.record_check_outcome(run.pk, CheckRun.Status.FAILED, {"detail": "No call."})
    InformationRequest.objects.filter(pk=first.request("technical_contact").pk).update(
        escalated_at=timezone.now()
    )
    _ready_for_decision(Applicant(registered, SOLAR), op)
    services_backoffice.assign(op, request=first.request("insurance_certificate"), assignee="me")
    services_backoffice.assign(op, case=first.case, assignee="me")
    assert bo.review_queue(op).total == 2
    assert bo.escalation_queue(op).total == 2
    assert bo.case_queue(op).total == 2
    for fn in fns:
        assert queries(fn) == one[fn], fn.__name__
    assert one[bo.review_queue] <= 4


# --- the case detail ------------------------------------------------------------------------


def test_case_detail_has_every_request_with_its_history(registered: Any, op: Acting) -> None:
    applicant = Applicant(registered)
    first = applicant.upload("insurance_certificate")
    services.review_answer(op, first, "reject", "Expired.")
    second = applicant.upload("insurance_certificate")
    adhoc = services.raise_request(
        op, applicant.case, title="Accounts", why="Solvency.", kind="text", due_days=5
    )
    services.cancel_request(op, adhoc, "Not needed after all")
    with CaptureQueriesContext(connection) as ctx:
        case = bo.case_detail(op, str(applicant.case.public_id))
        requests = {r.step_key: r for r in case.requests.all()}
        history = [a.pk for a in requests["insurance_certificate"].answers.all()]
        [list(r.checks.all()) for r in requests.values()]
    assert len(ctx.captured_queries) <= 6
    assert history == [second.pk, first.pk]  # newest first
    assert requests[adhoc.step_key].status == RequestStatus.CANCELLED  # cancelled ones too
    assert requests["organisation_verified"].checks.all()[0].status == CheckRun.Status.PASSED
    assert not bo.awaiting_decision(case)
    with pytest.raises(NotFound):
        bo.case_detail(op, "not-a-uuid")
    with pytest.raises(NotFound):
        bo.case_detail(op, str(uuid.uuid4()))


# --- assignment and bulk actions ------------------------------------------------------------


def test_bulk_accept_reports_each_item(registered: Any, op: Acting) -> None:
    applicant = Applicant(registered)
    good = applicant.upload("insurance_certificate")
    unscanned = applicant.upload("framework_agreement", clean=False)
    missing = str(uuid.uuid4())
    results = services_backoffice.bulk_review(
        op,
        [str(good.public_id), str(unscanned.public_id), missing, "rubbish", str(good.public_id)],
    )
    assert [(r.ok, r.code) for r in results] == [
        (True, ""),
        (False, "entry.document_not_scanned"),
        (False, "not_found"),
        (False, "not_found"),
        (False, "entry.answer_already_reviewed"),
    ]
    good.refresh_from_db()
    unscanned.refresh_from_db()
    assert good.status == AnswerStatus.ACCEPTED and good.reviewed_by_id == op.user_id
    assert unscanned.status == AnswerStatus.PENDING_REVIEW
    assert applicant.request("insurance_certificate").status == RequestStatus.ACCEPTED
    assert applicant.request("framework_agreement").status == RequestStatus.ANSWERED


def test_bulk_actions_are_bounded_and_checked(
    registered: Any, op: Acting, regulator: Acting
) -> None:
    with pytest.raises(ValidationFailed) as err:
        services_backoffice.bulk_review(op, [str(uuid.uuid4())] * 101)
    assert err.value.errors[0].code == "entry.bulk_too_many"
    with pytest.raises(ValidationFailed) as err:
        services_backoffice.bulk_review(op, [])
    assert err.value.errors[0].code == "entry.bulk_empty"
    with pytest.raises(DomainError) as derr:
        services_backoffice.bulk_review(op, [str(uuid.uuid4())], "reject", " ")
    assert derr.value.code == "entry.reason_required"
    with pytest.raises(PermissionDenied):
        services_backoffice.bulk_review(regulator, [str(uuid.uuid4())])
    with pytest.raises(PermissionDenied):
        services_backoffice.bulk_assign(
            regulator, [services_backoffice.Target("case", str(uuid.uuid4()))], "me"
        )


def test_bulk_reject_with_one_reason(registered: Any, op: Acting) -> None:
    applicant = Applicant(registered)
    a = applicant.upload("insurance_certificate")
    b = applicant.upload("framework_agreement")
    results = services_backoffice.bulk_review(
        op, [str(a.public_id), str(b.public_id)], "reject", "Please sign every page."
    )
    assert all(r.ok for r in results)
    assert applicant.request("framework_agreement").last_rejection_reason == (
        "Please sign every page."
    )


def test_bulk_assign_with_a_mix_of_items(
    registered: Any, op: Acting, second_reviewer: Any, make_user: Any
) -> None:
    applicant = Applicant(registered)
    other = Applicant(registered, SOLAR)
    T = services_backoffice.Target
    targets = [
        T("case", str(applicant.case.public_id)),
        T("request", str(other.request("insurance_certificate").public_id)),
        T("case", str(uuid.uuid4())),
        T("request", "nonsense"),
    ]
    results = services_backoffice.bulk_assign(op, targets, second_reviewer.email)
    assert [(r.kind, r.ok, r.code) for r in results] == [
        ("case", True, ""),
        ("request", True, ""),
        ("case", False, "not_found"),
        ("request", False, "not_found"),
    ]
    applicant.case.refresh_from_db()
    assert applicant.case.assigned_to_id == second_reviewer.pk
    assert other.request("insurance_certificate").assigned_to_id == second_reviewer.pk
    # Unassign.
    services_backoffice.bulk_assign(op, targets[:1], None)
    applicant.case.refresh_from_db()
    assert applicant.case.assigned_to_id is None
    # Only central operator reviewers may be given work.
    outsider = make_user("someone@example.test")
    for who in (outsider.email, "ghost@example.test"):
        with pytest.raises(ValidationFailed) as err:
            services_backoffice.bulk_assign(op, targets[:1], who)
        assert err.value.errors[0].code == "entry.not_a_reviewer"
    with pytest.raises(ValidationFailed):
        services_backoffice.bulk_assign(op, [T("case", str(uuid.uuid4()))] * 101, "me")


# --- the dashboard --------------------------------------------------------------------------


def test_dashboard_figures(registered: Any, op: Acting, regulator: Acting) -> None:
    applicants = [Applicant(registered, p) for p in (None, SOLAR, BRONTE)]
    registered(organisation_payload(company_number="99000003", legal_name="Handover (Sample)"))
    late = applicants[0].upload("insurance_certificate")
    _set(late, timezone.now() - dt.timedelta(days=20))
    registered_at = timezone.now() - dt.timedelta(days=60)
    for applicant, days in zip(applicants, (2, 4, 10), strict=True):
        Participant.objects.filter(participant_id=applicant.pid).update(created_at=registered_at)
        EntryCase.objects.filter(pk=applicant.case.pk).update(
            status=CaseStatus.QUALIFIED, qualified_at=registered_at + dt.timedelta(days=days)
        )
    individual = Applicant(registered, individual_payload(requested_roles=["FSP"]))
    pending = individual.request("identity_proven")
    open_request = applicants[1].request("framework_agreement")
    InformationRequest.objects.filter(pk=open_request.pk).update(
        due_at=timezone.now() - dt.timedelta(days=1),
        escalated_at=timezone.now() - dt.timedelta(hours=1),
    )
    d = bo.dashboard(op)
    fsp = next(r for r in d.by_role if r.role == "FSP")
    assert fsp.counts["qualified"] == 3
    assert fsp.total == 5  # three qualified, the individual and Handover
    assert d.totals["all"] == sum(r.total for r in d.by_role)
    asset_owner = next(r for r in d.by_role if r.role == "ASSET_OWNER")
    assert asset_owner.total == 2  # Brightwatt and Handover asked for it too
    timing = {t.role: t for t in d.time_to_qualify}
    assert set(timing) == {"FSP"}
    assert timing["FSP"].qualified == 3
    assert timing["FSP"].median_days == 4.0
    assert timing["FSP"].p90_days == 8.8  # percentile_cont: 4 + 0.8 * (10 - 4)
    assert d.overdue_requests == 1
    assert d.escalations_open == 1
    assert d.reviews_waiting == 1 and d.answers_breaching_sla == 1
    assert d.cases_awaiting_decision == 0
    assert d.verification_reviews == participant_selectors.review_queue(op).count() >= 1
    assert pending.status == RequestStatus.CHECKING
    # Oversight reads the figures but not the verification queue (not theirs to review).
    assert bo.dashboard(regulator).verification_reviews is None


# --- who may do what ------------------------------------------------------------------------


def test_oversight_reads_and_participants_are_refused(registered: Any, regulator: Acting) -> None:
    applicant = Applicant(registered)
    applicant.upload("insurance_certificate")
    assert bo.review_queue(regulator).total == 1
    assert bo.case_detail(regulator, str(applicant.case.public_id)).pk == applicant.case.pk
    for fn in (bo.review_queue, bo.case_queue, bo.escalation_queue, bo.dashboard, bo.case_list):
        with pytest.raises(PermissionDenied):
            fn(applicant.acting)
    with pytest.raises(PermissionDenied):
        services_backoffice.bulk_review(applicant.acting, [str(uuid.uuid4())])


# --- the API --------------------------------------------------------------------------------

P = "/operator/entry"


def test_api_queues_and_bulk_review(registered: Any, operator_api: Any) -> None:
    applicant = Applicant(registered)
    good = applicant.upload("insurance_certificate")
    unscanned = applicant.upload("framework_agreement", clean=False)
    response = operator_api.get(f"{P}/queues/reviews", limit=1)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["total"] == 2 and len(body["items"]) == 1 and body["next_cursor"]
    item = body["items"][0]
    assert item["participant"]["participant_id"] == applicant.pid
    assert item["ageing"]["status"] in ("within", "due_today")
    assert item["document"]["url"].startswith("/documents/")
    assert item["case_url"] == f"/operator/entry/cases/{applicant.case.public_id}/"
    following = operator_api.get(f"{P}/queues/reviews", limit=1, cursor=body["next_cursor"])
    assert following.json()["items"][0]["answer_id"] != item["answer_id"]
    assert operator_api.get(f"{P}/queues/reviews", cursor="@@@").status_code == 422
    assert operator_api.get(f"{P}/queues/reviews", kind="martian").status_code == 422

    response = operator_api.post(
        f"{P}/answers/bulk-review",
        {"answer_ids": [str(good.public_id), str(unscanned.public_id), str(uuid.uuid4())]},
    )
    assert response.status_code == 200, response.content
    result = response.json()
    assert (result["succeeded"], result["failed"]) == (1, 2)
    assert result["results"][0] == {
        "item_id": str(good.public_id),
        "kind": "answer",
        "ok": True,
        "code": None,
        "detail": None,
    }
    assert [r["code"] for r in result["results"]] == [
        None,
        "entry.document_not_scanned",
        "not_found",
    ]
    too_many = operator_api.post(
        f"{P}/answers/bulk-review", {"answer_ids": [str(uuid.uuid4()) for _ in range(101)]}
    )
    assert too_many.status_code == 422


def test_api_case_detail_and_actions(registered: Any, operator_api: Any, operator: Any) -> None:
    applicant = Applicant(registered)
    answer = applicant.upload("insurance_certificate")
    case_url = f"{P}/cases/{applicant.case.public_id}"
    detail = operator_api.get(case_url)
    assert detail.status_code == 200, detail.content
    body = detail.json()
    insurance = next(r for r in body["requests"] if r["step"] == "insurance_certificate")
    assert insurance["history"][0]["answer_id"] == str(answer.public_id)
    assert insurance["history"][0]["document"]["url"].startswith("/documents/")
    verified = next(r for r in body["requests"] if r["step"] == "organisation_verified")
    assert verified["checks"][0]["status"] == "passed"
    assert operator_api.get(f"{P}/cases/{uuid.uuid4()}").status_code == 404

    rejected = operator_api.post(
        f"{P}/answers/{answer.public_id}/review", {"decision": "reject", "reason": ""}
    )
    assert rejected.status_code == 422
    assert rejected.json()["code"] == "entry.reason_required"
    reviewed = operator_api.post(
        f"{P}/answers/{answer.public_id}/review", {"decision": "reject", "reason": "Expired"}
    )
    assert reviewed.status_code == 200 and reviewed.json()["status"] == "rejected"
    assert reviewed.json()["reviewed_by"] == operator[0].email

    raised = operator_api.post(
        f"{case_url}/requests",
        {"title": "Your accounts", "why": "Solvency", "kind": "document", "due_days": 10},
    )
    assert raised.status_code == 201, raised.content
    request_id = raised.json()["request_id"]
    assert raised.json()["ad_hoc"] and raised.json()["status"] == "open"
    bad_kind = operator_api.post(
        f"{case_url}/requests", {"title": "x", "why": "y", "kind": "check"}
    )
    assert bad_kind.status_code == 422
    cancelled = operator_api.post(f"{P}/requests/{request_id}/cancel", {"reason": "Error"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = operator_api.post(f"{P}/requests/{request_id}/cancel", {"reason": "Error"})
    assert again.status_code == 409

    assigned = operator_api.post(
        f"{P}/assignments",
        {
            "items": [{"case_id": str(applicant.case.public_id)}, {"request_id": request_id}],
            "assignee": "me",
        },
    )
    assert assigned.status_code == 200 and assigned.json()["succeeded"] == 2
    neither = operator_api.post(f"{P}/assignments", {"items": [{}], "assignee": "me"})
    assert neither.status_code == 422
    mine = operator_api.get(f"{P}/cases", assigned="me")
    assert [c["case_id"] for c in mine.json()["items"]] == [str(applicant.case.public_id)]

    early = operator_api.post(f"{case_url}/decision", {"decision": "qualify", "reason": "Fine"})
    assert early.status_code == 409 and early.json()["code"] == "entry.case_incomplete"
    decided = operator_api.post(f"{case_url}/decision", {"decision": "reject", "reason": "No"})
    assert decided.status_code == 200 and decided.json()["status"] == "rejected"
    listing = operator_api.get(f"{P}/cases", status="rejected")
    assert listing.json()["total"] == 1


def test_api_dashboard_and_queues(registered: Any, operator_api: Any) -> None:
    Applicant(registered).upload("insurance_certificate")
    response = operator_api.get(f"{P}/dashboard")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["reviews_waiting"] == 1
    assert {r["role"] for r in body["cases_by_state"]} >= {"FSP", "ASSET_OWNER"}
    queues = operator_api.get(f"{P}/queues").json()["queues"]
    assert {q["queue"]: q["total"] for q in queues}["reviews"] == 1
    assert operator_api.get(f"{P}/queues/cases").json()["total"] == 0
    assert operator_api.get(f"{P}/queues/escalations", overdue=True).json()["total"] == 0


def test_api_oversight_reads_but_may_not_act(
    registered: Any, regulator: Acting, api_for: Any
) -> None:
    assert regulator.membership_id is not None
    membership = Membership.objects.get(pk=regulator.membership_id)
    api = api_for(membership.user, membership)
    applicant = Applicant(registered)
    answer = applicant.upload("insurance_certificate")
    assert api.get(f"{P}/queues/reviews").status_code == 200
    assert api.get(f"{P}/cases/{applicant.case.public_id}").status_code == 200
    response = api.post(f"{P}/answers/{answer.public_id}/review", {"decision": "accept"})
    assert response.status_code == 403
    assert (
        api.post(f"{P}/answers/bulk-review", {"answer_ids": [str(answer.public_id)]}).status_code
        == 403
    )
    # The applicant's own members cannot use the back office at all.
    assert applicant.api.get(f"{P}/queues/reviews").status_code == 403
    assert applicant.api.get(f"{P}/cases/{applicant.case.public_id}").status_code == 403
