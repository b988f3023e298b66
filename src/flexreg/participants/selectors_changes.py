"""Reads of change requests, scoped to what the acting membership may see.

A participant's own members (and oversight roles reading every participant) see its change
requests; the operator's queue needs the review permission. Anything else answers 404.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid

from django.db.models import Q, QuerySet

from flexreg.core.acting import Acting
from flexreg.core.errors import NotFound
from flexreg.participants import selectors
from flexreg.participants.models import Participant
from flexreg.participants.models_changes import OPEN_CHANGE_STATUSES, ParticipantChange
from flexreg.participants.services_changes import REVIEW_PERMISSION

MAX_PAGE = 100
QUEUE_LIMIT = 200


def _encode(change: ParticipantChange) -> str:
    raw = f"{change.requested_at.isoformat()}|{change.public_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[dt.datetime, uuid.UUID] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, _, key = raw.partition("|")
        return dt.datetime.fromisoformat(when), uuid.UUID(key)
    except (ValueError, UnicodeDecodeError):
        return None


def changes_of(
    acting: Acting,
    participant: Participant,
    *,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[ParticipantChange], str | None]:
    """A participant's change requests, newest first, keyset-paginated."""
    if selectors.view_of(acting, participant) != "full":
        raise NotFound()
    qs = ParticipantChange.objects.filter(participant=participant)
    if status:
        qs = qs.filter(status=status)
    if cursor:
        after = _decode(cursor)
        if after is None:
            return [], None
        when, key = after
        qs = qs.filter(Q(requested_at__lt=when) | Q(requested_at=when, public_id__lt=key))
    limit = max(1, min(limit, MAX_PAGE))
    rows = list(qs.order_by("-requested_at", "-public_id")[: limit + 1])
    next_cursor = _encode(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


def open_by_field(participant: Participant) -> dict[str, ParticipantChange]:
    """The open change request of each field, if any (at most one each)."""
    return {
        c.field: c
        for c in ParticipantChange.objects.filter(
            participant=participant, status__in=OPEN_CHANGE_STATUSES
        )
    }


def review_queue(
    acting: Acting, status: str | None = None, field: str | None = None
) -> QuerySet[ParticipantChange]:
    """The central operator's queue: change requests waiting for a decision, oldest first."""
    if not acting.has(REVIEW_PERMISSION):
        return ParticipantChange.objects.none()
    statuses = [status] if status else list(OPEN_CHANGE_STATUSES)
    qs = ParticipantChange.objects.filter(status__in=statuses)
    if field:
        qs = qs.filter(field=field)
    return qs.select_related("participant").order_by("requested_at", "pk")


def change_for_review(acting: Acting, change_id: str) -> ParticipantChange:
    if not acting.has(REVIEW_PERMISSION):
        raise NotFound()
    try:
        key = uuid.UUID(str(change_id))
    except ValueError:
        raise NotFound() from None
    found = ParticipantChange.objects.select_related("participant").filter(public_id=key).first()
    if found is None:
        raise NotFound()
    return found
