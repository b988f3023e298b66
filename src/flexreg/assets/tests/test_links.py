"""An asset's parties: another participant linked as legal owner, operator or controlling
provider for a period, and links ended (docs/decisions/0018). One controller at a time is the
exclusion constraint ``asset_one_controller_at_a_time``: a provider switch on a day ends the old
controller's link and starts the new one that day; an overlap is refused with the current
controller named. Who may: a maintainer of the asset (``selectors.may_maintain``), or the
linked participant ending its own link. Bad input is a 4xx, never a 500."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.db.backends.postgresql.psycopg_any import DateTimeTZRange
from django.utils import timezone

from conftest import organisation_payload
from flexreg.assets import selectors, services, services_links
from flexreg.assets.models import Asset, AssetLink, AssetStatus
from flexreg.assets.tests import helpers_authenticity, helpers_registration
from flexreg.assets.tests.helpers_registration import DECLARATION, Registrant, record
from flexreg.assets.tests.test_portal import _client, _error_links, _text
from flexreg.core.errors import ValidationFailed
from flexreg.core.models import AuditEvent
from flexreg.notifications.models import Notification
from flexreg.participants.models import Participant

pytestmark = pytest.mark.django_db

fsp = helpers_registration.fsp
rival = helpers_registration.rival
qualify = helpers_registration.qualify
asset_stub = helpers_authenticity.asset_stub
consent_stand_in = helpers_authenticity.services  # the stand-in, as the consent service

TODAY = dt.date.today


def _day(days: int) -> str:
    return (timezone.localdate() + dt.timedelta(days=days)).isoformat()


@pytest.fixture
def owner(registered: Any, qualify: Any) -> Registrant:
    """Bronte Heat (a third verified participant) acting as its qualified ASSET_OWNER role: it
    may register assets (as their legal owner) but may not control one."""
    user, body, _ = registered(
        organisation_payload(
            company_number="99000006",
            legal_name="Bronte Heat Co-operative Limited (Sample)",
            declaration={**DECLARATION, "declarant_name": "Anne Bronte"},
            requested_roles=["ASSET_OWNER"],
        )
    )
    return qualify(user, body["participant_id"], "ASSET_OWNER")


@pytest.fixture
def travel(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """travel(days): Django's clock (``timezone.now``, so ``localdate``) moves ahead; the
    database keeps its own, which the link rules never read."""
    real = timezone.now

    def go(days: int) -> None:
        monkeypatch.setattr(timezone, "now", lambda: real() + dt.timedelta(days=days))

    return go


def _links_path(asset: Asset) -> str:
    return f"/assets/{asset.asset_id}/links"


def _add(by: Registrant | Any, asset: Asset, **body: Any) -> Any:
    api = by.api if isinstance(by, Registrant) else by
    return api.post(_links_path(asset), body)


def _end(by: Registrant | Any, asset: Asset, link_id: str, **body: Any) -> Any:
    api = by.api if isinstance(by, Registrant) else by
    return api.post(f"/assets/{asset.asset_id}/links/{link_id}/end", body)


def _link_of(asset: Asset, participant_id: str, relationship: str | None = None) -> AssetLink:
    links = AssetLink.objects.filter(asset=asset, participant__participant_id=participant_id)
    if relationship:
        links = links.filter(relationship=relationship)
    return links.get()


def _backdate(link: AssetLink, days: int) -> None:
    """The link started ``days`` ago (as if it had been added then)."""
    period = link.valid_during
    AssetLink.objects.filter(pk=link.pk).update(
        valid_during=DateTimeTZRange(period.lower - dt.timedelta(days=days), period.upper, "[)")
    )


def _sees(who: Registrant, asset: Asset) -> bool:
    return selectors.visible(who.acting).filter(pk=asset.pk).exists()


# --- adding a party ----------------------------------------------------------------------------


def test_a_linked_provider_adds_the_owner_who_then_sees_and_maintains_the_asset(
    fsp: Registrant, owner: Registrant, django_capture_on_commit_callbacks: Any
) -> None:
    asset = services.register(fsp.acting, record())
    assert owner.api.get(f"/assets/{asset.asset_id}").status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        response = _add(
            fsp,
            asset,
            participant_id=owner.participant_id.lower(),
            relationship="legal_owner",
            contract_reference=" OWN-7 ",
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Location"] == f"/api/v1/assets/{asset.asset_id}"
    assert body["view"] == "full"
    assert body["participant_id"] == owner.participant_id
    assert body["relationship"] == "legal_owner"
    assert body["valid_from"] == TODAY().isoformat() and body["valid_to"] is None
    assert body["contract_reference"] == "OWN-7" and body["consent_reference"] == ""
    link = AssetLink.objects.get(public_id=body["link_id"])
    assert link.valid_during.lower >= asset.created_at and link.valid_during.upper is None
    event = AuditEvent.objects.get(action="asset.link_added", object_id=asset.asset_id)
    assert event.changes["after"]["participant_id"] == owner.participant_id
    assert event.subject_participant_id == owner.participant_id
    told = Notification.objects.get(kind="assets.linked", recipient=owner.user)
    assert asset.asset_id in told.subject
    assert not Notification.objects.filter(kind="assets.linked", recipient=fsp.user).exists()

    # The new party sees the asset in full and may maintain it.
    read = owner.api.get(f"/assets/{asset.asset_id}")
    assert read.status_code == 200 and read.json()["view"] == "full"
    assert {x["participant_id"] for x in read.json()["links"]} == {
        fsp.participant_id,
        owner.participant_id,
    }
    assert selectors.may_maintain(owner.acting, asset)
    again = _add(owner, asset, participant_id=owner.participant_id, relationship="operator")
    assert again.status_code == 201, again.content


def test_switching_provider_ends_the_old_controller_on_a_day_and_starts_the_new_one_that_day(
    fsp: Registrant,
    rival: Registrant,
    owner: Registrant,
    travel: Callable[[int], None],
    django_capture_on_commit_callbacks: Any,
) -> None:
    asset = services.register(fsp.acting, record())
    assert (
        _add(
            fsp, asset, participant_id=owner.participant_id, relationship="legal_owner"
        ).status_code
        == 201
    )
    old = _link_of(asset, fsp.participant_id)
    switch_day = _day(7)

    # The owner asks for the switch: the losing provider's link ends on the day ...
    with django_capture_on_commit_callbacks(execute=True):
        ended = _end(owner, asset, str(old.public_id), valid_to=switch_day, reason="Switching")
    assert ended.status_code == 200, ended.content
    assert ended.json()["valid_to"] == switch_day
    # ... and the winning provider's starts that day.
    with django_capture_on_commit_callbacks(execute=True):
        added = _add(
            owner,
            asset,
            participant_id=rival.participant_id,
            relationship="controller",
            valid_from=switch_day,
            contract_reference="FLEX-2",
        )
    assert added.status_code == 201, added.content
    assert added.json()["valid_from"] == switch_day
    new = AssetLink.objects.get(public_id=added.json()["link_id"])
    old.refresh_from_db()
    assert old.valid_during.upper == new.valid_during.lower  # adjacent, never overlapping
    assert Notification.objects.filter(kind="assets.link_ended", recipient=fsp.user).exists()
    assert Notification.objects.filter(kind="assets.linked", recipient=rival.user).exists()
    assert AuditEvent.objects.filter(action="asset.link_ended", object_id=asset.asset_id).exists()

    # Until the day the old provider still acts; the new one does not see the asset yet.
    assert selectors.may_maintain(fsp.acting, asset)
    assert not _sees(rival, asset)
    travel(7)
    assert not selectors.may_maintain(fsp.acting, asset)
    assert fsp.api.get(f"/assets/{asset.asset_id}").json()["view"] == "public"
    assert rival.api.get(f"/assets/{asset.asset_id}").json()["view"] == "full"
    assert selectors.may_maintain(rival.acting, asset)


def test_an_overlapping_controller_is_refused_naming_the_current_one(
    fsp: Registrant, rival: Registrant, operator_api: Any
) -> None:
    asset = services.register(fsp.acting, record())
    response = _add(
        operator_api,
        asset,
        participant_id=rival.participant_id,
        relationship="controller",
        valid_from=_day(30),
    )
    assert response.status_code == 409, response.content
    problem = response.json()
    assert problem["code"] == "asset.controller_overlap"
    assert problem["controller"]["participant_id"] == fsp.participant_id
    assert problem["controller"]["valid_to"] is None
    assert fsp.participant_id in problem["detail"] and "open-ended" in problem["detail"]
    assert problem["errors"][0]["field"] == "valid_from"
    assert AssetLink.objects.filter(asset=asset).count() == 1


def test_the_exclusion_constraint_refuses_two_controllers_at_once(
    fsp: Registrant, rival: Registrant
) -> None:
    """The database itself: any writer, whatever it checked before."""
    asset = services.register(fsp.acting, record())
    start = timezone.now() + dt.timedelta(days=3)
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        AssetLink.objects.create(
            asset=asset,
            participant_id=rival.participant_pk,
            relationship="controller",
            valid_during=DateTimeTZRange(start, None, "[)"),
        )
    assert services_links._constraint(caught.value) == services_links.OVERLAP_CONSTRAINT
    # Adjacent periods and other relationships are fine.
    old = _link_of(asset, fsp.participant_id)
    AssetLink.objects.filter(pk=old.pk).update(
        valid_during=DateTimeTZRange(old.valid_during.lower, start, "[)")
    )
    AssetLink.objects.create(
        asset=asset,
        participant_id=rival.participant_pk,
        relationship="controller",
        valid_during=DateTimeTZRange(start, None, "[)"),
    )
    AssetLink.objects.create(
        asset=asset,
        participant_id=rival.participant_pk,
        relationship="operator",
        valid_during=DateTimeTZRange(old.valid_during.lower, None, "[)"),
    )


def test_the_same_party_in_the_same_relationship_is_not_linked_twice(
    fsp: Registrant, owner: Registrant
) -> None:
    asset = services.register(fsp.acting, record())
    first = _add(fsp, asset, participant_id=owner.participant_id, relationship="operator")
    assert first.status_code == 201
    again = _add(
        fsp, asset, participant_id=owner.participant_id, relationship="operator", valid_from=_day(5)
    )
    assert again.status_code == 409 and again.json()["code"] == "asset.link_exists"
    assert again.json()["link_id"] == first.json()["link_id"]
    other = _add(fsp, asset, participant_id=owner.participant_id, relationship="legal_owner")
    assert other.status_code == 201
    mine = _add(fsp, asset, participant_id=fsp.participant_id, relationship="controller")
    assert mine.status_code == 409 and mine.json()["code"] == "asset.link_exists"


def test_a_home_asset_needs_the_consumers_consent_for_a_new_controller(
    fsp: Registrant, rival: Registrant, owner: Registrant, travel: Callable[[int], None]
) -> None:
    home = record(site={"domestic": True, "consumer_consent_reference": "CNS-HOME-1"})
    asset = services.register(fsp.acting, home)
    assert asset.domestic
    _add(fsp, asset, participant_id=owner.participant_id, relationship="legal_owner")
    old = _link_of(asset, fsp.participant_id)
    assert (
        _end(owner, asset, str(old.public_id), valid_to=_day(2), reason="Switch").status_code == 200
    )
    missing = _add(
        owner,
        asset,
        participant_id=rival.participant_id,
        relationship="controller",
        valid_from=_day(2),
    )
    assert missing.status_code == 422
    assert [(e["field"], e["code"]) for e in missing.json()["errors"]] == [
        ("consent_reference", "asset.consent_required")
    ]
    added = _add(
        owner,
        asset,
        participant_id=rival.participant_id,
        relationship="controller",
        valid_from=_day(2),
        consent_reference="CNS-HOME-2",
    )
    assert added.status_code == 201, added.content
    assert added.json()["consent_reference"] == "CNS-HOME-2"
    # An owner or operator needs no consent.
    operator_link = _add(owner, asset, participant_id=rival.participant_id, relationship="operator")
    assert operator_link.status_code == 201

    # A party that ends its own link no longer sees the references it answered with.
    travel(3)
    link_id = operator_link.json()["link_id"]
    controller_id = added.json()["link_id"]
    assert _end(rival, asset, link_id, reason="No longer operating it").status_code == 200
    gone = _end(rival, asset, controller_id, valid_to=_day(0), reason="Contract over")
    assert gone.status_code == 200, gone.content
    assert gone.json()["view"] == "public"
    assert gone.json()["consent_reference"] is None and gone.json()["contract_reference"] is None


def test_after_its_link_ends_a_party_no_longer_sees_nor_maintains_the_asset(
    fsp: Registrant, owner: Registrant, travel: Callable[[int], None]
) -> None:
    asset = services.register(fsp.acting, record())
    added = _add(
        fsp, asset, participant_id=owner.participant_id, relationship="operator", valid_to=_day(1)
    )
    assert added.status_code == 201, added.content
    assert _sees(owner, asset) and selectors.may_maintain(owner.acting, asset)
    travel(1)  # valid_to reached
    assert not _sees(owner, asset)
    assert not selectors.may_maintain(owner.acting, asset)
    assert owner.api.get(f"/assets/{asset.asset_id}").status_code == 404
    refused = _add(owner, asset, participant_id=owner.participant_id, relationship="operator")
    assert refused.status_code == 404


def test_a_party_ends_its_own_link_and_loses_sight_of_the_asset_at_once(
    fsp: Registrant, owner: Registrant, django_capture_on_commit_callbacks: Any
) -> None:
    asset = services.register(fsp.acting, record())
    added = _add(fsp, asset, participant_id=owner.participant_id, relationship="legal_owner")
    link = AssetLink.objects.get(public_id=added.json()["link_id"])
    _backdate(link, 10)
    with django_capture_on_commit_callbacks(execute=True):
        ended = _end(owner, asset, str(link.public_id), reason="Sold the building")
    assert ended.status_code == 200, ended.content
    assert ended.json()["valid_to"] == TODAY().isoformat()
    assert not _sees(owner, asset)
    event = AuditEvent.objects.get(action="asset.link_ended", object_id=asset.asset_id)
    assert event.changes["after"]["reason"] == "Sold the building"
    # The other current party is told; the actor is not.
    assert Notification.objects.filter(kind="assets.link_ended", recipient=fsp.user).exists()
    assert not Notification.objects.filter(kind="assets.link_ended", recipient=owner.user).exists()
    again = _end(fsp, asset, str(link.public_id), reason="Twice")
    assert again.status_code == 409 and again.json()["code"] == "asset.link_ended"


def test_the_last_link_of_an_asset_in_service_is_not_ended(
    fsp: Registrant, owner: Registrant, operator_api: Any
) -> None:
    asset = services.register(fsp.acting, record())
    link = _link_of(asset, fsp.participant_id)
    refused = _end(operator_api, asset, str(link.public_id), valid_to=_day(3), reason="Gone")
    assert refused.status_code == 409, refused.content
    assert refused.json()["code"] == "asset.last_link"
    # A party linked from a later day is in force after the end: the asset keeps a party (the
    # days between have none: decision 0018).
    later = _add(
        fsp,
        asset,
        participant_id=owner.participant_id,
        relationship="legal_owner",
        valid_from=_day(5),
    )
    assert later.status_code == 201
    still = _end(fsp, asset, str(link.public_id), valid_to=_day(3), reason="Gone")
    assert still.status_code == 200, still.content


def test_a_decommissioned_asset_may_lose_its_last_link(fsp: Registrant, operator_api: Any) -> None:
    asset = services.register(fsp.acting, record())
    fsp.api.post(
        f"/assets/{asset.asset_id}/decommission", {"on": TODAY().isoformat(), "reason": "Gone"}
    )
    link = _link_of(asset, fsp.participant_id)
    ended = _end(operator_api, asset, str(link.public_id), valid_to=_day(1), reason="Tidy up")
    assert ended.status_code == 200, ended.content


# --- who may ------------------------------------------------------------------------------------


def test_who_may_link_a_party(
    fsp: Registrant, rival: Registrant, owner: Registrant, operator_api: Any, registered: Any
) -> None:
    asset = services.register(fsp.acting, record())
    body = {"participant_id": owner.participant_id, "relationship": "operator"}
    assert rival.api.post(_links_path(asset), body).status_code == 404  # cannot see it
    unqualified = registered(
        organisation_payload(
            company_number="99000005",
            legal_name="Gridscale Aggregation PLC (Sample)",
            declaration={**DECLARATION, "declarant_name": "Ruth Abigail Zephaniah"},
        )
    )[2]
    assert unqualified.post(_links_path(asset), body).status_code == 403  # no assets:register
    # A party linked with its link suspended (consent revoked) sees the asset, may not maintain.
    AssetLink.objects.filter(asset=asset).update(suspended_at=timezone.now())
    assert fsp.api.get(f"/assets/{asset.asset_id}").status_code == 200
    forbidden = fsp.api.post(_links_path(asset), body)
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "asset.not_linked"
    # The central operator may.
    assert operator_api.post(_links_path(asset), body).status_code == 201


def test_who_may_end_a_link(
    fsp: Registrant, rival: Registrant, owner: Registrant, operator_api: Any
) -> None:
    asset = services.register(fsp.acting, record())
    added = _add(fsp, asset, participant_id=rival.participant_id, relationship="operator")
    rival_link = added.json()["link_id"]
    fsp_link = str(_link_of(asset, fsp.participant_id).public_id)
    body = {"valid_to": _day(1), "reason": "Done"}
    assert (
        owner.api.post(f"/assets/{asset.asset_id}/links/{rival_link}/end", body).status_code == 404
    )
    # The rival's link is suspended: it may not maintain, it may still end its own link ...
    AssetLink.objects.filter(public_id=rival_link).update(suspended_at=timezone.now())
    other = rival.api.post(f"/assets/{asset.asset_id}/links/{fsp_link}/end", body)
    assert other.status_code == 403 and other.json()["code"] == "asset.not_linked"
    own = rival.api.post(f"/assets/{asset.asset_id}/links/{rival_link}/end", body)
    assert own.status_code == 200, own.content
    # ... and the operator may end any (not the last: the operator's own owner link first).
    op = operator_api.post(
        _links_path(asset), {"participant_id": owner.participant_id, "relationship": "legal_owner"}
    )
    assert op.status_code == 201
    assert (
        operator_api.post(f"/assets/{asset.asset_id}/links/{fsp_link}/end", body).status_code == 200
    )


def test_no_party_is_linked_to_a_draft_a_rejected_or_a_decommissioned_asset(
    fsp: Registrant, owner: Registrant, operator_api: Any
) -> None:
    body = {"participant_id": owner.participant_id, "relationship": "operator"}
    draft = fsp.api.post("/asset-drafts", {"category": "BESS", "name": "Draft"}).json()
    response = fsp.api.post(f"/assets/{draft['asset_id']}/links", body)
    assert response.status_code == 409 and response.json()["code"] == "asset.not_in_service"
    gone = services.register(fsp.acting, record())
    fsp.api.post(
        f"/assets/{gone.asset_id}/decommission", {"on": TODAY().isoformat(), "reason": "x"}
    )
    assert fsp.api.post(_links_path(gone), body).json()["code"] == "asset.not_in_service"
    rejected = services.register(fsp.acting, record())
    Asset.objects.filter(pk=rejected.pk).update(status=AssetStatus.REJECTED)
    refused = operator_api.post(_links_path(rejected), body)
    assert refused.status_code == 409 and refused.json()["code"] == "asset.not_in_service"
    assert not AssetLink.objects.filter(participant_id=owner.participant_pk).exists()


# --- the named participant ----------------------------------------------------------------------


def test_the_named_participant_must_exist_be_active_and_a_controller_hold_a_provider_role(
    fsp: Registrant, owner: Registrant, registered: Any
) -> None:
    asset = services.register(fsp.acting, record())

    def codes(**body: Any) -> list[tuple[str, str]]:
        response = _add(fsp, asset, **body)
        assert response.status_code == 422, response.content
        return [(e["field"], e["code"]) for e in response.json()["errors"]]

    assert codes(participant_id="P-3M9QX2HDK7P", relationship="operator") in (
        [("participant_id", "asset.link_participant_unknown")],
        [("participant_id", "asset.link_participant_invalid")],
    )
    assert codes(participant_id="P-NOT-AN-ID", relationship="operator") == [
        ("participant_id", "asset.link_participant_invalid")
    ]
    assert codes(participant_id=owner.participant_id, relationship="controller") == [
        ("participant_id", "asset.link_controller_role")
    ]
    Participant.objects.filter(pk=owner.participant_pk).update(status="suspended")
    assert codes(participant_id=owner.participant_id, relationship="operator") == [
        ("participant_id", "asset.link_participant_unknown")
    ]
    Participant.objects.filter(pk=owner.participant_pk).update(status="withdrawn")
    assert codes(participant_id=owner.participant_id, relationship="operator") == [
        ("participant_id", "asset.link_participant_unknown")
    ]
    bad_relationship = _add(fsp, asset, participant_id=fsp.participant_id, relationship="friend")
    assert bad_relationship.status_code == 422
    assert bad_relationship.json()["errors"][0]["field"] == "relationship"


def test_unknown_participant_id_that_parses(fsp: Registrant) -> None:
    from flexreg.identifiers import new_participant_id

    asset = services.register(fsp.acting, record())
    unknown = str(new_participant_id())
    response = _add(fsp, asset, participant_id=unknown, relationship="operator")
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "participant_id",
            "code": "asset.link_participant_unknown",
            "message": f"There is no active participant {unknown}: check the Participant ID.",
        }
    ]


# --- bad input never 500s -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"valid_from": "yesterday"}, "valid_from"),
        ({"valid_from": "2025-02-30"}, "valid_from"),
        ({"valid_from": "99999-01-01"}, "valid_from"),
        ({"valid_to": "0000-00-00"}, "valid_to"),
        ({"valid_from": None, "valid_to": "2001-01-01"}, "valid_to"),
        ({"contract_reference": "ok\x07bell"}, "contract_reference"),
        ({"consent_reference": "x" * 101}, "consent_reference"),
        ({"participant_id": "P-\x1b[2J"}, "participant_id"),
        ({"participant_id": ""}, "participant_id"),
        ({"relationship": None}, "relationship"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_bad_link_input_is_a_field_error(
    fsp: Registrant, owner: Registrant, body: dict[str, Any], field: str
) -> None:
    asset = services.register(fsp.acting, record())
    full = {"participant_id": owner.participant_id, "relationship": "operator", **body}
    response = _add(fsp, asset, **full)
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert field in {e["field"] for e in response.json()["errors"]}
    assert AssetLink.objects.filter(asset=asset).count() == 1


def test_link_dates_are_checked(fsp: Registrant, owner: Registrant) -> None:
    asset = services.register(fsp.acting, record())
    base = {"participant_id": owner.participant_id, "relationship": "operator"}
    past = _add(fsp, asset, **base, valid_from=_day(-1))
    assert past.json()["errors"][0]["code"] == "asset.link_start_in_past"
    same = _add(fsp, asset, **base, valid_from=_day(2), valid_to=_day(2))
    assert same.json()["errors"][0]["code"] == "asset.link_end_before_start"
    before = _add(fsp, asset, **base, valid_to=_day(0))
    assert before.json()["errors"][0]["code"] == "asset.link_end_before_start"
    assert _add(fsp, asset, **base, valid_from=_day(1), valid_to=_day(2)).status_code == 201


def test_bad_end_input(fsp: Registrant, owner: Registrant) -> None:
    asset = services.register(fsp.acting, record())
    added = _add(fsp, asset, participant_id=owner.participant_id, relationship="operator")
    link_id = added.json()["link_id"]

    def code(link: str, **body: Any) -> tuple[int, str]:
        response = _end(fsp, asset, link, **body)
        assert response.status_code < 500
        problem = response.json()
        return response.status_code, (problem.get("errors") or [{"code": problem["code"]}])[0][
            "code"
        ]

    assert code(link_id, valid_to=_day(-1), reason="x") == (422, "asset.link_end_in_past")
    assert code(link_id, valid_to=_day(0), reason="x") == (422, "asset.link_end_before_start")
    assert code(link_id, valid_to=_day(2), reason="   ")[0] == 422
    assert code(link_id, valid_to=_day(2), reason="bell\x07") == (422, "asset.reason_invalid")
    assert code(link_id, valid_to=_day(2))[0] == 422
    assert code(link_id, valid_to="2025-13-01", reason="x")[0] == 422
    assert code(str(uuid.uuid4()), reason="x") == (404, "not_found")
    assert code("not-a-uuid", reason="x") == (404, "not_found")
    other = services.register(fsp.acting, record())
    foreign = str(_link_of(other, fsp.participant_id).public_id)
    assert code(foreign, valid_to=_day(2), reason="x") == (404, "not_found")
    shorter = _end(fsp, asset, link_id, valid_to=_day(5), reason="Contract ends")
    assert shorter.status_code == 200
    assert code(link_id, valid_to=_day(9), reason="Later") == (422, "asset.link_end_later")
    assert _end(fsp, asset, link_id, valid_to=_day(3), reason="Sooner").status_code == 200


def test_control_characters_never_reach_the_database(fsp: Registrant, owner: Registrant) -> None:
    asset = services.register(fsp.acting, record())
    nul = _add(
        fsp,
        asset,
        participant_id=owner.participant_id,
        relationship="operator",
        contract_reference="a\x00b",
    )
    assert 400 <= nul.status_code < 500
    with pytest.raises(ValidationFailed) as caught:
        services_links.add_link(
            fsp.acting,
            asset.asset_id,
            services_links.NewLink(
                participant_id=owner.participant_id,
                relationship="operator",
                contract_reference="a\x00b",
                consent_reference="c\x1fd",
            ),
        )
    assert {(e.field, e.code) for e in caught.value.errors} == {
        ("contract_reference", "text.control_character"),
        ("consent_reference", "text.control_character"),
    }


# --- races ---------------------------------------------------------------------------------------


@pytest.fixture
def race() -> Iterator[Callable[..., list[Any]]]:
    from flexreg.assets.tests.test_duplicates_concurrency import race as run

    yield run


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("repeat", range(2))
def test_two_controllers_linked_at_once_exactly_one_wins(
    fsp: Registrant, rival: Registrant, owner: Registrant, race: Any, repeat: int
) -> None:
    asset = services.register(owner.acting, record())  # the owner's: no controller yet
    assert _link_of(asset, owner.participant_id).relationship == "legal_owner"
    responses = race(
        lambda: _add(owner, asset, participant_id=fsp.participant_id, relationship="controller"),
        lambda: _add(owner, asset, participant_id=rival.participant_id, relationship="controller"),
    )
    assert sorted(r.status_code for r in responses) == [201, 409]
    loser = next(r for r in responses if r.status_code == 409).json()
    winner = next(r for r in responses if r.status_code == 201).json()
    assert loser["code"] == "asset.controller_overlap"
    assert loser["controller"]["participant_id"] == winner["participant_id"]
    assert AssetLink.objects.filter(asset=asset, relationship="controller").count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_constraint_is_the_backstop_for_a_writer_that_does_not_lock_the_asset(
    fsp: Registrant, rival: Registrant, owner: Registrant
) -> None:
    """Another writer holds an uncommitted controller link: the service does not see it, waits
    on the exclusion constraint, then answers the same 409 naming it."""
    import threading
    import time

    from django.db import connection

    asset = services.register(owner.acting, record())
    inserted = threading.Event()

    def other_writer() -> None:
        try:
            with transaction.atomic():
                AssetLink.objects.create(
                    asset_id=asset.pk,
                    participant_id=rival.participant_pk,
                    relationship="controller",
                    valid_during=DateTimeTZRange(timezone.now(), None, "[)"),
                )
                inserted.set()
                time.sleep(1.0)
        finally:
            connection.close()

    thread = threading.Thread(target=other_writer)
    thread.start()
    assert inserted.wait(10)
    started = time.monotonic()
    response = _add(owner, asset, participant_id=fsp.participant_id, relationship="controller")
    waited = time.monotonic() - started
    thread.join()
    assert waited > 0.5
    assert response.status_code == 409, response.content
    assert response.json()["controller"]["participant_id"] == rival.participant_id
    assert AssetLink.objects.filter(asset=asset, relationship="controller").count() == 1


# --- the portal ----------------------------------------------------------------------------------


def test_the_portal_adds_a_party_with_errors_first(fsp: Registrant, owner: Registrant) -> None:
    asset = services.register(fsp.acting, record())
    client = _client(fsp)
    page = _text(client.get(f"/assets/{asset.asset_id}/"))
    assert f"/assets/{asset.asset_id}/parties/add/" in page
    form = client.get(f"/assets/{asset.asset_id}/parties/add/")
    assert form.status_code == 200
    today = timezone.localdate()
    date = {
        "valid_from-day": str(today.day),
        "valid_from-month": str(today.month),
        "valid_from-year": str(today.year),
    }
    refused = client.post(
        f"/assets/{asset.asset_id}/parties/add/",
        {"participant_id": "P-NOPE", "valid_to-day": "31", "valid_to-month": "2", **date},
    )
    assert refused.status_code == 422
    links = _error_links(_text(refused))
    assert "#participant_id" in links and "#relationship" in links and "#valid_to-day" in links
    overlap = client.post(
        f"/assets/{asset.asset_id}/parties/add/",
        {"participant_id": fsp.participant_id, "relationship": "controller", **date},
    )
    assert overlap.status_code == 409
    assert "#valid_from-day" in _error_links(_text(overlap)) or "#participant_id" in _error_links(
        _text(overlap)
    )
    added = client.post(
        f"/assets/{asset.asset_id}/parties/add/",
        {"participant_id": owner.participant_id, "relationship": "legal_owner", **date},
    )
    assert added.status_code == 302, _text(added)
    assert added["Location"] == f"/assets/{asset.asset_id}/parties/"
    listing = _text(client.get(added["Location"]))
    assert owner.participant_id in listing and "End this link" in listing


def test_the_portal_ends_a_link_and_refuses_the_last_one(
    fsp: Registrant, owner: Registrant, rival: Registrant
) -> None:
    asset = services.register(fsp.acting, record())
    mine = _link_of(asset, fsp.participant_id)
    client = _client(fsp)
    path = f"/assets/{asset.asset_id}/parties/{mine.public_id}/end/"
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    date = {
        "valid_to-day": str(tomorrow.day),
        "valid_to-month": str(tomorrow.month),
        "valid_to-year": str(tomorrow.year),
    }
    assert client.get(path).status_code == 200
    empty = client.post(path, {})
    assert empty.status_code == 422
    assert set(_error_links(_text(empty))) == {"#valid_to-day", "#reason"}
    last = client.post(path, {**date, "reason": "Leaving"})
    assert last.status_code == 409
    assert "last party" in " ".join(_error_links(_text(last)).values())
    _add(fsp, asset, participant_id=owner.participant_id, relationship="legal_owner")
    ended = client.post(path, {**date, "reason": "Leaving"})
    assert ended.status_code == 302, _text(ended)
    mine.refresh_from_db()
    assert timezone.localdate(mine.valid_during.upper) == tomorrow
    # Strangers and parties who may not end a link get 404 pages.
    stranger = _client(rival)
    assert stranger.get(path).status_code == 404
    owner_link = _link_of(asset, owner.participant_id)
    assert (
        _client(owner)
        .get(f"/assets/{asset.asset_id}/parties/{owner_link.public_id}/end/")
        .status_code
        == 200
    )
    assert stranger.get(f"/assets/{asset.asset_id}/parties/add/").status_code == 404
    assert client.get(f"/assets/{asset.asset_id}/parties/{uuid.uuid4()}/end/").status_code == 404


def test_a_new_controllers_consent_is_checked_with_the_consent_service_first(
    fsp: Registrant, rival: Registrant, owner: Registrant, consent_stand_in: Any
) -> None:
    """With a consent service configured, a new controller's consent reference for a home's
    asset is checked before anything is written, as at registration (decision 0016): one the
    service does not know is 422 at ``consent_reference``; a live one is linked."""
    from flexreg.assets.tests import test_consent_realtime as realtime

    asset = services.register(fsp.acting, realtime.home())
    _add(fsp, asset, participant_id=owner.participant_id, relationship="legal_owner")
    old = _link_of(asset, fsp.participant_id)
    switch = {"participant_id": rival.participant_id, "relationship": "controller"}
    calls = len(consent_stand_in.request_log)
    # While the current provider controls it, the overlap is the answer; no call is made.
    overlap = _add(owner, asset, **switch, consent_reference="CNS-NOBODY-0001")
    assert overlap.status_code == 409 and overlap.json()["code"] == "asset.controller_overlap"
    assert len(consent_stand_in.request_log) == calls
    assert _end(owner, asset, str(old.public_id), valid_to=_day(2), reason="Switch").status_code
    links = AssetLink.objects.count()
    # Whatever else the request gets wrong is answered first, without asking the service:
    # a caller that may not link the asset learns nothing of the consent.
    not_maintainer = _add(rival, asset, **switch, consent_reference="CNS-NOBODY-0001")
    assert not_maintainer.status_code in (403, 404), not_maintainer.content
    bad_field = _add(
        owner,
        asset,
        **switch,
        valid_from=_day(2),
        contract_reference="bad\x1b[0m",
        consent_reference="CNS-NOBODY-0001",
    )
    assert bad_field.status_code == 422
    assert "consent" not in bad_field.json()["code"]
    assert len(consent_stand_in.request_log) == calls
    refused = _add(owner, asset, **switch, valid_from=_day(2), consent_reference="CNS-NOBODY-0001")
    assert refused.status_code == 422, refused.content
    assert refused.json()["code"] == "consent.not_found"
    assert [(e["field"], e["code"]) for e in refused.json()["errors"]] == [
        ("consent_reference", "consent.not_found")
    ]
    assert AssetLink.objects.count() == links
    added = _add(owner, asset, **switch, valid_from=_day(2), consent_reference=realtime.ACTIVE)
    assert added.status_code == 201, added.content
