"""Local accounts: email verification before use, argon2, TOTP for elevated permissions (set-up
enforced, a code at every sign-in), recovery codes, "My access"."""

from __future__ import annotations

import re
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from django.test import Client

from conftest import PASSWORD
from flexreg.core.models import AuditEvent
from tests.signin.helpers import enrol_totp, recovery_codes, sign_in, totp_code, verify_email

pytestmark = pytest.mark.django_db


def test_passwords_are_hashed_with_argon2(make_user: Any) -> None:
    assert make_user().password.startswith("argon2")


def test_an_unverified_email_cannot_be_used_to_sign_in(
    client: Client, make_user: Any, mailoutbox: Any
) -> None:
    user = make_user()
    response = client.post("/sign-in/", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/accounts/confirm-email/"
    assert "_auth_user_id" not in client.session
    assert client.get("/participants/").status_code == 302
    page = client.get("/accounts/confirm-email/")
    assert "Check your email" in page.content.decode()
    (message,) = mailoutbox
    assert message.to == [user.email]
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^\s]+/)", message.body)
    assert link
    assert client.post(link.group(1)).status_code == 302
    user.refresh_from_db()
    assert user.email_verified_at is not None
    assert AuditEvent.objects.filter(action="user.email_verified").exists()


def test_a_wrong_password_is_audited(client: Client, make_user: Any) -> None:
    user = make_user()
    client.post("/sign-in/", {"email": user.email, "password": "wrong password"})
    event = AuditEvent.objects.filter(action="user.sign_in_failed").latest("seq")
    assert event.object_id == str(user.pk)  # audited by accounts.signals
    assert "_auth_user_id" not in client.session


def test_an_operator_without_totp_must_set_it_up_first(client: Client, operator: Any) -> None:
    user, _ = operator
    verify_email(user)
    response = sign_in(client, user, PASSWORD)
    assert response["Location"] == "/participants/"
    # Every page but the set-up (and signing out) sends them to set TOTP up.
    for url in ("/participants/", "/operator/verifications/", "/my-access/", "/register/"):
        answer = client.get(url)
        assert answer.status_code == 302, url
        assert answer["Location"].startswith("/accounts/2fa/totp/activate/?next="), url
    assert client.post("/acting/", {}).status_code == 302
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Set up an authenticator app" in html
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', html)
    assert secret
    wrong = client.post("/accounts/2fa/totp/activate/", {"code": "000000"})
    assert wrong.status_code == 200
    done = client.post("/accounts/2fa/totp/activate/", {"code": totp_code(secret.group(1))})
    assert done.status_code == 302, done.content.decode()[-3000:]
    assert done["Location"] == "/accounts/2fa/recovery-codes/"
    codes = client.get("/accounts/2fa/recovery-codes/")
    assert codes.status_code == 200 and "Recovery codes" in codes.content.decode()
    assert client.get("/operator/verifications/").status_code == 200
    assert Authenticator.objects.filter(user=user, type="totp").exists()


def test_an_operator_with_totp_gives_a_code_at_sign_in(client: Client, operator: Any) -> None:
    user, _ = operator
    verify_email(user)
    secret = enrol_totp(user)
    response = client.post("/sign-in/", {"email": user.email, "password": PASSWORD})
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert "_auth_user_id" not in client.session  # not signed in until the code
    assert client.get("/operator/verifications/").status_code == 302
    bad = client.post("/accounts/2fa/authenticate/", {"code": "123456"})
    assert bad.status_code == 200 and "_auth_user_id" not in client.session
    good = client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
    assert good.status_code == 302
    assert client.get("/operator/verifications/").status_code == 200


def test_a_recovery_code_works_once(operator: Any) -> None:
    user, _ = operator
    verify_email(user)
    enrol_totp(user)
    code = recovery_codes(user)[0]
    first = Client()
    first.post("/sign-in/", {"email": user.email, "password": PASSWORD})
    assert first.post("/accounts/2fa/authenticate/", {"code": code}).status_code == 302
    assert first.get("/operator/verifications/").status_code == 200
    second = Client()
    second.post("/sign-in/", {"email": user.email, "password": PASSWORD})
    assert second.post("/accounts/2fa/authenticate/", {"code": code}).status_code == 200
    assert "_auth_user_id" not in second.session


def test_an_authorised_person_made_during_the_session_is_asked_for_a_code(
    client: Client, make_user: Any, registered: Any
) -> None:
    """Signed in without a second factor, then made Authorised Person: a code is needed."""
    user = make_user()
    verify_email(user)
    secret = enrol_totp(user)
    # Sign in before holding anything: the TOTP stage still asks (the user has TOTP).
    sign_in(client, user, PASSWORD, totp_secret=secret)
    registered(user=user)  # verified at once: the registrant becomes Authorised Person
    assert client.get("/participants/").status_code == 200  # this session used TOTP
    other = Client()
    other.force_login(user)  # a session with no second factor recorded
    answer = other.get("/participants/")
    assert answer.status_code == 302 and answer["Location"].startswith("/mfa/verify/")
    assert other.post("/mfa/verify/", {"code": "000000"}).status_code == 200
    # (This period's TOTP code was used at sign-in and cannot be replayed: a recovery code.)
    code = recovery_codes(user)[0]
    ok = other.post("/mfa/verify/", {"code": code, "next": "/participants/"})
    assert ok.status_code == 302 and ok["Location"] == "/participants/"
    assert other.get("/participants/").status_code == 200


def test_users_without_elevated_permissions_need_no_totp(client: Client, make_user: Any) -> None:
    user = make_user()
    verify_email(user)
    sign_in(client, user, PASSWORD)
    assert client.get("/participants/").status_code == 200


def test_my_access_lists_memberships_tokens_and_sign_ins(
    client: Client, make_user: Any, registered: Any, token_for: Any
) -> None:
    user = make_user()
    verify_email(user)
    secret = enrol_totp(user)
    registered(user=user)
    sign_in(client, user, PASSWORD, totp_secret=secret)
    from flexreg.accounts.models import ApiToken

    token_for(user)
    key_id = ApiToken.objects.filter(user=user).latest("created_at").key_id
    page = client.get("/my-access/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Authorised Person" in html and "participant:read" in html
    assert key_id in html
    assert "Email address and password" in html
    revoked = client.post(f"/my-access/tokens/{key_id}/revoke/")
    assert revoked.status_code == 302
    assert ApiToken.objects.get(key_id=key_id).revoked_at is not None
    assert client.get(f"/my-access/tokens/{key_id}/revoke/").status_code == 405
    assert AuditEvent.objects.filter(action="api_token.revoked").exists()


def test_my_access_needs_sign_in(client: Client) -> None:
    response = client.get("/my-access/")
    assert response.status_code == 302 and response["Location"] == "/sign-in/?next=/my-access/"


def test_allauths_own_pages_redirect_to_ours(client: Client) -> None:
    assert client.get("/accounts/login/")["Location"] == "/sign-in/"
    assert client.get("/accounts/signup/")["Location"] == "/create-account/"
