"""``flexreg worker``: runs background tasks (Companies House retries, later reminders...)."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run background tasks from the database queue (SELECT ... SKIP LOCKED workers)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch", action="store_true", help="Run what is due, then exit.")
        parser.add_argument("--interval", type=float, default=1.0)

    def handle(self, *args: Any, batch: bool, interval: float, **options: Any) -> None:
        kwargs: dict[str, Any] = {"interval": interval, "reload": False}
        if batch:
            kwargs["batch"] = True
        call_command("db_worker", **kwargs)
