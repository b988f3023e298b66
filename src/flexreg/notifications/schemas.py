"""API schemas for a person's inbox and channel choices. Notifications are known outside by
UUIDs; internal database keys never appear."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from ninja import Schema
from pydantic import ConfigDict, Field

from flexreg.notifications.models import Notification


class NotificationOut(Schema):
    notification_id: str
    kind: str
    subject: str
    body: str
    link: str
    participant_id: str
    created_at: dt.datetime
    read_at: dt.datetime | None
    unread: bool
    email_status: str

    @classmethod
    def of(cls, n: Notification) -> NotificationOut:
        return cls(
            notification_id=str(n.public_id),
            kind=n.kind,
            subject=n.subject,
            body=n.body_text,
            link=n.link,
            participant_id=n.participant_id,
            created_at=n.created_at,
            read_at=n.read_at,
            unread=n.read_at is None,
            email_status=n.email_status,
        )


class NotificationPage(Schema):
    items: list[NotificationOut]
    next_cursor: str | None
    unread_count: int


class InboxFilters(Schema):
    unread: bool = False
    cursor: Annotated[str, Field(max_length=64)] | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 50


class MarkedOut(Schema):
    marked: int


class PreferenceOut(Schema):
    kind: str
    label: str
    description: str
    audience: Literal["participants", "operators"]
    channel: Literal["email", "inbox"]
    default_channel: Literal["email", "inbox"]
    mandatory: bool  # the current market-entry rules always send this kind by email


class PreferencesOut(Schema):
    items: list[PreferenceOut]


class PreferenceIn(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: Annotated[str, Field(min_length=1, max_length=60)]
    channel: Literal["email", "inbox"]


class PreferencesIn(Schema):
    model_config = ConfigDict(extra="forbid")

    preferences: Annotated[list[PreferenceIn], Field(min_length=1, max_length=50)]
