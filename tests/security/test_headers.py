"""Security headers on portal pages, API responses and error pages; HSTS in production."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from .conftest import LIMIT

pytestmark = pytest.mark.django_db


def csp(response: Any) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    directives: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def assert_secure_headers(response: Any) -> None:
    directives = csp(response)
    assert directives["script-src"] == ["'self'"]  # no inline scripts, no eval
    assert directives["default-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Request-ID"]


@pytest.mark.parametrize("url", ["/", "/sign-in/", "/create-account/", "/no-such-page/"])
def test_portal_pages_and_the_404_page(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code in (200, 404)
    assert_secure_headers(response)


def test_signed_in_pages_and_the_403_page(signed_in_client: Any) -> None:
    client, _ = signed_in_client
    page = client.get("/participants/")
    assert page.status_code == 200
    assert_secure_headers(page)
    denied = client.get("/operator/verifications/")
    assert denied.status_code == 403
    assert_secure_headers(denied)


def test_csrf_failure_page() -> None:
    response = Client(enforce_csrf_checks=True).post("/sign-in/", {})
    assert response.status_code == 403
    assert_secure_headers(response)


@pytest.mark.parametrize(
    "url", ["/api/v1/health", "/api/v1/me", "/api/v1/participants/NOPE", "/api/v1/no-such-thing"]
)
def test_api_responses_and_api_errors(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code in (200, 401, 404, 503)
    assert_secure_headers(response)
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/sign-in/", "/api/v1/me/tokens"])
def test_429_answers(client: Client, path: str) -> None:
    for _ in range(LIMIT + 1):
        response = client.post(path, {})
    assert response.status_code == 429
    assert_secure_headers(response)


@pytest.mark.urls("tests.security.boom_urls")
@pytest.mark.parametrize("url", ["/boom/", "/api/v1/boom"])
def test_500_answers(url: str) -> None:
    response = Client(raise_request_exception=False).get(url)
    assert response.status_code == 500
    assert_secure_headers(response)
    assert "a bug" not in response.content.decode()  # no stack trace reaches a client


def test_only_the_api_docs_may_use_inline_styles(client: Client) -> None:
    response = client.get("/api/v1/docs")
    directives = csp(response)
    assert directives["script-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]


def test_hsts_with_production_values_on_https(client: Client, settings: Any) -> None:
    settings.SECURE_HSTS_SECONDS = 31536000  # production's value (test_sessions checks it)
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    for url in ["/", "/api/v1/health", "/no-such-page/"]:
        response = client.get(url, secure=True)
        assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    # Never over plain HTTP (browsers ignore it there), and not in development.
    assert "Strict-Transport-Security" not in client.get("/")
    settings.SECURE_HSTS_SECONDS = 0  # read when the middleware is built: a new client
    assert "Strict-Transport-Security" not in Client().get("/", secure=True)
