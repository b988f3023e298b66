"""Reads of a person's own inbox and channel choices. Inboxes are personal: the caller is always
the recipient, and a notification of someone else answers 404."""

from __future__ import annotations

import uuid
from typing import Any

from flexreg.core import permissions
from flexreg.core.acting import Acting
from flexreg.core.errors import NotFound, PermissionDenied
from flexreg.notifications import kinds as catalogue
from flexreg.notifications.models import Channel, Notification, NotificationPreference

MAX_PAGE = 100


def person(acting: Acting) -> int:
    """The signed-in person's user id. Anonymous: 401; machines (service accounts, the
    system) and platforms acting for a client: 403, as for every personal ``/me`` endpoint."""
    permissions.require(acting, permissions.REGISTER)
    if acting.user_id is None:
        raise PermissionDenied(permissions.REGISTER)
    return acting.user_id


def _key(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound("No such notification.") from None


def inbox(
    acting: Acting, *, unread: bool = False, cursor: str | None = None, limit: int = 50
) -> tuple[list[Notification], str | None]:
    """A keyset page of the caller's notifications, newest first; the cursor is the last
    notification's id. Two queries at most."""
    qs = Notification.objects.filter(recipient_id=person(acting))
    if unread:
        qs = qs.filter(read_at__isnull=True)
    if cursor:
        qs = qs.filter(
            pk__lt=Notification.objects.filter(
                recipient_id=acting.user_id, public_id=_key(cursor)
            ).values("pk")[:1]
        )
    limit = max(1, min(limit, MAX_PAGE))
    rows = list(qs.order_by("-pk")[: limit + 1])
    next_cursor = str(rows[limit - 1].public_id) if len(rows) > limit else None
    return rows[:limit], next_cursor


def unread_count(user_id: int | None) -> int:
    if user_id is None:
        return 0
    return Notification.objects.filter(recipient_id=user_id, read_at__isnull=True).count()


def preferences(acting: Acting) -> list[dict[str, Any]]:
    """Each kind: its label, the caller's channel, and whether the current rules force email."""
    user_id = person(acting)
    chosen = dict(
        NotificationPreference.objects.filter(user_id=user_id).values_list("kind", "channel")
    )
    mandatory = catalogue.mandatory_kinds()
    rows = []
    for kind in catalogue.KINDS.values():
        forced = kind.code in mandatory
        rows.append(
            {
                "kind": kind.code,
                "label": kind.label,
                "description": kind.description,
                "audience": kind.audience,
                "default_channel": kind.default_channel,
                "channel": Channel.EMAIL if forced else chosen.get(kind.code, kind.default_channel),
                "mandatory": forced,
            }
        )
    return rows
