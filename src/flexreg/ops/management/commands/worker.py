"""``flexreg worker``: runs background tasks, plus a periodic sweep for due retries.

Tasks come from the database queue (django-tasks' database backend, ``SKIP LOCKED``), so any
number of workers may run. The sweep re-runs verifications whose retry time has passed, in case
a queued retry was lost; one worker at a time sweeps (a PostgreSQL advisory lock decides).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection

logger = logging.getLogger(__name__)
_SWEEP_LOCK = 0x666C_7377_6565  # "flswee"


def sweep_once() -> int:
    """Run due verification retries if no other worker is sweeping, then the scheduler's due
    periodic jobs (core.scheduler; each claimed with SKIP LOCKED). Returns how many ran."""
    from flexreg.core import scheduler
    from flexreg.participants import services

    ran = 0
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s)", [_SWEEP_LOCK])
        (locked,) = cur.fetchone()
    if locked:
        try:
            ran += services.retry_due_verifications()
        finally:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", [_SWEEP_LOCK])
    ran += len(scheduler.run_due())
    return ran


def _sweeper(stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        try:
            close_old_connections()
            ran = sweep_once()
            if ran:
                logger.info("sweep re-ran %d due verifications", ran)
        except Exception:  # a failed sweep must not stop the worker; the next one retries
            logger.exception("sweep failed")
        finally:
            connection.close()


class Command(BaseCommand):
    help = "Run background tasks from the database queue, and sweep due retries."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch", action="store_true", help="Run what is due, then exit.")
        parser.add_argument("--interval", type=float, default=1.0)
        parser.add_argument("--sweep-every", type=float, default=30.0)

    def handle(
        self, *args: Any, batch: bool, interval: float, sweep_every: float, **o: Any
    ) -> None:
        if batch:
            sweep_once()
            call_command("db_worker", interval=interval, reload=False, batch=True)
            return
        stop = threading.Event()
        thread = threading.Thread(target=_sweeper, args=(stop, sweep_every), daemon=True)
        thread.start()
        try:
            call_command("db_worker", interval=interval, reload=False)
        finally:
            stop.set()
