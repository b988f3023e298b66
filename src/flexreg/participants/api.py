"""Participants API: translate HTTP to selectors and services, nothing else."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Header, Query, Router, Schema, Status

from flexreg.accounts.api_auth import requires
from flexreg.core import permissions
from flexreg.core.acting import acting_of
from flexreg.core.errors import DomainError
from flexreg.participants import schemas, selectors, services
from flexreg.participants.models import Participant
from flexreg.participants.schemas import (
    DeclarationIn,
    ParticipantFull,
    ParticipantPage,
    ParticipantPatch,
    ParticipantPublic,
    RegistrationIn,
    RoleDecisionIn,
    RoleIn,
    RoleOut,
    TransitionIn,
    VerificationDecisionIn,
    VerificationOut,
)

router = Router(tags=["participants"])
operator_router = Router(tags=["central operator"])


def _out(request: HttpRequest, participant: Participant) -> ParticipantFull | ParticipantPublic:
    if selectors.view_of(acting_of(request), participant) == "full":
        return schemas.full_out(participant, selectors.latest_verification(participant))
    return schemas.public_out(participant)


def _etag(participant: Participant) -> str:
    return f'"{participant.participant_id}-v{participant.version}"'


def _if_match(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(value.strip().strip('"').rsplit("-v", 1)[1])
    except (IndexError, ValueError):
        raise DomainError(
            code="if_match.invalid",
            detail="If-Match must be an ETag from a GET of this record.",
            status=400,
            title="Bad request",
        ) from None


def _role_out(held: Any) -> RoleOut:
    return RoleOut(
        role=held.role,
        status=held.status,
        requested_at=held.requested_at,
        status_changed_at=held.status_changed_at,
        status_reason=held.status_reason,
    )


class ParticipantFilters(Schema):
    role: schemas.RoleCode | None = None
    status: schemas.ParticipantStatus | None = None
    name: str | None = None
    cursor: str | None = None
    limit: int = 50


@router.post("", response={201: ParticipantFull}, summary="Register an organisation or individual")
@requires(permissions.REGISTER)
def register(request: HttpRequest, body: RegistrationIn) -> Status[ParticipantFull]:
    participant = services.register(acting_of(request), body.root)
    services.check_after_registration(participant)
    participant = selectors.as_registered(participant)
    return Status(201, schemas.full_out(participant, selectors.latest_verification(participant)))


@router.get("", response=ParticipantPage, summary="List participants you may see")
@requires("participant:read")
def list_participants(request: HttpRequest, filters: Query[ParticipantFilters]) -> ParticipantPage:
    rows, next_cursor = selectors.page(
        acting_of(request),
        role=filters.role,
        status=filters.status,
        name=filters.name,
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return ParticipantPage(items=[_out(request, p) for p in rows], next_cursor=next_cursor)


@router.get("/{participant_id}", response=ParticipantFull | ParticipantPublic)
@requires("participant:read")
def get_participant(request: HttpRequest, participant_id: str, response: HttpResponse) -> Any:
    participant = selectors.participant_for(acting_of(request), participant_id)
    response["ETag"] = _etag(participant)
    return _out(request, participant)


@router.patch("/{participant_id}", response=ParticipantFull, summary="Change self-serve details")
@requires("participant:update")
def update_participant(
    request: HttpRequest,
    participant_id: str,
    body: ParticipantPatch,
    response: HttpResponse,
    if_match: str | None = Header(None, alias="If-Match"),
) -> ParticipantFull:
    acting = acting_of(request)
    participant = selectors.own_participant(acting, participant_id)
    participant = services.update(acting, participant, body, _if_match(if_match))
    participant = selectors.participant_for(acting, participant.participant_id)
    response["ETag"] = _etag(participant)
    return schemas.full_out(participant, selectors.latest_verification(participant))


@router.post("/{participant_id}/roles", response={201: RoleOut}, summary="Ask for a role")
@requires("participant_roles:manage")
def add_role(request: HttpRequest, participant_id: str, body: RoleIn) -> Status[RoleOut]:
    acting = acting_of(request)
    participant = selectors.own_participant(acting, participant_id)
    return Status(201, _role_out(services.add_role(acting, participant, body.role)))


@router.post("/{participant_id}/roles/{role}/withdraw", response=RoleOut)
@requires("participant_roles:manage")
def withdraw_role(
    request: HttpRequest, participant_id: str, role: str, body: schemas.ReasonIn
) -> RoleOut:
    acting = acting_of(request)
    participant = selectors.own_participant(acting, participant_id)
    return _role_out(services.withdraw_role(acting, participant, role.upper(), body.reason))


@router.post("/{participant_id}/roles/{role}/decision", response=RoleOut, tags=["central operator"])
@requires("participant_roles:decide")
def decide_role(
    request: HttpRequest, participant_id: str, role: str, body: RoleDecisionIn
) -> RoleOut:
    acting = acting_of(request)
    participant = selectors.own_participant(acting, participant_id)
    return _role_out(
        services.decide_role(acting, participant, role.upper(), body.decision, body.reason)
    )


@router.post(
    "/{participant_id}/verification",
    response={202: VerificationOut},
    summary="Submit a director's declaration for verification",
)
@requires("verification:submit")
def submit_verification(
    request: HttpRequest, participant_id: str, body: DeclarationIn
) -> Status[VerificationOut]:
    acting = acting_of(request)
    participant = selectors.own_participant(acting, participant_id)
    verification = services.submit_verification(acting, participant, body)
    verification = services.run_companies_house_check(verification.pk)
    return Status(202, schemas.verification_out(verification))


@router.get("/{participant_id}/verifications", response=list[VerificationOut])
@requires("participant:read")
def list_verifications(request: HttpRequest, participant_id: str) -> list[VerificationOut]:
    acting = acting_of(request)
    participant = selectors.own_participant(acting, participant_id)
    return [schemas.verification_out(v) for v in selectors.verifications_of(acting, participant)]


@router.post("/{participant_id}/transitions", response=ParticipantFull)
@requires("participant:read")
def transition(request: HttpRequest, participant_id: str, body: TransitionIn) -> ParticipantFull:
    """Suspend, reinstate or withdraw (operator); withdraw your own participant (Authorised
    Person). The service checks which permission applies."""
    acting = acting_of(request)
    participant = selectors.own_participant(acting, participant_id)
    services.transition(acting, participant, body.transition, body.reason)
    participant = selectors.participant_for(acting, participant_id)
    return schemas.full_out(participant, selectors.latest_verification(participant))


class QueueFilters(Schema):
    status: schemas.VerificationStatus | None = None


@operator_router.get("/verifications", response=list[VerificationOut], summary="Review queue")
@requires("verification:review")
def review_queue(request: HttpRequest, filters: Query[QueueFilters]) -> list[VerificationOut]:
    rows = selectors.review_queue(acting_of(request), filters.status)[:200]
    return [schemas.verification_out(v) for v in rows]


@operator_router.post("/verifications/{verification_id}/decision", response=VerificationOut)
@requires("verification:review")
def decide_verification(
    request: HttpRequest, verification_id: str, body: VerificationDecisionIn
) -> VerificationOut:
    acting = acting_of(request)
    verification = selectors.verification_for_review(acting, verification_id)
    verification = services.decide_verification(acting, verification, body.decision, body.reason)
    return schemas.verification_out(verification)
