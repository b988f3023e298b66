"""API: ongoing management. Change requests for verified facts, the operator's queue of them,
and off-boarding. Translate only: parse, call a selector or a service, return a schema.

Mounted at "" on /api/v1, so paths are given in full.
"""

from typing import Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from flexreg.accounts.api_auth import requires
from flexreg.core.acting import acting_of
from flexreg.participants import selectors, selectors_changes, services_changes
from flexreg.participants import services_offboarding as offboarding
from flexreg.participants.schemas_changes import (
    ChangeDecisionIn,
    ChangeFieldCode,
    ChangeIn,
    ChangeOut,
    ChangePage,
    OffboardIn,
    OffboardOut,
    change_out,
)

router = Router(tags=["Participant changes"])

P = "/participants/{participant_id}"
REVIEW = services_changes.REVIEW_PERMISSION
ChangeStatusCode = Literal[
    "pending", "needs_review", "applied", "approved", "rejected", "cancelled"
]


class ChangeFilters(Schema):
    status: ChangeStatusCode | None = None
    cursor: str | None = None
    limit: int = 50


class QueueFilters(Schema):
    status: Literal["pending", "needs_review"] | None = None
    field: ChangeFieldCode | None = None


@router.post(
    f"{P}/changes",
    response={201: ChangeOut},
    summary="Ask to change a verified fact (legal name, company number, address, declaration)",
)
@requires("participant:update")
def request_change(request: HttpRequest, participant_id: str, body: ChangeIn) -> Status[ChangeOut]:
    """The old value stays in force until the change is verified: at once when Companies House
    confirms it, else after the central operator's review (see ``status``)."""
    acting = acting_of(request)
    participant = selectors.own_participant(acting, participant_id)
    change = services_changes.request_change(acting, participant, body)
    change = services_changes.run_change_check(change.pk)
    return Status(201, change_out(change, participant))


@router.get(f"{P}/changes", response=ChangePage, summary="The participant's change requests")
@requires("participant:read")
def list_changes(
    request: HttpRequest, participant_id: str, filters: Query[ChangeFilters]
) -> ChangePage:
    acting = acting_of(request)
    participant = selectors.own_participant(acting, participant_id)
    rows, next_cursor = selectors_changes.changes_of(
        acting, participant, status=filters.status, cursor=filters.cursor, limit=filters.limit
    )
    return ChangePage(items=[change_out(c, participant) for c in rows], next_cursor=next_cursor)


@router.get(
    "/operator/participant-changes",
    response=list[ChangeOut],
    summary="Change requests waiting for the central operator",
    tags=["central operator"],
)
@requires(REVIEW)
def review_queue(request: HttpRequest, filters: Query[QueueFilters]) -> list[ChangeOut]:
    rows = selectors_changes.review_queue(acting_of(request), filters.status, filters.field)
    return [change_out(c) for c in rows[: selectors_changes.QUEUE_LIMIT]]


@router.post(
    "/operator/participant-changes/{change_id}/decision",
    response=ChangeOut,
    summary="Approve or reject a change request",
    tags=["central operator"],
)
@requires(REVIEW)
def decide_change(request: HttpRequest, change_id: str, body: ChangeDecisionIn) -> ChangeOut:
    acting = acting_of(request)
    change = selectors_changes.change_for_review(acting, change_id)
    change = services_changes.decide_change(acting, change, body.decision, body.reason)
    return change_out(change)


@router.post(f"{P}/offboard", response=OffboardOut, summary="Off-board (withdraw) a participant")
@requires("participant:read")
def offboard(request: HttpRequest, participant_id: str, body: OffboardIn) -> OffboardOut:
    """The central operator, or the participant's own Authorised Person (``participant:withdraw``):
    the participant is withdrawn, every membership, token and session ends, users who act for
    no one else are deactivated. Records are kept; the Participant ID is never reused. The
    service checks which permission applies."""
    acting = acting_of(request)
    participant = selectors.own_participant(acting, participant_id)
    result = offboarding.offboard(acting, participant, body.reason)
    return OffboardOut(
        participant_id=result.participant.participant_id,
        status=result.participant.status,
        memberships_ended=result.memberships_ended,
        users_deactivated=result.users_deactivated,
        tokens_revoked=result.tokens_revoked,
    )
