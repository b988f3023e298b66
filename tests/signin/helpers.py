"""Helpers for tests that sign in: a verified email address, TOTP enrolment and codes."""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
    yield_hotp_counters_from_time,
)


def verify_email(user: Any) -> None:
    """What following the emailed link does: the user's address is verified."""
    EmailAddress.objects.update_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )


def totp_code(secret: str) -> str:
    """The code an authenticator app shows now (the middle of allauth's tolerance window)."""
    counters = list(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))


def enrol_totp(user: Any) -> str:
    """Give ``user`` an authenticator (as the set-up page does) and recovery codes; the secret."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    RecoveryCodes.activate(user)
    return secret


def recovery_codes(user: Any) -> list[str]:
    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES)
    return list(RecoveryCodes(authenticator).get_unused_codes())


def sign_in(client: Any, user: Any, password: str, *, totp_secret: str | None = None) -> Any:
    """Sign in through /sign-in/ (and the code page when the user has TOTP); the last response."""
    response = client.post("/sign-in/", {"email": user.email, "password": password})
    assert response.status_code == 302, response.content.decode()[:2000]
    if totp_secret is not None:
        assert response["Location"].startswith("/accounts/2fa/authenticate/"), response["Location"]
        response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(totp_secret)})
        assert response.status_code == 302, response.content.decode()[:2000]
    return response


def portal_client(user: Any, membership: Any) -> Any:
    """A Django test client signed in as ``user`` (email verified, TOTP enrolled) acting for
    ``membership``."""
    from django.test import Client

    from conftest import PASSWORD
    from flexreg.accounts.middleware import SESSION_KEY

    client = Client()
    verify_email(user)
    secret = enrol_totp(user)
    sign_in(client, user, PASSWORD, totp_secret=secret)
    session = client.session
    session[SESSION_KEY] = membership.pk
    session.save()
    return client
