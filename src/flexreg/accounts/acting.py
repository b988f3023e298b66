"""Build the ``Acting`` for a request from a session or a token and its membership."""

from __future__ import annotations

from flexreg.accounts.models import User
from flexreg.core.acting import Acting
from flexreg.participants.models import Membership
from flexreg.participants.policies import effective_permissions


def acting_for(
    user: User, membership: Membership | None, *, via: str, token_id: int | None = None
) -> Acting:
    if membership is None:
        return Acting(user_id=user.pk, user_label=user.email, via=via, token_id=token_id)
    held = membership.participant_role
    return Acting(
        user_id=user.pk,
        user_label=user.email,
        via=via,
        membership_id=membership.pk,
        participant_pk=held.participant_id,
        participant_id=held.participant.participant_id,
        role=held.role,
        permissions=effective_permissions(membership),
        token_id=token_id,
    )


def usable_memberships(user: User) -> list[Membership]:
    """The user's memberships that can currently be acted for, in a stable order."""
    return list(
        Membership.objects.filter(user=user, is_active=True)
        .exclude(participant_role__status__in=["withdrawn", "rejected"])
        .select_related("participant_role__participant")
        .order_by("participant_role__participant__legal_name", "participant_role__role")
    )
