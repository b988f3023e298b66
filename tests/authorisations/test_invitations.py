"""Invitations by email: registered domains only (operator override, audited), single use,
expiring, only for the invited address, revocable; the token is stored hashed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from flexreg.core.models import AuditEvent
from flexreg.participants.models import Invitation, Membership

pytestmark = pytest.mark.django_db


@pytest.fixture
def invite(org: Any, django_capture_on_commit_callbacks: Any) -> Any:
    def send(email: str, api: Any = None, **extra: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return (api or org.ap).post(
                f"/participants/{org.pid}/invitations",
                {
                    "email": email,
                    "role": "ASSET_OWNER",
                    "permissions": ["participant:read"],
                    **extra,
                },
            )

    return send


def test_invitation_is_emailed_once_and_accepted_by_the_invited_user(
    org: Any, invite: Any, make_user: Any, api_for: Any
) -> None:
    response = invite("Nia@Brightwatt.example")
    assert response.status_code == 201, response.content
    body = response.json()
    token = body["token"]
    assert body["status"] == "pending" and body["email"] == "nia@brightwatt.example"
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert dt.timedelta(days=6, hours=23) < expires - timezone.now() <= dt.timedelta(days=7)
    # Stored hashed only; the listing never shows the token again.
    stored = Invitation.objects.get(public_id=body["invitation_id"])
    assert token not in stored.digest and len(stored.digest) == 64
    listed = org.ap.get(f"/participants/{org.pid}/invitations").json()
    assert [i["invitation_id"] for i in listed] == [body["invitation_id"]]
    assert "token" not in listed[0]
    # One email, plain text and HTML, carrying the token.
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["nia@brightwatt.example"]
    assert token in message.body
    html, mime = message.alternatives[0]
    assert mime == "text/html" and token in html
    # Someone else, signed in, cannot use it.
    stranger = api_for(make_user("sam@brightwatt.example"))
    wrong = stranger.post("/invitations/accept", {"token": token})
    assert wrong.status_code == 403 and wrong.json()["code"] == "invitation.wrong_user"
    # The invited person (address compared case-insensitively) accepts.
    nia = make_user("NIA@brightwatt.example")
    accepted = api_for(nia).post("/invitations/accept", {"token": token})
    assert accepted.status_code == 201, accepted.content
    assert accepted.json()["permissions"] == ["participant:read"]
    membership = Membership.objects.get(user=nia)
    nia_api = api_for(nia, membership)
    assert nia_api.get(f"/participants/{org.pid}").status_code == 200
    assert nia_api.patch(f"/participants/{org.pid}", {"trading_name": "x"}).status_code == 403
    # Single use.
    again = api_for(nia).post("/invitations/accept", {"token": token})
    assert again.status_code == 409 and again.json()["code"] == "invitation.accepted"
    actions = list(
        AuditEvent.objects.filter(object_id=body["invitation_id"]).values_list("action", flat=True)
    )
    assert actions == ["invitation.created", "invitation.accepted"]


def test_invitation_expires(org: Any, invite: Any, make_user: Any, api_for: Any) -> None:
    response = invite("old@brightwatt.example", expires_in_days=1)
    assert response.status_code == 201
    Invitation.objects.filter(public_id=response.json()["invitation_id"]).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    late = api_for(make_user("old@brightwatt.example")).post(
        "/invitations/accept", {"token": response.json()["token"]}
    )
    assert late.status_code == 410 and late.json()["code"] == "invitation.expired"
    assert org.ap.get(f"/participants/{org.pid}/invitations").json() == []


def test_configurable_default_expiry(org: Any, invite: Any, settings: Any) -> None:
    settings.INVITATION_DEFAULT_DAYS = 2
    body = invite("two@brightwatt.example").json()
    left = dt.datetime.fromisoformat(body["expires_at"]) - timezone.now()
    assert dt.timedelta(days=1, hours=23) < left <= dt.timedelta(days=2)


def test_revoked_invitation_cannot_be_used(
    org: Any, invite: Any, make_user: Any, api_for: Any
) -> None:
    body = invite("rev@brightwatt.example").json()
    revoked = org.ap.post(f"/participants/{org.pid}/invitations/{body['invitation_id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    used = api_for(make_user("rev@brightwatt.example")).post(
        "/invitations/accept", {"token": body["token"]}
    )
    assert used.status_code == 410 and used.json()["code"] == "invitation.revoked"
    assert AuditEvent.objects.filter(action="invitation.revoked").count() == 1


def test_unknown_token_is_not_found(make_user: Any, api_for: Any, anonymous_api: Any) -> None:
    api = api_for(make_user())
    bogus = api.post("/invitations/accept", {"token": "fri_" + "x" * 43})
    assert bogus.status_code == 404 and bogus.json()["code"] == "invitation.invalid"
    assert (
        anonymous_api.post("/invitations/accept", {"token": "fri_" + "x" * 43}).status_code == 401
    )


def test_only_registered_domains_unless_the_operator_overrides(
    org: Any, invite: Any, operator_api: Any
) -> None:
    outside = invite("contractor@gmail.example")
    assert outside.status_code == 422
    assert outside.json()["code"] == "invitation.email_domain_not_registered"
    self_override = invite("contractor@gmail.example", domain_override_reason="Trust me")
    assert self_override.status_code == 403
    assert self_override.json()["code"] == "invitation.override_not_allowed"
    assert mail.outbox == []
    by_operator = invite(
        "contractor@gmail.example",
        api=operator_api,
        domain_override_reason="Contractor confirmed by the company secretary",
    )
    assert by_operator.status_code == 201, by_operator.content
    assert by_operator.json()["domain_override_reason"].startswith("Contractor")
    event = AuditEvent.objects.get(action="invitation.created")
    assert event.actor_label == "operator@flexreg.test"
    assert event.changes["after"]["domain_override_reason"].startswith("Contractor")
    assert len(mail.outbox) == 1


def test_invitation_subset_rule_and_other_participants(
    org: Any, other_org: Any, invite: Any, colleague: Any
) -> None:
    _, _, assistant = colleague(["memberships:read", "memberships:manage"])
    refused = invite("new@brightwatt.example", api=assistant)
    assert refused.status_code == 403 and refused.json()["code"] == "membership.exceeds_grantor"
    body = invite("new@brightwatt.example").json()
    assert (
        other_org.ap.post(
            f"/participants/{org.pid}/invitations/{body['invitation_id']}/revoke"
        ).status_code
        == 404
    )
    assert (
        other_org.ap.post(
            f"/participants/{other_org.pid}/invitations/{body['invitation_id']}/revoke"
        ).status_code
        == 404
    )
