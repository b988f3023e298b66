"""Smoke tests of the embedded PostgreSQL path (DATABASE_URL unset). `make test` runs these
with the embedded server even when the machine has its own PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command

from conftest import organisation_payload

pytestmark = pytest.mark.embedded


def test_settings_use_the_embedded_server() -> None:
    if os.environ.get("DATABASE_URL"):
        pytest.skip("DATABASE_URL is set: this run uses another server")
    assert settings.EMBEDDED_DATABASE
    assert settings.DATABASES["default"]["HOST"].endswith("/pg")


@pytest.mark.django_db
def test_registration_and_audit_on_the_embedded_server(registered: Any, capsys: Any) -> None:
    _, body, _ = registered(organisation_payload())
    assert body["status"] == "active"
    call_command("audit", "verify")
    assert "audit log OK" in capsys.readouterr().out


def test_several_processes_start_at_once_and_share_one_server(tmp_path: Any) -> None:
    if os.environ.get("DATABASE_URL"):
        pytest.skip("DATABASE_URL is set: this run uses another server")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    # A short, fresh data directory: a brand-new server initialised by racing processes.
    data = f"/tmp/frx{os.getpid()}"
    env.update(FLEXREG_DATA_DIR=data, FLEXREG_ENV="development")
    code = (
        "import django; django.setup();"
        "from django.db import connection; connection.ensure_connection();"
        "cur = connection.cursor(); cur.execute('select 1');"
        "print(connection.connection.info.host, cur.fetchone()[0])"
    )
    try:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", code],
                env={**env, "DJANGO_SETTINGS_MODULE": "flexreg.config.settings"},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        outs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], [o[1][-2000:] for o in outs]
        assert len({o[0].strip() for o in outs}) == 1
        # The last process to exit stopped the server cleanly.
        status = subprocess.run(
            [sys.executable, "-m", "flexreg.cli", "db", "status"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert "stopped" in status.stdout
    finally:
        subprocess.run(
            [sys.executable, "-m", "flexreg.cli", "db", "stop"],
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        subprocess.run(["rm", "-rf", data], check=False)
