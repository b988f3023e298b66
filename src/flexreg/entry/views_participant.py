"""Portal pages for participants' market entry: the overview of their roles' cases, each case's
GOV.UK task list, and each step's page with its answer form and full history.

Which membership a page acts for: the URL names a participant role, so a user who belongs to
several participant roles opens each one's pages without switching first. These pages act for
the user's own membership of that participant role (for reading and answering; its own
permissions apply, ``entry:answer`` to answer); with none, the session's acting membership
stays and the selectors answer "not found". The central operator (``entry:read_all``) reads
every case here but answers nothing.

Views only translate: selectors read, ``entry.services.answer`` (and
``entry.services_documents.upload`` for files) write, errors become error summaries.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from flexreg.accounts.acting import acting_for, usable_memberships
from flexreg.accounts.portal_auth import portal_requires
from flexreg.core.acting import Acting
from flexreg.core.errors import DomainError, NotFound, ValidationFailed
from flexreg.core.roles import ROLES
from flexreg.entry import answers as answer_rules
from flexreg.entry import rules, selectors, services, services_documents
from flexreg.entry.forms import ERROR_ANCHOR, AnswerForm, answerable_by_form
from flexreg.entry.models import (
    OPEN_CASE_STATES,
    Answer,
    AnswerStatus,
    CaseStatus,
    CheckRun,
    Document,
    EntryCase,
    InformationRequest,
    RequestStatus,
    StepKind,
)

F = TypeVar("F", bound=Callable[..., Any])

# Task-list statuses (GOV.UK Frontend v6 task list): "Completed" and "Cannot start yet" are
# plain text, the others tags. v6 has no light-blue tag: "In progress" is teal, so it reads
# apart from the default blue of "Not started".
TASK_TAGS = {
    selectors.NOT_STARTED: "govuk-tag--blue",
    selectors.IN_PROGRESS: "govuk-tag--teal",
    selectors.ACTION_NEEDED: "govuk-tag--red",
}
CASE_TAGS = {
    CaseStatus.NOT_STARTED: "govuk-tag--grey",
    CaseStatus.IN_PROGRESS: "govuk-tag--blue",
    CaseStatus.SUBMITTED: "govuk-tag--teal",
    CaseStatus.UNDER_REVIEW: "govuk-tag--purple",
    CaseStatus.CHANGES_REQUESTED: "govuk-tag--orange",
    CaseStatus.QUALIFIED: "govuk-tag--green",
    CaseStatus.REJECTED: "govuk-tag--red",
    CaseStatus.WITHDRAWN: "govuk-tag--grey",
}
CASE_EXPLAINED = {
    CaseStatus.NOT_STARTED: "You have not started the steps for this role yet.",
    CaseStatus.IN_PROGRESS: "Some steps are done. Complete the rest to send your application.",
    CaseStatus.SUBMITTED: "You have sent everything we asked for. The central operator will "
    "review it.",
    CaseStatus.UNDER_REVIEW: "The central operator is reviewing your application.",
    CaseStatus.CHANGES_REQUESTED: "The central operator needs something more from you.",
    CaseStatus.QUALIFIED: "This role is qualified: you can take part in the market with it.",
    CaseStatus.REJECTED: "This application was not accepted.",
    CaseStatus.WITHDRAWN: "This application was withdrawn.",
}
ANSWER_TAGS = {
    AnswerStatus.PENDING_REVIEW: ("govuk-tag--blue", "Waiting for review"),
    AnswerStatus.ACCEPTED: ("govuk-tag--green", "Accepted"),
    AnswerStatus.REJECTED: ("govuk-tag--red", "Not accepted"),
    AnswerStatus.SUPERSEDED: ("govuk-tag--grey", "Replaced by a newer answer"),
}
CHECK_EXPLAINED = {
    "participant_verified": "We check this ourselves: this step is complete as soon as your "
    "organisation is verified (against Companies House and a director's declaration, or by the "
    "central operator) or, for a private individual, your identity is proven.",
    "companies_house_status": "We check that the company is still active on the Companies "
    "House register. There is nothing for you to do.",
    "eic_register": "We check the code against ENTSO-E's published lists of approved codes: it "
    "must exist, be active, be a party code (X type) and be held under your organisation's name. "
    "If it does not match, the central operator reviews it.",
    "api_connectivity": "This step is complete when one of your own systems calls the FlexReg "
    "API with its own credentials.",
}
CONNECTIVITY_PATH = "/api/v1/entry/connectivity-test"


def _acting(request: HttpRequest) -> Acting:
    return request.acting  # type: ignore[attr-defined]


def _norm(value: str | None) -> str:
    return (value or "").strip().upper()


def page_acting(request: HttpRequest, participant_id: str, role: str | None) -> Acting:
    """The membership these pages act for (see the module's docstring)."""
    acting = _acting(request)
    wanted, wanted_role = _norm(participant_id), _norm(role)
    if acting.has("entry:read_all"):
        return acting
    if acting.participant_id == wanted and (not wanted_role or acting.role == wanted_role):
        return acting
    for membership in usable_memberships(request.user):  # type: ignore[arg-type]
        held = membership.participant_role
        if held.participant.participant_id == wanted and (
            not wanted_role or held.role == wanted_role
        ):
            return acting_for(request.user, membership, via="session")  # type: ignore[arg-type]
    return acting


def acts_for_url_role(view: F) -> F:
    """Outermost decorator: set ``request.acting`` from the URL's participant role before
    ``portal_requires`` checks its permission."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            request.acting = page_acting(  # type: ignore[attr-defined]
                request, kwargs.get("participant_id", ""), kwargs.get("role")
            )
        return view(request, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


# --- shaping for the templates ----------------------------------------------------------------


def _role_name(code: str) -> str:
    role = ROLES.get(code)
    return role.name if role else code


def _task_url(case: EntryCase) -> str:
    held = case.participant_role
    return f"/participants/{held.participant.participant_id}/entry/{held.role}/"


def _step_url(case: EntryCase, request: InformationRequest) -> str:
    return f"{_task_url(case)}requests/{request.public_id}/"


def _case_view(case: EntryCase) -> dict[str, Any]:
    status = CaseStatus(case.status)
    return {
        "status": status.value,
        "label": status.label,
        "tag": CASE_TAGS.get(status, "govuk-tag--grey"),
        "explained": CASE_EXPLAINED.get(status, ""),
        "reason": case.status_reason if status in (CaseStatus.REJECTED,) else "",
    }


def _task(case: EntryCase, req: InformationRequest, titles: dict[str, str]) -> dict[str, Any]:
    status = selectors.task_status(req)
    now = timezone.now()
    hints: list[str] = []
    if status == selectors.CANNOT_START:
        waiting_for = [titles[k] for k in req.after if k in titles]
        if waiting_for:
            hints.append("You can start this after: " + "; ".join(waiting_for))
    elif status == selectors.ACTION_NEEDED:
        hints.append(
            "Your answer was not accepted: look at the reason and answer again"
            if req.last_rejection_reason
            else "The central operator asked for this"
        )
    elif req.status == RequestStatus.ANSWERED:
        hints.append(
            "Waiting for the central operator"
            if req.kind == StepKind.REVIEW
            else "Waiting for review by the central operator"
        )
    elif req.status == RequestStatus.CHECKING:
        hints.append(
            "Waiting for your system to call the FlexReg API"
            if req.definition.get("check") == "api_connectivity"
            else "We are checking this"
        )
    if req.status == RequestStatus.OPEN and req.due_at:
        due = timezone.localtime(req.due_at).strftime("%-d %B %Y")
        hints.append(f"Overdue: it was due by {due}" if req.due_at < now else f"Due by {due}")
    return {
        "title": req.title,
        "href": None if status == selectors.CANNOT_START else _step_url(case, req),
        "status": status,
        "label": selectors.TASK_LABELS[status],
        "tag": TASK_TAGS.get(status, ""),
        "hint": ". ".join(hints),
        "key": req.step_key,
    }


def _tasks(case: EntryCase) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rules' steps and the operator's ad hoc requests, as task-list items."""
    requests = list(case.requests.all())
    titles = {r.step_key: r.title for r in requests if r.status != RequestStatus.ACCEPTED}
    steps = [_task(case, r, titles) for r in requests if r.raised_by_id is None]
    adhoc = [_task(case, r, titles) for r in requests if r.raised_by_id is not None]
    return steps, adhoc


def _next_step(case: EntryCase) -> dict[str, Any]:
    found = selectors.next_step(case)
    return {
        "text": found.text,
        "href": _step_url(case, found.request) if found.request is not None else "",
        "action_needed": found.request is not None
        and selectors.task_status(found.request) == selectors.ACTION_NEEDED,
    }


def _who(answer: Answer) -> str:
    user = answer.submitted_by
    if user is None:
        return "FlexReg (automatic check)" if answer.check_outcome else "FlexReg"
    return str(getattr(user, "full_name", "") or getattr(user, "email", ""))


def _document_view(document: Document) -> dict[str, Any]:
    scan = Document.Scan(document.scan_status)
    return {
        "name": document.original_name,
        "href": f"/documents/{document.public_id}/",
        "size": document.size,
        "scan": scan.label,
        "downloadable": scan == Document.Scan.CLEAN,  # handed out only once clean
    }


def _history(req: InformationRequest) -> list[dict[str, Any]]:
    labels = {f["name"]: f["label"] for f in req.definition.get("fields", [])}
    rows = []
    for answer in selectors.history(req):
        tag, label = ANSWER_TAGS.get(AnswerStatus(answer.status), ("govuk-tag--grey", ""))
        if (
            req.kind == StepKind.CHECK
            and not answer.check_outcome
            and answer.status == AnswerStatus.SUPERSEDED
        ):
            tag, label = "govuk-tag--grey", "Sent for checking"
        outcome = dict(answer.check_outcome or {})
        if outcome:
            passed = outcome.get("status") == CheckRun.Status.PASSED
            tag = "govuk-tag--green" if passed else tag
            label = "Check passed" if passed else label
            if not passed and answer.status == AnswerStatus.PENDING_REVIEW:
                tag, label = "govuk-tag--yellow", "Check did not pass: with the central operator"
        fields = []
        for name, value in (answer.form_data or {}).items():
            shown = "Confirmed" if value is True else str(value)
            fields.append({"label": labels.get(name, name), "value": shown})
        rows.append(
            {
                "id": str(answer.public_id),
                "submitted_at": answer.submitted_at,
                "by": _who(answer),
                "tag": tag,
                "label": label,
                "text": answer.text,
                "fields": fields,
                "document": _document_view(answer.document) if answer.document else None,
                "check_detail": str(outcome.get("detail", "")),
                "reviewed_at": answer.reviewed_at,
                "reviewed_by": "The central operator" if answer.reviewed_by_id else "",
                "reason": answer.review_reason,
            }
        )
    return rows


def _latest_check(req: InformationRequest) -> dict[str, Any] | None:
    if req.kind != StepKind.CHECK or req.status != RequestStatus.CHECKING:
        return None
    run = req.checks.order_by("-created_at", "-pk").first()
    if run is None:
        return None
    if run.status == CheckRun.Status.ERROR:
        text = (
            "The service we check against could not be reached. We will try again "
            "automatically: there is nothing for you to do."
        )
    elif run.check_name == "api_connectivity":
        text = "Waiting for one of your systems to call the FlexReg API."
    else:
        text = "The check is running. We will tell you its outcome."
    return {"text": text, "status": run.status}


def _can_answer(acting: Acting, case: EntryCase, req: InformationRequest) -> bool:
    held = case.participant_role
    if not (acting.has("entry:answer") and acting.participant_pk == held.participant_id):
        return False
    if acting.role != held.role or not answerable_by_form(req):
        return False
    if case.status not in OPEN_CASE_STATES and not (
        case.status == CaseStatus.QUALIFIED and req.raised_by_id is not None
    ):
        return False
    return req.status in (RequestStatus.OPEN, RequestStatus.ANSWERED)


def _request_of(
    acting: Acting, participant_id: str, role: str, request_id: str
) -> InformationRequest:
    """The request, if it belongs to the case the URL names (else not found)."""
    req = selectors.request_for(acting, request_id)
    held = req.case.participant_role
    if held.participant.participant_id != _norm(participant_id) or held.role != _norm(role):
        raise NotFound("No such information request.")
    if req.status == RequestStatus.CANCELLED:
        raise NotFound("This request was withdrawn.")
    return req


# --- pages ------------------------------------------------------------------------------------


@acts_for_url_role
@portal_requires("entry:read")
def overview(request: HttpRequest, participant_id: str) -> HttpResponse:
    """The participant's market entry: one card per role the user may see."""
    acting = _acting(request)
    wanted = _norm(participant_id)
    cases: list[EntryCase] = []
    without_case: list[str] = []
    if acting.has("entry:read_all"):
        cases = list(
            selectors.cases_for(acting)
            .filter(participant_role__participant__participant_id=wanted)
            .order_by("participant_role__role")
        )
    else:
        for membership in usable_memberships(request.user):  # type: ignore[arg-type]
            held = membership.participant_role
            if held.participant.participant_id != wanted:
                continue
            as_member = acting_for(request.user, membership, via="session")  # type: ignore[arg-type]
            if not as_member.has("entry:read"):
                continue
            try:
                cases.append(selectors.case_for(as_member, wanted, held.role))
            except NotFound:
                without_case.append(held.role)
    if not cases and not without_case:
        raise NotFound("No market entry for this participant that you may see.")
    cards = []
    for case in cases:
        requests = [r for r in case.requests.all() if r.required]
        cards.append(
            {
                "role": case.participant_role.role,
                "role_name": _role_name(case.participant_role.role),
                "href": _task_url(case),
                "case": _case_view(case),
                "done": sum(1 for r in requests if r.status == RequestStatus.ACCEPTED),
                "total": len(requests),
                "next": _next_step(case),
            }
        )
    name = cases[0].participant_role.participant.legal_name if cases else wanted
    return render(
        request,
        "entry/participant/overview.html",
        {
            "participant_id": wanted,
            "participant_name": name,
            "cards": cards,
            "without_case": [{"code": r, "name": _role_name(r)} for r in without_case],
            "nav": "participants",
        },
    )


@acts_for_url_role
@portal_requires("entry:read")
def task_list(request: HttpRequest, participant_id: str, role: str) -> HttpResponse:
    """One role's case as a GOV.UK task list, with its next step."""
    acting = _acting(request)
    case = selectors.case_for(acting, _norm(participant_id), _norm(role))
    steps, adhoc = _tasks(case)
    required = [r for r in case.requests.all() if r.required]
    return render(
        request,
        "entry/participant/task_list.html",
        {
            "case": case,
            "participant": case.participant_role.participant,
            "role": case.participant_role.role,
            "role_name": _role_name(case.participant_role.role),
            "status": _case_view(case),
            "steps": steps,
            "adhoc": adhoc,
            "done": sum(1 for r in required if r.status == RequestStatus.ACCEPTED),
            "total": len(required),
            "next": _next_step(case),
            "overview_url": f"/participants/{case.participant_role.participant.participant_id}"
            "/entry/",
            "nav": "participants",
        },
    )


def _step_page(
    request: HttpRequest,
    acting: Acting,
    req: InformationRequest,
    form: AnswerForm | None = None,
    status: int = 200,
) -> HttpResponse:
    case = req.case
    task = _task(case, req, {})
    can_answer = _can_answer(acting, case, req)
    if form is None and can_answer:
        form = AnswerForm(req)
    check = req.definition.get("check", "") if req.kind == StepKind.CHECK else ""
    return render(
        request,
        "entry/participant/step.html",
        {
            "case": case,
            "req": req,
            "participant": case.participant_role.participant,
            "role": case.participant_role.role,
            "role_name": _role_name(case.participant_role.role),
            "task": task,
            "task_list_url": _task_url(case),
            "action_url": f"{_step_url(case, req)}answer/",
            "form": form if can_answer else None,
            "errors": form.error_summary() if form is not None and form.is_bound else [],
            "replacing": req.status == RequestStatus.ANSWERED,
            "overdue": bool(
                req.status == RequestStatus.OPEN and req.due_at and req.due_at < timezone.now()
            ),
            "rejection": req.last_rejection_reason
            if req.status == RequestStatus.OPEN and req.last_rejection_reason
            else "",
            "check": check,
            "check_explained": CHECK_EXPLAINED.get(check, ""),
            "check_now": _latest_check(req),
            "connectivity_url": request.build_absolute_uri(CONNECTIVITY_PATH),
            "history": _history(req),
            "answer_anchor": ERROR_ANCHOR,
            "nav": "participants",
        },
        status=status,
    )


@acts_for_url_role
@portal_requires("entry:read")
def step(request: HttpRequest, participant_id: str, role: str, request_id: str) -> HttpResponse:
    """One step: what is needed and why, the answer form, and every answer so far."""
    acting = _acting(request)
    return _step_page(request, acting, _request_of(acting, participant_id, role, request_id))


def _sent_message(answer: Answer, req: InformationRequest) -> str:
    if req.kind == StepKind.CHECK:
        return f"Thank you. We are checking your answer to “{req.title}”"
    if answer.status == AnswerStatus.ACCEPTED:
        return f"“{req.title}” is complete"
    return f"Your answer to “{req.title}” was sent for review"


@acts_for_url_role
@portal_requires("entry:answer")
@require_POST
def answer(request: HttpRequest, participant_id: str, role: str, request_id: str) -> HttpResponse:
    """Answer a step: a file, a text or a form. Errors re-render the step with a summary."""
    acting = _acting(request)
    req = _request_of(acting, participant_id, role, request_id)
    form = AnswerForm(req, request.POST, request.FILES)
    try:
        if req.kind == StepKind.DOCUMENT:
            rules.request_answerable(req.status)  # say so before asking for the file
            uploaded = form.uploaded()
            if uploaded is None:
                return _step_page(request, acting, req, form)
            sent = services_documents.answer_with_upload(acting, req, uploaded)
        elif req.kind == StepKind.TEXT:
            sent = services.answer(acting, req, text=form.text())
        else:
            values = form.form_data()
            if form.has_errors():  # a date in parts: still show every other field's problem
                _, problems = answer_rules.clean_form(req.definition, values)
                if problems:
                    form.add_error(ValidationFailed(problems))
                return _step_page(request, acting, req, form)
            sent = services.answer(acting, req, form_data=values)
    except DomainError as exc:
        if exc.status in (401, 403, 404):
            raise
        form.add_error(exc)
        req = _request_of(acting, participant_id, role, request_id)  # its state may have moved
        return _step_page(
            request, acting, req, form, status=200 if isinstance(exc, ValidationFailed) else 409
        )
    messages.success(request, _sent_message(sent, req))
    return redirect(_task_url(req.case))
