"""API schemas for authorisations. Memberships, invitations and approval requests are known
outside by UUIDs; users by email. Internal database keys never appear."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from ninja import Schema
from pydantic import Field

from flexreg.participants import selectors_access
from flexreg.participants.models import AuthorisedPersonRequest, Invitation, Membership
from flexreg.participants.policies import effective_permissions
from flexreg.participants.schemas import Email, RoleCode, StrictSchema

PermissionCode = Annotated[str, Field(min_length=3, max_length=60)]
Permissions = Annotated[list[PermissionCode], Field(max_length=60)]
Reason = Annotated[str, Field(max_length=2000)]


class MembershipIn(StrictSchema):
    email: Email
    role: RoleCode
    permissions: Permissions


class MembershipPatch(StrictSchema):
    permissions: Permissions | None = None
    authorised_person: bool | None = None


class RevokeIn(StrictSchema):
    reason: Reason = ""


class MembershipOut(Schema):
    membership_id: str
    participant_id: str
    role: str
    email: str
    full_name: str
    permissions: list[str]
    effective_permissions: list[str]
    is_authorised_person: bool
    is_active: bool
    granted_by: str | None
    created_at: dt.datetime
    ended_at: dt.datetime | None


class MembershipPage(Schema):
    items: list[MembershipOut]
    next_cursor: str | None


class ApprovalRequestIn(MembershipIn):
    pass


class DecisionIn(StrictSchema):
    reason: Reason = ""


class RejectIn(StrictSchema):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class ApprovalRequestOut(Schema):
    request_id: str
    participant_id: str
    role: str
    email: str
    permissions: list[str]
    status: Literal["pending", "approved", "rejected", "expired"]
    requested_by: str | None
    created_at: dt.datetime
    expires_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    reason: str


class InvitationIn(MembershipIn):
    expires_in_days: Annotated[int, Field(ge=1, le=30)] | None = None
    # The central operator only: send outside the registered email domains, with a reason.
    domain_override_reason: Reason = ""


class InvitationOut(Schema):
    invitation_id: str
    participant_id: str
    role: str
    email: str
    permissions: list[str]
    status: Literal["pending", "accepted", "revoked", "expired"]
    invited_by: str | None
    created_at: dt.datetime
    expires_at: dt.datetime
    accepted_at: dt.datetime | None
    revoked_at: dt.datetime | None
    domain_override_reason: str


class NewInvitationOut(InvitationOut):
    token: str = Field(description="Shown once: also sent to the invited address.")


class AcceptIn(StrictSchema):
    token: Annotated[str, Field(min_length=10, max_length=200)]


class DeactivateIn(StrictSchema):
    email: Email
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class DeactivatedOut(Schema):
    email: str
    is_active: bool
    memberships_ended: int
    tokens_revoked: int
    sessions_ended: int


def _email(user: object | None) -> str | None:
    return getattr(user, "email", None) if user is not None else None


def membership_out(m: Membership) -> MembershipOut:
    held = m.participant_role
    return MembershipOut(
        membership_id=str(m.public_id),
        participant_id=held.participant.participant_id,
        role=held.role,
        email=m.user.email,
        full_name=getattr(m.user, "full_name", ""),
        permissions=sorted(m.permissions),
        effective_permissions=sorted(effective_permissions(m)),
        is_authorised_person=m.is_authorised_person,
        is_active=m.is_active,
        granted_by=_email(m.granted_by),
        created_at=m.created_at,
        ended_at=m.ended_at,
    )


def request_out(r: AuthorisedPersonRequest) -> ApprovalRequestOut:
    held = r.participant_role
    return ApprovalRequestOut(
        request_id=str(r.public_id),
        participant_id=held.participant.participant_id,
        role=held.role,
        email=r.user.email,
        permissions=sorted(r.permissions),
        status=selectors_access.request_status(r),  # type: ignore[arg-type]
        requested_by=_email(r.requested_by),
        created_at=r.created_at,
        expires_at=r.expires_at,
        decided_by=_email(r.decided_by),
        decided_at=r.decided_at,
        reason=r.decision_reason,
    )


def invitation_out(
    i: Invitation, cls: type[InvitationOut] = InvitationOut, **extra: str
) -> InvitationOut:
    held = i.participant_role
    return cls(
        invitation_id=str(i.public_id),
        participant_id=held.participant.participant_id,
        role=held.role,
        email=i.email,
        permissions=sorted(i.permissions),
        status=i.status,  # type: ignore[arg-type]
        invited_by=_email(i.invited_by),
        created_at=i.created_at,
        expires_at=i.expires_at,
        accepted_at=i.accepted_at,
        revoked_at=i.revoked_at,
        domain_override_reason=i.domain_override_reason,
        **extra,
    )
