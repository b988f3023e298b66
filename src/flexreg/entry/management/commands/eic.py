"""``flexreg eic import FILE [FILE...]``: load ENTSO-E's published EIC lists (CSV or zip)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from flexreg.entry import eic_register


class Command(BaseCommand):
    help = (
        "Import ENTSO-E's published lists of Energy Identification Codes (X_eicCodes.csv, "
        "W_eicCodes.csv, ... or a zip of them) for the market-entry EIC check."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("action", choices=["import"])
        parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
        parser.add_argument(
            "--prune",
            action="store_true",
            help="Mark codes of the imported object types that the files no longer list as "
            f"{eic_register.NOT_PUBLISHED!r} (they stop passing the check).",
        )

    def handle(
        self, *args: Any, action: str, files: list[Path], prune: bool, **options: Any
    ) -> None:
        try:
            result = eic_register.import_files(files, prune=prune)
        except eic_register.EicFileError as exc:
            raise CommandError(str(exc)) from exc
        for line in eic_register.format_result(result):
            self.stdout.write(line)
