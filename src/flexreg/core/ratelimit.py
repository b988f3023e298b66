"""Rate limits and the sign-in slow-down, shared by every web process through PostgreSQL.

Counters live in ``core_ratelimitcounter`` (one row per key), not in process memory, so limits
hold across any number of web processes and hosts. Each hit is one atomic
``INSERT … ON CONFLICT … DO UPDATE`` on a fixed window, timed by the database clock
(``clock_timestamp()``) so hosts with skewed clocks agree. Expired rows are pruned now and then
by ``hit`` itself (see ``prune``).

Two mechanisms (docs/decisions/0010-rate-limits-and-sessions.md):

* ``hit(key, limit, window)``: at most ``limit`` hits per fixed window of ``window`` seconds.
  ``RateLimitMiddleware`` applies it per client IP to the endpoint families in ``RULES``.
* ``record_failure`` / ``lockout_remaining`` / ``reset_failures``: failed sign-ins per account and
  IP. After ``SIGNIN_FAILURES`` (e.g. 5 in 15 minutes) each further failure locks that
  account + IP out for twice as long as the one before (``SIGNIN_LOCKOUT_BASE_SECONDS`` doubling
  up to ``SIGNIN_LOCKOUT_MAX_SECONDS``); a successful sign-in clears it. Fed by Django's
  ``user_login_failed`` / ``user_logged_in`` signals (accounts/signals.py).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from flexreg.core.errors import DomainError

logger = logging.getLogger(__name__)

_MAX_EXPONENT = 20  # 2**20 × base: far beyond any sensible cap, never an overflow


@dataclass(frozen=True)
class Decision:
    """The outcome of one hit: allowed or not, and when to try again."""

    allowed: bool
    count: int
    limit: int
    retry_after: int  # seconds until the window ends (or the lock lifts); at least 1

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Limit:
        """``"20/300"``: 20 per 300 seconds."""
        try:
            count, seconds = (int(part) for part in text.strip().split("/"))
        except ValueError as exc:
            raise ValueError(f"a rate limit is '<count>/<seconds>', not {text!r}") from exc
        if count < 1 or seconds < 1:
            raise ValueError(f"a rate limit needs a positive count and window, not {text!r}")
        return cls(count, seconds)


@dataclass(frozen=True)
class Rule:
    """Requests with one of ``methods`` to ``path`` count against ``family``'s limit.

    ``path`` matches exactly (a trailing slash is optional); ending in ``*`` it is a prefix.
    """

    family: str
    methods: frozenset[str]
    path: str

    def matches(self, method: str, path: str) -> bool:
        if method not in self.methods:
            return False
        if self.path.endswith("*"):
            return path.startswith(self.path[:-1])
        return path.rstrip("/") == self.path.rstrip("/")


POST = frozenset({"POST"})
# Families whose limits come from settings.RATE_LIMITS; "signin" also gets the slow-down.
RULES: tuple[Rule, ...] = (
    Rule("signin", POST, "/sign-in/"),
    Rule("signin", POST, "/accounts/login/*"),  # allauth, including login by code
    Rule("signin", POST, "/accounts/2fa/authenticate/*"),  # allauth MFA codes
    Rule("signin", POST, "/mfa/verify/"),  # FlexReg's TOTP step
    Rule("signup", POST, "/create-account/"),
    Rule("signup", POST, "/accounts/signup/*"),
    Rule("signup", POST, "/accounts/password/reset/*"),  # sends email: same budget
    Rule("register", POST, "/register/check/"),
    Rule("register", POST, "/register/individual/"),
    Rule("register", POST, "/api/v1/participants"),
    Rule("token", POST, "/api/v1/me/tokens"),
    Rule("token", POST, "/api/v1/oauth/token"),
    Rule("invitation", POST, "/api/v1/invitations/accept"),
)
# Form fields that carry the account being signed in to (local form, allauth).
ACCOUNT_FIELDS = ("email", "login", "username")


class RateLimited(DomainError):
    """For services that check a limit themselves: rendered as 429 with ``Retry-After``."""

    def __init__(self, retry_after: int, detail: str = "") -> None:
        super().__init__(
            code="rate_limited",
            detail=detail or _detail(retry_after),
            status=429,
            title="Too many requests",
            extra={"retry_after": retry_after},
        )


def _detail(retry_after: int) -> str:
    return f"Too many requests. Try again in {retry_after} second(s)."


def _seconds(value: Any) -> int:
    return max(1, math.ceil(float(value or 0)))


# --- the counters -------------------------------------------------------------------------------

_HIT = """
INSERT INTO core_ratelimitcounter AS c (key, count, window_start, expires_at, locked_until)
VALUES (%(key)s, 1, clock_timestamp(), clock_timestamp() + make_interval(secs => %(window)s), NULL)
ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN c.expires_at <= EXCLUDED.window_start THEN 1 ELSE c.count + 1 END,
    window_start = CASE WHEN c.expires_at <= EXCLUDED.window_start
                        THEN EXCLUDED.window_start ELSE c.window_start END,
    expires_at = CASE WHEN c.expires_at <= EXCLUDED.window_start
                      THEN EXCLUDED.expires_at ELSE c.expires_at END
RETURNING c.count, extract(epoch FROM c.expires_at - clock_timestamp())
"""


def hit(key: str, limit: int, window: int) -> Decision:
    """Count one hit on ``key``; allowed while at most ``limit`` hits fall in the window.

    The window is fixed: it starts at the first hit and lasts ``window`` seconds. Atomic across
    processes (one upsert, serialised by the row lock); commits at once outside a transaction.
    """
    with connection.cursor() as cur:
        cur.execute(_HIT, {"key": _key(key), "window": window})
        count, left = cur.fetchone()
    _maybe_prune()
    return Decision(allowed=count <= limit, count=count, limit=limit, retry_after=_seconds(left))


# A failure is remembered for the failure window after the latest one (and after any lock), so
# a lock that outlasts the window does not hand the attacker a fresh allowance.
_FAIL = """
INSERT INTO core_ratelimitcounter AS c (key, count, window_start, expires_at, locked_until)
VALUES (%(key)s, 1, clock_timestamp(), clock_timestamp() + make_interval(secs => %(window)s), NULL)
ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN c.expires_at <= EXCLUDED.window_start THEN 1 ELSE c.count + 1 END,
    window_start = CASE WHEN c.expires_at <= EXCLUDED.window_start
                        THEN EXCLUDED.window_start ELSE c.window_start END,
    locked_until = CASE WHEN c.expires_at <= EXCLUDED.window_start
                        THEN NULL ELSE c.locked_until END,
    expires_at = GREATEST(c.expires_at, EXCLUDED.expires_at)
RETURNING c.count
"""
_LOCK = """
UPDATE core_ratelimitcounter
SET locked_until = GREATEST(COALESCE(locked_until, '-infinity'),
                            clock_timestamp() + make_interval(secs => %(lock)s)),
    expires_at = GREATEST(expires_at,
                          clock_timestamp() + make_interval(secs => %(lock)s + %(window)s))
WHERE key = %(key)s
RETURNING extract(epoch FROM locked_until - clock_timestamp())
"""


def lock_seconds(failures: int) -> int:
    """How long the ``failures``-th failure in a row locks the account + IP out (0: not yet)."""
    threshold = Limit.parse(settings.SIGNIN_FAILURES).count
    if failures < threshold:
        return 0
    exponent = min(failures - threshold, _MAX_EXPONENT)
    return int(
        min(settings.SIGNIN_LOCKOUT_MAX_SECONDS, settings.SIGNIN_LOCKOUT_BASE_SECONDS * 2**exponent)
    )


def record_failure(key: str) -> Decision:
    """Count a failed sign-in for ``key`` (an account + IP); lock it out once past the threshold.

    ``allowed`` is False when this failure started (or lengthened) a lock; ``retry_after`` is
    then how long it lasts.
    """
    failures = Limit.parse(settings.SIGNIN_FAILURES)
    params: dict[str, str | int] = {"key": _key(key), "window": failures.seconds}
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(_FAIL, params)
        (count,) = cur.fetchone()
        lock = lock_seconds(count)
        if not lock:
            return Decision(True, count, failures.count, 1)
        cur.execute(_LOCK, {**params, "lock": lock})
        (left,) = cur.fetchone()
    logger.warning("sign-in locked out for %ss after %s failures", lock, count)
    return Decision(False, count, failures.count, _seconds(left))


def lockout_remaining(key: str) -> int:
    """Seconds until ``key``'s sign-in lock lifts; 0 if it is not locked."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT extract(epoch FROM locked_until - clock_timestamp()) "
            "FROM core_ratelimitcounter "
            "WHERE key = %s AND locked_until > clock_timestamp()",
            [_key(key)],
        )
        row = cur.fetchone()
    return _seconds(row[0]) if row else 0


def reset_failures(key: str) -> None:
    with connection.cursor() as cur:
        cur.execute("DELETE FROM core_ratelimitcounter WHERE key = %s", [_key(key)])


def prune(batch: int = 1000) -> int:
    """Delete up to ``batch`` expired counters; returns how many. Safe to run anywhere, any time."""
    with connection.cursor() as cur:
        cur.execute(
            "DELETE FROM core_ratelimitcounter WHERE key IN (SELECT key FROM core_ratelimitcounter "
            "WHERE expires_at < clock_timestamp() LIMIT %s FOR UPDATE SKIP LOCKED)",
            [batch],
        )
        return cur.rowcount


def _maybe_prune() -> None:
    if random.random() < settings.RATE_LIMIT_PRUNE_PROBABILITY:  # noqa: S311 (not security)
        try:
            prune()
        except Exception:  # pruning is housekeeping: never fail a request for it
            logger.exception("could not prune rate-limit counters")


def _key(key: str) -> str:
    return key if len(key) <= 200 else "h:" + hashlib.sha256(key.encode()).hexdigest()


# --- keys from requests ---------------------------------------------------------------------------


def client_ip(request: HttpRequest) -> str:
    """The client's address: ``REMOTE_ADDR``, or with ``RATE_LIMIT_TRUSTED_PROXY_HOPS`` = n > 0
    the n-th address from the right of ``X-Forwarded-For`` (the one our own proxy saw)."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    hops = int(getattr(settings, "RATE_LIMIT_TRUSTED_PROXY_HOPS", 0))
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if hops > 0 and forwarded:
        chain = [part.strip() for part in forwarded.split(",") if part.strip()]
        if chain:
            remote = chain[-hops] if len(chain) >= hops else chain[0]
    try:
        return str(ipaddress.ip_address(remote))
    except ValueError:
        return "unknown"


def ip_bucket(ip: str) -> str:
    """IPv6 clients usually hold a whole /64: count them per /64, IPv4 per address."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def account_key(account: str, ip: str) -> str:
    """The slow-down key for one account at one address (the account is hashed, not stored)."""
    digest = hashlib.sha256(account.strip().lower().encode()).hexdigest()[:32]
    return f"signin-fail:{digest}:{ip_bucket(ip)}"


def account_of(request: HttpRequest) -> str:
    """The account a sign-in form names (never read for anything but a form post)."""
    if "form" not in request.META.get("CONTENT_TYPE", ""):
        return ""
    for name in ACCOUNT_FIELDS:
        value = request.POST.get(name)
        if value:
            return value.strip().lower()[:254]
    return ""


def rules() -> Sequence[Rule]:
    return tuple(getattr(settings, "RATE_LIMIT_RULES", RULES))


def limit_for(family: str) -> Limit:
    return Limit.parse(settings.RATE_LIMITS[family])


def check_request(request: HttpRequest) -> HttpResponse | None:
    """The 429 answer for a request over a limit (or locked out), else None."""
    method, path = request.method or "GET", request.path
    rule = next((r for r in rules() if r.matches(method, path)), None)
    if rule is None:
        return None
    ip = client_ip(request)
    limit = limit_for(rule.family)
    decision = hit(f"rl:{rule.family}:{ip_bucket(ip)}", limit.count, limit.seconds)
    if not decision.allowed:
        logger.warning("rate limit %s exceeded (%s/%ss)", rule.family, limit.count, limit.seconds)
        return too_many(request, decision.retry_after)
    if rule.family == "signin":
        account = account_of(request)
        if account:
            locked = lockout_remaining(account_key(account, ip))
            if locked:
                return too_many(
                    request,
                    locked,
                    "There have been too many failed attempts to sign in to this account. "
                    f"Try again in {locked} second(s).",
                )
    return None


def too_many(request: HttpRequest, retry_after: int, detail: str = "") -> HttpResponse:
    """429 with ``Retry-After``: problem details for the API, a GOV.UK-styled page elsewhere."""
    detail = detail or _detail(retry_after)
    if request.path.startswith("/api/"):
        from flexreg.core.problems import problem_response

        return problem_response(
            request,
            status=429,
            code="rate_limited",
            title="Too many requests",
            detail=detail,
            extra={"retry_after": retry_after},
            headers={"Retry-After": str(retry_after)},
        )
    minutes = max(1, math.ceil(retry_after / 60))
    response = render(
        request, "429.html", {"retry_after": retry_after, "minutes": minutes}, status=429
    )
    response["Retry-After"] = str(retry_after)
    return response
