"""The ``flexreg`` command: Django's management commands plus FlexReg's own.

FlexReg's commands: ``serve``, ``worker``, ``migrate``, ``demo``, ``operator create EMAIL``,
``audit verify``, ``companies import FILE``, ``eic import FILE...``, ``schedule list|run``,
``db stop``. ``flexreg help`` lists them all.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flexreg.config.settings")
    if args[:1] == ["db"]:
        sys.exit(_db(args[1:]))
    if args[:1] == ["demo"]:
        from flexreg.ops.demo import prepare_environment

        prepare_environment()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["flexreg", *args])


def _db(args: list[str]) -> int:
    """``flexreg db status|stop``: the embedded server, handled without starting Django."""
    from flexreg.core import embedded_db

    if os.environ.get("DATABASE_URL"):
        print("DATABASE_URL is set: FlexReg is not running its own server.")
        return 1
    if args == ["stop"]:
        print("stopped" if embedded_db.stop() else "not running")
        return 0
    if args == ["status"]:
        print(f"embedded PostgreSQL: {'running' if embedded_db.is_running() else 'stopped'}")
        print(f"data directory: {embedded_db.data_dir() / 'pg'}")
        return 0
    print("usage: flexreg db status|stop")
    return 2


if __name__ == "__main__":
    main()
