from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_models_and_migrations_are_in_step() -> None:
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db
def test_database_checks_pass_on_a_supported_postgresql() -> None:
    from django.db import connection

    from flexreg.core.checks import postgresql_version

    assert postgresql_version(None, databases=["default"]) == []
    assert connection.pg_version >= 150000
