"""Provider configuration from the environment: JSON or a JSON/TOML file, validated strictly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from flexreg.accounts.oidc_config import load_providers

OKTA = {
    "id": "okta",
    "name": "Okta",
    "kind": "okta",
    "issuer": "https://example.okta.com/oauth2/default",
    "client_id": "abc",
    "client_secret_env": "OKTA_SECRET",
}
ENTRA = {
    "id": "entra",
    "name": "Microsoft Entra ID",
    "kind": "entra",
    "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0",
    "discovery_url": "https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration",
    "client_id": "def",
    "client_secret_env": "ENTRA_SECRET",
    "allowed_tenants": ["11111111-1111-1111-1111-111111111111"],
}


def test_json_from_the_environment() -> None:
    (okta, entra) = load_providers(json.dumps([OKTA, ENTRA]), "", development=False)
    assert (
        okta.discovery == "https://example.okta.com/oauth2/default/.well-known/openid-configuration"
    )
    assert entra.is_multi_tenant
    assert okta.allauth_app()["provider_id"] == "okta"
    assert okta.allauth_app()["secret"] == ""  # secrets stay out of allauth's tables


def test_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "providers.toml"
    path.write_text(
        """
[[providers]]
id = "onelogin"
name = "GOV.UK One Login"
kind = "onelogin"
issuer = "https://oidc.integration.account.gov.uk/"
client_id = "xyz"
token_auth_method = "private_key_jwt"
private_key_file = "/run/secrets/onelogin.pem"
scopes = ["openid", "email"]
vtr = ["Cl.Cm"]
identity_vtr = ["Cl.Cm.P2"]
identity_issuer = "https://identity.integration.account.gov.uk/"
identity_did_url = "https://identity.integration.account.gov.uk/.well-known/did.json"
"""
    )
    (onelogin,) = load_providers("", str(path), development=False)
    assert onelogin.supports_identity and onelogin.token_auth_method == "private_key_jwt"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"allowed_tenants": []}, "allowed_tenants"),
        ({"kind": "okta"}, "{tenantid}"),
        ({"algorithms": ["none"]}, "not allowed"),
        ({"algorithms": ["HS256"]}, "not allowed"),
        ({"issuer": "http://login.example/{tenantid}"}, "https"),
        ({"client_secret_env": ""}, "client_secret"),
        ({"token_auth_method": "private_key_jwt"}, "private_key"),
        ({"id": "Bad Id"}, "id"),
    ],
)
def test_unsafe_configurations_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="invalid OIDC") as info:
        load_providers(json.dumps([{**ENTRA, **change}]), "", development=False)
    assert message in str(info.value)


def test_duplicate_ids_and_both_sources_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ImproperlyConfigured):
        load_providers(json.dumps([OKTA, OKTA]), "", development=False)
    with pytest.raises(ImproperlyConfigured):
        load_providers(json.dumps([OKTA]), str(tmp_path / "x.json"), development=False)


@pytest.mark.django_db
def test_sign_in_page_allows_forms_to_reach_the_providers(providers: Any, idp: Any) -> None:
    response = Client().get("/sign-in/")
    csp = response["Content-Security-Policy"]
    assert f"form-action 'self' {idp.base_url}" in csp or idp.base_url in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


@pytest.mark.django_db
def test_without_providers_the_sign_in_page_keeps_the_default_policy() -> None:
    response = Client().get("/sign-in/")
    assert "form-action 'self';" in response["Content-Security-Policy"]
    assert "Sign in with" not in response.content.decode()
