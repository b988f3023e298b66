"""``{% load notifications %}{% unread_notifications as n %}``: the signed-in user's unread
count, for the header's "Inbox" item (one indexed COUNT query)."""

from __future__ import annotations

from typing import Any

from django import template

from flexreg.notifications import selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notifications(context: Any) -> int:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    return selectors.unread_count(user.pk)


@register.simple_tag(takes_context=True)
def inbox_label(context: Any) -> str:
    """The header's link text: "Inbox", or "Inbox (3 unread)"."""
    count = unread_notifications(context)
    return f"Inbox ({count} unread)" if count else "Inbox"
