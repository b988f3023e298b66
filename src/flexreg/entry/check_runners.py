"""Runners for the checks that call outside services or registers (queued by entry.checks)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from flexreg.entry import services
from flexreg.entry.models import CheckRun


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(30 * 2 ** max(attempts, 0), 3600))


def run(run_pk: int, client: Any = None) -> str:
    run_ = CheckRun.objects.select_related("request__case__participant_role__participant").get(
        pk=run_pk
    )
    if run_.status in (CheckRun.Status.PASSED, CheckRun.Status.FAILED):
        return str(run_.status)
    runner = RUNNERS.get(run_.check_name)
    if runner is None:
        services.record_check_outcome(
            run_pk, CheckRun.Status.FAILED, {"detail": f"No runner for {run_.check_name}."}
        )
        return "failed"
    status, outcome = runner(run_, client)
    retry_at = timezone.now() + _backoff(run_.attempts) if status == CheckRun.Status.ERROR else None
    services.record_check_outcome(run_pk, status, outcome, retry_at=retry_at)
    return str(status)


RUNNERS: dict[str, Any] = {}
