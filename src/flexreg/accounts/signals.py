"""Sign-in, failed sign-in, sign-out and authorisation failures: audited, and the slow-down fed.

Connected in ``AccountsConfig.ready``. Django's ``authenticate``/``login``/``logout`` send these
signals, and so does django-allauth, so every way of signing in is covered in one place.
Audit rows are written in their own transaction (``core.audit.record`` requires one); a failure
to audit a sign-in is not swallowed (fail closed).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.http import HttpRequest

from flexreg.core import audit, ratelimit
from flexreg.core.acting import Acting, acting_of
from flexreg.core.middleware import start_session
from flexreg.core.request_context import current_request_id

logger = logging.getLogger(__name__)


def _request_id(request: HttpRequest | None) -> str:
    return str(getattr(request, "request_id", "") or "") or current_request_id()


def _ip(request: HttpRequest | None) -> str:
    return ratelimit.client_ip(request) if request is not None else "unknown"


def _user_acting(user: Any, request: HttpRequest | None) -> Acting:
    return Acting(
        user_id=user.pk, user_label=user.email, via="session", request_id=_request_id(request)
    )


def _attempted_account(credentials: dict[str, Any]) -> str:
    for name in ("email", "username", "login"):
        value = credentials.get(name)
        if isinstance(value, str) and value:
            return value.strip().lower()[:254]
    return ""


def on_logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    ip = _ip(request)
    if request is not None:
        start_session(request)  # for the absolute timeout (core.middleware)
    if user.email:
        ratelimit.reset_failures(ratelimit.account_key(user.email, ip))
    with transaction.atomic():
        audit.record(
            _user_acting(user, request),
            "user.signed_in",
            object_type="user",
            object_id=str(user.pk),
            after={"ip": ip, "backend": getattr(user, "backend", "") or ""},
            personal=("ip",),
        )


def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    account = _attempted_account(credentials)
    ip = _ip(request)
    locked = None
    if account and settings.RATE_LIMITS_ENABLED:
        decision = ratelimit.record_failure(ratelimit.account_key(account, ip))
        locked = None if decision.allowed else decision.retry_after
    known = (
        get_user_model().objects.filter(email=account).values_list("pk", flat=True).first()
        if account
        else None
    )
    after: dict[str, Any] = {"email": account, "ip": ip}
    if locked:
        after["locked_for_seconds"] = locked
    with transaction.atomic():
        audit.record(
            Acting(
                user_id=None,
                user_label="anonymous",
                via="anonymous",
                request_id=_request_id(request),
            ),
            "user.sign_in_failed",
            object_type="user",
            object_id=str(known) if known is not None else "unknown",
            after=after,
            personal=("email", "ip"),
        )


def on_logged_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is None:  # signing out while not signed in: nothing happened
        return
    reason = str(getattr(request, "flexreg_session_end", "") or "")
    with transaction.atomic():
        audit.record(
            _user_acting(user, request),
            "user.session_expired" if reason else "user.signed_out",
            object_type="user",
            object_id=str(user.pk),
            after={"reason": reason or "signed_out", "ip": _ip(request)},
            personal=("ip",),
        )


def record_authorisation_denied(request: HttpRequest, permission: str) -> None:
    """Audit a refused permission (API exception handler, portal error page). The caller still
    answers 403: a failure to write this row is logged, never turned into another answer."""
    acting = acting_of(request)
    try:
        with transaction.atomic():
            audit.record(
                acting.with_request_id(_request_id(request)),
                "authorisation.denied",
                object_type="permission",
                object_id=permission or "unknown",
                after={
                    "permission": permission,
                    "method": request.method or "",
                    "path": request.path[:500],
                    "membership_id": acting.membership_id,
                    "token_id": acting.token_id,
                },
            )
    except Exception:
        logger.exception("could not audit an authorisation failure on %s", request.path)


def connect() -> None:
    user_logged_in.connect(on_logged_in, dispatch_uid="flexreg.accounts.signed_in")
    user_login_failed.connect(on_login_failed, dispatch_uid="flexreg.accounts.sign_in_failed")
    user_logged_out.connect(on_logged_out, dispatch_uid="flexreg.accounts.signed_out")
