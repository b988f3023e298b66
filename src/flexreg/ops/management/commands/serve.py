"""``flexreg serve``: the portal and API under gunicorn (threads; scale out with more hosts)."""

from __future__ import annotations

import os
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connections


class Command(BaseCommand):
    help = "Serve the portal and API (gunicorn)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--bind", default=os.environ.get("FLEXREG_BIND", "127.0.0.1:8000"))
        parser.add_argument(
            "--workers", type=int, default=int(os.environ.get("FLEXREG_WEB_WORKERS", "2"))
        )
        parser.add_argument(
            "--threads", type=int, default=int(os.environ.get("FLEXREG_WEB_THREADS", "4"))
        )

    def handle(self, *args: Any, bind: str, workers: int, threads: int, **options: Any) -> None:
        from gunicorn.app.base import BaseApplication

        from flexreg.config.wsgi import application

        call_command("collectstatic", interactive=False, verbosity=0)
        connections.close_all()

        class FlexRegServer(BaseApplication):
            def load_config(self) -> None:
                for key, value in {
                    "bind": bind,
                    "workers": workers,
                    "threads": threads,
                    "worker_class": "gthread",
                    "accesslog": "-",
                    "timeout": 60,
                    "graceful_timeout": 10,
                    "forwarded_allow_ips": os.environ.get(
                        "FLEXREG_FORWARDED_ALLOW_IPS", "127.0.0.1"
                    ),
                }.items():
                    self.cfg.set(key, value)

            def load(self) -> Any:
                return application

        self.stdout.write(f"FlexReg serving on http://{bind}/ (API docs: /api/v1/docs)")
        FlexRegServer().run()
