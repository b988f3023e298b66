"""Permission-scoped reads of market-entry cases and requests (participant side).

A participant's members see their own role's case (``entry:read``); the central operator and
oversight roles see every case (``entry:read_all``). Anything else is "not found".
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet

from flexreg.core import permissions
from flexreg.core.acting import Acting
from flexreg.core.errors import NotFound
from flexreg.entry.models import (
    Answer,
    CaseStatus,
    Document,
    EntryCase,
    InformationRequest,
    RequestStatus,
    RuleAddition,
    RuleSetVersion,
)

# GOV.UK task list statuses.
CANNOT_START = "cannot_start_yet"
NOT_STARTED = "not_started"
IN_PROGRESS = "in_progress"
COMPLETED = "completed"
ACTION_NEEDED = "action_needed"
TASK_LABELS = {
    CANNOT_START: "Cannot start yet",
    NOT_STARTED: "Not started",
    IN_PROGRESS: "In progress",
    COMPLETED: "Completed",
    ACTION_NEEDED: "Action needed",
}


def task_status(request: InformationRequest) -> str:
    """How a request shows on the participant's task list."""
    s = request.status
    if s == RequestStatus.WAITING:
        return CANNOT_START
    if s == RequestStatus.ACCEPTED:
        return COMPLETED
    if s == RequestStatus.OPEN:
        return (
            ACTION_NEEDED
            if (request.last_rejection_reason or request.raised_by_id)
            else NOT_STARTED
        )
    return IN_PROGRESS  # checking, answered (waiting for review)


def _base() -> QuerySet[EntryCase]:
    return EntryCase.objects.select_related(
        "participant_role__participant", "rule_version", "assigned_to"
    ).prefetch_related(
        Prefetch(
            "requests",
            queryset=InformationRequest.objects.exclude(status=RequestStatus.CANCELLED).order_by(
                "position", "pk"
            ),
        )
    )


def cases_for(acting: Acting) -> QuerySet[EntryCase]:
    """The cases the acting membership may see: its own role's, or all for oversight."""
    permissions.require(acting, "entry:read_all" if acting.has("entry:read_all") else "entry:read")
    qs = _base()
    if acting.has("entry:read_all"):
        return qs
    return qs.filter(
        participant_role__participant_id=acting.participant_pk or 0,
        participant_role__role=acting.role,
    )


def case_for(acting: Acting, participant_id: str, role: str) -> EntryCase:
    found = (
        cases_for(acting)
        .filter(
            participant_role__participant__participant_id=participant_id,
            participant_role__role=role,
        )
        .first()
    )
    if found is None:
        raise NotFound("No market-entry case for this participant role.")
    return found


def case_by_id(acting: Acting, case_id: str) -> EntryCase:
    try:
        found = cases_for(acting).filter(public_id=case_id).first()
    except Exception as exc:  # not a UUID
        raise NotFound() from exc
    if found is None:
        raise NotFound("No such market-entry case.")
    return found


def request_for(acting: Acting, request_id: str) -> InformationRequest:
    """One request of a case the acting membership may see."""
    permissions.require(acting, "entry:read_all" if acting.has("entry:read_all") else "entry:read")
    qs = InformationRequest.objects.select_related(
        "case__participant_role__participant", "case__rule_version"
    )
    if not acting.has("entry:read_all"):
        qs = qs.filter(
            case__participant_role__participant_id=acting.participant_pk or 0,
            case__participant_role__role=acting.role,
        )
    try:
        found = qs.filter(public_id=request_id).first()
    except Exception as exc:
        raise NotFound() from exc
    if found is None:
        raise NotFound("No such information request.")
    return found


def history(request: InformationRequest) -> list[Answer]:
    """Every answer to the request, newest first, with its review."""
    return list(
        request.answers.select_related("document", "submitted_by", "reviewed_by").order_by(
            "-submitted_at", "-pk"
        )
    )


def answer_for_review(acting: Acting, answer_id: str) -> Answer:
    permissions.require(acting, "entry:review")
    try:
        found = (
            Answer.objects.select_related(
                "request__case__participant_role__participant", "document"
            )
            .filter(public_id=answer_id)
            .first()
        )
    except Exception as exc:
        raise NotFound() from exc
    if found is None:
        raise NotFound("No such answer.")
    return found


@dataclass(frozen=True)
class NextStep:
    text: str
    request: InformationRequest | None = None


def next_step(case: EntryCase) -> NextStep:
    """The one clear thing to do next, for the case page."""
    requests = list(case.requests.all())
    if case.status == CaseStatus.QUALIFIED:
        return NextStep("Your role is qualified: you can take part in the market.")
    if case.status == CaseStatus.REJECTED:
        return NextStep(f"This application was not accepted: {case.status_reason}")
    if case.status == CaseStatus.WITHDRAWN:
        return NextStep("This application was withdrawn.")
    for status in (ACTION_NEEDED, NOT_STARTED):
        for r in requests:
            if (
                r.answerer == "participant"
                and task_status(r) == status
                and not (r.kind == "check" and not r.definition.get("fields"))
            ):
                return NextStep(f"{r.title}", r)
    for r in requests:
        if (
            r.kind == "check"
            and r.definition.get("check") == "api_connectivity"
            and r.status == RequestStatus.CHECKING
        ):
            return NextStep(r.title, r)
    if case.status == CaseStatus.UNDER_REVIEW:
        return NextStep("The central operator is reviewing your application.")
    return NextStep("Nothing for you to do now: we will tell you when we need anything.")


def own_document(acting: Acting, document_id: object) -> Document:
    """A document uploaded for the acting participant (to attach to an answer)."""
    try:
        found = Document.objects.filter(
            public_id=str(document_id), participant_id=acting.participant_pk or 0
        ).first()
    except Exception as exc:
        raise NotFound() from exc
    if found is None:
        raise NotFound("No such document.")
    return found


def rule_versions() -> list[tuple[RuleSetVersion, int]]:
    from django.db.models import Count

    counts = dict(EntryCase.objects.values_list("rule_version").annotate(n=Count("pk")).order_by())
    return [(v, counts.get(v.pk, 0)) for v in RuleSetVersion.objects.order_by("-number")]


def rule_version(number: int) -> RuleSetVersion:
    found = RuleSetVersion.objects.filter(number=number).first()
    if found is None:
        raise NotFound("No such rule version.")
    return found


def rule_addition(addition_id: object) -> RuleAddition:
    try:
        found = RuleAddition.objects.filter(public_id=str(addition_id)).first()
    except Exception as exc:
        raise NotFound() from exc
    if found is None:
        raise NotFound("No such rule addition.")
    return found


def rule_additions() -> list[RuleAddition]:
    return list(RuleAddition.objects.order_by("-created_at"))
