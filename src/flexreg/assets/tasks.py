"""Background work for assets (run by ``flexreg worker``): the authenticity checks and the
job that retries them.

``run_check`` is queued by ``authenticity.start`` for each pending check once the
registration commits; ``run_checks`` by ``authenticity.start_many`` (bulk registration) for
a batch of checks, run one after the other with shared HTTP clients. ``assets.retry_checks``
(every five minutes) re-runs checks whose service was unavailable, when their retry time has
come (30 s doubling to hourly), and checks whose task was lost (still pending ten minutes
after they were created): up to 200 itself, and the rest of what is due (up to 20,000 a
sweep) queued as ``run_checks`` tasks for the workers to run in parallel, so a backlog after
an outage does not wait for 200 checks per five minutes. Claims use ``FOR UPDATE SKIP
LOCKED`` and a lease, so two sweeps, or a sweep and a task, never run one check twice. A
service found down is not called again in the same sweep (or batch): the remaining checks for
it record the same error at once. After
``ASSET_CHECK_GIVE_UP_HOURS`` of unavailability a check concludes "service unavailable" and
the asset goes to ``query``.
"""

from __future__ import annotations

import datetime as dt

from django_tasks import task

from flexreg.assets import authenticity  # its system check registers on import
from flexreg.core.scheduler import periodic


@task()
def run_check(check_pk: int) -> str:
    """Run one authenticity check (meter point, DNO connection, manufacturer, MCS, consent)
    and record its outcome."""
    return authenticity.run(check_pk, early_retry=False)


@task()
def run_checks(check_pks: list[int], lease: str | None = None) -> dict[str, int]:
    """Run a batch of authenticity checks (bulk registration queues them this way, and the
    retry sweep with ``lease``: its claim on them, an ISO date-time)."""
    return authenticity.run_batch(
        check_pks, lease=dt.datetime.fromisoformat(lease) if lease else None
    )


@periodic("assets.retry_checks", every=dt.timedelta(minutes=5), atomic=False)
def retry_checks(now: dt.datetime) -> dict[str, int]:
    """Re-run the authenticity checks that are due (``authenticity.sweep``: a batch here, the
    rest queued as ``run_checks`` tasks); returns counts per resulting status and
    ``queued``."""
    return authenticity.sweep(now)


__all__ = ["retry_checks", "run_check", "run_checks"]
