"""API schemas of the central operator's back office for market entry (operator audience:
reviewers, assignment, ageing and the full history of every request)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from uuid import UUID

from ninja import Field, Schema
from pydantic import model_validator

from flexreg.entry import selectors_backoffice as selectors
from flexreg.entry.models import Answer, CheckRun, EntryCase, InformationRequest
from flexreg.entry.services_backoffice import MAX_BULK, ItemResult
from flexreg.participants.schemas import StrictSchema

Reason = Annotated[str, Field(min_length=1, max_length=2000)]
AgeingStatus = Literal["within", "due_today", "breached"]
ParticipantKind = Literal["organisation", "individual", "non_uk"]
CaseState = Literal[
    "not_started",
    "in_progress",
    "submitted",
    "under_review",
    "changes_requested",
    "qualified",
    "rejected",
    "withdrawn",
]


# --- filters ---------------------------------------------------------------------------------


class QueueFilters(Schema):
    role: str | None = Field(None, description="a market role code, e.g. FSP")
    kind: ParticipantKind | None = Field(None, description="the kind of participant")
    assigned: str | None = Field(
        None, description="'me', 'unassigned', or a reviewer's email address"
    )
    overdue: bool = Field(False, description="only items that breach the service level")
    q: str | None = Field(None, max_length=200, description="participant name or Participant ID")
    cursor: str | None = Field(None, max_length=400)
    limit: int = Field(selectors.DEFAULT_PAGE, ge=1, le=selectors.MAX_PAGE)

    def filters(self) -> selectors.Filters:
        return selectors.Filters(
            role=self.role or "",
            kind=self.kind or "",
            assigned=self.assigned or "",
            overdue=self.overdue,
            q=self.q or "",
        )


class CaseFilters(Schema):
    status: CaseState | None = None
    role: str | None = None
    kind: ParticipantKind | None = None
    assigned: str | None = Field(
        None, description="'me', 'unassigned', or a reviewer's email address"
    )
    q: str | None = Field(None, max_length=200, description="participant name or Participant ID")
    cursor: str | None = Field(None, max_length=400)
    limit: int = Field(selectors.DEFAULT_PAGE, ge=1, le=selectors.MAX_PAGE)

    def filters(self) -> selectors.Filters:
        return selectors.Filters(
            status=self.status or "",
            role=self.role or "",
            kind=self.kind or "",
            assigned=self.assigned or "",
            q=self.q or "",
        )


# --- pieces ----------------------------------------------------------------------------------


class ReviewerOut(Schema):
    email: str
    name: str


class AgeingOut(Schema):
    since: dt.datetime
    working_days: int = Field(description="working days waited so far")
    sla_working_days: int = Field(description="the rules' service level, in working days")
    due_on: dt.date
    status: AgeingStatus


class ParticipantRef(Schema):
    participant_id: str
    name: str
    kind: str = Field(
        description="the rules' kind of participant: organisation, individual, non_uk"
    )
    role: str


class DocumentOut(Schema):
    document_id: UUID
    name: str
    content_type: str
    size: int
    sha256: str
    scan_status: str
    url: str


def reviewer_out(user: Any) -> ReviewerOut | None:
    if user is None:
        return None
    return ReviewerOut(email=user.email, name=user.full_name or user.email)


def ageing_out(a: selectors.Ageing) -> AgeingOut:
    return AgeingOut(
        since=a.since,
        working_days=a.working_days,
        sla_working_days=a.sla_working_days,
        due_on=a.due_on,
        status=a.status,  # type: ignore[arg-type]
    )


def participant_ref(case: EntryCase) -> ParticipantRef:
    held = case.participant_role
    return ParticipantRef(
        participant_id=held.participant.participant_id,
        name=held.participant.legal_name,
        kind=case.participant_kind,
        role=held.role,
    )


def document_out(answer: Answer) -> DocumentOut | None:
    d = answer.document
    if d is None:
        return None
    return DocumentOut(
        document_id=d.public_id,
        name=d.original_name,
        content_type=d.content_type,
        size=d.size,
        sha256=d.sha256,
        scan_status=d.scan_status,
        url=f"/documents/{d.public_id}/",
    )


def _case_url(case: EntryCase) -> str:
    return f"/operator/entry/cases/{case.public_id}/"


# --- queues ----------------------------------------------------------------------------------


class ReviewItemOut(Schema):
    answer_id: UUID
    request_id: UUID
    case_id: UUID
    participant: ParticipantRef
    step: str
    title: str
    kind: str
    check_failed: bool = Field(description="an external check that did not pass, with evidence")
    check_outcome: dict[str, Any]
    document: DocumentOut | None
    submitted_at: dt.datetime
    submitted_by: str | None
    assignee: ReviewerOut | None
    ageing: AgeingOut
    case_url: str


class ReviewPage(Schema):
    items: list[ReviewItemOut]
    next_cursor: str | None
    total: int


def review_item_out(item: selectors.ReviewItem) -> ReviewItemOut:
    a, r, c = item.answer, item.request, item.case
    return ReviewItemOut(
        answer_id=a.public_id,
        request_id=r.public_id,
        case_id=c.public_id,
        participant=participant_ref(c),
        step=r.step_key,
        title=r.title,
        kind=r.kind,
        check_failed=item.check_failed,
        check_outcome=a.check_outcome,
        document=document_out(a),
        submitted_at=a.submitted_at,
        submitted_by=a.submitted_by.email if a.submitted_by else None,
        assignee=reviewer_out(item.assignee),
        ageing=ageing_out(item.ageing),
        case_url=_case_url(c),
    )


class CaseItemOut(Schema):
    case_id: UUID
    participant: ParticipantRef
    status: str
    submitted_at: dt.datetime | None
    rule_version: int
    assignee: ReviewerOut | None
    ageing: AgeingOut
    case_url: str


class CaseQueuePage(Schema):
    items: list[CaseItemOut]
    next_cursor: str | None
    total: int


def case_item_out(item: selectors.CaseItem) -> CaseItemOut:
    c = item.case
    return CaseItemOut(
        case_id=c.public_id,
        participant=participant_ref(c),
        status=c.status,
        submitted_at=c.submitted_at,
        rule_version=c.rule_version.number,
        assignee=reviewer_out(c.assigned_to),
        ageing=ageing_out(item.ageing),
        case_url=_case_url(c),
    )


class EscalationItemOut(Schema):
    request_id: UUID
    case_id: UUID
    participant: ParticipantRef
    step: str
    title: str
    due_at: dt.datetime | None
    escalated_at: dt.datetime
    assignee: ReviewerOut | None
    ageing: AgeingOut
    case_url: str


class EscalationPage(Schema):
    items: list[EscalationItemOut]
    next_cursor: str | None
    total: int


def escalation_item_out(item: selectors.EscalationItem) -> EscalationItemOut:
    r, c = item.request, item.case
    return EscalationItemOut(
        request_id=r.public_id,
        case_id=c.public_id,
        participant=participant_ref(c),
        step=r.step_key,
        title=r.title,
        due_at=r.due_at,
        escalated_at=r.escalated_at,  # type: ignore[arg-type]
        assignee=reviewer_out(item.assignee),
        ageing=ageing_out(item.ageing),
        case_url=_case_url(c),
    )


class QueueCountOut(Schema):
    queue: str
    title: str
    url: str = Field(description="the portal page of the queue")
    total: int | None = Field(description="null when the acting role may not see this queue")
    breached: int | None = None


class QueuesOut(Schema):
    queues: list[QueueCountOut]


def queues_out(counts: list[selectors.QueueCount]) -> QueuesOut:
    return QueuesOut(
        queues=[
            QueueCountOut(queue=c.key, title=c.title, url=c.url, total=c.total, breached=c.breached)
            for c in counts
        ]
    )


# --- dashboard -------------------------------------------------------------------------------


class RoleStatesOut(Schema):
    role: str
    counts: dict[str, int]
    total: int


class TimeToQualifyOut(Schema):
    role: str
    qualified: int
    median_days: float | None = Field(description="median days from registration to qualified")
    p90_days: float | None = Field(description="90th percentile, in days")


class DashboardOut(Schema):
    generated_at: dt.datetime
    cases_by_state: list[RoleStatesOut]
    totals: dict[str, int]
    time_to_qualify: list[TimeToQualifyOut]
    overdue_requests: int
    escalations_open: int
    verification_reviews: int | None = Field(
        description="null when the acting role does not review verifications"
    )
    reviews_waiting: int
    answers_breaching_sla: int
    cases_awaiting_decision: int
    cases_breaching_sla: int


def dashboard_out(d: selectors.Dashboard) -> DashboardOut:
    return DashboardOut(
        generated_at=d.generated_at,
        cases_by_state=[
            RoleStatesOut(role=r.role, counts=r.counts, total=r.total) for r in d.by_role
        ],
        totals=d.totals,
        time_to_qualify=[
            TimeToQualifyOut(
                role=t.role, qualified=t.qualified, median_days=t.median_days, p90_days=t.p90_days
            )
            for t in d.time_to_qualify
        ],
        overdue_requests=d.overdue_requests,
        escalations_open=d.escalations_open,
        verification_reviews=d.verification_reviews,
        reviews_waiting=d.reviews_waiting,
        answers_breaching_sla=d.answers_breaching_sla,
        cases_awaiting_decision=d.cases_awaiting_decision,
        cases_breaching_sla=d.cases_breaching_sla,
    )


# --- cases -----------------------------------------------------------------------------------


class CaseSummaryOut(Schema):
    case_id: UUID
    participant: ParticipantRef
    status: str
    status_reason: str
    rule_version: int
    created_at: dt.datetime
    status_changed_at: dt.datetime
    submitted_at: dt.datetime | None
    qualified_at: dt.datetime | None
    assignee: ReviewerOut | None
    case_url: str


class CasePage(Schema):
    items: list[CaseSummaryOut]
    next_cursor: str | None
    total: int


def case_summary_out(c: EntryCase) -> CaseSummaryOut:
    return CaseSummaryOut(
        case_id=c.public_id,
        participant=participant_ref(c),
        status=c.status,
        status_reason=c.status_reason,
        rule_version=c.rule_version.number,
        created_at=c.created_at,
        status_changed_at=c.status_changed_at,
        submitted_at=c.submitted_at,
        qualified_at=c.qualified_at,
        assignee=reviewer_out(c.assigned_to),
        case_url=_case_url(c),
    )


class OperatorAnswerOut(Schema):
    answer_id: UUID
    status: str = Field(description="pending_review, accepted, rejected or superseded")
    submitted_at: dt.datetime
    submitted_by: str | None
    text: str
    form_data: dict[str, Any]
    document: DocumentOut | None
    check_outcome: dict[str, Any]
    reviewed_at: dt.datetime | None
    reviewed_by: str | None
    review_reason: str


def answer_out(a: Answer) -> OperatorAnswerOut:
    return OperatorAnswerOut(
        answer_id=a.public_id,
        status=a.status,
        submitted_at=a.submitted_at,
        submitted_by=a.submitted_by.email if a.submitted_by else None,
        text=a.text,
        form_data=a.form_data,
        document=document_out(a),
        check_outcome=a.check_outcome,
        reviewed_at=a.reviewed_at,
        reviewed_by=a.reviewed_by.email if a.reviewed_by else None,
        review_reason=a.review_reason,
    )


class CheckRunOut(Schema):
    check: str
    status: str = Field(description="pending, passed, failed or error")
    attempts: int
    outcome: dict[str, Any]
    created_at: dt.datetime
    finished_at: dt.datetime | None
    next_attempt_at: dt.datetime | None


def check_out(run: CheckRun) -> CheckRunOut:
    return CheckRunOut(
        check=run.check_name,
        status=run.status,
        attempts=run.attempts,
        outcome=run.outcome,
        created_at=run.created_at,
        finished_at=run.finished_at,
        next_attempt_at=run.next_attempt_at,
    )


class OperatorRequestOut(Schema):
    request_id: UUID
    step: str
    kind: str
    title: str
    why: str
    status: str = Field(description="waiting, open, checking, answered, accepted or cancelled")
    required: bool
    ad_hoc: bool
    reviewer: str
    answerer: str
    opened_at: dt.datetime | None
    due_at: dt.datetime | None
    answered_at: dt.datetime | None
    accepted_at: dt.datetime | None
    escalated_at: dt.datetime | None
    last_rejection_reason: str
    raised_by: str | None
    assignee: ReviewerOut | None
    fields: list[dict[str, Any]] = []
    history: list[OperatorAnswerOut] = []
    checks: list[CheckRunOut] = []


def request_out(r: InformationRequest, *, with_history: bool = True) -> OperatorRequestOut:
    return OperatorRequestOut(
        request_id=r.public_id,
        step=r.step_key,
        kind=r.kind,
        title=r.title,
        why=r.why,
        status=r.status,
        required=r.required,
        ad_hoc=r.raised_by_id is not None,
        reviewer=r.reviewer,
        answerer=r.answerer,
        opened_at=r.opened_at,
        due_at=r.due_at,
        answered_at=r.answered_at,
        accepted_at=r.accepted_at,
        escalated_at=r.escalated_at,
        last_rejection_reason=r.last_rejection_reason,
        raised_by=r.raised_by.email if r.raised_by else None,
        assignee=reviewer_out(r.assigned_to),
        fields=r.definition.get("fields", []),
        history=[answer_out(a) for a in r.answers.all()] if with_history else [],
        checks=[check_out(c) for c in r.checks.all()] if with_history else [],
    )


class CaseDetailOut(CaseSummaryOut):
    participant_kind: str
    final_review: bool
    awaiting_decision: bool
    requests: list[OperatorRequestOut]


def case_detail_out(c: EntryCase) -> CaseDetailOut:
    return CaseDetailOut(
        **case_summary_out(c).model_dump(),
        participant_kind=c.participant_kind,
        final_review=c.final_review,
        awaiting_decision=selectors.awaiting_decision(c),
        requests=[request_out(r) for r in c.requests.all()],
    )


# --- input -----------------------------------------------------------------------------------


class DecisionIn(StrictSchema):
    decision: Literal["qualify", "reject"]
    reason: Reason


class AdHocRequestIn(StrictSchema):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    why: Annotated[str, Field(min_length=1, max_length=2000)]
    kind: Literal["document", "form", "text"]
    due_days: int | None = Field(None, ge=1, le=365)
    fields: list[dict[str, Any]] | None = Field(
        None, max_length=30, description="for a form: its fields, as in the rule file"
    )


class CancelIn(StrictSchema):
    reason: Reason


class AnswerReviewIn(StrictSchema):
    decision: Literal["accept", "reject"]
    reason: Annotated[str, Field(max_length=2000)] = ""


class AssignmentItemIn(StrictSchema):
    case_id: UUID | None = None
    request_id: UUID | None = None

    @model_validator(mode="after")
    def _one_target(self) -> AssignmentItemIn:
        if (self.case_id is None) == (self.request_id is None):
            raise ValueError("give either case_id or request_id")
        return self


class AssignmentsIn(StrictSchema):
    items: list[AssignmentItemIn] = Field(..., min_length=1, max_length=MAX_BULK)
    assignee: str | None = Field(
        ..., max_length=254, description="'me', a reviewer's email address, or null to unassign"
    )


class BulkReviewIn(StrictSchema):
    answer_ids: list[UUID] = Field(..., min_length=1, max_length=MAX_BULK)
    decision: Literal["accept", "reject"] = "accept"
    reason: Annotated[str, Field(max_length=2000)] = ""


class ItemResultOut(Schema):
    item_id: str = Field(description="the answer, case or request id as sent")
    kind: str = Field(description="answer, case or request")
    ok: bool
    code: str | None = Field(None, description="the error's stable code when not ok")
    detail: str | None = None


class BulkResultOut(Schema):
    succeeded: int
    failed: int
    results: list[ItemResultOut]


def bulk_out(results: list[ItemResult]) -> BulkResultOut:
    return BulkResultOut(
        succeeded=sum(1 for r in results if r.ok),
        failed=sum(1 for r in results if not r.ok),
        results=[
            ItemResultOut(
                item_id=r.id,
                kind=r.kind,
                ok=r.ok,
                code=r.code or None,
                detail=r.detail or None,
            )
            for r in results
        ],
    )
