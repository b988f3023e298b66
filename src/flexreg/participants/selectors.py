"""Every read of participants, scoped to what the acting membership may see.

An object the caller may not see answers 404 (``NotFound``), never 403, so IDs cannot be probed.
"""

from __future__ import annotations

import base64
from typing import Literal

from django.db.models import Prefetch, Q, QuerySet

from flexreg.core.acting import Acting
from flexreg.core.errors import FieldError, NotFound, ValidationFailed
from flexreg.identifiers import ParticipantId
from flexreg.participants.models import (
    Participant,
    ParticipantRole,
    ParticipantStatus,
    RoleStatus,
    Verification,
    VerificationStatus,
)

View = Literal["full", "public"]
MAX_PAGE = 100


def _base() -> QuerySet[Participant]:
    return Participant.objects.prefetch_related(
        Prefetch("roles", queryset=ParticipantRole.objects.order_by("role")),
        "contacts",
        Prefetch(
            "verifications",
            queryset=Verification.objects.order_by("-submitted_at", "-pk"),
            to_attr="verifications_newest_first",
        ),
    )


def visible(acting: Acting) -> QuerySet[Participant]:
    """Participants the caller may read at all (in full or in the public view)."""
    if acting.has("participants:read_all"):
        return _base()
    own = (
        Q(pk=acting.participant_pk)
        if acting.participant_pk and acting.has("participant:read")
        else Q(pk__in=[])
    )
    if acting.has("registry:read"):
        return _base().filter(own | Q(status=ParticipantStatus.ACTIVE))
    return _base().filter(own)


def view_of(acting: Acting, participant: Participant) -> View:
    """The one policy choosing which schema a caller gets for a participant."""
    if acting.has("participants:read_all"):
        return "full"
    if acting.acts_for(participant.pk) and acting.has("participant:read"):
        return "full"
    return "public"


def participant_for(acting: Acting, participant_id: str) -> Participant:
    participant = visible(acting).filter(participant_id=participant_id.strip().upper()).first()
    if participant is None:
        raise NotFound(f"No participant {participant_id} that you may see.")
    return participant


def as_registered(participant: Participant) -> Participant:
    """A participant just registered by the caller, re-read with what its record shows."""
    return _base().get(pk=participant.pk)


def own_participant(acting: Acting, participant_id: str) -> Participant:
    """A participant the caller acts for (or any, for the central operator)."""
    participant = participant_for(acting, participant_id)
    if view_of(acting, participant) != "full":
        raise NotFound(f"No participant {participant_id} that you may see.")
    return participant


def _encode(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def _decode(cursor: str) -> str:
    """The Participant ID a page cursor stands for; 422 ``cursor_invalid`` when it is not a
    cursor this list gave out (any other text, a NUL byte say, would reach the database)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return str(ParticipantId.parse(raw))
    except (ValueError, UnicodeDecodeError):  # IdentifierError is a ValueError
        raise ValidationFailed(
            [FieldError("cursor", "cursor_invalid", "This page link is not valid: start again.")]
        ) from None


def page(
    acting: Acting,
    *,
    role: str | None = None,
    status: str | None = None,
    name: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Participant], str | None]:
    """A keyset-paginated page (ordered by Participant ID, which is random: no enumeration)."""
    qs = visible(acting)
    if role:
        qs = qs.filter(roles__role=role, roles__status__in=[RoleStatus.ACTIVE, RoleStatus.PENDING])
    if status:
        qs = qs.filter(status=status)
    if name:
        term = name.strip()
        qs = qs.filter(Q(legal_name__icontains=term) | Q(trading_name__icontains=term))
        if not acting.has("participants:read_all"):
            # Private individuals' names are personal data: not searchable by others.
            qs = qs.filter(Q(kind="organisation") | Q(pk=acting.participant_pk or 0))
    if cursor:
        qs = qs.filter(participant_id__gt=_decode(cursor))
    limit = max(1, min(limit, MAX_PAGE))
    rows = list(qs.order_by("participant_id").distinct()[: limit + 1])
    next_cursor = _encode(rows[limit - 1].participant_id) if len(rows) > limit else None
    return rows[:limit], next_cursor


def latest_verification(participant: Participant) -> Verification | None:
    prefetched = getattr(participant, "verifications_newest_first", None)
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return participant.verifications.order_by("-submitted_at", "-pk").first()


def verifications_of(acting: Acting, participant: Participant) -> list[Verification]:
    if view_of(acting, participant) != "full":
        raise NotFound()
    return list(participant.verifications.order_by("-submitted_at", "-pk"))


def review_queue(acting: Acting, status: str | None = None) -> QuerySet[Verification]:
    """The central operator's queue: verifications needing review, oldest first."""
    if not acting.has("verification:review"):
        return Verification.objects.none()
    statuses = [status] if status else [VerificationStatus.NEEDS_REVIEW, VerificationStatus.PENDING]
    return (
        Verification.objects.filter(status__in=statuses)
        .select_related("participant")
        .order_by("submitted_at", "pk")
    )


def verification_for_review(acting: Acting, verification_id: str) -> Verification:
    import uuid

    try:
        key = uuid.UUID(verification_id)
    except ValueError:
        raise NotFound() from None
    found = (
        review_queue(acting)
        .model.objects.filter(public_id=key)
        .select_related("participant")
        .first()
    )
    if found is None or not acting.has("verification:review"):
        raise NotFound()
    return found
