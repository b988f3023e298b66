"""Microsoft Entra ID, single-tenant: a fixed issuer; users keyed on the tenant issuer + oid."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from flexreg.accounts.models import ExternalIdentity
from flexreg.accounts.oidc_config import ProviderConfig
from flexreg.devtools import oidc_idp
from tests.signin.conftest import TENANT_A, run_flow, signed_in_user_id

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def single_tenant_idp() -> Iterator[oidc_idp.TestIdP]:
    server = oidc_idp.start_idp(f"/{TENANT_A}/v2.0")
    server.register_client("flexreg-entra-single", secret="single-secret")
    yield server
    server.stop()


@pytest.fixture
def single_tenant(settings: Any, single_tenant_idp: oidc_idp.TestIdP) -> oidc_idp.TestIdP:
    single_tenant_idp.reset()
    single_tenant_idp.user = {
        "sub": "pairwise-single-sub",
        "oid": "bbbbbbbb-0000-0000-0000-000000000002",
        "tid": TENANT_A,
        "name": "Sid Single",
        "preferred_username": "sid@handover.example",
    }
    config = ProviderConfig(
        id="entra-single",
        name="Microsoft Entra ID (Handover)",
        kind="entra",
        issuer=single_tenant_idp.issuer,
        client_id="flexreg-entra-single",
        client_secret="single-secret",
        token_auth_method="client_secret_post",
        fetch_userinfo=False,
    )
    settings.OIDC_PROVIDERS = [config]
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            "provider_class": "flexreg.accounts.oidc.FlexRegOIDCProvider",
            "APPS": [config.allauth_app()],
        }
    }
    return single_tenant_idp


def test_single_tenant_signs_in_on_its_fixed_issuer_and_oid(
    single_tenant: oidc_idp.TestIdP,
) -> None:
    client = Client()
    response = run_flow(client, "entra-single")
    assert response.status_code == 302, response.content.decode()[:500]
    identity = ExternalIdentity.objects.get()
    assert identity.issuer == single_tenant.issuer
    assert "{tenantid}" not in identity.issuer
    assert identity.subject == "bbbbbbbb-0000-0000-0000-000000000002"  # oid, not sub
    assert signed_in_user_id(client) is not None


def test_single_tenant_refuses_a_token_from_another_issuer(single_tenant: oidc_idp.TestIdP) -> None:
    single_tenant.misbehave = {"iss"}
    client = Client()
    assert run_flow(client, "entra-single").status_code == 401
    assert signed_in_user_id(client) is None
