"""Background tasks for market entry (run by ``flexreg worker``)."""

from __future__ import annotations

from django_tasks import task


@task()
def run_check(run_pk: int) -> str:
    """Run one external check (Companies House status, EIC register, ...) and record it."""
    from flexreg.entry import check_runners

    return check_runners.run(run_pk)
