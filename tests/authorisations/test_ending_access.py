"""Removing a membership or deactivating a user ends portal sessions and API tokens at once."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from flexreg.accounts.models import ApiToken
from flexreg.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def _signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _sessions_of(user: Any) -> int:
    return sum(
        1 for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(user.pk)
    )


def test_revoking_a_membership_ends_the_session_and_token_immediately(
    org: Any, colleague: Any, make_user: Any
) -> None:
    user, membership, api = colleague(["participant:read"])
    portal = _signed_in(user)
    bystander_user = make_user("bystander@brightwatt.example")
    _signed_in(bystander_user)
    page = f"/participants/{org.pid}/"
    assert portal.get(page).status_code == 200
    assert api.get(f"/participants/{org.pid}").status_code == 200
    assert _sessions_of(user) == 1
    revoked = org.ap.post(
        f"/participants/{org.pid}/memberships/{membership.public_id}/revoke", {"reason": "Left"}
    )
    assert revoked.status_code == 200
    assert api.get(f"/participants/{org.pid}").status_code == 401
    after = portal.get(page)
    assert after.status_code == 302 and "/sign-in/" in after["Location"]
    assert _sessions_of(user) == 0
    assert _sessions_of(bystander_user) == 1  # nobody else is signed out
    event = AuditEvent.objects.get(action="membership.revoked")
    assert event.changes["after"]["sessions_ended"] == 1


def test_operator_deactivates_a_user_everywhere(
    org: Any, colleague: Any, operator_api: Any, api_for: Any
) -> None:
    user, _membership, api = colleague(["participant:read"])
    bare = api_for(user)
    portal = _signed_in(user)
    assert portal.get(f"/participants/{org.pid}/").status_code == 200
    refused = api.post("/operator/users/deactivate", {"email": user.email, "reason": "x"})
    assert refused.status_code == 403
    response = operator_api.post(
        "/operator/users/deactivate", {"email": user.email, "reason": "Reported compromised"}
    )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "email": user.email,
        "is_active": False,
        "memberships_ended": 1,
        "tokens_revoked": 1,
        "sessions_ended": 1,
    }
    user.refresh_from_db()
    assert not user.is_active
    assert api.get(f"/participants/{org.pid}").status_code == 401
    assert bare.get("/me").status_code == 401
    assert portal.get(f"/participants/{org.pid}/").status_code == 302
    assert not ApiToken.objects.filter(user=user, revoked_at__isnull=True).exists()
    assert _sessions_of(user) == 0
    event = AuditEvent.objects.get(action="user.deactivated")
    assert event.changes["after"]["reason"] == "Reported compromised"
    assert not user.memberships.filter(is_active=True).exists()


def test_reducing_permissions_applies_to_the_next_request(org: Any, colleague: Any) -> None:
    user, membership, api = colleague(["participant:read", "participant:update"])
    portal = _signed_in(user)
    assert portal.get(f"/participants/{org.pid}/").status_code == 200
    org.ap.patch(
        f"/participants/{org.pid}/memberships/{membership.public_id}",
        {"permissions": ["memberships:read"]},
    )
    # Still signed in, but the session and the token re-read permissions on every request.
    assert _sessions_of(user) == 1
    assert portal.get(f"/participants/{org.pid}/").status_code == 403
    assert api.get(f"/participants/{org.pid}").status_code == 403
    assert api.get(f"/participants/{org.pid}/memberships").status_code == 200
