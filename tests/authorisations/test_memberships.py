"""Granting, changing and revoking memberships: the subset rule, the role rule, scoping."""

from __future__ import annotations

from typing import Any

import pytest

from flexreg.core.models import AuditEvent
from flexreg.participants.models import Membership

pytestmark = pytest.mark.django_db


def test_colleague_can_do_exactly_what_was_granted_and_nothing_more(
    org: Any, colleague: Any
) -> None:
    user, membership, api = colleague(["participant:read"])
    assert sorted(membership.permissions) == ["participant:read"]
    assert not membership.is_authorised_person
    assert api.get(f"/participants/{org.pid}").status_code == 200
    patched = api.patch(f"/participants/{org.pid}", {"trading_name": "Hijack"})
    assert patched.status_code == 403
    assert patched.json()["code"] == "permission_denied"
    assert api.get(f"/participants/{org.pid}/memberships").status_code == 403
    assert (
        api.post(
            f"/participants/{org.pid}/memberships",
            {"email": "x@brightwatt.example", "role": "FSP", "permissions": []},
        ).status_code
        == 403
    )
    event = AuditEvent.objects.get(action="membership.granted", object_id__endswith=f"/{user.pk}")
    assert event.subject_participant_id == org.pid
    assert event.changes["after"]["permissions"] == ["participant:read"]
    assert event.changes["after"]["email"] == "__personal__"  # personal data kept off the chain


def test_list_and_read_memberships(org: Any, colleague: Any) -> None:
    user, membership, _ = colleague(["participant:read", "participant:update"])
    listed = org.ap.get(f"/participants/{org.pid}/memberships")
    assert listed.status_code == 200
    items = {m["email"]: m for m in listed.json()["items"]}
    assert items[user.email]["permissions"] == ["participant:read", "participant:update"]
    assert items[user.email]["membership_id"] == str(membership.public_id)
    assert items[org.ap_user.email]["is_authorised_person"] is True
    assert "id" not in items[user.email]
    one = org.ap.get(f"/participants/{org.pid}/memberships/{membership.public_id}")
    assert one.status_code == 200 and one.json()["role"] == "ASSET_OWNER"
    page = org.ap.get(f"/participants/{org.pid}/memberships", limit=1)
    assert len(page.json()["items"]) == 1 and page.json()["next_cursor"]


def test_never_more_than_the_grantor_holds(org: Any, colleague: Any, make_user: Any) -> None:
    _, _, assistant = colleague(["participant:read", "memberships:read", "memberships:manage"])
    make_user("new@brightwatt.example")
    response = assistant.post(
        f"/participants/{org.pid}/memberships",
        {
            "email": "new@brightwatt.example",
            "role": "ASSET_OWNER",
            "permissions": ["participant:read", "participant:update"],
        },
    )
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "membership.exceeds_grantor"
    assert body["permissions"] == ["participant:update"]
    ok = assistant.post(
        f"/participants/{org.pid}/memberships",
        {
            "email": "new@brightwatt.example",
            "role": "ASSET_OWNER",
            "permissions": ["participant:read"],
        },
    )
    assert ok.status_code == 201


def test_never_permissions_the_role_may_not_hold_nor_unknown_ones(org: Any, make_user: Any) -> None:
    make_user("new@brightwatt.example")
    path = f"/participants/{org.pid}/memberships"
    body = {"email": "new@brightwatt.example", "role": "ASSET_OWNER"}
    role = org.ap.post(path, {**body, "permissions": ["participant:read", "verification:review"]})
    assert role.status_code == 422
    assert role.json()["code"] == "membership.not_allowed_for_role"
    unknown = org.ap.post(path, {**body, "permissions": ["participant:read", "nonsense:do"]})
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "membership.unknown_permission"
    assert unknown.json()["errors"][0]["field"] == "permissions.1"
    assert not Membership.objects.filter(user__email="new@brightwatt.example").exists()


def test_grant_only_to_registered_domains_and_existing_users(org: Any, make_user: Any) -> None:
    make_user("someone@gmail.example")
    path = f"/participants/{org.pid}/memberships"
    wrong = org.ap.post(
        path,
        {"email": "someone@gmail.example", "role": "FSP", "permissions": ["participant:read"]},
    )
    assert wrong.status_code == 422
    assert wrong.json()["code"] == "invitation.email_domain_not_registered"
    # Whether an address outside the domains has an account is not revealed.
    ghost_outside = org.ap.post(
        path,
        {"email": "ghost@gmail.example", "role": "FSP", "permissions": ["participant:read"]},
    )
    assert ghost_outside.json()["code"] == "invitation.email_domain_not_registered"
    missing = org.ap.post(
        path,
        {"email": "ghost@brightwatt.example", "role": "FSP", "permissions": ["participant:read"]},
    )
    assert missing.status_code == 404 and missing.json()["code"] == "membership.user_not_found"


def test_change_permissions_is_audited_with_before_and_after(org: Any, colleague: Any) -> None:
    _user, membership, api = colleague(["participant:read"])
    path = f"/participants/{org.pid}/memberships/{membership.public_id}"
    changed = org.ap.patch(path, {"permissions": ["participant:read", "participant:update"]})
    assert changed.status_code == 200
    assert changed.json()["permissions"] == ["participant:read", "participant:update"]
    assert api.patch(f"/participants/{org.pid}", {"trading_name": "Now allowed"}).status_code == 200
    event = AuditEvent.objects.get(action="membership.changed")
    assert event.changes["before"] == {"permissions": ["participant:read"]}
    assert event.changes["after"] == {"permissions": ["participant:read", "participant:update"]}
    # Nobody changes their own access.
    own = org.membership_of(org.ap_user)
    mine = org.ap.patch(f"/participants/{org.pid}/memberships/{own.public_id}", {"permissions": []})
    assert mine.status_code == 403 and mine.json()["code"] == "membership.own_membership"
    # Making an Authorised Person needs an approval, not a PATCH.
    promote = org.ap.patch(path, {"authorised_person": True})
    assert promote.status_code == 422
    assert promote.json()["code"] == "membership.authorised_person_needs_approval"


def test_assistant_cannot_take_away_what_they_do_not_hold(org: Any, colleague: Any) -> None:
    _, target, _ = colleague(["participant:read", "participant:update"])
    _, _, assistant = colleague(["participant:read", "memberships:read", "memberships:manage"])
    response = assistant.patch(
        f"/participants/{org.pid}/memberships/{target.public_id}",
        {"permissions": ["participant:read"]},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "membership.exceeds_grantor"


def test_revoke_is_audited_and_cannot_touch_an_authorised_person_without_being_one(
    org: Any, colleague: Any
) -> None:
    user, membership, api = colleague(["participant:read"])
    _, _, assistant = colleague(["participant:read", "memberships:read", "memberships:manage"])
    ap_membership = org.membership_of(org.ap_user)
    refused = assistant.post(
        f"/participants/{org.pid}/memberships/{ap_membership.public_id}/revoke", {}
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "membership.authorised_person_required"
    revoked = org.ap.post(
        f"/participants/{org.pid}/memberships/{membership.public_id}/revoke",
        {"reason": "Left the company"},
    )
    assert revoked.status_code == 200
    assert revoked.json()["is_active"] is False and revoked.json()["ended_at"]
    assert api.get(f"/participants/{org.pid}").status_code == 401
    event = AuditEvent.objects.get(action="membership.revoked")
    assert event.changes["before"]["is_active"] is True
    assert event.changes["after"]["is_active"] is False
    assert event.changes["after"]["reason"] == "Left the company"
    assert event.changes["after"]["tokens_revoked"] == 1
    # Ended memberships drop out of the list unless asked for.
    listed = org.ap.get(f"/participants/{org.pid}/memberships").json()["items"]
    assert user.email not in {m["email"] for m in listed}
    everyone = org.ap.get(f"/participants/{org.pid}/memberships", include_ended=True).json()
    assert user.email in {m["email"] for m in everyone["items"]}


def test_an_authorised_person_cannot_remove_the_last_authorised_person_of_a_role(
    org: Any, make_authorised_person: Any
) -> None:
    # B is an Authorised Person of ASSET_OWNER only; the registrant is the only one of FSP.
    _, _, b_api = make_authorised_person("bea@brightwatt.example", role="ASSET_OWNER")
    fsp = org.membership_of(org.ap_user, "FSP")
    last = b_api.post(f"/participants/{org.pid}/memberships/{fsp.public_id}/revoke", {})
    assert last.status_code == 409
    assert last.json()["code"] == "membership.last_authorised_person"
    demote = b_api.patch(
        f"/participants/{org.pid}/memberships/{fsp.public_id}", {"authorised_person": False}
    )
    assert demote.status_code == 409
    # The registrant's ASSET_OWNER membership is not the last one there: B may remove it.
    asset_owner = org.membership_of(org.ap_user, "ASSET_OWNER")
    ok = b_api.post(f"/participants/{org.pid}/memberships/{asset_owner.public_id}/revoke", {})
    assert ok.status_code == 200


def test_other_participants_memberships_answer_404(
    org: Any, other_org: Any, colleague: Any
) -> None:
    _, membership, _ = colleague(["participant:read"])
    base = f"/participants/{org.pid}/memberships"
    assert other_org.ap.get(base).status_code == 404
    assert other_org.ap.get(f"{base}/{membership.public_id}").status_code == 404
    assert (
        other_org.ap.patch(f"{base}/{membership.public_id}", {"permissions": []}).status_code == 404
    )
    assert other_org.ap.post(f"{base}/{membership.public_id}/revoke", {}).status_code == 404
    # Nor can a membership of one participant be reached through another's path.
    mixed = other_org.ap.get(f"/participants/{other_org.pid}/memberships/{membership.public_id}")
    assert mixed.status_code == 404
    assert other_org.ap.get(f"/participants/{org.pid}/invitations").status_code == 404
    assert (
        other_org.ap.get(f"/participants/{org.pid}/authorised-person-requests").status_code == 404
    )
    assert Membership.objects.get(pk=membership.pk).is_active


def test_operator_reads_any_participants_memberships(org: Any, operator_api: Any) -> None:
    listed = operator_api.get(f"/participants/{org.pid}/memberships")
    assert listed.status_code == 200
    assert {m["email"] for m in listed.json()["items"]} == {org.ap_user.email}
