"""Access control end to end in Chromium (issue 3's "Done when").

A new organisation's registrant signs in through an OpenID Connect provider (Node's certified
``oidc-provider``), registers Brightwatt (company 99000001, declarant Jane Smith: verified at
once by the Companies House stand-in) and so becomes its Authorised Person. They invite a
colleague through "Users and permissions" with only ``participant:read`` for the FSP role. The
colleague signs in through a second provider (the Python test IdP, which can state an address in
Brightwatt's registered domain), accepts the invitation and can then read the participant and
nothing more, in the portal and through the API with a token bound to that membership.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from flexreg.accounts.oidc_config import ProviderConfig
from flexreg.devtools import oidc as node_oidc
from flexreg.devtools import oidc_idp
from tests.browser.test_registration_journey import participant_id_of, visit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LEGAL_NAME = "Brightwatt Flex Limited (Sample)"
COLLEAGUE = "sam.colleague@brightwatt.example"
REGISTRANT_BUTTON = "Sign in with Okta (test provider)"
COLLEAGUE_BUTTON = "Sign in with Brightwatt Entra (test provider)"


@pytest.fixture
def providers(live_server: Any, settings: Any) -> Iterator[tuple[Any, oidc_idp.TestIdP]]:
    """Two configured providers: Node's ``oidc-provider`` (whose accounts are all
    ``<login>@idp.example``) and the Python test IdP, signing in one chosen identity."""
    if not node_oidc.available():
        pytest.skip("node or node_modules/oidc-provider missing (npm install)")
    node = node_oidc.start(f"{live_server.url}/accounts/oidc/okta-dev/login/callback/")
    idp = oidc_idp.start_idp("/brightwatt")
    idp.register_client("flexreg-brightwatt", secret="brightwatt-secret")
    idp.user = {
        "sub": "00u-sam-colleague",
        "email": COLLEAGUE,
        "email_verified": True,
        "name": "Sam Colleague",
    }
    configs = [
        ProviderConfig(
            id="okta-dev",
            name="Okta (test provider)",
            kind="okta",
            issuer=node.issuer,
            client_id=node.client_id,
            client_secret=node.client_secret,
        ),
        ProviderConfig(
            id="brightwatt-idp",
            name="Brightwatt Entra (test provider)",
            kind="okta",
            issuer=idp.issuer,
            client_id="flexreg-brightwatt",
            client_secret="brightwatt-secret",
        ),
    ]
    settings.OIDC_PROVIDERS = configs
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            "provider_class": "flexreg.accounts.oidc.FlexRegOIDCProvider",
            "APPS": [c.allauth_app() for c in configs],
        }
    }
    yield node, idp
    idp.stop()
    node.stop()


def sign_in_at_node_provider(page: Any, issuer: str, login: str) -> None:
    page.goto("/sign-in/")
    visit(page, "Sign in")
    page.get_by_role("button", name=REGISTRANT_BUTTON).click()
    page.wait_for_url(f"{issuer}/**")
    page.locator('input[name="login"]').fill(login)
    page.locator('input[name="password"]').fill("any password")
    page.locator('button[type="submit"]').click()
    page.wait_for_load_state()
    if page.url.startswith(issuer):
        page.locator('button[type="submit"]').click()  # consent
    page.wait_for_url("**/register/")
    visit(page, "Register your organisation")


def register_brightwatt(page: Any) -> None:
    page.get_by_role("link", name="Organisation details").click()
    visit(page, "Organisation details")
    page.get_by_label("Legal name").fill(LEGAL_NAME)
    page.get_by_label("UK company").check()
    page.locator("#company_number").fill("99000001")
    page.get_by_label("Address line 1").fill("1 Sample Street")
    page.get_by_label("Town or city").fill("London")
    page.get_by_label("Postcode").fill("SW1A 1AA")
    page.locator("#primary_name").fill("Jane Smith")
    page.locator("#primary_email").fill("contact@brightwatt.example")
    page.locator("#primary_phone").fill("+44 20 7946 0000")
    page.get_by_label("Organisation email domains").fill("brightwatt.example")
    page.get_by_role("button", name="Save and continue").click()
    visit(page, "Register your organisation")

    page.get_by_role("link", name="Director's declaration").click()
    visit(page, "Director's declaration")
    page.get_by_label("Full name of the declaring officer").fill("Jane Smith")
    page.get_by_label("Yes").check()
    page.get_by_label("The declaring officer makes this declaration").check()
    page.get_by_role("button", name="Save and continue").click()
    visit(page, "Register your organisation")

    page.get_by_role("link", name="Roles").click()
    visit(page, "Roles")
    page.get_by_label("Flexibility Service Provider").check()
    page.get_by_label("Asset Owner").check()
    page.get_by_role("button", name="Save and continue").click()
    visit(page, "Register your organisation")

    page.get_by_role("link", name="Check your answers").click()
    visit(page, "Check your answers before registering")
    page.get_by_role("button", name="Register").click()
    page.wait_for_load_state()
    # Verified at once and so an Authorised Person, but signed in through a provider: its MFA
    # counts, so no TOTP set-up is asked for (it would be after a password sign-in).
    visit(page, LEGAL_NAME)


def test_invited_colleague_can_do_exactly_what_was_granted(
    new_page: Any, providers: tuple[Any, oidc_idp.TestIdP], live_server: Any
) -> None:
    from django.core import mail

    from flexreg.accounts.models import ExternalIdentity
    from flexreg.accounts.services import issue_token
    from flexreg.core.acting import Acting
    from flexreg.participants.models import Membership

    node, idp = providers

    # --- the registrant: provider sign-in, registration, Authorised Person -------------------
    page = new_page()
    sign_in_at_node_provider(page, node.issuer, "olu")
    register_brightwatt(page)
    participant_id = participant_id_of(page)
    assert page.locator("#participant-status").inner_text() == "Active"
    assert page.locator('[data-role="FSP"]').inner_text() == "Active"
    registrant_identity = ExternalIdentity.objects.get(provider="okta-dev")
    assert (registrant_identity.issuer, registrant_identity.subject) == (node.issuer, "olu")
    registrant = registrant_identity.user
    held = Membership.objects.filter(user=registrant, is_active=True)
    assert held.exists()
    assert all(m.is_authorised_person for m in held)

    # --- invite the colleague with only participant:read for the FSP role --------------------
    page.get_by_role("link", name="Users and permissions").click()
    visit(page, f"Users and permissions – {LEGAL_NAME}")
    page.get_by_role("button", name="Invite a user").click()
    visit(page, f"Invite a user – {LEGAL_NAME}")
    page.get_by_label("Email address").fill(COLLEAGUE)
    page.locator('input[name="role"][value="FSP"]').check()
    page.locator('input[name="permissions"][value="participant:read"]').check()
    page.get_by_role("button", name="Send invitation").click()
    visit(page, f"Invitation sent – {LEGAL_NAME}")
    shown = page.locator("code.flexreg-token").inner_text().strip()

    invitation = [m for m in mail.outbox if COLLEAGUE in m.to]
    assert len(invitation) == 1, [m.to for m in mail.outbox]
    body = invitation[0].body
    token = re.search(r"\bfri_[A-Za-z0-9_-]+", body)
    assert token, body
    assert token.group(0) == shown
    assert "Permissions: participant:read\n" in body
    link = re.search(r"https?://[^/\s]+(/invitations/accept/)", body)
    assert link, body

    # --- the colleague: second identity, accepts ---------------------------------------------
    colleague_page = new_page()
    colleague_page.goto("/sign-in/")
    visit(colleague_page, "Sign in")
    colleague_page.get_by_role("button", name=COLLEAGUE_BUTTON).click()
    colleague_page.wait_for_url("**/register/")
    visit(colleague_page, "Register your organisation")
    colleague_identity = ExternalIdentity.objects.get(provider="brightwatt-idp")
    assert colleague_identity.issuer == idp.issuer
    assert colleague_identity.subject == "00u-sam-colleague"
    colleague = colleague_identity.user
    assert colleague.email == COLLEAGUE
    assert colleague.pk != registrant.pk

    colleague_page.goto(link.group(1))
    visit(colleague_page, "Accept an invitation")
    colleague_page.get_by_label("Invitation code").fill(token.group(0))
    colleague_page.get_by_role("button", name="Accept invitation").click()
    visit(colleague_page, "My participants")
    assert "You now act for" in colleague_page.locator(".govuk-notification-banner").inner_text()
    assert "Acting now" in colleague_page.locator("table").inner_text()

    membership = Membership.objects.get(user=colleague, is_active=True)
    assert membership.participant_role.role == "FSP"
    assert membership.participant_role.participant.participant_id == participant_id
    assert sorted(membership.permissions) == ["participant:read"]
    assert not membership.is_authorised_person

    # In the portal: the participant page, but not "Users and permissions".
    colleague_page.get_by_role("link", name=LEGAL_NAME).click()
    visit(colleague_page, LEGAL_NAME)
    # Acting for this participant (so the missing link is for want of the permission).
    assert "not acting for this participant" not in colleague_page.locator("main").inner_text()
    assert colleague_page.get_by_role("link", name="Users and permissions").count() == 0
    response = colleague_page.goto(f"/participants/{participant_id}/users/")
    assert response.status in (403, 404), response.status
    visit(colleague_page, "You do not have access to this page")
    response = colleague_page.goto(f"/participants/{participant_id}/users/invite/")
    assert response.status in (403, 404), response.status

    # Through the API with a token bound to the colleague's membership.
    _, clear = issue_token(Acting.system("test"), colleague, name="e2e", membership=membership)
    api = f"{live_server.url}/api/v1/participants/{participant_id}"
    headers = {"Authorization": f"Bearer {clear}"}
    with httpx.Client(headers=headers, timeout=10) as client:
        got = client.get(api)
        assert got.status_code == 200, got.text
        assert got.json()["participant_id"] == participant_id
        etag = got.headers.get("ETag", "*")
        patched = client.patch(
            api, json={"trading_name": "Not allowed"}, headers={"If-Match": etag}
        )
        assert patched.status_code == 403, patched.text
        added = client.post(f"{api}/roles", json={"role": "SUPPLIER"})
        assert added.status_code == 403, added.text
