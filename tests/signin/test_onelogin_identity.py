"""GOV.UK One Login identity journey: a signed coreIdentityJWT with vot P2 verifies the signed-in
person's individual participant (audited); P1, a tampered credential or no sign-in do not."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from conftest import PASSWORD, individual_payload
from flexreg.accounts.models import ExternalIdentity
from flexreg.core.models import AuditEvent
from flexreg.participants.models import Participant, Verification
from tests.signin.conftest import run_flow, signed_in_user_id
from tests.signin.helpers import sign_in, verify_email

pytestmark = pytest.mark.django_db


@pytest.fixture
def individual(registered: Any) -> tuple[Any, Participant, Client]:
    """A private individual who registered and is signed in to the portal with a password."""
    user, body, _ = registered(individual_payload())
    participant = Participant.objects.get(participant_id=body["participant_id"])
    assert participant.status == "pending_verification"
    verify_email(user)
    client = Client()
    sign_in(client, user, PASSWORD)
    return user, participant, client


def test_p2_identity_verifies_the_individual(
    individual: Any, providers: Any, onelogin_idp: Any
) -> None:
    user, participant, client = individual
    response = run_flow(client, "onelogin", "?journey=identity")
    assert response.status_code == 302, response.content.decode()[:800]
    assert response["Location"] == f"/participants/{participant.participant_id}/"
    sent = onelogin_idp.requests[-1]
    assert sent["vtr"] == '["Cl.Cm.P2"]'
    assert "https://vocab.account.gov.uk/v1/coreIdentityJWT" in sent["claims"]
    participant.refresh_from_db()
    assert participant.status == "active"
    verification = Verification.objects.get(participant=participant, method="identity")
    assert verification.status == "passed"
    assert verification.company_snapshot["level"] == "P2"
    assert "birthDate" not in str(verification.company_snapshot)  # evidence, not the claims
    event = AuditEvent.objects.get(action="verification.identity_proven")
    assert event.actor_user_id == user.pk
    # The One Login identity is now linked to this user (issuer + pairwise subject).
    identity = ExternalIdentity.objects.get(user=user)
    assert identity.subject == "urn:fdc:gov.uk:2022:abc"
    assert signed_in_user_id(client) == str(user.pk)


def test_p1_identity_is_refused(individual: Any, providers: Any, onelogin_idp: Any) -> None:
    _, participant, client = individual
    onelogin_idp.vot = "P1"
    response = run_flow(client, "onelogin", "?journey=identity")
    assert response.status_code == 403
    assert "We could not confirm your identity" in response.content.decode()
    participant.refresh_from_db()
    assert participant.status == "pending_verification"
    assert not AuditEvent.objects.filter(action="verification.identity_proven").exists()
    failed = AuditEvent.objects.filter(action="user.sign_in_failed").latest("seq")
    assert failed.changes["after"]["reason"] == "identity.level_too_low"


def test_a_tampered_identity_credential_is_refused(
    individual: Any, providers: Any, onelogin_idp: Any
) -> None:
    _, participant, client = individual
    onelogin_idp.misbehave = {"identity_tamper"}
    response = run_flow(client, "onelogin", "?journey=identity")
    assert response.status_code == 401
    participant.refresh_from_db()
    assert participant.status == "pending_verification"
    failed = AuditEvent.objects.filter(action="user.sign_in_failed").latest("seq")
    assert failed.changes["after"]["reason"] == "identity.invalid_credential"


def test_identity_key_from_a_jwks_instead_of_a_did(
    individual: Any, providers: Any, onelogin_idp: Any, settings: Any
) -> None:
    _, participant, client = individual
    config = providers["onelogin"].model_copy(
        update={"identity_did_url": "", "identity_jwks_url": onelogin_idp.identity_jwks_url}
    )
    # The JWKS names the key by its short kid; the credential's header carries the DID URL.
    onelogin_idp.identity_kid_in_header = "short"
    settings.SOCIALACCOUNT_PROVIDERS["openid_connect"]["APPS"][2] = config.allauth_app()
    response = run_flow(client, "onelogin", "?journey=identity")
    assert response.status_code == 302, response.content.decode()[:800]
    participant.refresh_from_db()
    assert participant.status == "active"


def test_the_identity_journey_needs_a_signed_in_user(providers: Any) -> None:
    client = Client()
    response = run_flow(client, "onelogin", "?journey=identity")
    assert response.status_code == 302 and response["Location"] == "/sign-in/"
    assert signed_in_user_id(client) is None
    assert not ExternalIdentity.objects.exists()
