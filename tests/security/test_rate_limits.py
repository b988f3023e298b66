"""Rate limits: 429 with Retry-After on every configured endpoint family, shared by every
process through PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, connections
from django.test import Client, RequestFactory

from flexreg.core import ratelimit
from flexreg.core.models import RateLimitCounter
from flexreg.core.ratelimit import Limit, RateLimited

from .conftest import LIMIT, WINDOW

pytestmark = pytest.mark.django_db

# Every configured (path, family); the paths other engineers are still building answer 404
# below the limit, and 429 above it all the same: the middleware runs before routing.
ENDPOINTS = [
    ("/sign-in/", "signin"),
    ("/accounts/login/", "signin"),
    ("/mfa/verify/", "signin"),
    ("/create-account/", "signup"),
    ("/accounts/signup/", "signup"),
    ("/register/check/", "register"),
    ("/register/individual/", "register"),
    ("/api/v1/participants", "register"),
    ("/api/v1/me/tokens", "token"),
    ("/api/v1/oauth/token", "token"),
    ("/api/v1/invitations/accept", "invitation"),
]


def _post(client: Client, path: str, ip: str = "127.0.0.1") -> Any:
    if path.startswith("/api/"):
        return client.post(path, "{}", content_type="application/json", REMOTE_ADDR=ip)
    return client.post(path, {"email": "nobody@example.test", "password": "x"}, REMOTE_ADDR=ip)


@pytest.mark.parametrize(("path", "family"), ENDPOINTS)
def test_each_endpoint_answers_429_with_retry_after_past_its_limit(path: str, family: str) -> None:
    client = Client()
    for _ in range(LIMIT):
        assert _post(client, path).status_code != 429
    response = _post(client, path)
    assert response.status_code == 429
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= WINDOW
    if path.startswith("/api/"):
        assert response["Content-Type"] == "application/problem+json"
        problem = response.json()
        assert problem["code"] == "rate_limited"
        assert problem["status"] == 429
        assert problem["retry_after"] == retry_after
        assert problem["type"].endswith("/problems/rate_limited")
    else:
        html = response.content.decode()
        assert "Sorry, there have been too many attempts" in html
        assert "govuk-heading-l" in html and '<html lang="en-GB"' in html
    assert RateLimitCounter.objects.get(key=f"rl:{family}:127.0.0.1").count == LIMIT + 1


def test_families_and_addresses_are_counted_apart() -> None:
    client = Client()
    for _ in range(LIMIT):
        _post(client, "/api/v1/me/tokens")
    assert _post(client, "/api/v1/me/tokens").status_code == 429
    # Another family from the same address, and the same family from another address: allowed.
    assert _post(client, "/api/v1/participants").status_code != 429
    assert _post(client, "/api/v1/me/tokens", ip="192.0.2.7").status_code != 429


def test_reads_and_other_paths_are_not_limited() -> None:
    client = Client()
    for _ in range(LIMIT + 2):
        assert client.get("/sign-in/").status_code == 200
        assert client.get("/api/v1/health").status_code in (200, 503)
    # A prefix of a configured exact path is not the path.
    for _ in range(LIMIT + 2):
        response = client.post("/api/v1/participants/FR-NOPE/roles", "{}", "application/json")
        assert response.status_code != 429


def test_limits_can_be_switched_off(settings: Any) -> None:
    settings.RATE_LIMITS_ENABLED = False
    client = Client()
    for _ in range(LIMIT + 3):
        assert _post(client, "/api/v1/me/tokens").status_code != 429
    assert not RateLimitCounter.objects.exists()


def test_a_new_window_starts_once_the_old_one_ends() -> None:
    key = "test:window"
    decisions = [ratelimit.hit(key, 2, 60) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert decisions[-1].remaining == 0 and decisions[-1].retry_after <= 60
    with connection.cursor() as cur:  # the window ended (rather than sleeping a minute)
        cur.execute(
            "UPDATE core_ratelimitcounter SET expires_at = clock_timestamp() - interval '1 second'"
            " WHERE key = %s",
            [key],
        )
    fresh = ratelimit.hit(key, 2, 60)
    assert fresh.allowed and fresh.count == 1


def test_prune_deletes_only_expired_counters() -> None:
    ratelimit.hit("test:old", 5, 60)
    ratelimit.hit("test:live", 5, 60)
    RateLimitCounter.objects.filter(key="test:old").update(
        expires_at="2000-01-01T00:00:00Z", window_start="2000-01-01T00:00:00Z"
    )
    assert ratelimit.prune() == 1
    assert list(RateLimitCounter.objects.values_list("key", flat=True)) == ["test:live"]


def test_limit_syntax() -> None:
    assert Limit.parse(" 20/300 ") == Limit(20, 300)
    for bad in ["20", "0/60", "5/0", "a/b", "1/2/3"]:
        with pytest.raises(ValueError):
            Limit.parse(bad)


def test_client_address_behind_trusted_proxies(settings: Any) -> None:
    factory = RequestFactory()
    request = factory.post(
        "/sign-in/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.9"
    )
    assert ratelimit.client_ip(request) == "10.0.0.2"  # no proxy trusted: a header is a lie
    settings.RATE_LIMIT_TRUSTED_PROXY_HOPS = 1
    assert ratelimit.client_ip(request) == "198.51.100.9"  # what our proxy saw, not the spoof
    assert ratelimit.ip_bucket("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert ratelimit.ip_bucket("::ffff:192.0.2.1") == "192.0.2.1"
    assert ratelimit.ip_bucket("192.0.2.1") == "192.0.2.1"


def test_a_service_raising_rate_limited_gets_429_problem_details() -> None:
    from flexreg.config.api import _domain

    request = RequestFactory().post("/api/v1/oauth/token")
    response = _domain(request, RateLimited(42))
    assert response.status_code == 429
    assert response["Retry-After"] == "42"
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.django_db(transaction=True)
def test_counters_are_shared_by_concurrent_connections() -> None:
    """Eight workers with their own database connections (as separate processes would have)
    share one counter: exactly ``limit`` hits are allowed, none lost, none double-counted."""
    limit, workers, each = 20, 8, 5
    allowed: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(workers)

    def work() -> None:
        try:
            barrier.wait()
            for _ in range(each):
                decision = ratelimit.hit("test:shared", limit, 60)
                with lock:
                    allowed.append(decision.allowed)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(allowed) == workers * each
    assert allowed.count(True) == limit
    assert RateLimitCounter.objects.get(key="test:shared").count == workers * each


@pytest.mark.django_db(transaction=True)
def test_the_limit_holds_across_two_clients_on_separate_connections() -> None:
    """Two 'web processes' (threads with their own connections) see one budget."""
    statuses: list[int] = []

    def process(n: int) -> None:
        try:
            client = Client()
            for _ in range(n):
                statuses.append(_post(client, "/api/v1/me/tokens").status_code)
        finally:
            connections.close_all()

    first = threading.Thread(target=process, args=(LIMIT,))
    first.start()
    first.join()
    second = threading.Thread(target=process, args=(1,))
    second.start()
    second.join()
    assert statuses[-1] == 429
    assert 429 not in statuses[:LIMIT]
