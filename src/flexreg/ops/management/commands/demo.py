"""``flexreg demo``: migrate + demo data + the Companies House stand-in + a worker + serve."""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from flexreg.ops import demo


class Command(BaseCommand):
    help = "Run FlexReg with demo data and sample Companies House companies (no API key needed)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--bind", default=os.environ.get("FLEXREG_BIND", "127.0.0.1:8000"))

    def handle(self, *args: Any, bind: str, **options: Any) -> None:
        if not settings.DEVELOPMENT:
            raise CommandError("flexreg demo runs only with FLEXREG_ENV=development")
        children: list[subprocess.Popen[bytes]] = []

        def stop_children() -> None:
            for child in children:
                if child.poll() is None:
                    child.terminate()
            for child in children:
                try:
                    child.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    child.kill()

        atexit.register(stop_children)
        # gunicorn's master handles SIGTERM itself; make sure a TERM before it starts still
        # runs the atexit hooks (children, embedded PostgreSQL).
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

        call_command("migrate", interactive=False, verbosity=0)
        if not os.environ.get("FLEXREG_DEMO_REAL_COMPANIES_HOUSE"):
            children.append(
                subprocess.Popen(  # noqa: S603
                    [
                        sys.executable,
                        "-m",
                        "flexreg.devtools.companies_house_stub",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(demo.DEMO_CH_PORT),
                    ]
                )
            )
        if not os.environ.get("FLEXREG_DEMO_REAL_ASSET_SERVICES"):
            children.append(
                subprocess.Popen(  # noqa: S603
                    [
                        sys.executable,
                        "-m",
                        "flexreg.devtools.asset_services_stub",
                        "--port",
                        str(demo.DEMO_ASSET_SERVICES_PORT),
                    ]
                )
            )
        children.append(subprocess.Popen([sys.executable, "-m", "flexreg.cli", "worker"]))
        lines = demo.load_demo_data()
        host = bind if "://" in bind else f"http://{bind}"
        banner = [
            "",
            "=" * 72,
            f"FlexReg demo: portal {host}/   API docs {host}/api/v1/docs",
            "Sign in with:",
            *lines,
            "Sample companies (served locally, no API key): 99000001 with declarant",
            "'Jane Smith' verifies automatically; 99000003 with 'Jane Smith' goes to the",
            "operator's review queue. More in docs/user-guide.md.",
            "=" * 72,
            "",
        ]
        self.stdout.write("\n".join(banner))
        self.stdout.flush()
        call_command("serve", bind=bind)
