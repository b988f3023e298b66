"""Making a new Authorised Person needs a second person: another Authorised Person of the same
participant role, or the central operator."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from flexreg.core import permissions
from flexreg.core.models import AuditEvent
from flexreg.participants.models import AuthorisedPersonRequest

pytestmark = pytest.mark.django_db

ALL_ASSET_OWNER = sorted(permissions.allowed_for_role("ASSET_OWNER"))


def _make(org: Any, api: Any, email: str, perms: list[str] | None = None) -> Any:
    return api.post(
        f"/participants/{org.pid}/authorised-person-requests",
        {"email": email, "role": "ASSET_OWNER", "permissions": perms or ALL_ASSET_OWNER},
    )


def _decide(org: Any, api: Any, request_id: str, how: str, reason: str = "ok") -> Any:
    return api.post(
        f"/participants/{org.pid}/authorised-person-requests/{request_id}/{how}",
        {"reason": reason},
    )


def test_maker_cannot_approve_their_own_request_operator_can(
    org: Any, make_user: Any, operator_api: Any
) -> None:
    user = make_user("ada@brightwatt.example")
    made = _make(org, org.ap, user.email)
    assert made.status_code == 201
    request_id = made.json()["request_id"]
    assert made.json()["status"] == "pending"
    assert not user.memberships.exists()  # nothing granted before approval
    own = _decide(org, org.ap, request_id, "approve")
    assert own.status_code == 403 and own.json()["code"] == "approval.self_approval"
    listed = org.ap.get(f"/participants/{org.pid}/authorised-person-requests")
    assert [r["request_id"] for r in listed.json()] == [request_id]
    approved = _decide(org, operator_api, request_id, "approve", "Checked by phone")
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    assert approved.json()["decided_by"] == "operator@flexreg.test"
    membership = org.membership_of(user)
    assert membership.is_authorised_person and membership.is_active
    assert sorted(membership.permissions) == ALL_ASSET_OWNER
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "authorised_person_request.made",
        "authorised_person_request.approved",
        "membership.authorised_person_granted",
    } <= actions
    again = _decide(org, operator_api, request_id, "approve")
    assert again.status_code == 409 and again.json()["code"] == "approval.not_pending"


def test_a_second_authorised_person_of_the_same_role_approves(
    org: Any, make_user: Any, make_authorised_person: Any
) -> None:
    _, _, second = make_authorised_person("bea@brightwatt.example")
    user = make_user("cal@brightwatt.example")
    made = _make(org, org.ap, user.email)
    approved = _decide(org, second, made.json()["request_id"], "approve")
    assert approved.status_code == 200, approved.content
    assert org.membership_of(user).is_authorised_person


def test_the_subject_and_non_authorised_persons_cannot_approve(
    org: Any, make_user: Any, colleague: Any, make_authorised_person: Any, api_for: Any
) -> None:
    _, _, assistant = colleague(["participant:read", "memberships:read", "memberships:manage"])
    # An Authorised Person of another role of the same participant is not the checker either.
    _, _, fsp_ap = make_authorised_person("fay@brightwatt.example", role="FSP")
    target, _, target_api = colleague(
        ["participant:read", "memberships:read", "memberships:manage"]
    )
    made = _make(org, assistant, target.email, ["participant:read", "memberships:manage"])
    assert made.status_code == 201, made.content
    request_id = made.json()["request_id"]
    by_assistant = _decide(org, assistant, request_id, "approve")
    assert by_assistant.status_code == 403  # the maker
    by_subject = _decide(org, target_api, request_id, "approve")
    assert by_subject.status_code == 403 and by_subject.json()["code"] == "approval.self_approval"
    by_other_role = _decide(org, fsp_ap, request_id, "approve")
    assert by_other_role.status_code == 403
    assert by_other_role.json()["code"] == "approval.checker_not_authorised_person"
    approved = _decide(org, org.ap, request_id, "approve")
    assert approved.status_code == 200


def test_reject_and_expiry(org: Any, make_user: Any, operator_api: Any) -> None:
    user = make_user("dee@brightwatt.example")
    made = _make(org, org.ap, user.email)
    duplicate = _make(org, org.ap, user.email)
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "approval.already_pending"
    rejected = _decide(org, operator_api, made.json()["request_id"], "reject", "Not a director")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert rejected.json()["reason"] == "Not a director"
    assert not user.memberships.exists()
    # A new request, left too long, expires and cannot be approved.
    fresh = _make(org, org.ap, user.email)
    assert fresh.status_code == 201
    AuthorisedPersonRequest.objects.filter(public_id=fresh.json()["request_id"]).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    late = _decide(org, operator_api, fresh.json()["request_id"], "approve")
    assert late.status_code == 409 and late.json()["code"] == "approval.expired"
    expired = org.ap.get(f"/participants/{org.pid}/authorised-person-requests", status="expired")
    assert [r["status"] for r in expired.json()] == ["expired"]
    assert org.ap.get(f"/participants/{org.pid}/authorised-person-requests").json() == []
    everything = org.ap.get(f"/participants/{org.pid}/authorised-person-requests", status="all")
    assert sorted(r["status"] for r in everything.json()) == ["expired", "rejected"]
    bad = org.ap.get(f"/participants/{org.pid}/authorised-person-requests", status="nonsense")
    assert bad.status_code == 422
    # The stale request does not block a new one.
    assert _make(org, org.ap, user.email).status_code == 201


def test_maker_is_bound_by_the_subset_rule(org: Any, colleague: Any, make_user: Any) -> None:
    _, _, assistant = colleague(["participant:read", "memberships:read", "memberships:manage"])
    make_user("eve@brightwatt.example")
    response = _make(org, assistant, "eve@brightwatt.example")
    assert response.status_code == 403
    assert response.json()["code"] == "membership.exceeds_grantor"
