"""API: market entry for participants — their cases, requests, answers, connectivity test.

Translate only: parse, call a selector or a service, return a schema.
"""

from django.http import HttpRequest
from ninja import Router, Status

from flexreg.accounts.api_auth import requires
from flexreg.core.acting import acting_of
from flexreg.entry import selectors, services
from flexreg.entry.schemas import (
    AnswerIn,
    AnswerOut,
    CaseOut,
    ConnectivityOut,
    RequestDetailOut,
    answer_out,
    case_out,
    request_detail_out,
)

router = Router(tags=["market entry"])


@router.get("/cases", response=list[CaseOut], summary="Your market-entry cases")
@requires("entry:read")
def list_cases(request: HttpRequest) -> list[CaseOut]:
    """The acting role's case (the central operator: use the back-office queues)."""
    acting = acting_of(request)
    cases = selectors.cases_for(acting)
    if acting.has("entry:read_all"):
        cases = cases.filter(participant_role__participant_id=acting.participant_pk or 0)
    return [case_out(c) for c in cases[:50]]


@router.get("/cases/{case_id}", response=CaseOut, summary="One case with its task list")
@requires("entry:read")
def get_case(request: HttpRequest, case_id: str) -> CaseOut:
    return case_out(selectors.case_by_id(acting_of(request), case_id))


@router.get(
    "/requests/{request_id}", response=RequestDetailOut, summary="One request and its history"
)
@requires("entry:read")
def get_request(request: HttpRequest, request_id: str) -> RequestDetailOut:
    return request_detail_out(selectors.request_for(acting_of(request), request_id))


@router.post(
    "/requests/{request_id}/answers",
    response={201: AnswerOut},
    summary="Answer a request: a document (uploaded first), a form or a text",
)
@requires("entry:answer")
def answer(request: HttpRequest, request_id: str, body: AnswerIn) -> Status[AnswerOut]:
    acting = acting_of(request)
    found = selectors.request_for(acting, request_id)
    document = selectors.own_document(acting, body.document_id) if body.document_id else None
    created = services.answer(
        acting, found, text=body.text, form_data=body.form_data, document=document
    )
    return Status(201, answer_out(created))


@router.post(
    "/connectivity-test",
    response=ConnectivityOut,
    summary="Prove your system can call FlexReg (the API connectivity step)",
)
@requires("entry:answer")
def connectivity_test(request: HttpRequest) -> ConnectivityOut:
    acting = acting_of(request)
    call = services.record_connectivity_test(
        acting, user_agent=request.headers.get("User-Agent", "")
    )
    return ConnectivityOut(
        participant_id=acting.participant_id or "",
        role=acting.role or "",
        called_at=call.called_at,
        message="Connected. The API connectivity step of your market-entry case is complete.",
    )
