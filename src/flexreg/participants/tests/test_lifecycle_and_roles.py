"""Participant lifecycle, roles and self-serve changes through the API."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import organisation_payload
from flexreg.accounts.models import ApiToken
from flexreg.core.models import AuditEvent
from flexreg.participants.models import Membership
from flexreg.participants.services import LIFECYCLE

pytestmark = pytest.mark.django_db


def test_lifecycle_state_machine_is_explicit() -> None:
    assert LIFECYCLE.allowed("pending_verification") == ["verify", "reject", "withdraw"]
    assert LIFECYCLE.allowed("active") == ["suspend", "withdraw"]
    assert LIFECYCLE.allowed("withdrawn") == []


def test_operator_suspends_and_reinstates_with_reasons(registered: Any, operator_api: Any) -> None:
    _, body, api = registered()
    pid = body["participant_id"]
    response = operator_api.post(
        f"/participants/{pid}/transitions", {"transition": "suspend", "reason": "Unpaid fees"}
    )
    assert response.status_code == 200 and response.json()["status"] == "suspended"
    # Suspended: members may still read, not change.
    assert api.get(f"/participants/{pid}").status_code == 200
    patch = api.patch(f"/participants/{pid}", {"trading_name": "New"})
    assert patch.status_code == 403
    illegal = operator_api.post(
        f"/participants/{pid}/transitions", {"transition": "suspend", "reason": "again"}
    )
    assert illegal.status_code == 409
    assert illegal.json()["code"] == "participant.illegal_transition"
    assert illegal.json()["state"] == "suspended"
    back = operator_api.post(
        f"/participants/{pid}/transitions", {"transition": "reinstate", "reason": "Paid"}
    )
    assert back.json()["status"] == "active"
    actions = list(
        AuditEvent.objects.filter(object_id=pid, action__startswith="participant.").values_list(
            "action", flat=True
        )
    )
    assert "participant.suspend" in actions and "participant.reinstate" in actions


def test_members_cannot_suspend_their_own_participant(registered: Any) -> None:
    _, body, api = registered()
    response = api.post(
        f"/participants/{body['participant_id']}/transitions",
        {"transition": "suspend", "reason": "hmm"},
    )
    assert response.status_code == 403


def test_authorised_person_withdraws_and_access_ends_at_once(registered: Any) -> None:
    user, body, api = registered()
    pid = body["participant_id"]
    response = api.post(
        f"/participants/{pid}/transitions",
        {"transition": "withdraw", "reason": "Leaving the market"},
    )
    assert response.status_code == 200
    assert not Membership.objects.filter(user=user, is_active=True).exists()
    assert not ApiToken.objects.filter(
        user=user, revoked_at__isnull=True, membership__isnull=False
    ).exists()
    assert api.get(f"/participants/{pid}").status_code == 401


def test_another_participant_cannot_touch_or_see_details(registered: Any) -> None:
    _, first, _ = registered()
    _, _, other = registered(
        organisation_payload(
            company_number="OC990004",
            legal_name="Solar Commons LLP (Sample)",
            organisation_type="llp",
            declaration={
                "declarant_name": "Owen Williams",
                "declarant_is_applicant": True,
                "statement_accepted": True,
            },
        )
    )
    pid = first["participant_id"]
    assert other.patch(f"/participants/{pid}", {"trading_name": "Hijack"}).status_code == 404
    assert other.post(f"/participants/{pid}/roles", {"role": "OEM"}).status_code == 404
    assert (
        other.post(
            f"/participants/{pid}/transitions", {"transition": "withdraw", "reason": "bye"}
        ).status_code
        == 404
    )
    assert other.get(f"/participants/{pid}/verifications").status_code == 404


def test_self_serve_patch_with_etag_and_audit(registered: Any) -> None:
    _, body, api = registered()
    pid = body["participant_id"]
    got = api.get(f"/participants/{pid}")
    etag = got["ETag"]
    response = api.patch(
        f"/participants/{pid}",
        {
            "trading_name": "Brightwatt Energy",
            "email_domains": ["brightwatt.example", "bw.example"],
        },
        headers={"If-Match": etag},
    )
    assert response.status_code == 200
    assert response.json()["trading_name"] == "Brightwatt Energy"
    assert response["ETag"] != etag
    stale = api.patch(f"/participants/{pid}", {"trading_name": "Stale"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert stale.json()["code"] == "precondition_failed"
    event = AuditEvent.objects.filter(action="participant.updated", object_id=pid).latest("seq")
    assert event.changes["before"]["trading_name"] == "Brightwatt"
    assert event.changes["after"]["trading_name"] == "Brightwatt Energy"
    assert set(event.changes["after"]) == {"trading_name", "email_domains"}


def test_verified_facts_are_not_self_serve(registered: Any) -> None:
    _, body, api = registered()
    response = api.patch(
        f"/participants/{body['participant_id']}",
        {"legal_name": "Other Ltd", "company_number": "00445790"},
    )
    assert response.status_code == 422
    assert {e["code"] for e in response.json()["errors"]} == {"unknown_field"}


def test_roles_are_never_held_twice_and_each_has_its_status(
    registered: Any, operator_api: Any
) -> None:
    _, body, api = registered()
    pid = body["participant_id"]
    again = api.post(f"/participants/{pid}/roles", {"role": "FSP"})
    assert again.status_code == 409 and again.json()["code"] == "participant_role.already_held"
    added = api.post(f"/participants/{pid}/roles", {"role": "AGGREGATOR"})
    assert added.status_code == 201 and added.json()["status"] == "pending"
    special = api.post(f"/participants/{pid}/roles", {"role": "REGULATOR"})
    assert special.status_code == 422
    decided = operator_api.post(
        f"/participants/{pid}/roles/AGGREGATOR/decision",
        {"decision": "approve", "reason": "Checks done"},
    )
    assert decided.status_code == 200 and decided.json()["status"] == "active"
    # (this client acts for the ASSET_OWNER membership; withdrawing FSP ends the FSP ones)
    withdrawn = api.post(f"/participants/{pid}/roles/FSP/withdraw", {"reason": "No services"})
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    roles = {r["role"]: r["status"] for r in api.get(f"/participants/{pid}").json()["roles"]}
    assert roles == {"FSP": "withdrawn", "AGGREGATOR": "active", "ASSET_OWNER": "active"}
    assert not Membership.objects.filter(participant_role__role="FSP", is_active=True).exists()
    reopened = api.post(f"/participants/{pid}/roles", {"role": "FSP"})
    assert reopened.status_code == 201 and reopened.json()["status"] == "pending"


def test_the_last_role_cannot_be_withdrawn(registered: Any) -> None:
    _, body, api = registered(organisation_payload(requested_roles=["FSP"]))
    response = api.post(
        f"/participants/{body['participant_id']}/roles/FSP/withdraw", {"reason": "trying"}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "participant_role.last_role"


def test_listing_filters_and_keyset_pagination(registered: Any, operator_api: Any) -> None:
    ids = set()
    for number, legal, name, kind in [
        ("99000001", "Brightwatt Flex Limited (Sample)", "Jane Smith", "company"),
        ("OC990004", "Solar Commons LLP (Sample)", "Amira Khan", "llp"),
        ("99000006", "Bronte Heat Co-operative Limited (Sample)", "Anne Bronte", "company"),
    ]:
        _, body, _ = registered(
            organisation_payload(
                company_number=number,
                legal_name=legal,
                organisation_type=kind,
                declaration={
                    "declarant_name": name,
                    "declarant_is_applicant": True,
                    "statement_accepted": True,
                },
            )
        )
        ids.add(body["participant_id"])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 1, "status": "active"}
        if cursor:
            params["cursor"] = cursor
        page = operator_api.get("/participants", **params).json()
        seen += [p["participant_id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert ids <= set(seen) and len(seen) == len(set(seen))
    assert seen == sorted(seen)
    named = operator_api.get("/participants", name="solar").json()["items"]
    assert [p["name"] for p in named] == ["Solar Commons LLP (Sample)"]
    bad = operator_api.get("/participants", status="sleeping")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status"


# Query budgets per list endpoint (ARCHITECTURE.md convention 10): a page costs the same
# number of queries whatever its size.
LIST_QUERY_BUDGET = 6


def test_registry_page_stays_within_its_query_budget(
    registered: Any, operator_api: Any, django_assert_max_num_queries: Any
) -> None:
    for number, legal, name, kind in [
        ("99000001", "Brightwatt Flex Limited (Sample)", "Jane Smith", "company"),
        ("OC990004", "Solar Commons LLP (Sample)", "Amira Khan", "llp"),
        ("99000006", "Bronte Heat Co-operative Limited (Sample)", "Anne Bronte", "company"),
    ]:
        registered(
            organisation_payload(
                company_number=number,
                legal_name=legal,
                organisation_type=kind,
                declaration={
                    "declarant_name": name,
                    "declarant_is_applicant": True,
                    "statement_accepted": True,
                },
            )
        )
    for limit in (1, 50):
        with django_assert_max_num_queries(LIST_QUERY_BUDGET):
            assert operator_api.get("/participants", limit=limit).status_code == 200


def test_withdrawing_ends_portal_sessions_too(registered: Any) -> None:
    from django.contrib.sessions.models import Session
    from django.test import Client

    user, body, api = registered()
    browser = Client()
    browser.force_login(user)
    assert Session.objects.count() == 1
    response = api.post(
        f"/participants/{body['participant_id']}/transitions",
        {"transition": "withdraw", "reason": "Leaving the market"},
    )
    assert response.status_code == 200
    assert Session.objects.count() == 0
    event = AuditEvent.objects.filter(action="membership.ended").latest("seq")
    assert event.changes["after"]["reason"] == "Leaving the market"
