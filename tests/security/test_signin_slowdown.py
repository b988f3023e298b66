"""Repeated failed sign-ins slow further attempts down, per account and address; a successful
sign-in clears the slate. Fed by Django's sign-in signals, so every sign-in route is covered."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import authenticate, login
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.test import Client, RequestFactory

from flexreg.core import ratelimit
from flexreg.core.models import RateLimitCounter

from .conftest import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("generous_signin")]


def _fail(client: Client, email: str, ip: str = "127.0.0.1") -> Any:
    return client.post(
        "/sign-in/", {"email": email, "password": "wrong-password-1"}, REMOTE_ADDR=ip
    )


def _expire_lock(email: str, ip: str = "127.0.0.1") -> None:
    RateLimitCounter.objects.filter(key=ratelimit.account_key(email, ip)).update(
        locked_until="2000-01-01T00:00:00Z"
    )


def _counter(email: str, ip: str = "127.0.0.1") -> RateLimitCounter | None:
    return RateLimitCounter.objects.filter(key=ratelimit.account_key(email, ip)).first()


def _sign_in_through_django(user: Any, ip: str = "127.0.0.1") -> None:
    """What every sign-in route (local form, allauth, OIDC) finally does."""
    request = RequestFactory().post("/sign-in/", REMOTE_ADDR=ip)
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")


def test_five_failures_lock_the_account_at_that_address(make_user: Any) -> None:
    user = make_user()
    client = Client()
    for _ in range(4):
        assert _fail(client, user.email).status_code == 200  # the form, with its error
    assert _counter(user.email).locked_until is None
    assert _fail(client, user.email).status_code == 200  # the fifth failure starts a lock
    # Now even the right password is refused until the lock lifts: 429 with Retry-After.
    response = client.post("/sign-in/", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 429
    assert 55 <= int(response["Retry-After"]) <= 60
    assert "too many attempts" in response.content.decode()


def test_the_lock_is_per_account_and_address(make_user: Any) -> None:
    user, other = make_user(), make_user()
    client = Client()
    for _ in range(5):
        _fail(client, user.email)
    assert _fail(client, user.email).status_code == 429
    assert _fail(client, other.email).status_code == 200  # another account, same address
    assert _fail(client, user.email, ip="198.51.100.4").status_code == 200  # another address
    assert _fail(client, user.email.upper()).status_code == 429  # the same account, any case


def test_each_failure_after_a_lock_locks_twice_as_long(make_user: Any) -> None:
    user = make_user()
    client = Client()
    for _ in range(5):
        _fail(client, user.email)
    waits = []
    for _ in range(3):
        response = _fail(client, user.email)
        assert response.status_code == 429
        waits.append(int(response["Retry-After"]))
        _expire_lock(user.email)
        assert _fail(client, user.email).status_code == 200  # allowed to try, and fails again
    final = _fail(client, user.email)
    waits.append(int(final["Retry-After"]))
    assert [round(w / 60) for w in waits] == [1, 2, 4, 8]
    assert _counter(user.email).count == 8


def test_lock_lengths_double_up_to_the_cap(settings: Any) -> None:
    settings.SIGNIN_LOCKOUT_BASE_SECONDS = 60
    settings.SIGNIN_LOCKOUT_MAX_SECONDS = 900
    expected = [0, 0, 0, 0, 60, 120, 240, 480, 900, 900]
    assert [ratelimit.lock_seconds(n) for n in range(1, 11)] == expected
    assert ratelimit.lock_seconds(10_000) == 900


def test_a_successful_sign_in_clears_the_failures(make_user: Any) -> None:
    user = make_user()
    client = Client()
    for _ in range(5):
        _fail(client, user.email)
    _expire_lock(user.email)
    _sign_in_through_django(user)
    assert _counter(user.email) is None
    assert _fail(client, user.email).status_code == 200
    assert _counter(user.email).count == 1 and _counter(user.email).locked_until is None


def test_failures_reported_by_any_backend_count(make_user: Any) -> None:
    """allauth authenticates with ``email=``/``login=``; Django sends ``user_login_failed``."""
    user = make_user()
    request = RequestFactory().post("/accounts/login/", REMOTE_ADDR="127.0.0.1")
    assert authenticate(request, email=user.email, password="nope-nope-nope") is None
    assert authenticate(request, username=user.email, password="nope-nope-nope") is None
    assert _counter(user.email).count == 2


def test_failures_for_unknown_accounts_slow_down_too() -> None:
    client = Client()
    for _ in range(5):
        _fail(client, "nobody@example.test")
    assert _fail(client, "nobody@example.test").status_code == 429


def test_no_slow_down_when_limits_are_off(settings: Any, make_user: Any) -> None:
    settings.RATE_LIMITS_ENABLED = False
    user = make_user()
    client = Client()
    for _ in range(6):
        assert _fail(client, user.email).status_code == 200
    assert _counter(user.email) is None
