"""``/api/v1/me/notifications``: the caller's own inbox and channel choices.

Personal endpoints, like the rest of ``/me``: any signed-in person (acting as themselves or
through a membership) may use them, each for their own inbox only; machines (service accounts)
and platforms acting for a client get 403. Translate only: parse, call a selector or a
service, return a schema.
"""

from django.http import HttpRequest
from ninja import Query, Router

from flexreg.accounts.api_auth import requires
from flexreg.core import permissions
from flexreg.core.acting import acting_of
from flexreg.notifications import selectors, services
from flexreg.notifications.schemas import (
    InboxFilters,
    MarkedOut,
    NotificationOut,
    NotificationPage,
    PreferenceOut,
    PreferencesIn,
    PreferencesOut,
)

router = Router(tags=["Notifications"])


@router.get("", response=NotificationPage, summary="My notifications, newest first")
@requires(permissions.REGISTER)
def list_notifications(request: HttpRequest, filters: Query[InboxFilters]) -> NotificationPage:
    acting = acting_of(request)
    rows, next_cursor = selectors.inbox(
        acting, unread=filters.unread, cursor=filters.cursor, limit=filters.limit
    )
    return NotificationPage(
        items=[NotificationOut.of(n) for n in rows],
        next_cursor=next_cursor,
        unread_count=selectors.unread_count(acting.user_id),
    )


@router.post("/read-all", response=MarkedOut, summary="Mark all my notifications read")
@requires(permissions.REGISTER)
def read_all(request: HttpRequest) -> MarkedOut:
    return MarkedOut(marked=services.mark_all_read(acting_of(request)))


@router.post("/{notification_id}/read", response=NotificationOut, summary="Mark one read")
@requires(permissions.REGISTER)
def read_one(request: HttpRequest, notification_id: str) -> NotificationOut:
    return NotificationOut.of(services.mark_read(acting_of(request), notification_id))


@router.get("/preferences", response=PreferencesOut, summary="My channel for each kind")
@requires(permissions.REGISTER)
def get_preferences(request: HttpRequest) -> PreferencesOut:
    rows = selectors.preferences(acting_of(request))
    return PreferencesOut(items=[PreferenceOut(**row) for row in rows])


@router.patch(
    "/preferences",
    response=PreferencesOut,
    summary="Choose email or inbox-only for some kinds",
    description="Kinds not named keep their channel. Inbox-only for a kind the current "
    "market-entry rules make mandatory answers 422 `notifications.email_mandatory`.",
)
@requires(permissions.REGISTER)
def set_preferences(request: HttpRequest, body: PreferencesIn) -> PreferencesOut:
    rows = services.set_preferences(
        acting_of(request), [(p.kind, p.channel) for p in body.preferences]
    )
    return PreferencesOut(items=[PreferenceOut(**row) for row in rows])
