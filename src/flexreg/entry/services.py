"""Market-entry use cases: cases, information requests, answers, reviews and decisions.

Each write is one transaction that checks the permission and the object scope, applies the
case's rules (the rule version the case follows), writes audit events and queues
notifications. The case's status is never set by hand: ``_advance`` derives it from its
requests after every change, through the named transitions of ``rules.CASE_LIFECYCLE``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from flexreg.core import audit, permissions
from flexreg.core.acting import Acting
from flexreg.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from flexreg.entry import answers as answer_rules
from flexreg.entry import rules, ruleset
from flexreg.entry.models import (
    OPEN_CASE_STATES,
    Answer,
    AnswerStatus,
    CaseStatus,
    CheckRun,
    ConnectivityTest,
    Document,
    EntryCase,
    InformationRequest,
    RequestStatus,
    RuleAddition,
    RuleSetVersion,
    StepKind,
)
from flexreg.notifications import services as notifications
from flexreg.participants import selectors_recipients as recipients
from flexreg.participants import services as participant_services
from flexreg.participants.models import ParticipantRole, ParticipantStatus

logger = logging.getLogger(__name__)

SYSTEM = Acting(user_id=None, user_label="FlexReg market entry", via="system")
_VERSION_LOCK = 0x666C_656E_7472  # "flentr"
C = CaseStatus
Q = RequestStatus
# Requests the participant still has to act on, and those that count as done.
_TO_DO = (Q.WAITING, Q.OPEN)
_LIVE = (Q.WAITING, Q.OPEN, Q.CHECKING, Q.ANSWERED, Q.ACCEPTED)


# --- rule versions --------------------------------------------------------------------------


def rules_file() -> str:
    return str(getattr(settings, "FLEXREG_ENTRY_RULES", "") or ruleset.DEFAULT_FILE)


def compile_current() -> dict[str, Any]:
    """The file rules plus the live operator additions, validated."""
    additions = [
        {"key": a.key, "roles": a.roles, "step": a.step}
        for a in RuleAddition.objects.filter(retired_at__isnull=True).order_by("created_at", "pk")
    ]
    with open(rules_file(), encoding="utf-8") as fh:
        return ruleset.compile_rules(ruleset.parse(fh.read()), additions)


def current_version(created_by: int | None = None) -> RuleSetVersion:
    """The rule version new cases follow: an existing row if the rules did not change."""
    compiled = compile_current()
    checksum = ruleset.checksum(compiled)
    found = RuleSetVersion.objects.filter(checksum=checksum).first()
    if found is not None:
        return found
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_VERSION_LOCK])
        found = RuleSetVersion.objects.filter(checksum=checksum).first()
        if found is not None:
            return found
        number = (RuleSetVersion.objects.aggregate(n=Max("number"))["n"] or 0) + 1
        version = RuleSetVersion.objects.create(
            number=number,
            checksum=checksum,
            content=compiled,
            source_revision=compiled["revision"],
            created_by_id=created_by,
        )
        audit.record(
            SYSTEM,
            "entry_rules.version_created",
            object_type="entry_rule_version",
            object_id=str(number),
            after={"revision": compiled["revision"], "checksum": checksum},
        )
        return version


# --- notifications --------------------------------------------------------------------------


def _link(case: EntryCase) -> str:
    held = case.participant_role
    return f"/participants/{held.participant.participant_id}/entry/{held.role}/"


def _tell_participant(
    case: EntryCase, kind: str, subject: str, dedupe: str = "", **context: Any
) -> None:
    held = case.participant_role
    notifications.notify(
        kind,
        recipients.role_members(held, "entry:read"),
        subject=subject,
        context={"case": case, "role": held.role, "participant": held.participant, **context},
        link=_link(case),
        participant_id=held.participant.participant_id,
        dedupe_key=dedupe,
        email_mandatory=kind in case.rule_version.content["notifications"]["email_mandatory"],
    )


def _tell_operators(
    case: EntryCase, kind: str, subject: str, dedupe: str = "", **context: Any
) -> None:
    held = case.participant_role
    notifications.notify(
        kind,
        recipients.operators("entry:review"),
        subject=subject,
        context={"case": case, "role": held.role, "participant": held.participant, **context},
        link=f"/operator/entry/cases/{case.public_id}/",
        participant_id=held.participant.participant_id,
        dedupe_key=dedupe,
        email_mandatory=kind in case.rule_version.content["notifications"]["email_mandatory"],
    )


# --- audit ----------------------------------------------------------------------------------


def _audit(
    acting: Acting,
    action: str,
    obj: EntryCase | InformationRequest,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    case = obj if isinstance(obj, EntryCase) else obj.case
    held = case.participant_role
    audit.record(
        acting,
        action,
        object_type="entry_case" if isinstance(obj, EntryCase) else "entry_request",
        object_id=str(obj.public_id),
        subject_participant_id=held.participant.participant_id,
        before=before,
        after={"role": held.role, **(after or {})},
        only_changed=False,
        on_behalf_of=acting.on_behalf_of,
    )


# --- cases ----------------------------------------------------------------------------------


def _kind_of(held: ParticipantRole) -> str:
    p = held.participant
    return ruleset.participant_kind(p.kind, p.organisation_type)


def _sync_requests(case: EntryCase, now: dt.datetime) -> None:
    """Make the case's rule-raised requests match its rule version's steps. Accepted steps
    stay accepted; anything else starts again from the rules' definition."""
    steps = ruleset.steps_for(
        case.rule_version.content, case.participant_role.role, case.participant_kind
    )
    existing = {r.step_key: r for r in case.requests.all()}
    wanted = set()
    for position, step in enumerate(steps):
        wanted.add(step["key"])
        fields = {
            "position": position,
            "kind": step["kind"],
            "title": step["title"],
            "why": step["why"],
            "definition": step,
            "after": step["after"],
            "reviewer": step["review"],
            "required": step["required"],
            "due_days": step["due_days"],
            "updated_at": now,
        }
        request = existing.get(step["key"])
        if request is None:
            InformationRequest.objects.create(case=case, step_key=step["key"], **fields)
        elif request.status != Q.ACCEPTED:
            for name, value in fields.items():
                setattr(request, name, value)
            request.status = Q.WAITING
            request.opened_at = request.due_at = request.escalated_at = None
            request.save()
    for key, request in existing.items():
        if (
            key not in wanted
            and request.raised_by_id is None
            and request.status != Q.ACCEPTED
            and not key.startswith("adhoc-")
        ):
            request.status = Q.CANCELLED
            request.updated_at = now
            request.save(update_fields=["status", "updated_at"])


@transaction.atomic
def open_case(acting: Acting, held: ParticipantRole) -> EntryCase | None:
    """The case for a requested role: new, or the old one reopened under the current rules.
    Special roles (central operator, regulator) have no market entry."""
    if held.role not in ruleset.SELF_REQUESTABLE:
        return None
    now = timezone.now()
    version = current_version()
    case = EntryCase.objects.select_for_update().filter(participant_role=held).first()
    if case is None:
        case = EntryCase.objects.create(
            participant_role=held,
            rule_version=version,
            participant_kind=_kind_of(held),
            final_review=version.content["roles"][held.role]["final_review"],
            created_at=now,
            status_changed_at=now,
        )
        _audit(
            acting,
            "entry_case.opened",
            case,
            after={"status": case.status, "rules": version.number},
        )
    elif case.status in (C.REJECTED, C.WITHDRAWN):
        case.rule_version = version
        case.participant_kind = _kind_of(held)
        case.final_review = version.content["roles"][held.role]["final_review"]
        case.qualified_at = case.closed_at = case.submitted_at = None
        _move(acting, case, C.NOT_STARTED, "The role was asked for again.")
    else:
        return case
    _sync_requests(case, now)
    _refresh(acting, case, now)
    return case


def _move(acting: Acting, case: EntryCase, target: str, reason: str = "") -> None:
    before = case.status
    name = rules.transition_to(before, target)
    case.status = rules.CASE_LIFECYCLE.target(before, name)
    case.status_reason = reason
    case.status_changed_at = timezone.now()
    case.version += 1
    if target == C.SUBMITTED and case.submitted_at is None:
        case.submitted_at = case.status_changed_at
    if target in (C.QUALIFIED,):
        case.qualified_at = case.status_changed_at
    if target in (C.REJECTED, C.WITHDRAWN):
        case.closed_at = case.status_changed_at
    case.save()
    _audit(
        acting,
        f"entry_case.{name}",
        case,
        before={"status": before},
        after={"status": case.status, **({"reason": reason} if reason else {})},
    )


def _target_status(case: EntryCase, requests: list[InformationRequest]) -> str:
    live = [r for r in requests if r.status in _LIVE and r.required]
    if live and all(r.status == Q.ACCEPTED for r in live):
        return C.UNDER_REVIEW if case.final_review else C.QUALIFIED
    to_do = [r for r in live if r.status in _TO_DO]
    if any(r.status == Q.OPEN and (r.last_rejection_reason or r.raised_by_id) for r in to_do):
        return C.CHANGES_REQUESTED
    if to_do:
        started = (
            any(r.status in (Q.ANSWERED, Q.ACCEPTED) for r in live)
            or Answer.objects.filter(request__case=case).exists()
        )
        return C.IN_PROGRESS if started or case.status != C.NOT_STARTED else C.NOT_STARTED
    reviewed = (
        case.assigned_to_id is not None
        or Answer.objects.filter(request__case=case, reviewed_by__isnull=False).exists()
    )
    return C.UNDER_REVIEW if reviewed else C.SUBMITTED


def _advance(acting: Acting, case: EntryCase) -> None:
    """Derive the case's status from its requests and move it there."""
    if case.status not in OPEN_CASE_STATES:
        return
    requests = list(case.requests.all())
    target = _target_status(case, requests)
    if target == case.status:
        return
    if target == C.QUALIFIED:
        _qualify(acting, case, "Every step is accepted.")
        return
    _move(acting, case, target)
    if (
        target == C.UNDER_REVIEW
        and case.final_review
        and all(r.status == Q.ACCEPTED for r in requests if r.required and r.status in _LIVE)
    ):
        _tell_operators(
            case,
            "entry.case_ready",
            f"{case.participant_role.participant.legal_name} ({case.participant_role.role}) is "
            "ready for the final review",
            dedupe=f"case-ready:{case.public_id}:{case.version}",
        )


def _qualify(acting: Acting, case: EntryCase, reason: str) -> None:
    _move(acting, case, C.QUALIFIED, reason)
    participant_services.set_role_qualified(acting, case.participant_role, True, reason)
    _tell_participant(
        case,
        "entry.case_qualified",
        f"Your {case.participant_role.role} role is qualified",
        dedupe=f"qualified:{case.public_id}:{case.version}",
        reason=reason,
    )


def _open_request(acting: Acting, request: InformationRequest, now: dt.datetime) -> None:
    request.status = Q.OPEN
    request.opened_at = now
    request.due_at = now + dt.timedelta(days=request.due_days) if request.due_days else None
    request.updated_at = now
    request.save()
    _audit(
        acting,
        "entry_request.opened",
        request,
        after={"step": request.step_key, "due_at": request.due_at},
    )
    if request.kind == StepKind.CHECK and not request.definition.get("fields"):
        _start_check(acting, request, now)
    elif request.kind == StepKind.REVIEW:
        # Nothing for the participant to give: straight into the operator's review queue.
        request.status = Q.ANSWERED
        request.answered_at = now
        request.save(update_fields=["status", "answered_at"])
        Answer.objects.create(request=request, submitted_at=now)
    else:
        _tell_participant(
            request.case,
            "entry.request_raised",
            f"We need something from you: {request.title}",
            dedupe=f"raised:{request.public_id}:{now.isoformat()}",
            request=request,
        )


def _refresh(acting: Acting, case: EntryCase, now: dt.datetime | None = None) -> None:
    """Open the requests whose earlier steps are all accepted (one at a time, re-reading, as
    opening one may conclude a check at once), then advance the case."""
    now = now or timezone.now()
    for _ in range(200):
        fresh = EntryCase.objects.select_for_update().get(pk=case.pk)
        if fresh.status not in OPEN_CASE_STATES:
            break
        requests = list(fresh.requests.order_by("position", "pk"))
        accepted = {r.step_key for r in requests if r.status == Q.ACCEPTED}
        live = {r.step_key for r in requests if r.status in _LIVE}
        ready = next(
            (
                r
                for r in requests
                if r.status == Q.WAITING and all(k in accepted for k in r.after if k in live)
            ),
            None,
        )
        if ready is None:
            break
        ready.case = fresh
        _open_request(acting, ready, now)
    _advance(
        acting,
        EntryCase.objects.select_for_update()
        .select_related("participant_role__participant", "rule_version")
        .get(pk=case.pk),
    )


# --- checks (external checks run by entry.checks; the outcome lands here) -------------------


def _start_check(acting: Acting, request: InformationRequest, now: dt.datetime) -> CheckRun:
    from flexreg.entry import checks

    request.status = Q.CHECKING
    request.updated_at = now
    request.save(update_fields=["status", "updated_at"])
    run = CheckRun.objects.create(
        request=request, check_name=request.definition["check"], next_attempt_at=now
    )
    # A check that needs no outside service concludes here; the others are queued.
    concluded = checks.started(run)
    if concluded is not None:
        _conclude(run, request, *concluded)
    return run


def _conclude(
    run: CheckRun, request: InformationRequest, status: str, outcome: dict[str, Any]
) -> None:
    """Record a passed or failed check on its run and its step (no case refresh)."""
    now = timezone.now()
    run.attempts += 1
    run.outcome = outcome
    run.status = status
    run.finished_at = now
    run.next_attempt_at = None
    run.save()
    if request.status != Q.CHECKING:
        return
    answer = Answer.objects.create(
        request=request,
        check_outcome={"check": run.check_name, "status": status, **outcome},
        form_data=latest_form_data(request),
        submitted_at=now,
    )
    request.answered_at = now
    if status == CheckRun.Status.PASSED:
        answer.status = AnswerStatus.ACCEPTED
        answer.reviewed_at = now
        answer.save()
        request.status = Q.ACCEPTED
        request.accepted_at = now
    else:
        request.status = Q.ANSWERED  # into the operator's review queue with the evidence
    request.updated_at = now
    request.save()
    _audit(
        SYSTEM,
        f"entry_request.check_{status}",
        request,
        after={"step": request.step_key, "check": run.check_name, "outcome": outcome},
    )


@transaction.atomic
def record_check_outcome(
    run_pk: int, status: str, outcome: dict[str, Any], *, retry_at: dt.datetime | None = None
) -> CheckRun:
    """A check's result: passed (step accepted), failed (to the operator with the evidence)
    or error (retried at ``retry_at``; the step stays ``checking``). Idempotent."""
    run = CheckRun.objects.select_for_update().get(pk=run_pk)
    if run.status in (CheckRun.Status.PASSED, CheckRun.Status.FAILED):
        return run  # already concluded (a duplicate task run)
    request = (
        InformationRequest.objects.select_for_update()
        .select_related("case__participant_role__participant", "case__rule_version")
        .get(pk=run.request_id)
    )
    if status == CheckRun.Status.ERROR:
        run.attempts += 1
        run.outcome = outcome
        run.status = status
        run.next_attempt_at = retry_at
        run.save()
        return run
    _conclude(run, request, status, outcome)
    _refresh(SYSTEM, request.case)
    return run


def latest_form_data(request: InformationRequest) -> dict[str, Any]:
    last = request.answers.exclude(form_data={}).order_by("-submitted_at", "-pk").first()
    return dict(last.form_data) if last else {}


# --- answers --------------------------------------------------------------------------------


def _own_case_request(acting: Acting, request: InformationRequest) -> None:
    held = request.case.participant_role
    if not (acting.acts_for(held.participant_id) and acting.role == held.role):
        raise NotFound()


@transaction.atomic
def answer(
    acting: Acting,
    request: InformationRequest,
    *,
    text: str | None = None,
    form_data: dict[str, Any] | None = None,
    document: Document | None = None,
) -> Answer:
    """Answer an open request (a document, a form or a text). A newer answer replaces one still
    waiting for review. Steps reviewed by nobody are accepted at once; check steps with fields
    start their check."""
    permissions.require(acting, "entry:answer")
    request = (
        InformationRequest.objects.select_for_update()
        .select_related("case__participant_role__participant", "case__rule_version")
        .get(pk=request.pk)
    )
    _own_case_request(acting, request)
    case = request.case
    rules.case_takes_answers(case, ad_hoc=request.raised_by_id is not None)
    if request.answerer != "participant":
        raise Conflict(
            "entry.request_not_for_participant", "The central operator completes this step."
        )
    rules.request_answerable(request.status)
    step = request.definition
    values: dict[str, Any] = {}
    if request.kind == StepKind.DOCUMENT:
        if document is None:
            raise ValidationFailed([_fe("document_id", "required", "Choose a file to upload.")])
        if document.participant_id != case.participant_role.participant_id:
            raise NotFound("No such document.")
        if document.scan_status == Document.Scan.INFECTED:
            raise DomainError(
                code="entry.document_infected",
                detail="This file failed the malware scan. Upload a clean copy.",
            )
        if document.content_type not in step.get("accept", ruleset.DOCUMENT_TYPES):
            raise ValidationFailed(
                [
                    _fe(
                        "document_id",
                        "entry.document_type",
                        f"This step accepts {', '.join(step.get('accept', []))}.",
                    )
                ]
            )
        values["document"] = document
    elif request.kind == StepKind.TEXT:
        cleaned, errors = answer_rules.clean_text(step, text)
        if errors:
            raise ValidationFailed(errors)
        values["text"] = cleaned
    elif request.kind in (StepKind.FORM, StepKind.CHECK):
        if request.kind == StepKind.CHECK and not step.get("fields"):
            raise Conflict("entry.request_not_for_participant", "This check runs by itself.")
        cleaned_form, errors = answer_rules.clean_form(step, form_data or {})
        if errors:
            raise ValidationFailed(errors)
        values["form_data"] = cleaned_form
    else:
        raise Conflict(
            "entry.request_not_for_participant", "The central operator completes this step."
        )
    now = timezone.now()
    request.answers.filter(status=AnswerStatus.PENDING_REVIEW).update(
        status=AnswerStatus.SUPERSEDED
    )
    new = Answer.objects.create(
        request=request, submitted_by_id=acting.user_id, submitted_at=now, **values
    )
    request.answered_at = now
    request.updated_at = now
    if request.kind == StepKind.CHECK:
        new.status = AnswerStatus.SUPERSEDED  # the check's own answer carries the outcome
        new.save(update_fields=["status"])
        request.save()
        _audit(
            acting,
            "entry_request.answered",
            request,
            after={"step": request.step_key, "answer": str(new.public_id)},
        )
        _start_check(acting, request, now)
    elif request.reviewer == "none":
        new.status = AnswerStatus.ACCEPTED
        new.reviewed_at = now
        new.save(update_fields=["status", "reviewed_at"])
        request.status = Q.ACCEPTED
        request.accepted_at = now
        request.save()
        _audit(
            acting,
            "entry_request.answered",
            request,
            after={"step": request.step_key, "answer": str(new.public_id), "accepted": True},
        )
    else:
        request.status = Q.ANSWERED
        request.save()
        _audit(
            acting,
            "entry_request.answered",
            request,
            after={"step": request.step_key, "answer": str(new.public_id)},
        )
    case = EntryCase.objects.select_for_update().get(pk=case.pk)
    _refresh(acting, case, now)
    return new


def _fe(path: str, code: str, message: str) -> Any:
    from flexreg.core.errors import FieldError

    return FieldError(path, code, message)


# --- reviews and decisions (central operator) -----------------------------------------------


@transaction.atomic
def review_answer(acting: Acting, answer_: Answer, decision: str, reason: str = "") -> Answer:
    """Accept or reject an answer (or a failed check's outcome). A rejection reopens the step
    with the reason shown to the participant."""
    permissions.require(acting, "entry:review")
    found = (
        Answer.objects.select_for_update(of=("self",))
        .select_related("request__case__participant_role__participant", "document")
        .get(pk=answer_.pk)
    )
    if found.status != AnswerStatus.PENDING_REVIEW:
        raise Conflict("entry.answer_already_reviewed", f"This answer is {found.status}.")
    if decision not in ("accept", "reject"):
        raise DomainError(code="entry.decision_invalid", detail="Decide accept or reject.")
    if decision == "reject":
        rules.reason_given(reason)
    if (
        decision == "accept"
        and found.document
        and found.document.scan_status != Document.Scan.CLEAN
    ):
        raise Conflict(
            "entry.document_not_scanned",
            "The file has not passed the malware scan yet; it can be accepted once it is clean.",
        )
    request = InformationRequest.objects.select_for_update().get(pk=found.request_id)
    case = (
        EntryCase.objects.select_for_update().select_related("rule_version").get(pk=request.case_id)
    )
    rules.case_takes_answers(case, ad_hoc=request.raised_by_id is not None)
    now = timezone.now()
    found.status = AnswerStatus.ACCEPTED if decision == "accept" else AnswerStatus.REJECTED
    found.reviewed_by_id = acting.user_id
    found.reviewed_at = now
    found.review_reason = reason
    found.save()
    if decision == "accept":
        request.status = Q.ACCEPTED
        request.accepted_at = now
        request.last_rejection_reason = ""
    else:
        request.status = Q.OPEN
        request.last_rejection_reason = reason
        request.opened_at = now
        request.due_at = now + dt.timedelta(days=request.due_days) if request.due_days else None
        request.escalated_at = None
    request.updated_at = now
    request.save()
    if (
        decision == "reject"
        and request.kind == StepKind.CHECK
        and not request.definition.get("fields")
    ):
        # Nothing for the participant to give: the check runs again (e.g. once the company's
        # status on the register has changed) and comes back to review if it fails again.
        _start_check(acting, request, now)
    _audit(
        acting,
        f"entry_request.{'accepted' if decision == 'accept' else 'rejected'}",
        request,
        after={"step": request.step_key, "answer": str(found.public_id), "reason": reason},
    )
    _tell_participant(
        case,
        "entry.answer_reviewed",
        f"{request.title}: {'accepted' if decision == 'accept' else 'please look again'}",
        dedupe=f"reviewed:{found.public_id}",
        request=request,
        decision=decision,
        reason=reason,
    )
    _refresh(acting, case, now)
    return found


@transaction.atomic
def decide_case(acting: Acting, case: EntryCase, decision: str, reason: str) -> EntryCase:
    """The operator's decision on a whole case: qualify (every required step accepted) or
    reject (at any time, with a reason)."""
    permissions.require(acting, "entry:review")
    rules.reason_given(reason)
    case = (
        EntryCase.objects.select_for_update()
        .select_related("participant_role__participant", "rule_version")
        .get(pk=case.pk)
    )
    rules.case_is_open(case)
    if decision == "qualify":
        blocking = [
            r.title
            for r in case.requests.filter(
                required=True, status__in=[*_TO_DO, Q.CHECKING, Q.ANSWERED]
            )
        ]
        if blocking:
            raise Conflict(
                "entry.case_incomplete",
                "Every required step must be accepted first. Still open: " + "; ".join(blocking),
                open_steps=blocking,
            )
        if case.participant_role.participant.status != ParticipantStatus.ACTIVE:
            raise Conflict("entry.participant_not_active", "The participant is not active.")
        _qualify(acting, case, reason)
    elif decision == "reject":
        _move(acting, case, C.REJECTED, reason)
        _close_requests(case)
        participant_services.set_role_qualified(acting, case.participant_role, False, reason)
        _tell_participant(
            case,
            "entry.case_rejected",
            f"Your application for the {case.participant_role.role} role was not accepted",
            dedupe=f"rejected:{case.public_id}:{case.version}",
            reason=reason,
        )
    else:
        raise DomainError(code="entry.decision_invalid", detail="Decide qualify or reject.")
    return case


def _close_requests(case: EntryCase) -> None:
    case.requests.filter(status__in=[Q.WAITING, Q.OPEN, Q.CHECKING, Q.ANSWERED]).update(
        status=Q.CANCELLED, updated_at=timezone.now()
    )


@transaction.atomic
def raise_request(
    acting: Acting,
    case: EntryCase,
    *,
    title: str,
    why: str,
    kind: str,
    due_days: int | None,
    fields: list[dict[str, Any]] | None = None,
) -> InformationRequest:
    """An ad hoc request from the central operator: open at once, due in ``due_days``."""
    permissions.require(acting, "entry:review")
    case = (
        EntryCase.objects.select_for_update()
        .select_related("participant_role__participant", "rule_version")
        .get(pk=case.pk)
    )
    if case.status not in (*OPEN_CASE_STATES, C.QUALIFIED):
        rules.case_is_open(case)
    if kind not in (StepKind.DOCUMENT, StepKind.FORM, StepKind.TEXT):
        raise ValidationFailed(
            [_fe("kind", "entry.kind_invalid", "Ask for a document, form or text.")]
        )
    problems = ruleset._Problems()
    count = case.requests.filter(step_key__startswith="adhoc-").count() + 1
    key = f"adhoc_{count}"
    raw: dict[str, Any] = {"title": title, "why": why, "kind": kind}
    if due_days:
        raw["due_days"] = due_days
    if fields:
        raw["fields"] = fields
    step = ruleset.validate_step(problems, "request", key, raw)
    if problems.items:
        raise ValidationFailed(
            [
                _fe(
                    item.split(":", 1)[0].removeprefix("request.") or "request",
                    "entry.request_invalid",
                    item.split(": ", 1)[-1],
                )
                for item in problems.items
            ]
        )
    now = timezone.now()
    request = InformationRequest.objects.create(
        case=case,
        step_key=f"adhoc-{count}",
        position=1000 + count,
        kind=kind,
        title=step["title"],
        why=step["why"],
        definition=step,
        reviewer="operator",
        due_days=due_days,
        raised_by_id=acting.user_id,
        status=Q.WAITING,
        created_at=now,
    )
    _audit(acting, "entry_request.raised", request, after={"title": request.title, "kind": kind})
    _open_request(acting, request, now)
    _advance(acting, case)
    return request


@transaction.atomic
def cancel_request(acting: Acting, request: InformationRequest, reason: str) -> InformationRequest:
    """Withdraw an ad hoc request raised in error (rule-raised steps change with the rules)."""
    permissions.require(acting, "entry:review")
    rules.reason_given(reason)
    request = (
        InformationRequest.objects.select_for_update().select_related("case").get(pk=request.pk)
    )
    if request.raised_by_id is None:
        raise Conflict("entry.request_from_rules", "Steps from the rules change with the rules.")
    if request.status in (Q.ACCEPTED, Q.CANCELLED):
        raise Conflict("entry.request_not_open", f"This request is {request.status}.")
    request.status = Q.CANCELLED
    request.updated_at = timezone.now()
    request.save(update_fields=["status", "updated_at"])
    _audit(acting, "entry_request.cancelled", request, after={"reason": reason})
    case = EntryCase.objects.select_for_update().get(pk=request.case_id)
    _refresh(acting, case)
    return request


@transaction.atomic
def assign(
    acting: Acting,
    *,
    case: EntryCase | None = None,
    request: InformationRequest | None = None,
    user_id: int | None,
) -> None:
    """Assign a case or a request to a reviewer (an operator user), or unassign it."""
    permissions.require(acting, "entry:review")
    if user_id is not None and user_id not in recipients.operators("entry:review"):
        raise ValidationFailed(
            [_fe("assignee", "entry.not_a_reviewer", "Assign to a central operator reviewer.")]
        )
    target: EntryCase | InformationRequest
    if case is not None:
        target = EntryCase.objects.select_for_update().get(pk=case.pk)
    elif request is not None:
        target = (
            InformationRequest.objects.select_for_update().select_related("case").get(pk=request.pk)
        )
    else:
        raise ValueError("assign a case or a request")
    before = target.assigned_to_id
    target.assigned_to_id = user_id
    target.save(update_fields=["assigned_to"])
    _audit(
        acting,
        f"{'entry_case' if case else 'entry_request'}.assigned",
        target,
        before={"assigned_to": before},
        after={"assigned_to": user_id},
    )
    if case is not None:
        _advance(acting, target)  # type: ignore[arg-type]


@transaction.atomic
def move_to_version(
    acting: Acting, case: EntryCase, version: RuleSetVersion | None = None
) -> EntryCase:
    """Move a case under way to a newer rule version (default: the current one). Accepted steps
    stay accepted; new steps are added, steps no longer in the rules are cancelled."""
    permissions.require(acting, "entry_rules:manage")
    version = version or current_version(acting.user_id)
    case = (
        EntryCase.objects.select_for_update()
        .select_related("participant_role__participant", "rule_version")
        .get(pk=case.pk)
    )
    rules.case_is_open(case)
    if version.number <= case.rule_version.number:
        raise Conflict(
            "entry.version_not_newer",
            f"The case already follows rules v{case.rule_version.number}.",
        )
    before = case.rule_version.number
    case.rule_version = version
    case.final_review = version.content["roles"][case.participant_role.role]["final_review"]
    case.version += 1
    case.save()
    _audit(
        acting,
        "entry_case.rules_changed",
        case,
        before={"rules": before},
        after={"rules": version.number},
    )
    now = timezone.now()
    # Only requests not yet started are rebuilt; answers under review keep their place.
    _sync_requests_keeping_answers(case, now)
    _refresh(acting, case, now)
    return case


def _sync_requests_keeping_answers(case: EntryCase, now: dt.datetime) -> None:
    steps = ruleset.steps_for(
        case.rule_version.content, case.participant_role.role, case.participant_kind
    )
    existing = {r.step_key: r for r in case.requests.all()}
    wanted = {s["key"] for s in steps}
    for position, step in enumerate(steps):
        request = existing.get(step["key"])
        if request is None:
            InformationRequest.objects.create(
                case=case,
                step_key=step["key"],
                position=position,
                kind=step["kind"],
                title=step["title"],
                why=step["why"],
                definition=step,
                after=step["after"],
                reviewer=step["review"],
                required=step["required"],
                due_days=step["due_days"],
            )
        elif request.status in (Q.WAITING, Q.OPEN, Q.CANCELLED):
            request.definition = step
            request.title, request.why, request.after = step["title"], step["why"], step["after"]
            request.reviewer, request.required, request.due_days = (
                step["review"],
                step["required"],
                step["due_days"],
            )
            request.position = position
            if request.status == Q.CANCELLED:
                request.status = Q.WAITING
            request.updated_at = now
            request.save()
    for key, request in existing.items():
        if (
            key not in wanted
            and not key.startswith("adhoc-")
            and request.status in (Q.WAITING, Q.OPEN)
        ):
            request.status = Q.CANCELLED
            request.updated_at = now
            request.save(update_fields=["status", "updated_at"])


@transaction.atomic
def record_connectivity_test(acting: Acting, *, user_agent: str = "") -> ConnectivityTest:
    """The participant's own system called the API with its credentials: evidence for the
    API connectivity step of the acting role's case."""
    permissions.require(acting, "entry:answer")
    held = ParticipantRole.objects.get(participant_id=acting.participant_pk or 0, role=acting.role)
    call = ConnectivityTest.objects.create(
        participant_role=held, via=acting.via, user_agent=user_agent[:300]
    )
    runs = CheckRun.objects.filter(
        request__case__participant_role=held,
        check_name="api_connectivity",
        status__in=[CheckRun.Status.PENDING, CheckRun.Status.ERROR],
    ).values_list("pk", flat=True)
    for pk in list(runs):
        record_check_outcome(
            pk,
            CheckRun.Status.PASSED,
            {
                "detail": "Your system called the FlexReg API.",
                "called_at": call.called_at.isoformat(),
                "via": acting.via,
            },
        )
    return call


# --- reacting to participants (receivers call these, inside the sender's transaction) -------


def on_participant_verified(acting: Acting, participant_pk: int) -> None:
    """The participant is verified: its participant_verified checks pass."""
    runs = CheckRun.objects.filter(
        request__case__participant_role__participant_id=participant_pk,
        check_name="participant_verified",
        status__in=[CheckRun.Status.PENDING, CheckRun.Status.ERROR],
    ).values_list("pk", flat=True)
    for pk in list(runs):
        record_check_outcome(pk, CheckRun.Status.PASSED, {"detail": "The participant is verified."})


def on_role_ended(acting: Acting, held: ParticipantRole, reason: str) -> None:
    """The role (or the participant) was withdrawn: its case is withdrawn too."""
    case = EntryCase.objects.select_for_update().filter(participant_role=held).first()
    if case is None or case.status not in (*OPEN_CASE_STATES, C.QUALIFIED):
        return
    _move(acting, case, C.WITHDRAWN, reason or "The role was withdrawn.")
    _close_requests(case)


def on_role_rejected(acting: Acting, held: ParticipantRole, reason: str) -> None:
    """The role was rejected outside market entry (operator's role decision): close the case."""
    case = EntryCase.objects.select_for_update().filter(participant_role=held).first()
    if case is None or case.status not in OPEN_CASE_STATES:
        return
    _move(acting, case, C.REJECTED, reason or "The role was rejected.")
    _close_requests(case)


# --- rule additions (central operator) ------------------------------------------------------


def _invalid(exc: ruleset.RuleSetInvalid, prefix: str = "") -> ValidationFailed:
    from flexreg.core.errors import FieldError

    errors = []
    for problem in exc.problems:
        path, _, message = problem.partition(": ")
        errors.append(FieldError(prefix + path, "entry_rules.invalid", message or problem))
    return ValidationFailed(errors, detail="The rules are not valid: " + "; ".join(exc.problems))


@transaction.atomic
def add_rule_addition(
    acting: Acting, *, key: str, roles: list[str], step: dict[str, Any]
) -> tuple[RuleAddition, RuleSetVersion]:
    """Add a step to some roles' rules. Validated with the whole rule set; new cases follow the
    resulting version, cases under way keep theirs until moved."""
    permissions.require(acting, "entry_rules:manage")
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [_VERSION_LOCK])
    if RuleAddition.objects.filter(key=key, retired_at__isnull=True).exists():
        raise Conflict("entry_rules.key_taken", f"A live addition already uses the key {key!r}.")
    addition = RuleAddition.objects.create(
        key=key, roles=roles, step=step, created_by_id=acting.user_id
    )
    try:
        compile_current()
    except ruleset.RuleSetInvalid as exc:
        raise _invalid(exc) from exc
    audit.record(
        acting,
        "entry_rules.addition_added",
        object_type="entry_rule_addition",
        object_id=str(addition.public_id),
        after={"key": key, "roles": roles, "step": step},
    )
    return addition, current_version(acting.user_id)


@transaction.atomic
def retire_rule_addition(
    acting: Acting, addition: RuleAddition, reason: str
) -> tuple[RuleAddition, RuleSetVersion]:
    permissions.require(acting, "entry_rules:manage")
    rules.reason_given(reason)
    addition = RuleAddition.objects.select_for_update().get(pk=addition.pk)
    if addition.retired_at is not None:
        raise Conflict("entry_rules.already_retired", "This addition is already retired.")
    addition.retired_at = timezone.now()
    addition.retired_by_id = acting.user_id
    addition.save(update_fields=["retired_at", "retired_by"])
    audit.record(
        acting,
        "entry_rules.addition_retired",
        object_type="entry_rule_addition",
        object_id=str(addition.public_id),
        after={"key": addition.key, "reason": reason},
    )
    return addition, current_version(acting.user_id)


def validate_rules_text(text: str) -> tuple[dict[str, Any] | None, list[str]]:
    """Validate a whole rule file's text (for rule writers): (compiled, []) or (None, problems)."""
    try:
        return ruleset.compile_rules(ruleset.parse(text)), []
    except ruleset.RuleSetInvalid as exc:
        return None, exc.problems
