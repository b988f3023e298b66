"""Fixtures for sign-in tests: a running test identity provider and providers configured for it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from django.test import Client

from flexreg.accounts.oidc_config import ProviderConfig
from flexreg.devtools.oidc_idp import TestIdP, private_key_pair, start_idp

TENANT_A = "11111111-1111-1111-1111-111111111111"
TENANT_B = "22222222-2222-2222-2222-222222222222"


@pytest.fixture(scope="session")
def idp() -> Iterator[TestIdP]:
    server = start_idp("/okta")
    server.register_client("flexreg-okta", secret="okta-secret")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def entra_idp() -> Iterator[TestIdP]:
    server = start_idp("/entra", entra_template=True)
    server.register_client("flexreg-entra", secret="entra-secret")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def onelogin_keys() -> tuple[str, str]:
    return private_key_pair()


@pytest.fixture(scope="session")
def onelogin_idp(onelogin_keys: tuple[str, str]) -> Iterator[TestIdP]:
    server = start_idp("/onelogin")
    server.register_client("flexreg-onelogin", public_key_pem=onelogin_keys[1])
    yield server
    server.stop()


@pytest.fixture
def providers(
    settings: Any,
    idp: TestIdP,
    entra_idp: TestIdP,
    onelogin_idp: TestIdP,
    onelogin_keys: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, ProviderConfig]:
    """Three providers (Okta-like, Entra multi-tenant, One Login) configured for the test IdPs."""
    for server in (idp, entra_idp, onelogin_idp):
        server.reset()
    idp.user = {"sub": "00u-okta-1", "email": "olu@brightwatt.example", "name": "Olu Okta"}
    entra_idp.user = {
        "sub": "pairwise-entra-sub",
        "oid": "aaaaaaaa-0000-0000-0000-000000000001",
        "tid": TENANT_A,
        "name": "Eve Entra",
        "preferred_username": "eve@handover.example",
    }
    onelogin_idp.user = {"sub": "urn:fdc:gov.uk:2022:abc", "email": "alex@home.example"}
    monkeypatch.setenv("FLEXREG_TEST_ONELOGIN_KEY", onelogin_keys[0])
    configs = {
        "okta": ProviderConfig(
            id="okta",
            name="Okta",
            kind="okta",
            issuer=idp.issuer,
            client_id="flexreg-okta",
            client_secret="okta-secret",
        ),
        "entra": ProviderConfig(
            id="entra",
            name="Microsoft Entra ID",
            kind="entra",
            issuer=entra_idp.issuer,
            discovery_url=entra_idp.discovery_url,
            client_id="flexreg-entra",
            client_secret="entra-secret",
            token_auth_method="client_secret_post",
            allowed_tenants=(TENANT_A,),
            fetch_userinfo=False,
        ),
        "onelogin": ProviderConfig(
            id="onelogin",
            name="GOV.UK One Login",
            kind="onelogin",
            issuer=onelogin_idp.issuer,
            client_id="flexreg-onelogin",
            token_auth_method="private_key_jwt",
            private_key_env="FLEXREG_TEST_ONELOGIN_KEY",
            private_key_id="flexreg-1",
            scopes=("openid", "email"),
            vtr=("Cl.Cm",),
            identity_vtr=("Cl.Cm.P2",),
            identity_issuer=onelogin_idp.identity_issuer,
            identity_did_url=onelogin_idp.identity_did_url,
        ),
    }
    settings.OIDC_PROVIDERS = list(configs.values())
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            "provider_class": "flexreg.accounts.oidc.FlexRegOIDCProvider",
            "APPS": [c.allauth_app() for c in configs.values()],
        }
    }
    return configs


def run_flow(client: Client, provider: str, query: str = "") -> Any:
    """Start at FlexReg, follow the provider's authorize redirect over real HTTP, and return
    FlexReg's answer to the callback."""
    start = client.post(f"/accounts/oidc/{provider}/login/{query}")
    assert start.status_code == 302, start.content.decode()[:500]
    authorize = start["Location"]
    assert authorize.startswith("http://127.0.0.1:"), authorize
    answer = httpx.get(authorize, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    back = urlparse(answer.headers["Location"])
    return client.get(f"{back.path}?{back.query}")


@pytest.fixture
def flow() -> Callable[..., Any]:
    return run_flow


def signed_in_user_id(client: Client) -> Any:
    return client.session.get("_auth_user_id")


def title_of(response: Any) -> str:
    match = re.search(r"<title>(.*?)</title>", response.content.decode(), re.S)
    return match.group(1).strip() if match else ""
