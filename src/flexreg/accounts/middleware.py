"""Sets ``request.acting`` for portal requests from the session's chosen membership."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from flexreg.accounts.acting import acting_for, usable_memberships
from flexreg.core.acting import Acting

SESSION_KEY = "acting_membership"


def _session_acting(request: HttpRequest) -> Acting:
    user = request.user
    if not user.is_authenticated:
        return Acting.anonymous()
    memberships = usable_memberships(user)
    chosen = request.session.get(SESSION_KEY)
    membership = next((m for m in memberships if m.pk == chosen), None)
    if membership is None and memberships:
        membership = memberships[0]
    return acting_for(user, membership, via="session")


class ActingMembershipMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.acting = SimpleLazyObject(lambda: _session_acting(request))  # type: ignore[attr-defined]
        return self.get_response(request)
