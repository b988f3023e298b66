"""What a membership may do, given its participant's and role's current state."""

from __future__ import annotations

from flexreg.core import permissions as catalogue
from flexreg.participants.models import Membership, ParticipantStatus, RoleStatus

_READ_ONLY = frozenset({"participant:read", "memberships:read", "audit:read_own", "entry:read"})


def effective_permissions(membership: Membership) -> frozenset[str]:
    """The membership's permissions, capped by the role's catalogue and the current states."""
    held_role = membership.participant_role
    participant = held_role.participant
    if not membership.is_active or held_role.status == RoleStatus.WITHDRAWN:
        return frozenset()
    granted = frozenset(membership.permissions) & catalogue.allowed_for_role(held_role.role)
    if held_role.qualified_at is None:
        # Not operational until its market-entry case is qualified.
        granted -= catalogue.operational_permissions()
    if held_role.status == RoleStatus.REJECTED:
        # Rejected (e.g. its market-entry case was): read why, and ask for the role again.
        return granted & (_READ_ONLY | {"participant_roles:manage"})
    if participant.status in (ParticipantStatus.PENDING_VERIFICATION, ParticipantStatus.REJECTED):
        # Applicants follow their application, fix their details and may apply again.
        return granted & catalogue.applicant_permissions(held_role.role)
    if participant.status == ParticipantStatus.ACTIVE:
        if held_role.status == RoleStatus.ACTIVE:
            return granted
        return granted & (_READ_ONLY | catalogue.applicant_permissions(held_role.role))
    if participant.status == ParticipantStatus.SUSPENDED:
        return granted & _READ_ONLY
    return granted & frozenset({"participant:read"})
