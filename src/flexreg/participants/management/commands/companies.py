"""``flexreg companies import FILE``: load Companies House's Basic Company Data (CSV or zip)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from flexreg.participants import services
from flexreg.participants.basic_company_data import BasicCompanyDataError


class Command(BaseCommand):
    help = "Import Companies House's free Basic Company Data file for offline status checks."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("action", choices=["import"])
        parser.add_argument("file", type=Path)
        parser.add_argument("--batch-size", type=int, default=5000)

    def handle(self, *args: Any, action: str, file: Path, batch_size: int, **options: Any) -> None:
        if not file.exists():
            raise CommandError(f"{file} does not exist")
        try:
            counts = services.import_basic_company_data(file, batch_size=batch_size)
        except BasicCompanyDataError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"loaded {counts['loaded']} companies, skipped {counts['skipped']} malformed rows"
        )
        for reason, count in sorted(counts["skip_reasons"].items()):
            self.stdout.write(f"  skipped {count}: {reason}")
        for label, count in sorted(counts["unknown_status_labels"].items()):
            self.stdout.write(f"  unknown status label {label!r}: {count} rows (kept)")
