"""Reads for authorisations, scoped to the acting membership.

A participant's memberships, invitations and approval requests are visible to its own members
holding ``memberships:read`` and to oversight (``memberships:read_all``). Anything else answers
404 (``NotFound``), so identifiers cannot be probed.
"""

from __future__ import annotations

import uuid

from django.db.models import Q, QuerySet
from django.utils import timezone

from flexreg.core.acting import Acting
from flexreg.core.errors import NotFound
from flexreg.participants.models import (
    ApprovalStatus,
    AuthorisedPersonRequest,
    Invitation,
    Membership,
    Participant,
)

MAX_PAGE = 200


def participant_for_access(acting: Acting, participant_id: str) -> Participant:
    """The participant whose users the caller may see (own, or any for oversight)."""
    participant = Participant.objects.filter(participant_id=participant_id.strip().upper()).first()
    if participant is None:
        raise NotFound(f"No participant {participant_id} that you may see.")
    own = acting.acts_for(participant.pk) and acting.has("memberships:read")
    if not (own or acting.has("memberships:read_all") or acting.has("memberships:manage_all")):
        raise NotFound(f"No participant {participant_id} that you may see.")
    return participant


def _key(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound() from None


def memberships_of(
    participant: Participant,
    *,
    include_ended: bool = False,
    cursor: str | None = None,
    limit: int = 100,
) -> tuple[list[Membership], str | None]:
    """A keyset page of the participant's memberships, ordered by ``public_id``."""
    qs = Membership.objects.filter(participant_role__participant=participant).select_related(
        "user", "participant_role__participant", "granted_by"
    )
    if not include_ended:
        qs = qs.filter(is_active=True)
    if cursor:
        qs = qs.filter(public_id__gt=_key(cursor))
    limit = max(1, min(limit, MAX_PAGE))
    rows = list(qs.order_by("public_id")[: limit + 1])
    next_cursor = str(rows[limit - 1].public_id) if len(rows) > limit else None
    return rows[:limit], next_cursor


def membership_for(participant: Participant, membership_id: str) -> Membership:
    found = (
        Membership.objects.filter(
            participant_role__participant=participant, public_id=_key(membership_id)
        )
        .select_related("user", "participant_role__participant", "granted_by")
        .first()
    )
    if found is None:
        raise NotFound("No such membership.")
    return found


def requests_of(
    participant: Participant, *, status: str | None = ApprovalStatus.PENDING
) -> QuerySet[AuthorisedPersonRequest]:
    qs = AuthorisedPersonRequest.objects.filter(
        participant_role__participant=participant
    ).select_related("participant_role__participant", "user", "requested_by", "decided_by")
    if status == ApprovalStatus.PENDING:
        qs = qs.filter(status=status, expires_at__gt=timezone.now())
    elif status == ApprovalStatus.EXPIRED:
        qs = qs.filter(
            Q(status=ApprovalStatus.EXPIRED)
            | Q(status=ApprovalStatus.PENDING, expires_at__lte=timezone.now())
        )
    elif status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-pk")


def request_for(participant: Participant, request_id: str) -> AuthorisedPersonRequest:
    found = requests_of(participant, status=None).filter(public_id=_key(request_id)).first()
    if found is None:
        raise NotFound("No such request.")
    return found


def invitations_of(participant: Participant, *, pending_only: bool = True) -> QuerySet[Invitation]:
    qs = Invitation.objects.filter(participant_role__participant=participant).select_related(
        "participant_role__participant", "invited_by"
    )
    if pending_only:
        qs = qs.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )
    return qs.order_by("-created_at", "-pk")


def invitation_for(participant: Participant, invitation_id: str) -> Invitation:
    found = (
        invitations_of(participant, pending_only=False)
        .filter(public_id=_key(invitation_id))
        .first()
    )
    if found is None:
        raise NotFound("No such invitation.")
    return found


def request_status(req: AuthorisedPersonRequest) -> str:
    if req.status == ApprovalStatus.PENDING and req.expires_at <= timezone.now():
        return ApprovalStatus.EXPIRED
    return req.status
