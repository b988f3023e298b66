"""Portal sessions: rotated at sign-in, flushed at sign-out, idle and absolute timeouts enforced
on the server, safe cookie flags, CSRF on forms, never accepted by the API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import login
from django.contrib.sessions.middleware import SessionMiddleware
from django.contrib.sessions.models import Session
from django.http import HttpResponse
from django.test import Client, RequestFactory

from flexreg.core.middleware import SESSION_SEEN, SESSION_STARTED

from .conftest import PASSWORD, audit_actions, last_seq

pytestmark = pytest.mark.django_db


def _session_key(client: Client) -> str:
    return client.cookies["sessionid"].value


def _stamp(client: Client, **values: int) -> None:
    session = client.session
    for name, value in values.items():
        session[name] = value
    session.save()


def _signed_in(client: Client) -> bool:
    return client.get("/participants/").status_code == 200


def test_the_session_key_changes_at_sign_in(make_user: Any) -> None:
    user = make_user()
    client = Client()
    before = client.session  # an anonymous session, as a visitor would have
    before["seen_the_start_page"] = True
    before.save()
    old_key = _session_key(client)
    client.force_login(user)  # django.contrib.auth.login, as every sign-in route calls
    assert _session_key(client) != old_key
    assert not Session.objects.filter(session_key=old_key).exists()  # no fixation
    assert client.session["seen_the_start_page"] is True  # cycled, not lost
    assert _signed_in(client)


def test_login_rotates_a_planted_session_key(make_user: Any) -> None:
    user = make_user()
    request = RequestFactory().post("/sign-in/")
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    request.session["planted"] = True
    request.session.save()
    planted = request.session.session_key
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    assert request.session.session_key != planted
    assert isinstance(request.session[SESSION_STARTED], int)  # stamped for the absolute limit


def test_sign_out_flushes_the_session_on_the_server(signed_in_client: Any) -> None:
    client, _ = signed_in_client
    old_key = _session_key(client)
    assert _signed_in(client)
    since = last_seq()
    assert client.post("/sign-out/").status_code == 302
    assert not Session.objects.filter(session_key=old_key).exists()
    replay = Client()
    replay.cookies["sessionid"] = old_key  # someone kept a copy of the old cookie
    response = replay.get("/participants/")
    assert response.status_code == 302 and response["Location"].startswith("/sign-in/")
    assert "user.signed_out" in audit_actions(since)


def test_sign_in_stamps_the_session(signed_in_client: Any) -> None:
    client, _ = signed_in_client
    session = client.session
    assert abs(session[SESSION_STARTED] - time.time()) < 60
    assert abs(session[SESSION_SEEN] - time.time()) < 60


@pytest.mark.parametrize(
    ("started_ago", "seen_ago", "reason"),
    [
        (3600, 1801, "idle_timeout"),  # 30 minutes without a request
        (12 * 3600 + 1, 5, "absolute_timeout"),  # busy, but signed in 12 hours ago
    ],
)
def test_sessions_end_after_the_idle_or_absolute_limit(
    signed_in_client: Any, started_ago: int, seen_ago: int, reason: str
) -> None:
    from flexreg.core.audit import personal_values
    from flexreg.core.models import AuditEvent

    client, user = signed_in_client
    old_key = _session_key(client)
    now = int(time.time())
    _stamp(client, **{SESSION_STARTED: now - started_ago, SESSION_SEEN: now - seen_ago})
    since = last_seq()
    response = client.get("/participants/")
    assert response.status_code == 302 and response["Location"].startswith("/sign-in/")
    assert not Session.objects.filter(session_key=old_key).exists()  # flushed, not just hidden
    event = AuditEvent.objects.get(seq__gt=since, action="user.session_expired")
    assert event.actor_user_id == user.pk
    assert event.changes["after"]["reason"] == reason
    assert personal_values(event) == {"after.ip": "127.0.0.1"}


def test_the_absolute_limit_holds_whatever_the_cookie_says(
    signed_in_client: Any, settings: Any
) -> None:
    settings.SESSION_COOKIE_AGE = 14 * 24 * 3600  # a long-lived cookie changes nothing
    settings.SESSION_ABSOLUTE_SECONDS = 600
    client, _ = signed_in_client
    now = int(time.time())
    _stamp(client, **{SESSION_STARTED: now - 601, SESSION_SEEN: now})
    assert not _signed_in(client)


def test_activity_keeps_a_session_alive(signed_in_client: Any) -> None:
    client, _ = signed_in_client
    now = int(time.time())
    _stamp(client, **{SESSION_STARTED: now - 3600, SESSION_SEEN: now - 1700})
    assert _signed_in(client)
    assert client.session[SESSION_SEEN] >= now  # the idle clock restarted
    assert client.session[SESSION_STARTED] == now - 3600  # the absolute clock did not


def test_cookies_are_secure_httponly_and_samesite(signed_in_client: Any, settings: Any) -> None:
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    client, _ = signed_in_client
    _stamp(client, **{SESSION_SEEN: int(time.time()) - 120})  # the next request saves it
    response = client.get("/participants/", secure=True)
    session_cookie = response.cookies["sessionid"]
    assert session_cookie["secure"] is True
    assert session_cookie["httponly"] is True
    assert session_cookie["samesite"] == "Lax"
    assert not session_cookie["max-age"] and not session_cookie["expires"]  # browser session
    csrf = Client().get("/sign-in/", secure=True).cookies["csrftoken"]
    assert csrf["secure"] is True and csrf["httponly"] is True and csrf["samesite"] == "Lax"


def test_production_settings_are_secure_by_default() -> None:
    """The real settings module, loaded as production would load it."""
    script = (
        "import json, django; from django.conf import settings; django.setup(); "
        "print(json.dumps({k: getattr(settings, k) for k in ["
        "'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', "
        "'CSRF_COOKIE_HTTPONLY', 'SESSION_COOKIE_SAMESITE', 'CSRF_COOKIE_SAMESITE', "
        "'SESSION_EXPIRE_AT_BROWSER_CLOSE', 'SECURE_HSTS_SECONDS', "
        "'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SECURE_CONTENT_TYPE_NOSNIFF', "
        "'SECURE_REFERRER_POLICY', 'X_FRAME_OPTIONS', 'RATE_LIMITS_ENABLED', "
        "'SESSION_IDLE_SECONDS', 'SESSION_ABSOLUTE_SECONDS', 'RATE_LIMITS']}))"
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("FLEXREG_") or key == "FLEXREG_DATA_DIR"
    }
    env.update(
        FLEXREG_ENV="production",
        FLEXREG_SECRET_KEY="x" * 50,
        DATABASE_URL="postgres://nobody@127.0.0.1:9/none",  # never connected to
        DJANGO_SETTINGS_MODULE="flexreg.config.settings",
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    values = json.loads(out.stdout.strip().splitlines()[-1])
    assert values["SESSION_COOKIE_SECURE"] is True and values["CSRF_COOKIE_SECURE"] is True
    assert values["SESSION_COOKIE_HTTPONLY"] is True and values["CSRF_COOKIE_HTTPONLY"] is True
    assert values["SESSION_COOKIE_SAMESITE"] == values["CSRF_COOKIE_SAMESITE"] == "Lax"
    assert values["SESSION_EXPIRE_AT_BROWSER_CLOSE"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31536000
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SECURE_CONTENT_TYPE_NOSNIFF"] is True
    assert values["SECURE_REFERRER_POLICY"] == "same-origin"
    assert values["X_FRAME_OPTIONS"] == "DENY"
    assert values["RATE_LIMITS_ENABLED"] is True  # strict by default
    assert values["SESSION_IDLE_SECONDS"] == 1800
    assert values["SESSION_ABSOLUTE_SECONDS"] == 12 * 3600
    assert values["RATE_LIMITS"]["signin"] == "20/300"


def test_a_session_cookie_is_not_api_authentication(signed_in_client: Any) -> None:
    """The API takes bearer tokens only: no cookie is ever read, so CSRF cannot apply."""
    client, _ = signed_in_client
    assert _signed_in(client)
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    response = client.post("/api/v1/me/tokens", {"name": "x"}, content_type="application/json")
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/sign-in/", {"email": "a@example.test", "password": PASSWORD}),
        ("/create-account/", {"email": "a@example.test"}),
        ("/register/check/", {}),
    ],
)
def test_forms_refuse_posts_without_a_csrf_token(path: str, data: dict[str, str]) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(path, data)
    assert response.status_code == 403


def test_sign_out_needs_a_csrf_token(make_user: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user())
    assert client.post("/sign-out/").status_code == 403
    assert _signed_in(client)
