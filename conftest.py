"""Shared fixtures: real PostgreSQL, a real Companies House stand-in over HTTP, factories."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from flexreg.devtools.companies_house_stub import StubServer, start_stub

_seq = itertools.count(1)

PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture(scope="session")
def ch_stub() -> Iterator[StubServer]:
    stub = start_stub(slow_seconds=3)
    yield stub
    stub.stop()


@pytest.fixture(autouse=True)
def _companies_house(settings: Any, ch_stub: StubServer) -> StubServer:
    """Every test talks to the local stand-in, never the real service."""
    settings.COMPANIES_HOUSE_API_URL = ch_stub.url
    settings.COMPANIES_HOUSE_API_KEY = "demo-key"
    settings.COMPANIES_HOUSE_TIMEOUT = 1.0
    ch_stub.reset()
    return ch_stub


@pytest.fixture(autouse=True)
def _uploads(settings: Any, tmp_path_factory: Any) -> Any:
    """Uploaded files go to a temporary directory, never into var/."""
    settings.MEDIA_ROOT = str(tmp_path_factory.getbasetemp() / "uploads")
    return settings.MEDIA_ROOT


def organisation_payload(**overrides: Any) -> dict[str, Any]:
    """A valid organisation registration for the sample company 99000001."""
    body: dict[str, Any] = {
        "kind": "organisation",
        "legal_name": "Brightwatt Flex Limited (Sample)",
        "trading_name": "Brightwatt",
        "organisation_type": "company",
        "company_number": "99000001",
        "registered_address": {
            "line1": "1 Sample Street",
            "town": "London",
            "postcode": "sw1a 1aa",
        },
        "vat_number": "GB980780684",
        "website": "https://brightwatt.example",
        "contacts": {
            "primary": {
                "name": "Jane Smith",
                "email": "jane@brightwatt.example",
                "phone": "+44 20 7946 0000",
            },
            "technical": {
                "name": "Tech Desk",
                "email": "tech@brightwatt.example",
                "phone": "+447911123456",
            },
        },
        "email_domains": ["brightwatt.example"],
        "requested_roles": ["FSP", "ASSET_OWNER"],
        "declaration": {
            "declarant_name": "Jane Smith",
            "declarant_is_applicant": True,
            "statement_accepted": True,
        },
    }
    body.update(overrides)
    return body


def individual_payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "individual",
        "given_name": "Alex",
        "family_name": "Householder",
        "address": {"line1": "2 Home Lane", "town": "Leeds", "postcode": "LS1 1AA"},
        "contact": {
            "name": "Alex Householder",
            "email": "alex@home.example",
            "phone": "+447911123457",
        },
        "requested_roles": ["ASSET_OWNER"],
    }
    body.update(overrides)
    return body


class Api:
    """A JSON client for /api/v1 with a bearer token."""

    def __init__(self, token: str | None) -> None:
        self.client = Client()
        self.token = token

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/api/v1{path}", params, headers=self._headers())

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self.client.post(
            f"/api/v1{path}",
            body if body is not None else {},
            content_type="application/json",
            headers=self._headers(headers),
        )

    def patch(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        return self.client.patch(
            f"/api/v1{path}", body, content_type="application/json", headers=self._headers(headers)
        )

    def put(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        return self.client.put(
            f"/api/v1{path}", body, content_type="application/json", headers=self._headers(headers)
        )

    def delete(self, path: str) -> Any:
        return self.client.delete(f"/api/v1{path}", headers=self._headers())


@pytest.fixture
def make_user(db: Any) -> Any:
    from flexreg.accounts.models import User

    def make(email: str | None = None, full_name: str = "Test Person") -> User:
        email = email or f"user{next(_seq)}@example.test"
        return User.objects.create_user(email=email, password=PASSWORD, full_name=full_name)

    return make


@pytest.fixture
def token_for(db: Any) -> Any:
    """token_for(user, membership=None) -> a clear bearer token."""
    from flexreg.accounts import services
    from flexreg.core.acting import Acting

    def issue(user: Any, membership: Any = None) -> str:
        _, clear = services.issue_token(
            Acting.system("tests"), user, name="test", membership=membership
        )
        return clear

    return issue


@pytest.fixture
def api_for(token_for: Any) -> Any:
    def make(user: Any, membership: Any = None) -> Api:
        return Api(token_for(user, membership))

    return make


@pytest.fixture
def anonymous_api() -> Api:
    return Api(None)


@pytest.fixture
def operator(make_user: Any) -> Any:
    """A central operator (MARKET_FACILITATOR Authorised Person) and their membership."""
    from flexreg.core.acting import Acting
    from flexreg.participants import services

    user = make_user("operator@flexreg.test", "Olive Operator")
    acting = Acting.system("tests")
    held = services.ensure_central_operator(acting)
    membership = services.grant_authorised_person(acting, held, user.pk)
    return user, membership


@pytest.fixture
def operator_api(operator: Any, api_for: Any) -> Api:
    user, membership = operator
    return api_for(user, membership)


@pytest.fixture
def registered(make_user: Any, api_for: Any) -> Any:
    """register(payload) -> (user, response json, api acting for the first membership)."""
    from flexreg.participants.models import Membership

    def register(
        payload: dict[str, Any] | None = None, user: Any = None
    ) -> tuple[Any, dict[str, Any], Api]:
        user = user or make_user()
        bare = api_for(user)
        response = bare.post("/participants", payload or organisation_payload())
        assert response.status_code == 201, response.content
        body = response.json()
        membership = (
            Membership.objects.filter(
                user=user, participant_role__participant__participant_id=body["participant_id"]
            )
            .order_by("participant_role__role")
            .first()
        )
        return user, body, api_for(user, membership)

    return register
