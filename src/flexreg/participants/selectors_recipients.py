"""Who should hear about a participant's or a role's events (for notifications)."""

from __future__ import annotations

from flexreg.participants.models import Membership, ParticipantRole, RoleStatus
from flexreg.participants.policies import effective_permissions


def role_members(held: ParticipantRole, permission: str) -> list[int]:
    """Users acting for ``held`` whose membership currently holds ``permission``."""
    memberships = Membership.objects.filter(
        participant_role=held, is_active=True, user__is_active=True
    ).select_related("participant_role__participant")
    return sorted({m.user_id for m in memberships if permission in effective_permissions(m)})


def authorised_persons(participant_pk: int) -> list[int]:
    """The participant's Authorised Persons (any role)."""
    return sorted(
        set(
            Membership.objects.filter(
                participant_role__participant_id=participant_pk,
                is_authorised_person=True,
                is_active=True,
                user__is_active=True,
            ).values_list("user_id", flat=True)
        )
    )


def operators(permission: str) -> list[int]:
    """Central operator users whose membership holds ``permission``."""
    memberships = Membership.objects.filter(
        participant_role__role="MARKET_FACILITATOR",
        participant_role__status=RoleStatus.ACTIVE,
        is_active=True,
        user__is_active=True,
    ).select_related("participant_role__participant")
    return sorted({m.user_id for m in memberships if permission in effective_permissions(m)})
