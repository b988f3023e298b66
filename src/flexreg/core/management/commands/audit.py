"""``flexreg audit verify [--expect-head SEQ:HASH]`` and ``flexreg audit head``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from flexreg.core import audit


class Command(BaseCommand):
    help = "Verify the audit log's hash chain, or print its head for publishing elsewhere."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("action", choices=["verify", "head"])
        parser.add_argument(
            "--expect-head", default="", help="SEQ:HASH of a head published earlier."
        )

    def handle(self, *args: Any, action: str, expect_head: str, **options: Any) -> None:
        expected: tuple[int, str] | None = None
        if expect_head:
            try:
                seq, digest = expect_head.split(":", 1)
                expected = (int(seq), digest)
            except ValueError as exc:
                raise CommandError("--expect-head must be SEQ:HASH") from exc
        result = audit.verify(expect_head=expected)
        if action == "head":
            self.stdout.write(f"{result.head_seq}:{result.head_hash}")
            return
        for problem in result.problems:
            self.stderr.write(f"row {problem.seq}: {problem.code}: {problem.message}")
        summary = (
            f"{result.checked} rows checked, head {result.head_seq}:{result.head_hash}, "
            f"{result.erased_values} personal values erased"
        )
        if not result.ok:
            raise CommandError(
                f"audit log FAILED verification: {len(result.problems)} problems; {summary}"
            )
        self.stdout.write(f"audit log OK: {summary}")
