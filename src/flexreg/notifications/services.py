"""Notifications: an in-app inbox and email, per user, with each user's channel choices.

``notify`` is the one entry point other apps call, inside their own transaction: it writes one
inbox row per recipient (a conflict on ``(recipient, dedupe_key)`` writes nothing, so the same
event is never told twice) and, once the caller's transaction commits, queues one email task per
row that should be emailed. ``deliver`` sends one notification's email at most once: it claims
the row with ``SELECT ... FOR UPDATE SKIP LOCKED`` and marks it sent in the same transaction, so
two workers (or a retry racing the first task) never both send it. Failed sends are retried by
the ``notifications.email_retry`` periodic job (``tasks.py``) with backoff, up to
``MAX_EMAIL_ATTEMPTS``.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template import Context
from django.template.loader import get_template
from django.utils import timezone

from flexreg.core import audit
from flexreg.core.acting import Acting
from flexreg.core.errors import DomainError, FieldError, NotFound
from flexreg.notifications import kinds as catalogue
from flexreg.notifications import selectors
from flexreg.notifications.models import Channel, EmailStatus, Notification, NotificationPreference

logger = logging.getLogger(__name__)

MAX_EMAIL_ATTEMPTS = 5
# A queued email not sent after this long is sent by the retry sweep (its task was lost).
PENDING_GRACE = dt.timedelta(minutes=10)
RETRY_BASE = dt.timedelta(minutes=5)  # then 10, 20, 40 minutes
SUBJECT_PREFIX = "FlexReg: "


# --- rendering ------------------------------------------------------------------------------


def _render(name: str, context: Mapping[str, Any], *, html: bool) -> str:
    """A template with the caller's context: HTML auto-escaped, plain text not escaped."""
    template = get_template(name).template  # type: ignore[attr-defined]
    return str(template.render(Context(dict(context), autoescape=html))).strip() + "\n"


def render(kind: str, subject: str, context: Mapping[str, Any], link: str) -> tuple[str, str]:
    """(text, html) bodies of a notification of ``kind``."""
    base = settings.PUBLIC_URL
    full = {
        **context,
        "subject": subject,
        "kind": catalogue.get(kind),
        "link": link,
        "link_url": f"{base}{link}" if link.startswith("/") else link,
        "inbox_url": f"{base}/inbox/",
        "preferences_url": f"{base}/inbox/preferences/",
    }
    return (
        _render(f"notifications/email/{kind}.txt", full, html=False),
        _render(f"notifications/email/{kind}.html", full, html=True),
    )


# --- notify ---------------------------------------------------------------------------------


def _channels(kind: str, user_ids: Iterable[int]) -> dict[int, str]:
    chosen = dict(
        NotificationPreference.objects.filter(user_id__in=list(user_ids), kind=kind).values_list(
            "user_id", "channel"
        )
    )
    default = catalogue.get(kind).default_channel
    return {uid: chosen.get(uid, default) for uid in user_ids}


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
    catalogue.get(kind)  # unknown kind: ValueError
    wanted = sorted({int(r) for r in recipients})
    if not wanted:
        return 0
    users = {
        row["pk"]: row
        for row in get_user_model().objects.filter(pk__in=wanted).values("pk", "email", "is_active")
    }
    ids = [uid for uid in wanted if uid in users]
    if dedupe_key:
        told = set(
            Notification.objects.filter(recipient_id__in=ids, dedupe_key=dedupe_key).values_list(
                "recipient_id", flat=True
            )
        )
        ids = [uid for uid in ids if uid not in told]
    if not ids:
        return 0
    text, html = render(kind, subject, context or {}, link)
    channels = _channels(kind, ids)
    now = timezone.now()
    rows = []
    for uid in ids:
        user = users[uid]
        emailed = bool(user["is_active"] and user["email"]) and (
            email_mandatory or channels[uid] == Channel.EMAIL
        )
        rows.append(
            Notification(
                public_id=uuid.uuid4(),
                recipient_id=uid,
                kind=kind,
                subject=subject[:300],
                body_text=text,
                body_html=html,
                link=link[:500],
                participant_id=participant_id,
                dedupe_key=dedupe_key[:200],
                created_at=now,
                email_status=EmailStatus.PENDING if emailed else EmailStatus.NONE,
                email_next_attempt_at=now + PENDING_GRACE if emailed else None,
            )
        )
    # INSERT ... ON CONFLICT DO NOTHING: a concurrent caller with the same key wins quietly.
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    created = list(
        Notification.objects.filter(public_id__in=[r.public_id for r in rows]).values_list(
            "pk", "email_status"
        )
    )
    to_email = [pk for pk, status in created if status == EmailStatus.PENDING]
    if to_email:
        transaction.on_commit(lambda: enqueue(to_email))
    return len(created)


def enqueue(pks: list[int]) -> None:
    from flexreg.notifications.tasks import send_email

    for pk in pks:
        try:
            send_email.enqueue(pk)
        except Exception:  # the retry sweep sends it later
            logger.exception("could not queue the email of notification %s", pk)


# --- email delivery -------------------------------------------------------------------------


def _retry_at(now: dt.datetime, attempts: int) -> dt.datetime | None:
    if attempts >= MAX_EMAIL_ATTEMPTS:
        return None
    return now + RETRY_BASE * (2 ** max(attempts - 1, 0))


def deliver(pk: int, now: dt.datetime | None = None) -> str:
    """Send notification ``pk``'s email if it is still to be sent; returns what happened.

    The row stays locked (``FOR UPDATE SKIP LOCKED``) from the claim until it is marked sent, so
    a second worker skips it and then finds it sent. If the process dies after the mail server
    accepted the message but before the commit, the email may go twice (at least once, never
    lost); nothing else sends it twice.
    """
    now = now or timezone.now()
    with transaction.atomic():
        n = (
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("recipient")
            .filter(pk=pk, email_status__in=[EmailStatus.PENDING, EmailStatus.FAILED])
            .first()
        )
        if n is None:
            return "skipped"  # sent already, inbox-only, or another worker holds it
        if n.email_status == EmailStatus.FAILED and n.email_next_attempt_at is None:
            return "gave up"
        user = n.recipient
        if not (user.is_active and user.email):
            n.email_status = EmailStatus.NONE
            n.email_error = "The account is inactive or has no email address."
            n.email_next_attempt_at = None
            n.save(update_fields=["email_status", "email_error", "email_next_attempt_at"])
            return "no address"
        n.email_attempts += 1
        message = EmailMultiAlternatives(
            subject=f"{SUBJECT_PREFIX}{n.subject}",
            body=n.body_text,
            to=[user.email],
            headers={"X-FlexReg-Notification": str(n.public_id)},
        )
        if n.body_html:
            message.attach_alternative(n.body_html, "text/html")
        try:
            message.send()
        except Exception as exc:
            logger.warning("email of notification %s failed: %s", n.pk, exc)
            n.email_status = EmailStatus.FAILED
            n.email_error = f"{type(exc).__name__}: {exc}"[:300]
            n.email_next_attempt_at = _retry_at(now, n.email_attempts)
            n.save(
                update_fields=[
                    "email_status",
                    "email_error",
                    "email_attempts",
                    "email_next_attempt_at",
                ]
            )
            return "failed"
        n.email_status = EmailStatus.SENT
        n.emailed_at = now
        n.email_error = ""
        n.email_next_attempt_at = None
        n.save(
            update_fields=[
                "email_status",
                "emailed_at",
                "email_error",
                "email_attempts",
                "email_next_attempt_at",
            ]
        )
        return "sent"


def due_for_retry(now: dt.datetime, limit: int = 200) -> list[int]:
    """Emails whose send failed (backoff passed) or whose queued task never ran."""
    return list(
        Notification.objects.filter(
            email_status__in=[EmailStatus.PENDING, EmailStatus.FAILED],
            email_next_attempt_at__lte=now,
            email_attempts__lt=MAX_EMAIL_ATTEMPTS,
        )
        .order_by("email_next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


# --- the inbox (a person's own notifications) -----------------------------------------------


@transaction.atomic
def mark_read(acting: Acting, public_id: str) -> Notification:
    """Mark one of the caller's notifications read (already read: no change). Not audited: the
    read state of a personal inbox is not a record of the registry."""
    user_id = selectors.person(acting)
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        raise NotFound("No such notification.") from None
    mine = Notification.objects.filter(recipient_id=user_id, public_id=key)
    mine.filter(read_at__isnull=True).update(read_at=timezone.now())
    n = mine.first()
    if n is None:
        raise NotFound("No such notification.")
    return n


@transaction.atomic
def mark_all_read(acting: Acting) -> int:
    """Mark every unread notification of the caller read; returns how many."""
    user_id = selectors.person(acting)
    unread = Notification.objects.filter(recipient_id=user_id, read_at__isnull=True)
    return unread.update(read_at=timezone.now())


# --- preferences ----------------------------------------------------------------------------


def _mandatory_error(path: str, label: str) -> DomainError:
    message = f"{label} is always sent by email: the market-entry rules require it."
    return DomainError(
        code="notifications.email_mandatory",
        detail=message,
        status=422,
        title="Invalid request",
        errors=[FieldError(path, "notifications.email_mandatory", message)],
    )


@transaction.atomic
def set_preferences(
    acting: Acting, choices: list[tuple[str, str]], *, path: str = "preferences"
) -> list[dict[str, Any]]:
    """Set the caller's channel per kind (``[(kind, channel), ...]``); kinds not named keep
    theirs. Inbox-only for a kind the current rules make mandatory is refused (422, with the
    field path ``<path>.<i>.channel``); nothing is changed unless every choice is allowed."""
    user_id = selectors.person(acting)
    mandatory = catalogue.mandatory_kinds()
    errors: list[FieldError] = []
    for i, (kind, channel) in enumerate(choices):
        if kind not in catalogue.KINDS:
            errors.append(
                FieldError(
                    f"{path}.{i}.kind",
                    "notifications.kind_unknown",
                    f"{kind!r} is not a kind of notification.",
                )
            )
        elif channel not in Channel.values:
            errors.append(
                FieldError(
                    f"{path}.{i}.channel",
                    "notifications.channel_unknown",
                    f"Choose {' or '.join(Channel.values)}.",
                )
            )
        elif channel == Channel.INBOX and kind in mandatory:
            errors.extend(
                _mandatory_error(f"{path}.{i}.channel", catalogue.KINDS[kind].label).errors
            )
    if errors:
        mandatory_only = all(e.code == "notifications.email_mandatory" for e in errors)
        raise DomainError(
            code="notifications.email_mandatory" if mandatory_only else "validation_failed",
            detail=errors[0].message if len(errors) == 1 else "Some choices are not allowed.",
            status=422,
            title="Invalid request",
            errors=errors,
        )
    before = dict(
        NotificationPreference.objects.filter(user_id=user_id).values_list("kind", "channel")
    )
    now = timezone.now()
    after = dict(before)
    for kind, channel in choices:
        if before.get(kind, catalogue.KINDS[kind].default_channel) == channel:
            continue
        NotificationPreference.objects.update_or_create(
            user_id=user_id, kind=kind, defaults={"channel": channel, "updated_at": now}
        )
        after[kind] = channel
    if after != before:
        audit.record(
            acting,
            "notifications.preferences_changed",
            object_type="user",
            object_id=str(user_id),
            before=before,
            after=after,
        )
    return selectors.preferences(acting)
