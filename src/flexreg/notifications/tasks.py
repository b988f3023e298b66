"""Background work for notifications: send one email (a task), retry failed ones (periodic)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django_tasks import task

from flexreg.core.scheduler import periodic


@task()
def send_email(notification_pk: int) -> str:
    """Send one notification's email (at most once: ``services.deliver`` claims the row)."""
    from flexreg.notifications import services

    return services.deliver(notification_pk)


@periodic("notifications.email_retry", every=dt.timedelta(minutes=5))
def retry_emails(now: dt.datetime) -> int:
    """Queue again the emails that failed (after their backoff) or whose task was lost."""
    from flexreg.notifications import services

    due = services.due_for_retry(now)
    if due:
        transaction.on_commit(lambda: services.enqueue(due))
    return len(due)
