"""API authentication (bearer tokens) and the per-endpoint permission declaration."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer

from flexreg.accounts import on_behalf, services_service_accounts, tokens
from flexreg.accounts.acting import acting_for
from flexreg.accounts.models import ApiToken
from flexreg.core import permissions
from flexreg.core.acting import Acting, acting_of

F = TypeVar("F", bound=Callable[..., Any])
PUBLIC = "public"


class BearerAuth(HttpBearer):
    """``Authorization: Bearer frt_...``: a personal token bound to its user and membership."""

    def authenticate(self, request: HttpRequest, token: str) -> Acting | None:
        acting = self._acting(request, token)
        if acting is None:
            return None
        header = request.headers.get(on_behalf.HEADER)
        if header is not None:
            # A platform acting for a client under a delegation (raises 400/403 otherwise).
            acting = on_behalf.act_on_behalf(acting, header)
        request.acting = acting  # type: ignore[attr-defined]
        return acting

    def _acting(self, request: HttpRequest, token: str) -> Acting | None:
        if token.startswith(f"{services_service_accounts.ACCESS_PREFIX}_"):
            # A service account's short-lived OAuth access token.
            machine = services_service_accounts.acting_for_access_token(token)
            if machine is None:
                return None
            return machine.with_request_id(getattr(request, "request_id", machine.request_id))
        key_id = tokens.parse_key_id(token)
        if key_id is None:
            return None
        row = (
            ApiToken.objects.select_related("user", "membership__participant_role__participant")
            .filter(key_id=key_id)
            .first()
        )
        if row is None or not tokens.matches(token, row.digest) or not row.is_usable:
            return None
        if not row.user.is_active:
            return None
        membership = row.membership
        if membership is not None and not membership.is_active:
            return None
        now = timezone.now()
        if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=5):
            ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        acting = acting_for(row.user, membership, via="token", token_id=row.pk)
        return acting.with_request_id(getattr(request, "request_id", acting.request_id))


def requires(permission: str) -> Callable[[F], F]:
    """Declare (and enforce) the permission an endpoint needs. ``PUBLIC`` means none.

    Every API operation must carry this declaration; a test walks the routes to make sure.
    Object scope is then the selectors' job (an object the caller may not see answers 404).
    """

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            if permission != PUBLIC:
                permissions.require(acting_of(request), permission)
            return view(request, *args, **kwargs)

        wrapper.required_permission = permission  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
