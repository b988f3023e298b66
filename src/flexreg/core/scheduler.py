"""Periodic jobs run by ``flexreg worker``: reminders, re-checks, retries, pruning.

Apps register a job with ``@periodic(name, every=...)`` (at import of their ``tasks`` module).
Each job has a row in ``core_scheduledjob``; a worker claims a due row with
``SELECT ... FOR UPDATE SKIP LOCKED``, runs the job and sets its next run, so any number of
workers may run and each due run happens once. Jobs must be idempotent anyway (a crash after
the job but before the commit re-runs it): reminders, for one, are keyed by a unique row.
A job registered with ``atomic=False`` (one that calls outside services) runs after its claim
has committed, outside any transaction: at most once per due run (a crash is not re-run until
the next), and it may overlap its own next run if it outlasts its interval, so it must claim
its own work (the asset checks' retry sweep leases each check).

Tests and operators run jobs with an explicit ``now`` (``run_due(now=...)``,
``flexreg schedule run --now``), which is how time is "moved" without waiting.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    every: dt.timedelta
    run: Callable[[dt.datetime], Any]  # called with "now"; returns something loggable
    #: True: the job runs inside the transaction that claimed it (all or nothing, re-run after
    #: a crash). False: the claim commits first and the job runs outside any transaction,
    #: owning its own (a job that calls outside services, so that no lock it takes — the audit
    #: log's, a row's — is held while a service answers).
    atomic: bool = True


JOBS: dict[str, Job] = {}


def periodic(
    name: str, *, every: dt.timedelta, atomic: bool = True
) -> Callable[[Callable[[dt.datetime], Any]], Any]:
    def register(fn: Callable[[dt.datetime], Any]) -> Callable[[dt.datetime], Any]:
        JOBS[name] = Job(name, every, fn, atomic)
        return fn

    return register


def _ensure_rows(now: dt.datetime) -> None:
    from flexreg.core.models import ScheduledJob

    known = set(ScheduledJob.objects.values_list("name", flat=True))
    for name in JOBS.keys() - known:
        ScheduledJob.objects.get_or_create(name=name, defaults={"next_run_at": now})


def run_due(now: dt.datetime | None = None, only: set[str] | None = None) -> dict[str, Any]:
    """Run every job that is due at ``now`` (each once), returning what each returned.

    ``now`` is the clock the jobs see: the real time in production, a later one in tests.
    """
    from flexreg.core.models import ScheduledJob

    now = now or timezone.now()
    _ensure_rows(now)
    results: dict[str, Any] = {}
    for name in sorted(JOBS):
        if only is not None and name not in only:
            continue
        job = JOBS[name]
        with transaction.atomic():
            row = (
                ScheduledJob.objects.select_for_update(skip_locked=True)
                .filter(name=name, next_run_at__lte=now)
                .first()
            )
            if row is None:
                continue  # not due, or another worker is running it
            row.last_run_at = now
            row.next_run_at = now + job.every
            row.runs += 1
            if job.atomic:
                results[name], row.last_error = _run(job, now)
            row.save()
        if not job.atomic:
            # Claimed and rescheduled (committed): no other worker takes this run.
            results[name], error = _run(job, now)
            ScheduledJob.objects.filter(pk=row.pk).update(last_error=error)
    return results


def _run(job: Job, now: dt.datetime) -> tuple[Any, str]:
    """What the job returned (or the exception it raised) and the error to record."""
    try:
        # Inside a caller's transaction (tests), a savepoint all the same: a failing job must
        # not leave that transaction aborted for the jobs after it.
        if job.atomic or connection.in_atomic_block:
            with transaction.atomic():
                return job.run(now), ""
        return job.run(now), ""
    except Exception as exc:  # one failing job must not stop the others
        logger.exception("scheduled job %s failed", job.name)
        return exc, f"{type(exc).__name__}: {exc}"[:500]


def run_now(name: str, now: dt.datetime | None = None) -> Any:
    """Run one job at once, whatever its schedule (operators, tests)."""
    return JOBS[name].run(now or timezone.now())
