"""API: Central operator: market entry (``/api/v1/operator/entry``).

Queues, the dashboard, the case list and detail read with ``entry:read_all`` (the central
operator and oversight roles); reviews, decisions, requests and assignment need
``entry:review``. Translate only: parse, call a selector or a service, return a schema.
"""

from django.http import HttpRequest
from ninja import Query, Router, Status

from flexreg.accounts.api_auth import requires
from flexreg.core.acting import acting_of
from flexreg.entry import selectors_backoffice as selectors
from flexreg.entry import services, services_backoffice
from flexreg.entry.schemas_backoffice import (
    AdHocRequestIn,
    AnswerReviewIn,
    AssignmentsIn,
    BulkResultOut,
    BulkReviewIn,
    CancelIn,
    CaseDetailOut,
    CaseFilters,
    CasePage,
    CaseQueuePage,
    DashboardOut,
    DecisionIn,
    EscalationPage,
    OperatorAnswerOut,
    OperatorRequestOut,
    QueueFilters,
    QueuesOut,
    ReviewPage,
    answer_out,
    bulk_out,
    case_detail_out,
    case_item_out,
    case_summary_out,
    dashboard_out,
    escalation_item_out,
    queues_out,
    request_out,
    review_item_out,
)

router = Router(tags=["Central operator: market entry"])

READ = selectors.READ
REVIEW = selectors.REVIEW


# --- queues ----------------------------------------------------------------------------------


@router.get("/queues", response=QueuesOut, summary="The queues at a glance")
@requires(READ)
def queues(request: HttpRequest) -> QueuesOut:
    return queues_out(selectors.queue_counts(acting_of(request)))


@router.get("/queues/reviews", response=ReviewPage, summary="Answers waiting for review")
@requires(READ)
def review_queue(request: HttpRequest, filters: Query[QueueFilters]) -> ReviewPage:
    page = selectors.review_queue(
        acting_of(request), filters.filters(), cursor=filters.cursor, limit=filters.limit
    )
    return ReviewPage(
        items=[review_item_out(i) for i in page.items],
        next_cursor=page.next_cursor,
        total=page.total,
    )


@router.get("/queues/cases", response=CaseQueuePage, summary="Cases waiting for the final decision")
@requires(READ)
def case_queue(request: HttpRequest, filters: Query[QueueFilters]) -> CaseQueuePage:
    page = selectors.case_queue(
        acting_of(request), filters.filters(), cursor=filters.cursor, limit=filters.limit
    )
    return CaseQueuePage(
        items=[case_item_out(i) for i in page.items],
        next_cursor=page.next_cursor,
        total=page.total,
    )


@router.get("/queues/escalations", response=EscalationPage, summary="Escalated overdue requests")
@requires(READ)
def escalation_queue(request: HttpRequest, filters: Query[QueueFilters]) -> EscalationPage:
    page = selectors.escalation_queue(
        acting_of(request), filters.filters(), cursor=filters.cursor, limit=filters.limit
    )
    return EscalationPage(
        items=[escalation_item_out(i) for i in page.items],
        next_cursor=page.next_cursor,
        total=page.total,
    )


@router.get("/dashboard", response=DashboardOut, summary="The entry process in figures")
@requires(READ)
def dashboard(request: HttpRequest) -> DashboardOut:
    return dashboard_out(selectors.dashboard(acting_of(request)))


# --- cases -----------------------------------------------------------------------------------


@router.get("/cases", response=CasePage, summary="Every market-entry case, filtered")
@requires(READ)
def list_cases(request: HttpRequest, filters: Query[CaseFilters]) -> CasePage:
    page = selectors.case_list(
        acting_of(request), filters.filters(), cursor=filters.cursor, limit=filters.limit
    )
    return CasePage(
        items=[case_summary_out(c) for c in page.items],
        next_cursor=page.next_cursor,
        total=page.total,
    )


@router.get("/cases/{case_id}", response=CaseDetailOut, summary="A case with its full history")
@requires(READ)
def get_case(request: HttpRequest, case_id: str) -> CaseDetailOut:
    return case_detail_out(selectors.case_detail(acting_of(request), case_id))


@router.post(
    "/cases/{case_id}/decision", response=CaseDetailOut, summary="Qualify or reject the case"
)
@requires(REVIEW)
def decide(request: HttpRequest, case_id: str, body: DecisionIn) -> CaseDetailOut:
    acting = acting_of(request)
    case = selectors.case_of(acting, case_id)
    services.decide_case(acting, case, body.decision, body.reason)
    return case_detail_out(selectors.case_detail(acting, case_id))


@router.post(
    "/cases/{case_id}/requests",
    response={201: OperatorRequestOut},
    summary="Raise an ad hoc information request",
)
@requires(REVIEW)
def raise_request(
    request: HttpRequest, case_id: str, body: AdHocRequestIn
) -> Status[OperatorRequestOut]:
    acting = acting_of(request)
    case = selectors.case_of(acting, case_id)
    raised = services.raise_request(
        acting,
        case,
        title=body.title,
        why=body.why,
        kind=body.kind,
        due_days=body.due_days,
        fields=body.fields,
    )
    return Status(201, request_out(selectors.request_of_case(acting, str(raised.public_id))))


@router.post(
    "/requests/{request_id}/cancel",
    response=OperatorRequestOut,
    summary="Cancel an ad hoc request raised in error",
)
@requires(REVIEW)
def cancel_request(request: HttpRequest, request_id: str, body: CancelIn) -> OperatorRequestOut:
    acting = acting_of(request)
    services.cancel_request(acting, selectors.request_of_case(acting, request_id), body.reason)
    return request_out(selectors.request_of_case(acting, request_id))


@router.post(
    "/answers/{answer_id}/review", response=OperatorAnswerOut, summary="Accept or reject an answer"
)
@requires(REVIEW)
def review_answer(request: HttpRequest, answer_id: str, body: AnswerReviewIn) -> OperatorAnswerOut:
    acting = acting_of(request)
    answer = selectors.answer_of_case(acting, answer_id)
    services.review_answer(acting, answer, body.decision, body.reason)
    return answer_out(selectors.answer_of_case(acting, answer_id))


# --- assignment and bulk actions ------------------------------------------------------------


@router.post(
    "/assignments",
    response=BulkResultOut,
    summary="Assign cases or requests to a reviewer (or unassign), up to 100 at a time",
)
@requires(REVIEW)
def assign(request: HttpRequest, body: AssignmentsIn) -> BulkResultOut:
    targets = [
        services_backoffice.Target("case", str(i.case_id))
        if i.case_id is not None
        else services_backoffice.Target("request", str(i.request_id))
        for i in body.items
    ]
    return bulk_out(services_backoffice.bulk_assign(acting_of(request), targets, body.assignee))


@router.post(
    "/answers/bulk-review",
    response=BulkResultOut,
    summary="Accept (or reject) up to 100 answers, each on its own; a result per item",
)
@requires(REVIEW)
def bulk_review(request: HttpRequest, body: BulkReviewIn) -> BulkResultOut:
    results = services_backoffice.bulk_review(
        acting_of(request), [str(a) for a in body.answer_ids], body.decision, body.reason
    )
    return bulk_out(results)
