"""Notifications: an in-app inbox and email, per user, with each user's channel choices.

``notify`` is the one entry point other apps call, inside their own transaction.
(Interface fixed here; the implementation is being built — see the notifications issue work.)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def notify(
    kind: str,
    recipients: Iterable[int],
    *,
    subject: str,
    context: dict[str, Any] | None = None,
    link: str = "",
    participant_id: str = "",
    dedupe_key: str = "",
    email_mandatory: bool = False,
) -> int:
    """Tell ``recipients`` (user ids) about an event of ``kind``.

    One inbox notification per recipient; an email too unless the recipient chose inbox-only
    for this kind and ``email_mandatory`` (the rules) does not override it. ``dedupe_key`` makes
    the call idempotent: a second call with the same key and recipient creates nothing.
    Emails are sent after the transaction commits, by the worker. Returns how many inbox
    notifications were created.
    """
    return 0
