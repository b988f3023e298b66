"""TOTP for anyone holding elevated permissions, enforced for every portal page.

An Authorised Person (of any participant) or a central operator (``MARKET_FACILITATOR``) who
signed in with a password must have TOTP and must have used it in this session. Without TOTP
they are sent to set it up; with TOTP but no second factor in this session (e.g. they became an
Authorised Person after signing in) they are asked for a code. Until then only those pages and
signing out answer. Sessions from an OpenID Connect provider rely on the provider's own
multi-factor policy (docs/decisions/0007-sign-in.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from allauth.account.internal.flows.login import get_authentication_records, record_authentication
from allauth.mfa.models import Authenticator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

import flexreg.accounts.adapters  # noqa: F401  (connects the sign-in signal receivers)
from flexreg.core.acting import OPERATOR_ROLE
from flexreg.participants.models import Membership

SETUP_URL = "/accounts/2fa/totp/activate/"
VERIFY_URL = "/mfa/verify/"
_OPEN_PREFIXES = (
    "/static/",
    "/api/",
    "/sign-out/",
    "/accounts/logout/",
    "/accounts/reauthenticate/",
    "/accounts/2fa/",
    VERIFY_URL,
)


def holds_elevated_permissions(user: Any) -> bool:
    return (
        Membership.objects.filter(user=user, is_active=True)
        .filter(Q(is_authorised_person=True) | Q(participant_role__role=OPERATOR_ROLE))
        .exists()
    )


def has_totp(user: Any) -> bool:
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def session_used_mfa(request: HttpRequest) -> bool:
    records = get_authentication_records(request, request.user)
    return any(r.get("method") == "mfa" for r in records)


def session_via_provider(request: HttpRequest) -> bool:
    records = get_authentication_records(request, request.user)
    return bool(records) and all(r.get("method") == "socialaccount" for r in records)


def mfa_redirect(request: HttpRequest) -> str | None:
    """Where this request must go first, or None if it may proceed."""
    user = request.user
    if not user.is_authenticated or request.path.startswith(_OPEN_PREFIXES):
        return None
    if session_used_mfa(request) or session_via_provider(request):
        return None
    if not holds_elevated_permissions(user):
        return None
    target = VERIFY_URL if has_totp(user) else SETUP_URL
    if request.method == "GET":
        return f"{target}?{urlencode({'next': request.get_full_path()})}"
    return target


class RequireMfaMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        target = mfa_redirect(request)
        if target is not None:
            return HttpResponseRedirect(target)
        return self.get_response(request)


def record_totp_set_up(request: HttpRequest) -> None:
    """Setting TOTP up proves a code in this session: count it as the session's second factor."""
    authenticator = Authenticator.objects.filter(
        user=request.user, type=Authenticator.Type.TOTP
    ).first()
    if authenticator is not None:
        record_authentication(request, request.user, "mfa", type="totp", id=authenticator.pk)
