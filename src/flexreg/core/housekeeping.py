"""Periodic housekeeping in core: expired rate-limit counters are deleted."""

from __future__ import annotations

import datetime as dt

from flexreg.core import ratelimit
from flexreg.core.scheduler import periodic


@periodic("core.prune_rate_limits", every=dt.timedelta(minutes=10))
def prune_rate_limits(now: dt.datetime) -> int:
    removed = 0
    for _ in range(100):  # at most 100,000 rows per run
        batch = ratelimit.prune()
        removed += batch
        if batch < 1000:
            break
    return removed
