"""Background tasks for participants (run by ``flexreg worker``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django_tasks import task

from flexreg.core.scheduler import periodic
from flexreg.participants import services_changes  # (importing it connects its receiver)


@task()
def retry_verification(verification_pk: int) -> str:
    from flexreg.participants import services

    return str(services.run_companies_house_check(verification_pk).status)


@task()
def sweep_due_verifications() -> int:
    """Safety net: anything pending whose retry time passed (e.g. a lost task) is run."""
    from flexreg.participants import services

    return services.retry_due_verifications()


# --- ongoing management (change requests, re-checks) ----------------------------------------


@task()
def retry_change_check(change_pk: int) -> str:
    """Check a pending change request against Companies House again (after an outage)."""
    return str(services_changes.run_change_check(change_pk).status)


@task()
def sweep_due_change_checks() -> int:
    """Safety net for lost retries: every pending change check whose time has come."""
    return services_changes.retry_due_changes()


@task()
def companies_house_recheck(now_iso: str) -> dict[str, Any]:
    """Re-check every verified company that is due (outside any transaction)."""
    from flexreg.participants import recheck

    return recheck.run(now=dt.datetime.fromisoformat(now_iso))


# The scheduler runs each job inside its own transaction, and Companies House must not be
# called inside one: the periodic jobs only queue the work, once the scheduler commits.


@periodic(
    "participants.companies_house_recheck",
    every=dt.timedelta(hours=settings.COMPANIES_HOUSE_RECHECK_HOURS),
)
def queue_companies_house_recheck(now: dt.datetime) -> str:
    when = now.isoformat()
    transaction.on_commit(lambda: companies_house_recheck.enqueue(when))
    return f"queued the Companies House re-check as of {when}"


@periodic("participants.change_checks_sweep", every=dt.timedelta(minutes=15))
def queue_change_checks_sweep(now: dt.datetime) -> str:
    transaction.on_commit(lambda: sweep_due_change_checks.enqueue())
    return "queued the sweep of due change checks"
