"""Sign-in through a real OpenID Connect provider (Node's certified ``oidc-provider``) in
Chromium: the full authorisation-code flow with PKCE and nonce, then "My access"."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from flexreg.accounts.oidc_config import ProviderConfig
from flexreg.devtools import oidc as node_oidc
from tests.browser.test_registration_journey import visit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def node_provider(live_server: Any, settings: Any) -> Iterator[node_oidc.NodeProvider]:
    if not node_oidc.available():
        pytest.skip("node or node_modules/oidc-provider missing (npm install)")
    callback = f"{live_server.url}/accounts/oidc/okta-dev/login/callback/"
    provider = node_oidc.start(callback)
    config = ProviderConfig(
        id="okta-dev",
        name="Okta (test provider)",
        kind="okta",
        issuer=provider.issuer,
        client_id=provider.client_id,
        client_secret=provider.client_secret,
    )
    settings.OIDC_PROVIDERS = [config]
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            "provider_class": "flexreg.accounts.oidc.FlexRegOIDCProvider",
            "APPS": [config.allauth_app()],
        }
    }
    yield provider
    provider.stop()


def test_sign_in_with_an_openid_connect_provider(new_page: Any, node_provider: Any) -> None:
    from flexreg.accounts.models import ExternalIdentity

    page = new_page()
    page.goto("/sign-in/")
    visit(page, "Sign in")
    page.get_by_role("button", name="Sign in with Okta (test provider)").click()
    # The provider's own (development) login and consent pages.
    page.wait_for_url(f"{node_provider.issuer}/**")
    page.locator('input[name="login"]').fill("olu")
    page.locator('input[name="password"]').fill("any password")
    page.locator('button[type="submit"]').click()
    page.wait_for_load_state()
    if page.url.startswith(node_provider.issuer):
        page.locator('button[type="submit"]').click()  # consent
    page.wait_for_url("**/register/")
    visit(page, "Register your organisation")

    identity = ExternalIdentity.objects.get()
    assert identity.issuer == node_provider.issuer
    assert identity.subject == "olu"
    assert identity.provider == "okta-dev"
    assert identity.user.email == "olu@idp.example"

    page.goto("/my-access/")
    visit(page, "My access")
    assert page.locator('[data-identity="okta-dev"]').count() == 1

    # Signing out and in again finds the same person by issuer + subject.
    page.get_by_role("button", name="Sign out").click()
    page.goto("/sign-in/")
    page.get_by_role("button", name="Sign in with Okta (test provider)").click()
    page.wait_for_load_state()
    if page.url.startswith(node_provider.issuer) and page.locator('input[name="login"]').count():
        page.locator('input[name="login"]').fill("olu")
        page.locator('input[name="password"]').fill("any password")
        page.locator('button[type="submit"]').click()
        page.wait_for_load_state()
    if page.url.startswith(node_provider.issuer):
        page.locator('button[type="submit"]').click()
    page.wait_for_url("**/participants/")
    visit(page, "My participants")
    assert ExternalIdentity.objects.count() == 1
