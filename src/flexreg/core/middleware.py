"""Request id and security headers for every response."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from flexreg.core.request_context import reset_request_id, set_request_id

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,100}$")

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)
# Swagger UI (the interactive API docs) sets inline styles; that one page may use them.
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


class RequestIdMiddleware:
    """Accept a well-formed ``X-Request-ID`` from the caller or make one; echo it back."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else str(uuid.uuid4())
        request.request_id = request_id  # type: ignore[attr-defined]
        token = set_request_id(request_id)
        try:
            response = self.get_response(request)
        finally:
            reset_request_id(token)
        response["X-Request-ID"] = request_id
        return response


class RejectNulMiddleware:
    """Refuse NUL characters anywhere in an API request: PostgreSQL cannot store them in text,
    so they would otherwise surface as a server error deep inside a write."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/") and _has_nul(request):
            from flexreg.core.problems import problem_response

            return problem_response(
                request,
                status=400,
                code="invalid_characters",
                title="Bad request",
                detail="The request contains NUL characters, which are never valid here.",
            )
        return self.get_response(request)


def _has_nul(request: HttpRequest) -> bool:
    if "\x00" in request.path or "\x00" in request.META.get("QUERY_STRING", ""):
        return True
    if "%00" in request.META.get("QUERY_STRING", "") or "%00" in request.get_full_path():
        return True
    if "json" not in request.META.get("CONTENT_TYPE", ""):
        return False  # uploads and forms: their own validation handles content
    try:
        body = request.body
    except Exception:  # body already read or too large: Django's own checks handle it
        return False
    return b"\x00" in body or b"\\u0000" in body


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = DOCS_CSP if request.path == "/api/v1/docs" else CSP
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        if request.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


# --- rate limits and session timeouts (docs/decisions/0010-rate-limits-and-sessions.md) -------

SESSION_STARTED = "_flexreg_started"  # epoch seconds the session was signed in
SESSION_SEEN = "_flexreg_seen"  # epoch seconds of the latest request (to within SEEN_EVERY)
SEEN_EVERY = 60  # write the session for "seen" at most once a minute


def start_session(request: HttpRequest) -> None:
    """Stamp a newly signed-in session (called on ``user_logged_in``)."""
    session = getattr(request, "session", None)
    if session is not None:
        now = int(time.time())
        session[SESSION_STARTED] = now
        session[SESSION_SEEN] = now


def session_expiry(session: Any, now: int) -> str:
    """Why a signed-in session has ended (``"idle_timeout"``, ``"absolute_timeout"``) or ``""``."""
    started = session.get(SESSION_STARTED)
    seen = session.get(SESSION_SEEN)
    if isinstance(started, int) and now - started >= settings.SESSION_ABSOLUTE_SECONDS:
        return "absolute_timeout"
    if isinstance(seen, int) and now - seen >= settings.SESSION_IDLE_SECONDS:
        return "idle_timeout"
    return ""


class SessionTimeoutMiddleware:
    """Sign out (server-side flush) a portal session idle too long or older than its limit.

    Both limits are enforced here from timestamps kept in the server-side session, whatever
    the cookie says. Runs after ``AuthenticationMiddleware``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            session = request.session
            now = int(time.time())
            reason = session_expiry(session, now)
            if reason:
                from django.contrib.auth import logout

                request.flexreg_session_end = reason  # type: ignore[attr-defined]
                logout(request)  # flushes the session and sends user_logged_out (audited)
            elif not isinstance(session.get(SESSION_STARTED), int):
                start_session(request)  # a session from before this middleware existed
            elif now - int(session.get(SESSION_SEEN) or 0) >= SEEN_EVERY:
                session[SESSION_SEEN] = now
        return self.get_response(request)


class RateLimitMiddleware:
    """Apply ``core.ratelimit.RULES`` (method + path → family limit per client IP) and the
    failed sign-in lock-out, answering 429 with ``Retry-After``. Off when
    ``RATE_LIMITS_ENABLED`` is false."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.RATE_LIMITS_ENABLED:
            from flexreg.core import ratelimit

            refused = ratelimit.check_request(request)
            if refused is not None:
                return refused
        return self.get_response(request)
