"""OpenID Connect sign-in against a real provider over HTTP: the code flow, matching on issuer +
subject, linking, and every rejection case (each refused, no session, audited)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import pytest
from allauth.socialaccount.models import SocialAccount
from django.test import Client

from flexreg.accounts.models import ExternalIdentity, User
from flexreg.core.models import AuditEvent
from tests.signin.conftest import TENANT_A, TENANT_B, run_flow, signed_in_user_id, title_of

pytestmark = pytest.mark.django_db


def failures() -> list[dict[str, Any]]:
    return [
        e.changes["after"]
        for e in AuditEvent.objects.filter(action="user.sign_in_failed").order_by("seq")
    ]


def test_sign_in_page_lists_the_configured_providers(providers: Any) -> None:
    html = Client().get("/sign-in/").content.decode()
    for name in ("Okta", "Microsoft Entra ID", "GOV.UK One Login"):
        assert f"Sign in with {name}" in html
    assert 'action="/accounts/oidc/okta/login/"' in html


def test_first_sign_in_creates_a_user_keyed_on_issuer_and_subject(providers: Any, idp: Any) -> None:
    client = Client()
    response = run_flow(client, "okta")
    assert response.status_code == 302 and response["Location"] == "/register/"  # a new user
    user = User.objects.get(pk=signed_in_user_id(client))
    assert user.email == "olu@brightwatt.example"
    assert not user.has_usable_password()
    identity = ExternalIdentity.objects.get(user=user)
    assert (identity.issuer, identity.subject, identity.provider) == (
        idp.issuer,
        "00u-okta-1",
        "okta",
    )
    assert SocialAccount.objects.filter(user=user, provider="okta").count() == 1
    # The authorize request carried a nonce and PKCE; the ID token's nonce matched it.
    sent = idp.requests[-1]
    assert sent["nonce"] and sent["code_challenge"] and sent["code_challenge_method"] == "S256"
    actions = list(AuditEvent.objects.values_list("action", flat=True).order_by("seq"))
    assert "identity.linked" in actions and "user.signed_in" in actions

    # Second time: the same user, no new identity.
    again = Client()
    assert run_flow(again, "okta")["Location"] == "/participants/"
    assert signed_in_user_id(again) == str(user.pk)
    assert ExternalIdentity.objects.count() == 1


def test_never_matched_on_email(providers: Any, make_user: Any) -> None:
    """A local account with the same email is not taken over by a provider sign-in."""
    local = make_user("olu@brightwatt.example")
    client = Client()
    response = run_flow(client, "okta")
    assert response.status_code == 403
    assert "An account already uses this email address" in response.content.decode()
    assert signed_in_user_id(client) is None
    assert not ExternalIdentity.objects.filter(user=local).exists()
    assert failures()[-1]["reason"] == "identity.email_in_use"


def test_same_subject_at_another_issuer_is_another_identity(
    providers: Any, idp: Any, onelogin_idp: Any
) -> None:
    idp.user = {"sub": "shared-subject", "email": "one@example.test"}
    onelogin_idp.user = {"sub": "shared-subject", "email": "two@example.test"}
    first, second = Client(), Client()
    assert run_flow(first, "okta").status_code == 302
    assert run_flow(second, "onelogin").status_code == 302
    assert signed_in_user_id(first) != signed_in_user_id(second)
    assert set(ExternalIdentity.objects.values_list("issuer", "subject")) == {
        (idp.issuer, "shared-subject"),
        (onelogin_idp.issuer, "shared-subject"),
    }


def test_a_signed_in_user_links_a_second_provider_from_my_access(
    providers: Any, idp: Any, onelogin_idp: Any
) -> None:
    client = Client()
    assert run_flow(client, "okta").status_code == 302
    user_id = signed_in_user_id(client)
    page = client.get("/my-access/").content.decode()
    assert "Link GOV.UK One Login" in page
    response = run_flow(client, "onelogin", "?process=connect")
    assert response.status_code == 302 and response["Location"] == "/my-access/"
    assert set(
        ExternalIdentity.objects.filter(user_id=user_id).values_list("provider", flat=True)
    ) == {"okta", "onelogin"}
    # Either provider now signs in to the same user.
    other = Client()
    assert run_flow(other, "onelogin").status_code == 302
    assert signed_in_user_id(other) == user_id
    assert "onelogin" in client.get("/my-access/").content.decode()


def test_linking_an_identity_held_by_someone_else_is_refused(
    providers: Any, idp: Any, onelogin_idp: Any
) -> None:
    holder = Client()
    assert run_flow(holder, "onelogin").status_code == 302
    client = Client()
    assert run_flow(client, "okta").status_code == 302
    response = run_flow(client, "onelogin", "?process=connect")
    assert response.status_code == 403
    assert failures()[-1]["reason"] == "identity.linked_elsewhere"
    assert ExternalIdentity.objects.filter(provider="onelogin").count() == 1


@pytest.mark.parametrize(
    ("misbehaviour", "reason"),
    [
        ("aud", "oidc.wrong_audience"),
        ("iss", "oidc.wrong_issuer"),
        ("nonce", "oidc.bad_nonce"),
        ("expired", "oidc.expired"),
        ("alg_none", "oidc.bad_algorithm"),
        ("tamper", "oidc.bad_signature"),
        ("wrong_key", "oidc.bad_signature"),
    ],
)
def test_bad_id_tokens_are_refused(
    providers: Any, idp: Any, misbehaviour: str, reason: str
) -> None:
    idp.misbehave = {misbehaviour}
    client = Client()
    response = run_flow(client, "okta")
    assert response.status_code == 401
    assert title_of(response).startswith("We could not sign you in")
    assert signed_in_user_id(client) is None
    assert not User.objects.exists() and not ExternalIdentity.objects.exists()
    assert failures() == [{"method": "oidc", "provider": "okta", "reason": reason}]


def test_a_replayed_callback_is_refused(providers: Any, idp: Any) -> None:
    client = Client()
    start = client.post("/accounts/oidc/okta/login/")
    import httpx

    back = urlparse(httpx.get(start["Location"], follow_redirects=False).headers["Location"])
    assert client.get(f"{back.path}?{back.query}").status_code == 302
    other = Client()
    replay = other.get(f"{back.path}?{back.query}")
    assert replay.status_code == 401 and signed_in_user_id(other) is None


def test_entra_multi_tenant_substitutes_the_tenant_into_the_issuer(
    providers: Any, entra_idp: Any
) -> None:
    client = Client()
    response = run_flow(client, "entra")
    assert response.status_code == 302, response.content.decode()[:500]
    identity = ExternalIdentity.objects.get()
    assert identity.issuer == entra_idp.issuer.replace("{tenantid}", TENANT_A)
    assert identity.subject == "aaaaaaaa-0000-0000-0000-000000000001"  # oid, not sub
    assert identity.user.email == "eve@handover.example"


def test_entra_tenant_outside_the_allow_list_is_refused(providers: Any, entra_idp: Any) -> None:
    entra_idp.user = {**entra_idp.user, "tid": TENANT_B}
    client = Client()
    response = run_flow(client, "entra")
    assert response.status_code == 401 and signed_in_user_id(client) is None
    assert failures()[-1]["reason"] == "oidc.tenant_not_allowed"


def test_entra_issuer_for_another_tenant_than_tid_is_refused(
    providers: Any, entra_idp: Any
) -> None:
    entra_idp.misbehave = {"iss"}
    client = Client()
    assert run_flow(client, "entra").status_code == 401
    assert signed_in_user_id(client) is None
    assert failures()[-1]["reason"] == "oidc.wrong_issuer"


def test_one_login_uses_private_key_jwt_and_asks_for_vtr(providers: Any, onelogin_idp: Any) -> None:
    client = Client()
    response = run_flow(client, "onelogin")
    assert response.status_code == 302, response.content.decode()[:500]
    (assertion,) = onelogin_idp.assertions
    assert assertion["iss"] == assertion["sub"] == "flexreg-onelogin"
    assert assertion["aud"] == f"{onelogin_idp.base_url}/onelogin/token"
    sent = onelogin_idp.requests[-1]
    assert sent["vtr"] == '["Cl.Cm"]' and "claims" not in sent
    assert set(sent["scope"].split()) == {"openid", "email"}


def test_one_login_refuses_a_wrong_client_key(
    providers: Any, onelogin_idp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flexreg.devtools.oidc_idp import private_key_pair

    monkeypatch.setenv("FLEXREG_TEST_ONELOGIN_KEY", private_key_pair()[0])
    client = Client()
    assert run_flow(client, "onelogin").status_code == 401
    assert signed_in_user_id(client) is None
    assert failures()[-1]["reason"] == "oidc.token_request_failed"
    assert onelogin_idp.token_errors


def test_a_get_to_the_login_url_asks_to_continue_and_starts_nothing(
    providers: Any, idp: Any
) -> None:
    """No sign-in is started by a link from another site: GET shows a form that POSTs."""
    response = Client().get("/accounts/oidc/okta/login/")
    assert response.status_code == 200
    assert "Continue to Okta" in response.content.decode()
    assert idp.base_url in response["Content-Security-Policy"]
    assert idp.requests == []


def test_an_unknown_provider_is_not_found(providers: Any) -> None:
    assert Client().post("/accounts/oidc/nope/login/").status_code == 404
