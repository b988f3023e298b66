"""API schemas for market entry (participant side and rules)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from ninja import Field, Schema

from flexreg.entry import selectors
from flexreg.entry.models import Answer, EntryCase, InformationRequest
from flexreg.participants.schemas import StrictSchema


class DocumentRef(Schema):
    document_id: UUID
    name: str
    content_type: str
    size: int
    sha256: str
    scan_status: str


class AnswerOut(Schema):
    answer_id: UUID
    status: str = Field(description="pending_review, accepted, rejected or superseded")
    submitted_at: dt.datetime
    submitted_by: str | None
    text: str = ""
    form_data: dict[str, Any] = {}
    document: DocumentRef | None = None
    check_outcome: dict[str, Any] = {}
    reviewed_at: dt.datetime | None = None
    review_reason: str = ""


class RequestOut(Schema):
    request_id: UUID
    step: str
    kind: str = Field(description="document, form, text, check or review")
    title: str
    why: str
    status: str = Field(description="waiting, open, checking, answered, accepted or cancelled")
    task_status: str = Field(
        description="cannot_start_yet, not_started, in_progress, completed or action_needed"
    )
    required: bool
    ad_hoc: bool
    due_at: dt.datetime | None
    opened_at: dt.datetime | None
    last_rejection_reason: str
    fields: list[dict[str, Any]] = []
    accept: list[str] = []


class RequestDetailOut(RequestOut):
    history: list[AnswerOut]


class CaseOut(Schema):
    case_id: UUID
    participant_id: str
    role: str
    status: str
    status_reason: str
    rule_version: int
    participant_kind: str
    final_review: bool
    created_at: dt.datetime
    submitted_at: dt.datetime | None
    qualified_at: dt.datetime | None
    next_step: str
    requests: list[RequestOut]


class AnswerIn(StrictSchema):
    text: str | None = Field(None, max_length=20000)
    form_data: dict[str, Any] | None = None
    document_id: UUID | None = None


class ConnectivityOut(Schema):
    participant_id: str
    role: str
    called_at: dt.datetime
    message: str


def document_ref(answer: Answer) -> DocumentRef | None:
    d = answer.document
    if d is None:
        return None
    return DocumentRef(
        document_id=d.public_id,
        name=d.original_name,
        content_type=d.content_type,
        size=d.size,
        sha256=d.sha256,
        scan_status=d.scan_status,
    )


def answer_out(a: Answer) -> AnswerOut:
    return AnswerOut(
        answer_id=a.public_id,
        status=a.status,
        submitted_at=a.submitted_at,
        submitted_by=a.submitted_by.email if a.submitted_by else None,
        text=a.text,
        form_data=a.form_data,
        document=document_ref(a),
        check_outcome=a.check_outcome,
        reviewed_at=a.reviewed_at,
        review_reason=a.review_reason,
    )


def request_out(r: InformationRequest) -> RequestOut:
    return RequestOut(
        request_id=r.public_id,
        step=r.step_key,
        kind=r.kind,
        title=r.title,
        why=r.why,
        status=r.status,
        task_status=selectors.task_status(r),
        required=r.required,
        ad_hoc=r.raised_by_id is not None,
        due_at=r.due_at,
        opened_at=r.opened_at,
        last_rejection_reason=r.last_rejection_reason,
        fields=r.definition.get("fields", []),
        accept=r.definition.get("accept", []),
    )


def request_detail_out(r: InformationRequest) -> RequestDetailOut:
    return RequestDetailOut(
        **request_out(r).model_dump(), history=[answer_out(a) for a in selectors.history(r)]
    )


def case_out(c: EntryCase) -> CaseOut:
    held = c.participant_role
    return CaseOut(
        case_id=c.public_id,
        participant_id=held.participant.participant_id,
        role=held.role,
        status=c.status,
        status_reason=c.status_reason,
        rule_version=c.rule_version.number,
        participant_kind=c.participant_kind,
        final_review=c.final_review,
        created_at=c.created_at,
        submitted_at=c.submitted_at,
        qualified_at=c.qualified_at,
        next_step=selectors.next_step(c).text,
        requests=[request_out(r) for r in c.requests.all()],
    )


# --- rules ----------------------------------------------------------------------------------


class RuleVersionOut(Schema):
    number: int
    revision: str
    checksum: str
    created_at: dt.datetime
    cases: int


class RuleVersionDetailOut(RuleVersionOut):
    content: dict[str, Any]


class RuleAdditionIn(StrictSchema):
    key: str = Field(..., max_length=60, description="a new step key, lower_case_with_underscores")
    roles: list[str] = Field(..., min_length=1, description="role codes the step is added to")
    step: dict[str, Any] = Field(..., description="a step definition, as in the rule file")


class RuleAdditionOut(Schema):
    addition_id: UUID
    key: str
    roles: list[str]
    step: dict[str, Any]
    created_at: dt.datetime
    retired_at: dt.datetime | None
    rule_version: int = Field(description="the rule version new cases follow now")


class RetireIn(StrictSchema):
    reason: str = Field(..., min_length=1, max_length=2000)


class ValidateIn(StrictSchema):
    toml: str = Field(..., max_length=500_000, description="a whole rule file")


class ValidateOut(Schema):
    valid: bool
    problems: list[str]
    roles: list[str] = []
    steps: list[str] = []


class MoveCaseIn(StrictSchema):
    rule_version: int | None = Field(None, description="default: the current version")
