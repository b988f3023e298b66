"""Service accounts and the OAuth 2.0 client-credentials grant: each client authentication
method, refusals in RFC 6749's error format, scopes, disabling, rotation, expiry, and a
platform's machine acting for a client."""

from __future__ import annotations

import base64
import datetime as dt
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.test import Client
from django.utils import timezone

from conftest import Api
from flexreg.accounts.models import ServiceAccountToken
from flexreg.accounts.services_service_accounts import token_endpoint_url
from flexreg.core.models import AuditEvent

from .conftest import HEADER

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/oauth/token"


def _create(api: Any, scopes: list[str], **fields: Any) -> dict[str, Any]:
    response = api.post("/service-accounts", {"name": "dispatch bot", "scopes": scopes, **fields})
    assert response.status_code == 201, response.content
    return response.json()


def _token(form: dict[str, str], basic: tuple[str, str] | None = None) -> Any:
    headers = {}
    if basic:
        headers["Authorization"] = (
            "Basic " + base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
        )
    return Client().post(TOKEN_URL, form, headers=headers)


def _ec_key() -> tuple[Any, dict[str, Any]]:
    private = ec.generate_private_key(ec.SECP256R1())
    public_jwk = jwt.algorithms.ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return private, public_jwk


def _assertion(private: Any, client_id: str, alg: str = "ES256", **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_endpoint_url(),
        "iat": now,
        "exp": now + 120,
        "jti": str(uuid.uuid4()),
        **claims,
    }
    return jwt.encode(body, private, algorithm=alg)


def _jwt_form(assertion: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }


def test_client_secret_basic_issues_a_short_lived_token_with_exact_scopes(
    client_org: Any,
) -> None:
    account = _create(client_org[2], ["participant:read", "registry:read"])
    assert account["client_secret"].startswith("fcs_")
    assert account["acts_for"] == f"{client_org[1]['participant_id']}/FSP"
    listed = client_org[2].get("/service-accounts").json()
    assert [a["client_id"] for a in listed] == [account["client_id"]]
    assert "client_secret" not in listed[0]

    response = _token(
        {"grant_type": "client_credentials", "scope": "participant:read"},
        basic=(account["client_id"], account["client_secret"]),
    )
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600
    assert body["scope"] == "participant:read"
    machine = Api(body["access_token"])
    pid = client_org[1]["participant_id"]
    assert machine.get(f"/participants/{pid}").status_code == 200
    # registry:read was not asked for, so it is not held.
    assert machine.get("/participants", status="active").json()["items"] == [
        p for p in machine.get("/participants").json()["items"] if p["participant_id"] == pid
    ]
    patch = machine.patch(f"/participants/{pid}", {"trading_name": "Robot"})
    assert patch.status_code == 403 and patch.json()["permission"] == "participant:update"
    # Machines do not register participants nor hold personal tokens.
    assert machine.get("/me").status_code == 403
    stored = ServiceAccountToken.objects.get()
    assert body["access_token"] not in (stored.digest, stored.key_id)
    issued = AuditEvent.objects.get(action="service_account.token_issued")
    assert issued.via == "service_account" and issued.actor_user_id is None
    assert issued.actor_label == f"service_account:{account['client_id']}"


def test_client_secret_post_and_the_machine_acts_audited(client_org: Any) -> None:
    account = _create(client_org[2], ["participant:read", "participant:update"])
    response = _token(
        {
            "grant_type": "client_credentials",
            "client_id": account["client_id"],
            "client_secret": account["client_secret"],
        }
    )
    assert response.status_code == 200, response.content
    assert set(response.json()["scope"].split()) == {"participant:read", "participant:update"}
    machine = Api(response.json()["access_token"])
    pid = client_org[1]["participant_id"]
    assert machine.patch(f"/participants/{pid}", {"trading_name": "Robot"}).status_code == 200
    row = AuditEvent.objects.filter(action="participant.updated").latest("seq")
    assert row.via == "service_account" and row.actor_user_id is None
    assert row.actor_label == f"service_account:{account['client_id']}"
    assert row.acting_participant_id == pid and row.acting_role == "FSP"


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_private_key_jwt(client_org: Any, kind: str) -> None:
    if kind == "ec":
        private, public_jwk = _ec_key()
        alg = "ES256"
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_jwk = jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
        alg = "RS256"
    account = _create(
        client_org[2], ["participant:read"], auth_method="private_key_jwt", public_jwk=public_jwk
    )
    assert account["client_secret"] is None
    client_id = account["client_id"]
    assertion = _assertion(private, client_id, alg)
    ok = _token(_jwt_form(assertion))
    assert ok.status_code == 200, ok.content
    assert Api(ok.json()["access_token"]).get("/delegations/granted").status_code == 403

    replay = _token(_jwt_form(assertion))
    assert replay.status_code == 401 and replay.json()["error"] == "invalid_client"
    assert "already used" in replay.json()["error_description"]


def test_private_key_jwt_refusals(client_org: Any) -> None:
    private, public_jwk = _ec_key()
    account = _create(
        client_org[2], ["participant:read"], auth_method="private_key_jwt", public_jwk=public_jwk
    )
    client_id = account["client_id"]
    other, _ = _ec_key()
    now = int(time.time())
    bad = {
        "wrong audience": _assertion(private, client_id, aud="https://elsewhere.example/token"),
        "expired": _assertion(private, client_id, iat=now - 600, exp=now - 300),
        "sub differs": _assertion(private, client_id, sub="someone-else"),
        "wrong key": _assertion(other, client_id),
        "too long-lived": _assertion(private, client_id, exp=now + 86400),
        "no jti": jwt.encode(
            {"iss": client_id, "sub": client_id, "aud": token_endpoint_url(), "exp": now + 60},
            private,
            algorithm="ES256",
        ),
        "symmetric": jwt.encode(
            {
                "iss": client_id,
                "sub": client_id,
                "aud": token_endpoint_url(),
                "exp": now + 60,
                "jti": "x",
            },
            "a-shared-secret-that-is-long-enough-for-hs256",
            algorithm="HS256",
        ),
    }
    for why, assertion in bad.items():
        response = _token(_jwt_form(assertion))
        assert response.status_code == 401, why
        assert response.json()["error"] == "invalid_client", why
        assert response["Content-Type"] == "application/json"
    # A secret does not authenticate a key-based account.
    secret = _token(
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "x"}
    )
    assert secret.status_code == 401


def test_secret_refusals_and_grant_errors(client_org: Any) -> None:
    account = _create(client_org[2], ["participant:read"])
    client_id, secret = account["client_id"], account["client_secret"]
    wrong = _token({"grant_type": "client_credentials"}, basic=(client_id, secret + "x"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong["WWW-Authenticate"].startswith("Basic")
    unknown = _token({"grant_type": "client_credentials"}, basic=("sa-nobody", secret))
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_client"
    nothing = _token({"grant_type": "client_credentials"})
    assert nothing.status_code == 401 and nothing.json()["error"] == "invalid_client"

    grant = _token({"grant_type": "password"}, basic=(client_id, secret))
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"
    missing = _token({}, basic=(client_id, secret))
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    as_json = Client().post(
        TOKEN_URL, {"grant_type": "client_credentials"}, content_type="application/json"
    )
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    both = _token(
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        basic=(client_id, secret),
    )
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"

    escalate = _token(
        {"grant_type": "client_credentials", "scope": "participant:read participant:update"},
        basic=(client_id, secret),
    )
    assert escalate.status_code == 400 and escalate.json()["error"] == "invalid_scope"

    refusals = AuditEvent.objects.filter(action="service_account.token_refused")
    assert refusals.count() == 8
    # Attributed to the account once the client is known (wrong secret, scope escalation).
    assert refusals.filter(object_id=client_id).count() == 2
    assert refusals.filter(subject_participant_id=client_org[1]["participant_id"]).count() == 2


def test_scopes_at_creation(client_org: Any, member_of: Any) -> None:
    for scopes, code in [
        (["memberships:manage"], "service_account.not_delegable"),
        (["service_accounts:manage"], "service_account.not_delegable"),
        (["verification:review"], "service_account.not_for_role"),
        (["nope:nothing"], "service_account.unknown_permission"),
    ]:
        response = client_org[2].post("/service-accounts", {"name": "x", "scopes": scopes})
        assert response.status_code == 422 and response.json()["code"] == code, scopes
    junior = member_of(
        client_org[1]["participant_id"], "FSP", ["service_accounts:manage", "participant:read"]
    )
    response = junior.post("/service-accounts", {"name": "x", "scopes": ["participant:update"]})
    assert response.status_code == 422 and response.json()["code"] == "service_account.not_held"
    no_key = client_org[2].post(
        "/service-accounts",
        {"name": "x", "scopes": ["participant:read"], "auth_method": "private_key_jwt"},
    )
    assert no_key.status_code == 422 and no_key.json()["code"] == "service_account.invalid_jwk"
    private, _ = _ec_key()
    leaked = jwt.algorithms.ECAlgorithm.to_jwk(private, as_dict=True)
    secret_key = client_org[2].post(
        "/service-accounts",
        {
            "name": "x",
            "scopes": ["participant:read"],
            "auth_method": "private_key_jwt",
            "public_jwk": leaked,
        },
    )
    assert secret_key.status_code == 422


def test_disable_stops_tokens_at_once(client_org: Any, stranger_org: Any) -> None:
    account = _create(client_org[2], ["participant:read"])
    creds = (account["client_id"], account["client_secret"])
    access = _token({"grant_type": "client_credentials"}, basic=creds).json()["access_token"]
    pid = client_org[1]["participant_id"]
    assert Api(access).get(f"/participants/{pid}").status_code == 200
    # Another participant cannot see or disable it.
    assert stranger_org[2].post(f"/service-accounts/{creds[0]}/disable").status_code == 404
    assert stranger_org[2].get(f"/service-accounts/{creds[0]}").status_code == 404
    disabled = client_org[2].post(f"/service-accounts/{creds[0]}/disable")
    assert disabled.status_code == 200 and disabled.json()["is_active"] is False
    assert Api(access).get(f"/participants/{pid}").status_code == 401
    refused = _token({"grant_type": "client_credentials"}, basic=creds)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    rotate = client_org[2].post(f"/service-accounts/{creds[0]}/rotate", {})
    assert rotate.status_code == 409 and rotate.json()["code"] == "service_account.disabled"


def test_expired_access_token_is_refused(client_org: Any) -> None:
    account = _create(client_org[2], ["participant:read"])
    creds = (account["client_id"], account["client_secret"])
    access = _token({"grant_type": "client_credentials"}, basic=creds).json()["access_token"]
    ServiceAccountToken.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = Api(access).get(f"/participants/{client_org[1]['participant_id']}")
    assert response.status_code == 401


def test_token_lifetime_is_configurable(client_org: Any, settings: Any) -> None:
    settings.SERVICE_ACCOUNT_TOKEN_SECONDS = 120
    account = _create(client_org[2], ["participant:read"])
    creds = (account["client_id"], account["client_secret"])
    assert _token({"grant_type": "client_credentials"}, basic=creds).json()["expires_in"] == 120


def test_rotating_the_secret(client_org: Any) -> None:
    account = _create(client_org[2], ["participant:read"])
    old = (account["client_id"], account["client_secret"])
    access = _token({"grant_type": "client_credentials"}, basic=old).json()["access_token"]
    rotated = client_org[2].post(f"/service-accounts/{old[0]}/rotate", {})
    assert rotated.status_code == 200
    new_secret = rotated.json()["client_secret"]
    assert new_secret and new_secret != old[1]
    assert _token({"grant_type": "client_credentials"}, basic=old).status_code == 401
    assert Api(access).get(f"/participants/{client_org[1]['participant_id']}").status_code == 401
    fresh = _token({"grant_type": "client_credentials"}, basic=(old[0], new_secret))
    assert fresh.status_code == 200


def test_platform_machine_acts_for_a_client(
    client_org: Any, platform_org: Any, delegate: Any
) -> None:
    assert delegate(["participant:read", "participant:update"]).status_code == 201
    account = _create(platform_org[2], ["participant:read", "participant:update"])
    creds = (account["client_id"], account["client_secret"])
    access = _token({"grant_type": "client_credentials"}, basic=creds).json()["access_token"]
    client_pid = client_org[1]["participant_id"]
    response = Api(access).patch(
        f"/participants/{client_pid}",
        {"website": "https://via-machine.example"},
        {HEADER: f"{client_pid}/FSP"},
    )
    assert response.status_code == 200, response.content
    row = AuditEvent.objects.filter(action="participant.updated").latest("seq")
    assert row.via == "service_account"
    assert row.actor_label == f"service_account:{account['client_id']}"
    assert row.acting_participant_id == platform_org[1]["participant_id"]
    assert row.acting_role == "PLATFORM"
    assert row.on_behalf_of == f"{client_pid}/FSP"
