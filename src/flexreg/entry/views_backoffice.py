"""Portal pages of the central operator's back office for market entry (``/operator/entry/``).

Reading (queues, dashboard, cases) needs ``entry:read_all``; the actions need ``entry:review``
and go through the same services as the API. Views only translate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.shortcuts import render as _render
from django.views.decorators.http import require_POST

from flexreg.accounts.portal_auth import portal_requires
from flexreg.core.acting import Acting
from flexreg.core.errors import DomainError, ValidationFailed
from flexreg.entry import selectors_backoffice as selectors
from flexreg.entry import services, services_backoffice
from flexreg.entry.forms_backoffice import (
    AdHocRequestForm,
    AssignForm,
    CancelForm,
    DecisionForm,
    QueueFilterForm,
    ReviewForm,
    review_prefix,
)
from flexreg.entry.models import (
    OPEN_CASE_STATES,
    AnswerStatus,
    CaseStatus,
    EntryCase,
    InformationRequest,
    RequestStatus,
)

READ = selectors.READ
REVIEW = selectors.REVIEW
NAV = "entry"
HOME = "/operator/entry/"
KIND_LABELS = dict(selectors.KIND_CHOICES)

CASE_TAGS = {
    "not_started": "govuk-tag--grey",
    "in_progress": "govuk-tag--light-blue",
    "submitted": "govuk-tag--blue",
    "under_review": "govuk-tag--purple",
    "changes_requested": "govuk-tag--orange",
    "qualified": "govuk-tag--green",
    "rejected": "govuk-tag--red",
    "withdrawn": "govuk-tag--grey",
}
REQUEST_TAGS = {
    "waiting": "govuk-tag--grey",
    "open": "govuk-tag--light-blue",
    "checking": "govuk-tag--blue",
    "answered": "govuk-tag--purple",
    "accepted": "govuk-tag--green",
    "cancelled": "govuk-tag--grey",
}
ANSWER_TAGS = {
    "pending_review": "govuk-tag--purple",
    "accepted": "govuk-tag--green",
    "rejected": "govuk-tag--red",
    "superseded": "govuk-tag--grey",
}
AGEING_TAGS = {
    selectors.WITHIN: "govuk-tag--green",
    selectors.DUE_TODAY: "govuk-tag--yellow",
    selectors.BREACHED: "govuk-tag--red",
}


@dataclass(frozen=True)
class QueueSpec:
    title: str
    lead: str
    select: Callable[..., selectors.Page[Any]]
    actions: tuple[str, ...]
    empty: str


QUEUES = {
    "reviews": QueueSpec(
        "Information reviews",
        "Answers and failed external checks waiting for a review, oldest first.",
        selectors.review_queue,
        ("accept", "assign"),
        "There are no answers waiting for review.",
    ),
    "cases": QueueSpec(
        "Cases awaiting a decision",
        "Cases with every required step accepted, waiting for the final decision.",
        selectors.case_queue,
        ("assign",),
        "There are no cases waiting for a decision.",
    ),
    "escalations": QueueSpec(
        "Escalations",
        "Overdue requests escalated to the central operator and still not answered.",
        selectors.escalation_queue,
        ("assign",),
        "There are no escalated requests.",
    ),
}


SUBNAV = [
    ("/operator/entry/", "overview", "Queues"),
    ("/operator/entry/queues/reviews/", "reviews", "Information reviews"),
    ("/operator/entry/queues/cases/", "cases", "Cases awaiting a decision"),
    ("/operator/entry/queues/escalations/", "escalations", "Escalations"),
    ("/operator/verifications/", "verifications", "Verification reviews"),
    ("/operator/entry/cases/", "all-cases", "All cases"),
    ("/operator/entry/dashboard/", "dashboard", "Dashboard"),
]


def render(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    acting = _acting(request)
    subnav = [
        item for item in SUBNAV if item[1] != "verifications" or acting.has("verification:review")
    ]
    return _render(request, template, {"subnav": subnav, "nav": NAV, **context}, status=status)


def _acting(request: HttpRequest) -> Acting:
    return request.acting  # type: ignore[attr-defined]


def _tag(value: str, tags: dict[str, str], label: str) -> dict[str, str]:
    return {"value": value, "label": label, "class": tags.get(value, "govuk-tag--grey")}


def _ageing(a: selectors.Ageing) -> dict[str, Any]:
    return {
        "ageing": a,
        "tag": _tag(a.status, AGEING_TAGS, a.label),
        "text": f"{a.working_days} of {a.sla_working_days} working day"
        f"{'' if a.sla_working_days == 1 else 's'}",
    }


def _case_url(case: EntryCase) -> str:
    return f"/operator/entry/cases/{case.public_id}/"


# --- overview and queues --------------------------------------------------------------------


@portal_requires(READ)
def overview(request: HttpRequest) -> HttpResponse:
    acting = _acting(request)
    return render(
        request,
        "entry/backoffice/overview.html",
        {"queues": selectors.queue_counts(acting), "nav": NAV},
    )


def _rows(queue: str, page: selectors.Page[Any]) -> list[dict[str, Any]]:
    rows = []
    for item in page.items:
        case = item.case
        held = case.participant_role
        row: dict[str, Any] = {
            "participant": held.participant,
            "role": held.role,
            "kind": KIND_LABELS.get(case.participant_kind, case.participant_kind),
            "case_url": _case_url(case),
            "age": _ageing(item.ageing),
        }
        if queue == "reviews":
            row.update(
                id=item.answer.public_id,
                title=item.request.title,
                check_failed=item.check_failed,
                document=item.answer.document,
                submitted_at=item.answer.submitted_at,
                assignee=item.assignee,
            )
        elif queue == "cases":
            row.update(
                id=case.public_id,
                title="Final decision",
                status=_tag(case.status, CASE_TAGS, case.get_status_display()),
                assignee=case.assigned_to,
            )
        else:
            row.update(
                id=item.request.public_id,
                title=item.request.title,
                due_at=item.request.due_at,
                escalated_at=item.request.escalated_at,
                assignee=item.assignee,
            )
        rows.append(row)
    return rows


@portal_requires(READ)
def queue(request: HttpRequest, queue: str) -> HttpResponse:
    acting = _acting(request)
    spec = QUEUES[queue]
    reviewers = selectors.reviewers()
    form = QueueFilterForm(request.GET, reviewers=reviewers)
    filters = form.filters()
    cursor = request.GET.get("cursor") or None
    select = spec.select
    try:
        page = select(acting, filters, cursor=cursor)
    except ValidationFailed:  # a stale or edited page link: start again
        cursor = None
        page = select(acting, filters)
    return render(
        request,
        "entry/backoffice/queue.html",
        {
            "queue": queue,
            "spec": spec,
            "form": form,
            "rows": _rows(queue, page),
            "total": page.total,
            "next_url": f"?{form.query(cursor=page.next_cursor)}" if page.next_cursor else "",
            "first_url": f"?{form.query()}" if cursor else "",
            "can_act": acting.has(REVIEW),
            "reviewers": reviewers,
            "filters_query": form.query(),
            "nav": NAV,
        },
    )


@portal_requires(REVIEW)
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    """A bulk action from a queue: accept the chosen answers, or assign the chosen items."""
    acting = _acting(request)
    queue = request.POST.get("queue", "")
    action = request.POST.get("action", "")
    ids = [i for i in request.POST.getlist("item") if i]
    back = f"/operator/entry/queues/{queue}/" if queue in QUEUES else HOME
    filters = _filters_query(request.POST.get("filters", ""))
    errors: list[dict[str, str]] = []
    results: list[services_backoffice.ItemResult] = []
    if queue not in QUEUES or action not in QUEUES[queue].actions:
        errors.append({"href": "#results", "text": "Choose an action from the queue"})
    elif not ids:
        errors.append({"href": "#results", "text": "Select at least one item"})
    else:
        try:
            if action == "accept":
                results = services_backoffice.bulk_review(acting, ids, "accept")
            else:
                results = _bulk_assign(acting, queue, ids, request.POST.get("assignee"))
        except DomainError as exc:
            if exc.status in (401, 403, 404):
                raise
            text = exc.errors[0].message if exc.errors else exc.detail
            errors.append({"href": "#results", "text": text})
    if not errors and all(r.ok for r in results):
        verb = "Accepted" if action == "accept" else "Assigned"
        messages.success(request, f"{verb} {len(results)} item{'s' if len(results) != 1 else ''}")
        return redirect(f"{back}?{filters}" if filters else back)
    labels = selectors.item_labels([(r.kind, r.id) for r in results])
    return render(
        request,
        "entry/backoffice/bulk_result.html",
        {
            "errors": errors,
            "back": f"{back}?{filters}" if filters else back,
            "title": QUEUES[queue].title if queue in QUEUES else "Queues",
            "succeeded": [labels.get(r.id, r.id) for r in results if r.ok],
            "failed": [
                {"label": labels.get(r.id, r.id), "code": r.code, "detail": r.detail}
                for r in results
                if not r.ok
            ],
            "nav": NAV,
        },
        status=422 if errors else 200,
    )


def _filters_query(raw: str) -> str:
    """The queue's filters to return to, rebuilt from the known keys only."""
    from django.http import QueryDict

    given = QueryDict(raw[:2000])
    kept = QueryDict(mutable=True)
    for key in ("role", "kind", "assigned", "overdue", "q"):
        if given.get(key):
            kept[key] = given[key][:200]
    return kept.urlencode()


def _bulk_assign(
    acting: Acting, queue: str, ids: list[str], assignee: str | None
) -> list[services_backoffice.ItemResult]:
    if queue == "cases":
        targets = [services_backoffice.Target("case", i) for i in ids]
    elif queue == "escalations":
        targets = [services_backoffice.Target("request", i) for i in ids]
    else:  # reviews: assign the requests the chosen answers belong to
        of_answer = selectors.requests_of_answers(acting, ids)
        targets = [services_backoffice.Target("request", of_answer.get(i, i)) for i in ids]
    return services_backoffice.bulk_assign(acting, targets, assignee)


# --- dashboard and case list ----------------------------------------------------------------


@portal_requires(READ)
def dashboard(request: HttpRequest) -> HttpResponse:
    acting = _acting(request)
    figures = selectors.dashboard(acting)
    return render(
        request,
        "entry/backoffice/dashboard.html",
        {"d": figures, "nav": NAV},
    )


@portal_requires(READ)
def cases(request: HttpRequest) -> HttpResponse:
    acting = _acting(request)
    reviewers = selectors.reviewers()
    form = QueueFilterForm(request.GET, reviewers=reviewers, with_status=True)
    filters = form.filters()
    cursor = request.GET.get("cursor") or None
    try:
        page = selectors.case_list(acting, filters, cursor=cursor)
    except ValidationFailed:
        cursor = None
        page = selectors.case_list(acting, filters)
    rows = [
        {
            "case": c,
            "participant": c.participant_role.participant,
            "role": c.participant_role.role,
            "url": _case_url(c),
            "tag": _tag(c.status, CASE_TAGS, c.get_status_display()),
        }
        for c in page.items
    ]
    return render(
        request,
        "entry/backoffice/cases.html",
        {
            "form": form,
            "rows": rows,
            "total": page.total,
            "next_url": f"?{form.query(cursor=page.next_cursor)}" if page.next_cursor else "",
            "first_url": f"?{form.query()}" if cursor else "",
            "nav": NAV,
        },
    )


# --- one case -------------------------------------------------------------------------------


def _form_rows(request: InformationRequest, data: dict[str, Any]) -> list[dict[str, Any]]:
    labels = {
        f.get("name"): f.get("label", f.get("name")) for f in request.definition.get("fields", [])
    }
    return [{"label": labels.get(k, k), "value": v} for k, v in data.items()]


def _case_context(
    request: HttpRequest,
    case: EntryCase,
    *,
    decision_form: DecisionForm | None = None,
    review_forms: dict[int, ReviewForm] | None = None,
    assign_form: AssignForm | None = None,
) -> dict[str, Any]:
    acting = _acting(request)
    can_act = acting.has(REVIEW)
    is_open = case.status in OPEN_CASE_STATES
    level = selectors.service_level_of(case.rule_version.content)
    review_forms = review_forms or {}
    requests = []
    for r in case.requests.all():
        answers = []
        for a in r.answers.all():
            pending = a.status == AnswerStatus.PENDING_REVIEW and r.status == RequestStatus.ANSWERED
            answers.append(
                {
                    "answer": a,
                    "tag": _tag(a.status, ANSWER_TAGS, a.get_status_display()),
                    "form_rows": _form_rows(r, a.form_data),
                    "check": a.check_outcome,
                    "pending": pending,
                    "age": _ageing(selectors.ageing(a.submitted_at, level)) if pending else None,
                    "review_form": (
                        review_forms.get(a.pk) or ReviewForm(prefix=review_prefix(a))
                        if pending and can_act and (is_open or case.status == CaseStatus.QUALIFIED)
                        else None
                    ),
                }
            )
        requests.append(
            {
                "request": r,
                "tag": _tag(r.status, REQUEST_TAGS, r.get_status_display()),
                "answers": answers,
                "checks": list(r.checks.all()),
                "ad_hoc": r.raised_by_id is not None,
                "can_cancel": can_act
                and r.raised_by_id is not None
                and r.status not in (RequestStatus.ACCEPTED, RequestStatus.CANCELLED),
            }
        )
    if can_act and assign_form is None:
        assign_form = AssignForm(
            reviewers=selectors.reviewers(),
            initial={"assignee": case.assigned_to.email if case.assigned_to else "unassigned"},
        )
    held = case.participant_role
    return {
        "case": case,
        "participant": held.participant,
        "role": held.role,
        "kind": KIND_LABELS.get(case.participant_kind, case.participant_kind),
        "status": _tag(case.status, CASE_TAGS, case.get_status_display()),
        "requests": requests,
        "awaiting_decision": selectors.awaiting_decision(case),
        "can_act": can_act,
        "is_open": is_open,
        "can_raise": can_act and (is_open or case.status == CaseStatus.QUALIFIED),
        "decision_form": (decision_form or DecisionForm()) if can_act and is_open else None,
        "assign_form": assign_form,
        "errors": [
            *(decision_form.error_summary() if decision_form else []),
            *(assign_form.error_summary() if assign_form else []),
        ],
        "nav": NAV,
    }


@portal_requires(READ)
def case_detail(request: HttpRequest, case_id: str) -> HttpResponse:
    case = selectors.case_detail(_acting(request), case_id)
    return render(request, "entry/backoffice/case.html", _case_context(request, case))


def _back_to(case: EntryCase, message: str, request: HttpRequest) -> HttpResponse:
    messages.success(request, message)
    return redirect(_case_url(case))


@portal_requires(REVIEW)
def decide(request: HttpRequest, case_id: str) -> HttpResponse:
    acting = _acting(request)
    case = selectors.case_detail(acting, case_id)
    if request.method != "POST":
        return redirect(_case_url(case) + "#decision")
    form = DecisionForm(request.POST)
    if form.is_valid() and form.checked is not None:
        try:
            services.decide_case(acting, case, form.checked.decision, form.checked.reason)
        except DomainError as exc:
            if exc.status in (401, 403, 404):
                raise
            form.add_domain_error(exc, "decision")
        else:
            verb = "Qualified" if form.checked.decision == "qualify" else "Rejected"
            held = case.participant_role
            return _back_to(case, f"{verb}: {held.participant.legal_name} ({held.role})", request)
    return render(
        request, "entry/backoffice/case.html", _case_context(request, case, decision_form=form)
    )


@portal_requires(REVIEW)
@require_POST
def assign_case(request: HttpRequest, case_id: str) -> HttpResponse:
    acting = _acting(request)
    case = selectors.case_of(acting, case_id)
    reviewers = selectors.reviewers()
    form = AssignForm(request.POST, reviewers=reviewers)
    if form.is_valid() and form.cleaned_data.get("assignee"):
        assignee = form.cleaned_data["assignee"]
        try:
            services_backoffice.assign(acting, case=case, assignee=assignee)
        except ValidationFailed as exc:
            form.add_domain_error(exc, "assignee")
        else:
            who = next((u.full_name or u.email for u in reviewers if u.email == assignee), "nobody")
            return _back_to(case, f"Assigned to {who}", request)
    elif not form.has_error("assignee"):
        form.add_error("assignee", "Select a reviewer")
    detail = selectors.case_detail(acting, case_id)
    return render(
        request,
        "entry/backoffice/case.html",
        _case_context(request, detail, assign_form=form),
        status=422,
    )


@portal_requires(REVIEW)
def review(request: HttpRequest, answer_id: str) -> HttpResponse:
    acting = _acting(request)
    answer = selectors.answer_of_case(acting, answer_id)
    case_id = answer.request.case.public_id
    if request.method != "POST":
        return redirect(f"/operator/entry/cases/{case_id}/#answer-{answer.public_id}")
    form = ReviewForm(request.POST, prefix=review_prefix(answer))
    if form.is_valid() and form.checked is not None:
        try:
            services.review_answer(acting, answer, form.checked.decision, form.checked.reason)
        except DomainError as exc:
            if exc.status in (401, 403, 404):
                raise
            form.add_domain_error(exc, "decision")
        else:
            verb = "Accepted" if form.checked.decision == "accept" else "Rejected"
            return _back_to(answer.request.case, f"{verb}: {answer.request.title}", request)
    case = selectors.case_detail(acting, case_id)
    context = _case_context(request, case, review_forms={answer.pk: form})
    context["errors"] = form.error_summary()
    return render(request, "entry/backoffice/case.html", context)


@portal_requires(REVIEW)
def new_request(request: HttpRequest, case_id: str) -> HttpResponse:
    acting = _acting(request)
    case = selectors.case_of(acting, case_id)
    if request.method == "POST":
        form = AdHocRequestForm(request.POST)
        if form.is_valid() and form.checked is not None:
            data = form.checked
            try:
                services.raise_request(
                    acting,
                    case,
                    title=data.title,
                    why=data.why,
                    kind=data.kind,
                    due_days=data.due_days,
                )
            except DomainError as exc:
                if exc.status in (401, 403, 404):
                    raise
                form.add_domain_error(exc, "title")
            else:
                return _back_to(case, f"Request raised: {data.title}", request)
    else:
        form = AdHocRequestForm()
    return render(
        request,
        "entry/backoffice/new_request.html",
        {
            "case": case,
            "participant": case.participant_role.participant,
            "role": case.participant_role.role,
            "form": form,
            "errors": form.error_summary(),
            "nav": NAV,
        },
    )


@portal_requires(REVIEW)
def cancel_request(request: HttpRequest, request_id: str) -> HttpResponse:
    acting = _acting(request)
    info = selectors.request_of_case(acting, request_id)
    case = info.case
    if request.method == "POST":
        form = CancelForm(request.POST)
        if form.is_valid() and form.checked is not None:
            try:
                services.cancel_request(acting, info, form.checked.reason)
            except DomainError as exc:
                if exc.status in (401, 403, 404):
                    raise
                form.add_domain_error(exc, "reason")
            else:
                return _back_to(case, f"Request cancelled: {info.title}", request)
    else:
        form = CancelForm()
    return render(
        request,
        "entry/backoffice/cancel_request.html",
        {
            "case": case,
            "info": info,
            "participant": case.participant_role.participant,
            "form": form,
            "errors": form.error_summary(),
            "nav": NAV,
        },
    )
