"""System checks run by ``flexreg migrate`` and ``flexreg check --database default``."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, Tags, register
from django.db import connections

MIN_POSTGRESQL = 150000


@register(Tags.database)
def postgresql_version(app_configs: Any, databases: Any = None, **kwargs: Any) -> list[Error]:
    errors = []
    for alias in databases or []:
        connection = connections[alias]
        if connection.vendor != "postgresql":
            errors.append(Error("FlexReg runs on PostgreSQL only.", id="flexreg.E001"))
            continue
        version = connection.pg_version  # type: ignore[attr-defined]
        if version < MIN_POSTGRESQL:
            errors.append(
                Error(
                    f"FlexReg needs PostgreSQL 15 or newer; {alias} is {version // 10000}.",
                    hint="Point DATABASE_URL at a newer server, or unset it to use the "
                    "embedded one.",
                    id="flexreg.E002",
                )
            )
    return errors
