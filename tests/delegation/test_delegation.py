"""Delegation to third-party platforms: granting, listing on both sides, acting on behalf of
a client with (delegated ∩ held) permissions, revocation and expiry, and the audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from flexreg.core.models import AuditEvent
from flexreg.participants.models import Delegation

from .conftest import HEADER, later

pytestmark = pytest.mark.django_db

READ_UPDATE = ["participant:read", "participant:update"]


def _on_behalf(client: Any) -> dict[str, str]:
    return {HEADER: f"{client[1]['participant_id']}/FSP"}


def test_grant_is_listed_on_both_sides_and_hidden_from_others(
    delegate: Any, client_org: Any, platform_org: Any, stranger_org: Any
) -> None:
    response = delegate(READ_UPDATE)
    assert response.status_code == 201, response.content
    granted = response.json()
    client_pid = client_org[1]["participant_id"]
    assert granted["client"] == f"{client_pid}/FSP"
    assert granted["platform_participant_id"] == platform_org[1]["participant_id"]
    assert granted["permissions"] == READ_UPDATE
    assert granted["status"] == "active"
    assert granted["on_behalf_of_header"] == f"{client_pid}/FSP"
    ident = granted["delegation_id"]

    assert [d["delegation_id"] for d in client_org[2].get("/delegations/granted").json()] == [ident]
    received = platform_org[2].get("/delegations/received").json()
    assert [d["delegation_id"] for d in received] == [ident]
    assert client_org[2].get("/delegations/received").json() == []
    assert platform_org[2].get(f"/delegations/{ident}").status_code == 200
    assert client_org[2].get(f"/delegations/{ident}").status_code == 200
    assert stranger_org[2].get(f"/delegations/{ident}").status_code == 404
    assert stranger_org[2].get("/delegations/granted").json() == []
    # Only the granting side may revoke; the platform is told it does not exist.
    assert platform_org[2].post(f"/delegations/{ident}/revoke", {}).status_code == 404
    audit = AuditEvent.objects.get(action="delegation.granted")
    assert audit.subject_participant_id == client_pid
    assert audit.changes["after"]["permissions"] == READ_UPDATE


def test_platform_updates_client_details_on_its_behalf_and_audit_records_both(
    delegate: Any, client_org: Any, platform_org: Any
) -> None:
    ident = delegate(READ_UPDATE).json()["delegation_id"]
    client_pid = client_org[1]["participant_id"]
    platform_user, platform_body, platform_api = platform_org
    response = platform_api.patch(
        f"/participants/{client_pid}", {"trading_name": "Via Platform"}, _on_behalf(client_org)
    )
    assert response.status_code == 200, response.content
    assert response.json()["trading_name"] == "Via Platform"
    row = AuditEvent.objects.filter(action="participant.updated").latest("seq")
    assert row.actor_user_id == platform_user.pk
    assert row.acting_participant_id == platform_body["participant_id"]
    assert row.acting_role == "PLATFORM"
    assert row.on_behalf_of == f"{client_pid}/FSP"
    assert row.subject_participant_id == client_pid
    # The same token without the header acts for the platform only.
    own = platform_api.patch(f"/participants/{client_pid}", {"trading_name": "Nope"})
    assert own.status_code == 404

    revoked = client_org[2].post(f"/delegations/{ident}/revoke", {"reason": "contract ended"})
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    again = platform_api.patch(
        f"/participants/{client_pid}", {"trading_name": "After"}, _on_behalf(client_org)
    )
    assert again.status_code == 403
    assert again.json()["code"] == "delegation.none"
    assert AuditEvent.objects.filter(action="delegation.revoked").count() == 1
    # Revoking twice changes nothing.
    assert client_org[2].post(f"/delegations/{ident}/revoke", {}).status_code == 200
    assert AuditEvent.objects.filter(action="delegation.revoked").count() == 1


def test_delegation_stops_at_valid_to(delegate: Any, client_org: Any, platform_org: Any) -> None:
    ident = delegate(READ_UPDATE).json()["delegation_id"]
    path = f"/participants/{client_org[1]['participant_id']}"
    assert platform_org[2].get(path, **{}).status_code == 200
    now = timezone.now()
    Delegation.objects.filter(public_id=ident).update(
        valid_from=now - dt.timedelta(days=2), valid_to=now - dt.timedelta(seconds=1)
    )
    response = platform_org[2].patch(path, {"trading_name": "Late"}, _on_behalf(client_org))
    assert response.status_code == 403 and response.json()["code"] == "delegation.none"
    listed = client_org[2].get("/delegations/granted", include_ended=True).json()
    assert listed[0]["status"] == "expired"
    assert client_org[2].get("/delegations/granted").json() == []


def test_a_permission_not_delegated_is_refused(
    delegate: Any, client_org: Any, platform_org: Any
) -> None:
    assert delegate(["participant:read"]).status_code == 201
    client_pid = client_org[1]["participant_id"]
    read = platform_org[2].client.get(
        f"/api/v1/participants/{client_pid}",
        headers={**platform_org[2]._headers(), **_on_behalf(client_org)},
    )
    assert read.status_code == 200 and read.json()["trading_name"] == "Brightwatt"
    response = platform_org[2].patch(
        f"/participants/{client_pid}", {"trading_name": "X"}, _on_behalf(client_org)
    )
    assert response.status_code == 403
    assert response.json()["permission"] == "participant:update"


def test_platform_staff_act_with_delegated_intersect_held(
    delegate: Any, client_org: Any, platform_org: Any, member_of: Any
) -> None:
    assert delegate(READ_UPDATE).status_code == 201
    staff = member_of(platform_org[1]["participant_id"], "PLATFORM", ["participant:read"])
    client_pid = client_org[1]["participant_id"]
    response = staff.patch(
        f"/participants/{client_pid}", {"trading_name": "Staff"}, _on_behalf(client_org)
    )
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"


def test_header_errors(client_org: Any, platform_org: Any, stranger_org: Any) -> None:
    client_pid = client_org[1]["participant_id"]
    bad = platform_org[2].patch(f"/participants/{client_pid}", {}, {HEADER: "nonsense"})
    assert bad.status_code == 400 and bad.json()["code"] == "on_behalf_of.invalid"
    none = platform_org[2].patch(f"/participants/{client_pid}", {}, _on_behalf(client_org))
    assert none.status_code == 403 and none.json()["code"] == "delegation.none"
    # Not a platform: refused the same way.
    other = stranger_org[2].patch(f"/participants/{client_pid}", {}, _on_behalf(client_org))
    assert other.status_code == 403 and other.json()["code"] == "delegation.none"
    # A platform acting for a client cannot register participants or make tokens.
    me = platform_org[2].post("/me/tokens", {"name": "x"}, _on_behalf(client_org))
    assert me.status_code == 403


@pytest.mark.parametrize(
    ("permissions", "code"),
    [
        (["memberships:manage"], "delegation.not_delegable"),
        (["delegations:manage"], "delegation.not_delegable"),
        (["participants:read_all"], "delegation.not_for_role"),
        (["assets:fly"], "delegation.unknown_permission"),
    ],
)
def test_only_delegable_permissions_of_the_role(
    delegate: Any, permissions: list[str], code: str
) -> None:
    response = delegate(permissions)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == code
    assert body["errors"][0]["field"] == "permissions.0"


def test_never_more_than_the_grantor_holds(
    client_org: Any, platform_org: Any, member_of: Any
) -> None:
    assistant = member_of(
        client_org[1]["participant_id"], "FSP", ["delegations:manage", "participant:read"]
    )
    body = {
        "platform_participant_id": platform_org[1]["participant_id"],
        "permissions": ["participant:update"],
        "valid_to": later(),
    }
    response = assistant.post("/delegations", body)
    assert response.status_code == 422 and response.json()["code"] == "delegation.not_held"


def test_only_to_an_active_platform_and_not_to_oneself(client_org: Any, stranger_org: Any) -> None:
    for target, code in [
        (stranger_org[1]["participant_id"], "delegation.not_a_platform"),
        ("P-NOSUCHTHING", "delegation.not_a_platform"),
        (client_org[1]["participant_id"], "delegation.to_self"),
    ]:
        body = {
            "platform_participant_id": target,
            "permissions": ["participant:read"],
            "valid_to": later(),
        }
        response = client_org[2].post("/delegations", body)
        assert response.status_code == 422 and response.json()["code"] == code, target


def test_periods(delegate: Any) -> None:
    past = delegate(["participant:read"], valid_to=later(-1))
    assert past.status_code == 422 and past.json()["code"] == "delegation.invalid_period"
    too_long = delegate(["participant:read"], valid_to=later(800))
    assert too_long.status_code == 422 and too_long.json()["code"] == "delegation.too_long"
    naive = delegate(["participant:read"], valid_to="2099-01-01T00:00:00")
    assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "valid_to"


def test_one_delegation_per_client_role_and_platform_at_a_time(
    delegate: Any, client_org: Any
) -> None:
    first = delegate(["participant:read"], valid_to=later(10)).json()
    overlap = delegate(["participant:read"], valid_from=later(5), valid_to=later(20))
    assert overlap.status_code == 409
    assert overlap.json()["code"] == "delegation.overlaps"
    assert overlap.json()["delegation_id"] == first["delegation_id"]
    follow_on = delegate(["participant:read"], valid_from=later(10), valid_to=later(20))
    assert follow_on.status_code == 201, follow_on.content
    assert follow_on.json()["status"] == "scheduled"
    # After revocation a new one may start at once.
    client_org[2].post(f"/delegations/{first['delegation_id']}/revoke", {})
    assert delegate(["participant:read"], valid_to=later(3)).status_code == 201


def test_exclusion_constraint_backs_the_rule(delegate: Any) -> None:
    existing = Delegation.objects.get(
        public_id=delegate(["participant:read"]).json()["delegation_id"]
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Delegation.objects.create(
            client_role=existing.client_role,
            platform=existing.platform,
            permissions=["participant:read"],
            valid_from=existing.valid_from + dt.timedelta(days=1),
            valid_to=existing.valid_to + dt.timedelta(days=1),
        )


def test_suspended_client_caps_the_platform_to_reads(
    delegate: Any, client_org: Any, platform_org: Any
) -> None:
    from flexreg.participants.models import Participant

    assert delegate(READ_UPDATE).status_code == 201
    client_pid = client_org[1]["participant_id"]
    Participant.objects.filter(participant_id=client_pid).update(status="suspended")
    response = platform_org[2].patch(
        f"/participants/{client_pid}", {"trading_name": "X"}, _on_behalf(client_org)
    )
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
