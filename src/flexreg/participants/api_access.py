"""Authorisations API: memberships, Authorised Person approvals, invitations, deactivation.

Translate only: parse, call a selector or a service, return a schema.
"""

from typing import Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from flexreg.accounts.api_auth import requires
from flexreg.core import permissions
from flexreg.core.acting import acting_of
from flexreg.participants import selectors_access as selectors
from flexreg.participants import services_access as services
from flexreg.participants.schemas_access import (
    AcceptIn,
    ApprovalRequestIn,
    ApprovalRequestOut,
    DeactivatedOut,
    DeactivateIn,
    DecisionIn,
    InvitationIn,
    InvitationOut,
    MembershipIn,
    MembershipOut,
    MembershipPage,
    MembershipPatch,
    NewInvitationOut,
    RejectIn,
    RevokeIn,
    invitation_out,
    membership_out,
    request_out,
)

router = Router(tags=["authorisations"])

P = "/participants/{participant_id}"


class MembershipFilters(Schema):
    include_ended: bool = False
    cursor: str | None = None
    limit: int = 100


class RequestFilters(Schema):
    status: Literal["pending", "approved", "rejected", "expired", "all"] = "pending"


class InvitationFilters(Schema):
    pending_only: bool = True


# --- memberships ----------------------------------------------------------------------------


@router.get(f"{P}/memberships", response=MembershipPage, summary="Who may act for the participant")
@requires("memberships:read")
def list_memberships(
    request: HttpRequest, participant_id: str, filters: Query[MembershipFilters]
) -> MembershipPage:
    participant = selectors.participant_for_access(acting_of(request), participant_id)
    rows, next_cursor = selectors.memberships_of(
        participant, include_ended=filters.include_ended, cursor=filters.cursor, limit=filters.limit
    )
    return MembershipPage(items=[membership_out(m) for m in rows], next_cursor=next_cursor)


@router.get(f"{P}/memberships/{{membership_id}}", response=MembershipOut)
@requires("memberships:read")
def get_membership(request: HttpRequest, participant_id: str, membership_id: str) -> MembershipOut:
    participant = selectors.participant_for_access(acting_of(request), participant_id)
    return membership_out(selectors.membership_for(participant, membership_id))


@router.post(f"{P}/memberships", response={201: MembershipOut}, summary="Grant a user access")
@requires("memberships:manage")
def grant(request: HttpRequest, participant_id: str, body: MembershipIn) -> Status[MembershipOut]:
    acting = acting_of(request)
    participant = selectors.participant_for_access(acting, participant_id)
    membership = services.grant(
        acting, participant, email=body.email, role=body.role, permissions_=body.permissions
    )
    return Status(
        201, membership_out(selectors.membership_for(participant, str(membership.public_id)))
    )


@router.patch(f"{P}/memberships/{{membership_id}}", response=MembershipOut, summary="Change access")
@requires("memberships:manage")
def change(
    request: HttpRequest, participant_id: str, membership_id: str, body: MembershipPatch
) -> MembershipOut:
    acting = acting_of(request)
    participant = selectors.participant_for_access(acting, participant_id)
    membership = selectors.membership_for(participant, membership_id)
    services.change(
        acting,
        participant,
        membership,
        permissions_=body.permissions,
        authorised_person=body.authorised_person,
    )
    return membership_out(selectors.membership_for(participant, membership_id))


@router.post(
    f"{P}/memberships/{{membership_id}}/revoke", response=MembershipOut, summary="Revoke access"
)
@requires("memberships:manage")
def revoke(
    request: HttpRequest, participant_id: str, membership_id: str, body: RevokeIn
) -> MembershipOut:
    acting = acting_of(request)
    participant = selectors.participant_for_access(acting, participant_id)
    membership = selectors.membership_for(participant, membership_id)
    services.revoke(acting, participant, membership, body.reason)
    return membership_out(selectors.membership_for(participant, membership_id))


# --- Authorised Person approvals (maker-checker) --------------------------------------------


@router.get(f"{P}/authorised-person-requests", response=list[ApprovalRequestOut])
@requires("memberships:read")
def list_requests(
    request: HttpRequest, participant_id: str, filters: Query[RequestFilters]
) -> list[ApprovalRequestOut]:
    participant = selectors.participant_for_access(acting_of(request), participant_id)
    status = None if filters.status == "all" else filters.status
    rows = selectors.requests_of(participant, status=status)[:200]
    return [request_out(r) for r in rows]


@router.post(
    f"{P}/authorised-person-requests",
    response={201: ApprovalRequestOut},
    summary="Ask for a user to become an Authorised Person (needs a second approval)",
)
@requires("memberships:manage")
def make_request(
    request: HttpRequest, participant_id: str, body: ApprovalRequestIn
) -> Status[ApprovalRequestOut]:
    acting = acting_of(request)
    participant = selectors.participant_for_access(acting, participant_id)
    req = services.request_authorised_person(
        acting, participant, email=body.email, role=body.role, permissions_=body.permissions
    )
    return Status(201, request_out(selectors.request_for(participant, str(req.public_id))))


@router.post(f"{P}/authorised-person-requests/{{request_id}}/approve", response=ApprovalRequestOut)
@requires("memberships:manage")
def approve_request(
    request: HttpRequest, participant_id: str, request_id: str, body: DecisionIn
) -> ApprovalRequestOut:
    acting = acting_of(request)
    participant = selectors.participant_for_access(acting, participant_id)
    req = selectors.request_for(participant, request_id)
    services.approve_authorised_person(acting, participant, req, body.reason)
    return request_out(selectors.request_for(participant, request_id))


@router.post(f"{P}/authorised-person-requests/{{request_id}}/reject", response=ApprovalRequestOut)
@requires("memberships:manage")
def reject_request(
    request: HttpRequest, participant_id: str, request_id: str, body: RejectIn
) -> ApprovalRequestOut:
    acting = acting_of(request)
    participant = selectors.participant_for_access(acting, participant_id)
    req = selectors.request_for(participant, request_id)
    services.reject_authorised_person(acting, participant, req, body.reason)
    return request_out(selectors.request_for(participant, request_id))


# --- invitations ----------------------------------------------------------------------------


@router.get(f"{P}/invitations", response=list[InvitationOut])
@requires("memberships:read")
def list_invitations(
    request: HttpRequest, participant_id: str, filters: Query[InvitationFilters]
) -> list[InvitationOut]:
    participant = selectors.participant_for_access(acting_of(request), participant_id)
    rows = selectors.invitations_of(participant, pending_only=filters.pending_only)[:200]
    return [invitation_out(i) for i in rows]


@router.post(
    f"{P}/invitations",
    response={201: NewInvitationOut},
    summary="Invite someone by email (the token is shown once)",
)
@requires("memberships:manage")
def invite(request: HttpRequest, participant_id: str, body: InvitationIn) -> Status[InvitationOut]:
    acting = acting_of(request)
    participant = selectors.participant_for_access(acting, participant_id)
    invitation, token = services.invite(
        acting,
        participant,
        email=body.email,
        role=body.role,
        permissions_=body.permissions,
        expires_in_days=body.expires_in_days,
        domain_override_reason=body.domain_override_reason,
    )
    invitation = selectors.invitation_for(participant, str(invitation.public_id))
    return Status(201, invitation_out(invitation, NewInvitationOut, token=token))


@router.post(f"{P}/invitations/{{invitation_id}}/revoke", response=InvitationOut)
@requires("memberships:manage")
def revoke_invitation(
    request: HttpRequest, participant_id: str, invitation_id: str
) -> InvitationOut:
    acting = acting_of(request)
    participant = selectors.participant_for_access(acting, participant_id)
    invitation = selectors.invitation_for(participant, invitation_id)
    services.revoke_invitation(acting, participant, invitation)
    return invitation_out(selectors.invitation_for(participant, invitation_id))


@router.post(
    "/invitations/accept",
    response={201: MembershipOut},
    summary="Accept an invitation (signed in with the invited address)",
)
@requires(permissions.REGISTER)
def accept_invitation(request: HttpRequest, body: AcceptIn) -> Status[MembershipOut]:
    membership = services.accept_invitation(acting_of(request), body.token)
    return Status(201, membership_out(membership))


# --- the central operator -------------------------------------------------------------------


@router.post(
    "/operator/users/deactivate",
    response=DeactivatedOut,
    summary="Deactivate a user: memberships, tokens and sessions end at once",
    tags=["central operator"],
)
@requires("users:deactivate")
def deactivate_user(request: HttpRequest, body: DeactivateIn) -> DeactivatedOut:
    result = services.deactivate_user(acting_of(request), email=body.email, reason=body.reason)
    return DeactivatedOut(**result)
