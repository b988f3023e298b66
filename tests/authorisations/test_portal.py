"""The "Users and permissions" portal pages and "Accept an invitation", through the test client."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from conftest import PASSWORD
from flexreg.accounts.middleware import SESSION_KEY
from flexreg.participants.models import AuthorisedPersonRequest, Invitation, Membership
from tests.signin.helpers import enrol_totp, sign_in, verify_email

pytestmark = pytest.mark.django_db


def _client_for(user: Any, membership: Membership | None = None, *, totp: bool = False) -> Client:
    verify_email(user)
    client = Client()
    sign_in(client, user, PASSWORD, totp_secret=enrol_totp(user) if totp else None)
    if membership is not None:
        session = client.session
        session[SESSION_KEY] = membership.pk
        session.save()
    return client


def _text(response: Any) -> str:
    return response.content.decode()


@pytest.fixture
def ap_client(org: Any) -> Client:
    return _client_for(org.ap_user, org.membership_of(org.ap_user), totp=True)


def test_authorised_person_invites_and_the_colleague_accepts(
    org: Any, ap_client: Client, make_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    participant_page = ap_client.get(f"/participants/{org.pid}/")
    assert f'href="/participants/{org.pid}/users/"' in _text(participant_page)
    page = ap_client.get(f"/participants/{org.pid}/users/")
    assert page.status_code == 200
    assert org.ap_user.email in _text(page) and "Authorised Person" in _text(page)
    form = ap_client.get(f"/participants/{org.pid}/users/invite/")
    assert form.status_code == 200 and 'name="permissions"' in _text(form)
    outside = ap_client.post(
        f"/participants/{org.pid}/users/invite/",
        {"email": "x@gmail.example", "role": "ASSET_OWNER", "permissions": ["participant:read"]},
    )
    assert outside.status_code == 200
    assert "govuk-error-summary" in _text(outside) and "registered email domains" in _text(outside)
    with django_capture_on_commit_callbacks(execute=True):
        sent = ap_client.post(
            f"/participants/{org.pid}/users/invite/",
            {
                "email": "kim@brightwatt.example",
                "role": "ASSET_OWNER",
                "permissions": ["participant:read"],
            },
        )
    assert sent.status_code == 200 and "Invitation sent" in _text(sent)
    assert sent["Cache-Control"] == "no-store"
    token = re.search(r"(fri_[A-Za-z0-9_-]+)", _text(sent)).group(1)  # type: ignore[union-attr]
    assert len(mail.outbox) == 1 and token in mail.outbox[0].body
    listed = ap_client.get(f"/participants/{org.pid}/users/")
    assert "kim@brightwatt.example" in _text(listed)

    kim = make_user("kim@brightwatt.example")
    kim_client = _client_for(kim)
    assert kim_client.get("/invitations/accept/").status_code == 200
    wrong = kim_client.post("/invitations/accept/", {"token": "fri_nope-nope-nope"})
    assert wrong.status_code == 200 and "govuk-error-summary" in _text(wrong)
    accepted = kim_client.post("/invitations/accept/", {"token": token})
    assert accepted.status_code == 302
    membership = Membership.objects.get(user=kim)
    assert membership.permissions == ["participant:read"]
    assert Invitation.objects.get().accepted_at is not None
    # Kim can read the participant, but not manage its users.
    assert kim_client.get(f"/participants/{org.pid}/").status_code == 200
    assert kim_client.get(f"/participants/{org.pid}/users/").status_code == 403


def test_change_revoke_and_maker_checker_in_the_portal(
    org: Any, ap_client: Client, colleague: Any, operator: Any
) -> None:
    user, membership, api = colleague(["participant:read"])
    change_url = f"/participants/{org.pid}/users/{membership.public_id}/"
    page = ap_client.get(change_url)
    assert page.status_code == 200 and user.email in _text(page)
    saved = ap_client.post(change_url, {"permissions": ["participant:read", "participant:update"]})
    assert saved.status_code == 302
    membership.refresh_from_db()
    assert membership.permissions == ["participant:read", "participant:update"]
    # Ask to make them an Authorised Person: the maker sees no Approve button.
    asked = ap_client.post(f"{change_url}authorised-person/")
    assert asked.status_code == 302
    req = AuthorisedPersonRequest.objects.get(user=user)
    listing = _text(ap_client.get(f"/participants/{org.pid}/users/"))
    assert "Waiting for approval" in listing
    assert f"/users/requests/{req.public_id}/approve/" not in listing
    forced = ap_client.post(f"/participants/{org.pid}/users/requests/{req.public_id}/approve/")
    assert forced.status_code == 302
    req.refresh_from_db()
    assert req.status == "pending"  # refused: the maker cannot approve
    operator_user, operator_membership = operator
    op_client = _client_for(operator_user, operator_membership, totp=True)
    approved = op_client.post(f"/participants/{org.pid}/users/requests/{req.public_id}/approve/")
    assert approved.status_code == 302
    req.refresh_from_db()
    assert req.status == "approved"
    membership.refresh_from_db()
    assert membership.is_authorised_person
    # Remove access: the token stops working at once.
    removed = ap_client.post(f"{change_url}revoke/", {"reason": "Moved team"})
    assert removed.status_code == 302
    membership.refresh_from_db()
    assert not membership.is_active
    assert api.get(f"/participants/{org.pid}").status_code == 401


def test_other_participants_users_page_is_404(org: Any, other_org: Any) -> None:
    other_client = _client_for(
        other_org.ap_user, other_org.membership_of(other_org.ap_user, "FSP"), totp=True
    )
    assert other_client.get(f"/participants/{org.pid}/users/").status_code == 404
    mine = org.membership_of(org.ap_user)
    assert other_client.get(f"/participants/{org.pid}/users/{mine.public_id}/").status_code == 404
    assert (
        other_client.post(f"/participants/{org.pid}/users/{mine.public_id}/revoke/").status_code
        == 404
    )
    assert Membership.objects.get(pk=mine.pk).is_active


def test_anonymous_is_sent_to_sign_in(org: Any) -> None:
    response = Client().get(f"/participants/{org.pid}/users/")
    assert response.status_code == 302 and "sign-in" in response["Location"]
