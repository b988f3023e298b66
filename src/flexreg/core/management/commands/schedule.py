"""``flexreg schedule list`` / ``flexreg schedule run [--job NAME] [--now ISO-TIME]``.

``list`` shows every periodic job, when it last ran, runs next, and its last error.
``run`` runs the due jobs once (or one job, due or not) — what a worker's sweep does; with
``--now`` the jobs see that time (rehearsing reminders and escalations on a copy of the data).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from flexreg.core import scheduler
from flexreg.core.models import ScheduledJob


class Command(BaseCommand):
    help = "List the periodic jobs, or run them once."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("action", choices=["list", "run"])
        parser.add_argument("--job", help="run this job now, whether due or not")
        parser.add_argument("--now", help="the time the jobs see (ISO 8601, default: now)")

    def handle(self, *args: Any, action: str, job: str | None, now: str | None, **o: Any) -> None:
        moment = timezone.now()
        if now:
            try:
                moment = dt.datetime.fromisoformat(now)
            except ValueError as exc:
                raise CommandError(f"--now: {exc}") from exc
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment)
        if action == "list":
            rows = {r.name: r for r in ScheduledJob.objects.all()}
            for name, spec in sorted(scheduler.JOBS.items()):
                row = rows.get(name)
                last = row.last_run_at.isoformat() if row and row.last_run_at else "never"
                nxt = row.next_run_at.isoformat() if row else "at the next sweep"
                error = f"  last error: {row.last_error}" if row and row.last_error else ""
                self.stdout.write(f"{name}  every {spec.every}  last {last}  next {nxt}{error}")
            return
        if job:
            if job not in scheduler.JOBS:
                raise CommandError(f"unknown job {job!r}; see 'flexreg schedule list'")
            self.stdout.write(f"{job}: {scheduler.run_now(job, moment)!r}")
            return
        for name, result in scheduler.run_due(now=moment).items():
            self.stdout.write(f"{name}: {result!r}")
