"""Security tests: rate limits switched on (they are off in development and the rest of the
suite), small limits so tests stay quick, and helpers to read the audit log."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

PASSWORD = "correct-horse-battery-staple-42"  # the root conftest's make_user password

LIMIT = 3  # every family's limit in these tests
WINDOW = 60


@pytest.fixture(autouse=True)
def _rate_limits_on(settings: Any) -> None:
    settings.RATE_LIMITS_ENABLED = True
    families = ("signin", "signup", "register", "token", "invitation")
    settings.RATE_LIMITS = dict.fromkeys(families, f"{LIMIT}/{WINDOW}")
    settings.SIGNIN_FAILURES = "5/900"
    settings.SIGNIN_LOCKOUT_BASE_SECONDS = 60
    settings.SIGNIN_LOCKOUT_MAX_SECONDS = 3600
    settings.RATE_LIMIT_TRUSTED_PROXY_HOPS = 0
    settings.RATE_LIMIT_PRUNE_PROBABILITY = 0.0
    settings.SESSION_IDLE_SECONDS = 1800
    settings.SESSION_ABSOLUTE_SECONDS = 12 * 3600


@pytest.fixture
def generous_signin(settings: Any) -> None:
    """Sign-in attempts not limited per IP, so only the per-account slow-down shows."""
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "signin": "1000/60"}


def audit_actions(since: int = 0) -> list[str]:
    from flexreg.core.models import AuditEvent

    return list(
        AuditEvent.objects.filter(seq__gt=since).order_by("seq").values_list("action", flat=True)
    )


def last_seq() -> int:
    from flexreg.core.models import AuditEvent

    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


@pytest.fixture
def signed_in_client(make_user: Any) -> tuple[Client, Any]:
    """A client signed in through Django's ``login`` (what every sign-in route ends in)."""
    user = make_user()
    client = Client()
    client.force_login(user)
    return client, user
