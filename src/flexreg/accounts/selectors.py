"""Reads about the signed-in user: their memberships and tokens."""

from __future__ import annotations

from django.db.models import QuerySet

from flexreg.accounts.acting import usable_memberships
from flexreg.accounts.models import ApiToken, User
from flexreg.core.errors import NotFound
from flexreg.participants.models import Membership


def membership_label(m: Membership) -> str:
    return f"{m.participant_role.participant.participant_id}/{m.participant_role.role}"


def membership_by_label(user: User, label: str) -> Membership:
    for m in usable_memberships(user):
        if membership_label(m) == label.strip().upper():
            return m
    raise NotFound(f"You have no membership {label}.")


def tokens_of(user: User) -> QuerySet[ApiToken]:
    return (
        ApiToken.objects.filter(user=user)
        .select_related("membership__participant_role__participant")
        .order_by("-created_at")
    )
