"""Shared pieces of the authorisation matrix: the world, a scenario, expected statuses.

Rows live in ``test_authorisation_matrix.py`` and in ``rows_<area>.py`` modules beside it
(each exporting ``SCENARIOS``), so each area adds its own rows without touching the others.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conftest import Api
from flexreg.participants.models import Participant

CALLERS = ("anonymous", "other", "without", "with", "operator")


@dataclass
class World:
    a: Participant
    b: Participant
    pending_verification_id: str
    apis: dict[str, Api]
    a_key_id: str
    delegation_id: str = ""
    client_id: str = ""


def _days(n: int) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=n)).isoformat()


@dataclass(frozen=True)
class Scenario:
    operation: str  # "METHOD /api/v1/path/{template}"
    build: Callable[[World], tuple[str, Any]]  # -> (concrete path, JSON body or None)
    expect: dict[str, int]


def _expect(anonymous: int, other: int, without: int, with_: int, operator: int) -> dict[str, int]:
    return dict(zip(CALLERS, (anonymous, other, without, with_, operator), strict=True))


DECLARATION = {
    "declarant_name": "Jane Smith",
    "declarant_is_applicant": True,
    "statement_accepted": True,
}
