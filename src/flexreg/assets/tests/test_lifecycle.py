"""The asset lifecycle besides registering: drafts (saved with a permanent Asset ID, private to
their registrant, claiming no key, checked in full only when submitted, discarded into
``rejected``) and decommissioning (by a linked party or the operator: the meter is freed, the
serial is not) with the operator's recommissioning; a rejected asset's
external IDs are freed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from flexreg.assets import services, services_lifecycle, services_review
from flexreg.assets.models import Asset, AssetCheck, AssetLink, AssetStatus
from flexreg.assets.tests import helpers_registration
from flexreg.assets.tests.helpers_registration import Registrant, hvac, record
from flexreg.core.errors import ValidationFailed
from flexreg.core.models import AuditEvent
from flexreg.notifications.models import Notification

pytestmark = pytest.mark.django_db

fsp = helpers_registration.fsp
rival = helpers_registration.rival
qualify = helpers_registration.qualify

TODAY = dt.date.today


def _draft(registrant: Registrant, body: dict[str, Any]) -> dict[str, Any]:
    response = registrant.api.post("/asset-drafts", body)
    assert response.status_code == 201, response.content
    return dict(response.json())


# --- drafts -----------------------------------------------------------------------------------


def test_a_draft_needs_only_its_category_and_gets_a_permanent_asset_id(fsp: Registrant) -> None:
    body = _draft(fsp, {"category": "bess", "name": "Half-done battery", "capacity": {"x": 1}})
    assert body["view"] == "draft"
    assert body["status"] == "draft"
    assert body["category"] == "BESS"
    assert body["record"]["capacity"] == {"x": 1}
    asset = Asset.objects.get(asset_id=body["asset_id"])
    assert asset.status == AssetStatus.DRAFT and asset.installed_kw is None
    assert not AssetLink.objects.filter(asset=asset).exists()
    assert AuditEvent.objects.filter(action="asset.draft_saved", object_id=asset.asset_id).exists()
    read = fsp.api.get(f"/assets/{asset.asset_id}")
    assert read.status_code == 200 and read.json()["view"] == "draft"
    listed = fsp.api.get("/assets", status="draft").json()["items"]
    assert [a["asset_id"] for a in listed] == [asset.asset_id]


def test_a_draft_without_a_known_category_is_refused(fsp: Registrant) -> None:
    missing = fsp.api.post("/asset-drafts", {"name": "No category"})
    assert missing.status_code == 422
    assert [(e["field"], e["code"]) for e in missing.json()["errors"]] == [
        ("category", "asset.category_required")
    ]
    unknown = fsp.api.post("/asset-drafts", {"category": "TOASTER"})
    assert unknown.json()["errors"][0]["code"] == "asset.unknown_category"
    assert not Asset.objects.exists()


def test_only_its_registrant_sees_a_draft_not_others_nor_oversight(
    fsp: Registrant, rival: Registrant, operator_api: Any
) -> None:
    asset_id = _draft(fsp, {"category": "BESS"})["asset_id"]
    assert rival.api.get(f"/assets/{asset_id}").status_code == 404
    assert operator_api.get(f"/assets/{asset_id}").status_code == 404
    assert asset_id not in [a["asset_id"] for a in operator_api.get("/assets").json()["items"]]
    assert rival.api.put(f"/asset-drafts/{asset_id}", {"category": "BESS"}).status_code == 404
    assert rival.api.post(f"/asset-drafts/{asset_id}/submit").status_code == 404


def test_drafts_claim_no_key_so_submitting_checks_duplicates_then(fsp: Registrant) -> None:
    draft = record(serial_number="DR-1")
    asset_id = _draft(fsp, draft)["asset_id"]
    assert fsp.api.post("/assets/lookup", {"serial_number": "DR-1", "manufacturer": "Acme"}).json()[
        "registered"
    ] in (False,)
    first = fsp.api.post("/assets", record(serial_number="dr 1"))
    assert first.status_code == 201, first.content
    submitted = fsp.api.post(f"/asset-drafts/{asset_id}/submit")
    assert submitted.status_code == 409
    assert submitted.json()["code"] == "asset.duplicate"
    assert Asset.objects.get(asset_id=asset_id).status == AssetStatus.DRAFT


def test_submitting_checks_everything_at_once_and_leaves_the_draft_until_it_passes(
    fsp: Registrant,
) -> None:
    asset_id = _draft(fsp, {"category": "BESS", "name": "Battery"})["asset_id"]
    refused = fsp.api.post(f"/asset-drafts/{asset_id}/submit")
    assert refused.status_code == 422
    fields = {e["field"] for e in refused.json()["errors"]}
    assert {"capacity.installed_kw", "site.postcode"} <= fields
    assert Asset.objects.get(asset_id=asset_id).status == AssetStatus.DRAFT

    replaced = fsp.api.put(f"/asset-drafts/{asset_id}", {**record(), "contract_reference": "C-9"})
    assert replaced.status_code == 200, replaced.content
    assert replaced.json()["version"] == 2
    submitted = fsp.api.post(f"/asset-drafts/{asset_id}/submit")
    assert submitted.status_code == 200, submitted.content
    body = submitted.json()
    assert body["view"] == "full" and body["asset_id"] == asset_id
    assert body["status"] == "pending_validation"
    assert body["links"][0]["contract_reference"] == "C-9"
    asset = Asset.objects.get(asset_id=asset_id)
    assert asset.draft_record == {} and asset.installed_kw is not None
    assert AuditEvent.objects.filter(action="asset.registered", object_id=asset_id).exists()

    again = fsp.api.post(f"/asset-drafts/{asset_id}/submit")
    assert again.status_code == 409 and again.json()["code"] == "asset.not_a_draft"
    assert fsp.api.put(f"/asset-drafts/{asset_id}", record()).status_code == 409


def test_a_discarded_draft_ends_rejected_and_keeps_its_asset_id(fsp: Registrant) -> None:
    asset_id = _draft(fsp, record())["asset_id"]
    discarded = fsp.api.post(f"/asset-drafts/{asset_id}/discard")
    assert discarded.status_code == 200, discarded.content
    assert discarded.json()["status"] == "rejected"
    assert discarded.json()["record"] == {}
    assert "Discarded" in discarded.json()["status_reason"]
    assert fsp.api.post(f"/asset-drafts/{asset_id}/submit").status_code == 409
    assert fsp.api.get(f"/assets/{asset_id}").json()["view"] == "draft"


def test_an_unqualified_role_cannot_save_drafts(registered: Any) -> None:
    _, _, api = registered()
    assert api.post("/asset-drafts", {"category": "BESS"}).status_code == 403


# --- decommissioning ----------------------------------------------------------------------------


def test_a_linked_provider_decommissions_its_asset(fsp: Registrant) -> None:
    asset = services.register(fsp.acting, record(commissioning_date="2024-01-15"))
    AssetCheck.objects.filter(asset=asset).delete()
    AssetCheck.objects.create(asset=asset, validator="meter_point", status="error", attempts=2)
    response = fsp.api.post(
        f"/assets/{asset.asset_id}/decommission",
        {"on": TODAY().isoformat(), "reason": "Battery removed from the site"},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "decommissioned"
    assert body["decommissioned_on"] == TODAY().isoformat()
    assert body["status_reason"] == "Battery removed from the site"
    link = AssetLink.objects.get(asset=asset)
    assert link.valid_during.upper is None  # the parties keep its record
    check = AssetCheck.objects.get(asset=asset)
    assert check.status == "skipped" and check.next_attempt_at is None
    event = AuditEvent.objects.get(action="asset.decommissioned", object_id=asset.asset_id)
    assert event.changes["after"]["on"] == TODAY().isoformat()
    again = fsp.api.post(
        f"/assets/{asset.asset_id}/decommission", {"on": TODAY().isoformat(), "reason": "Again"}
    )
    assert again.status_code == 409 and again.json()["code"] == "asset.illegal_transition"


def test_the_decommission_date_and_reason_are_checked(fsp: Registrant) -> None:
    asset = services.register(fsp.acting, record(commissioning_date="2024-01-15"))
    path = f"/assets/{asset.asset_id}/decommission"
    tomorrow = (TODAY() + dt.timedelta(days=1)).isoformat()
    future = fsp.api.post(path, {"on": tomorrow, "reason": "Soon"})
    assert future.status_code == 422
    assert future.json()["errors"][0]["code"] == "asset.decommission_in_future"
    early = fsp.api.post(path, {"on": "2023-12-31", "reason": "Before it was built"})
    assert early.json()["errors"][0]["code"] == "asset.decommission_before_commissioning"
    assert fsp.api.post(path, {"on": TODAY().isoformat(), "reason": ""}).status_code == 422
    assert Asset.objects.get(pk=asset.pk).status == AssetStatus.PENDING_VALIDATION


def test_others_cannot_decommission_an_asset(fsp: Registrant, rival: Registrant) -> None:
    asset = services.register(fsp.acting, record())
    body = {"on": TODAY().isoformat(), "reason": "Not mine"}
    assert rival.api.post(f"/assets/{asset.asset_id}/decommission", body).status_code == 404
    draft_id = _draft(fsp, {"category": "BESS"})["asset_id"]
    draft = fsp.api.post(f"/assets/{draft_id}/decommission", body)
    assert draft.status_code == 409
    assert Asset.objects.get(pk=asset.pk).status == AssetStatus.PENDING_VALIDATION


def test_a_decommissioned_asset_frees_its_meter_but_keeps_its_serial(fsp: Registrant) -> None:
    old_unit = services.register(fsp.acting, hvac())
    battery = services.register(fsp.acting, record(serial_number="KEEP-1"))
    for asset in (old_unit, battery):
        response = fsp.api.post(
            f"/assets/{asset.asset_id}/decommission",
            {"on": TODAY().isoformat(), "reason": "Replaced"},
        )
        assert response.status_code == 200, response.content
    replacement = fsp.api.post("/assets", hvac(name="New HVAC"))
    assert replacement.status_code == 201, replacement.content
    same_battery = fsp.api.post("/assets", record(serial_number="keep 1"))
    assert same_battery.status_code == 409
    assert same_battery.json()["duplicates"][0]["asset_id"] == battery.asset_id


def test_the_operator_decommissions_tells_the_parties_and_recommissions(
    fsp: Registrant, operator_api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    asset = services.register(fsp.acting, record())
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_api.post(
            f"/assets/{asset.asset_id}/decommission",
            {"on": TODAY().isoformat(), "reason": "Site demolished (DNO notice)"},
        )
    assert response.status_code == 200, response.content
    told = Notification.objects.filter(kind="assets.decommissioned", recipient=fsp.user)
    assert told.count() == 1
    assert (
        fsp.api.post(
            f"/operator/assets/{asset.asset_id}/recommission", {"reason": "Mine"}
        ).status_code
        == 403
    )
    back = operator_api.post(
        f"/operator/assets/{asset.asset_id}/recommission", {"reason": "Notice was for No. 3"}
    )
    assert back.status_code == 200, back.content
    assert back.json()["status"] == "pending_validation"
    assert back.json()["decommissioned_on"] is None
    assert AuditEvent.objects.filter(action="asset.recommissioned").count() == 1


def test_recommissioning_is_refused_when_a_replacement_took_the_meter(
    fsp: Registrant, operator_api: Any
) -> None:
    old_unit = services.register(fsp.acting, hvac())
    fsp.api.post(
        f"/assets/{old_unit.asset_id}/decommission", {"on": TODAY().isoformat(), "reason": "Old"}
    )
    services.register(fsp.acting, hvac(name="Replacement"))
    refused = operator_api.post(
        f"/operator/assets/{old_unit.asset_id}/recommission", {"reason": "Mistake"}
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "asset.meter_taken"
    assert Asset.objects.get(pk=old_unit.pk).status == AssetStatus.DECOMMISSIONED


# --- rejection frees external identifiers -----------------------------------------------------


def test_a_rejected_assets_external_id_can_be_registered_again(
    fsp: Registrant, operator: Any
) -> None:
    from flexreg.accounts.acting import acting_for

    ids = [{"scheme": "OCPP_CHARGE_POINT", "value": "CP-REJ-1"}]
    first = services.register(fsp.acting, record(external_ids=ids))
    user, membership = operator
    services_review.decide(acting_for(user, membership, via="session"), first, "reject", "Fake")
    again = fsp.api.post("/assets", record(external_ids=ids))
    assert again.status_code == 201, again.content


def test_a_draft_of_a_category_the_role_may_not_register_is_refused(
    registered: Any, qualify: Any
) -> None:
    from conftest import organisation_payload

    user, body, _ = registered(organisation_payload(requested_roles=["OEM"]))
    oem = qualify(user, body["participant_id"], "OEM")
    refused = oem.api.post("/asset-drafts", {"category": "SOLAR_PV"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["code"] == "asset.category_not_allowed_for_role"
    assert oem.api.post("/asset-drafts", {"category": "HEAT_PUMP"}).status_code == 201


# --- what the review found ----------------------------------------------------------------------


def test_a_draft_with_text_that_cannot_be_stored_is_refused(fsp: Registrant) -> None:
    """The API refuses a NUL byte or NaN in JSON before it reaches the service; the portal's
    form does not, so the service checks too."""
    with pytest.raises(ValidationFailed) as nul:
        services_lifecycle.save_draft(
            fsp.acting, {"category": "BESS", "site": {"town": "Cam\x00bridge"}}
        )
    assert [(e.field, e.code) for e in nul.value.errors] == [
        ("site.town", "text.control_character")
    ]
    with pytest.raises(ValidationFailed) as nan:
        services_lifecycle.save_draft(
            fsp.acting, {"category": "BESS", "capacity": {"installed_kw": float("nan")}}
        )
    assert [e.code for e in nan.value.errors] == ["asset.draft_invalid"]
    assert not Asset.objects.exists()


def test_a_draft_category_is_matched_as_registration_matches_it(fsp: Registrant) -> None:
    body = _draft(fsp, {"category": "heat pump"})
    assert body["category"] == "HEAT_PUMP"


def test_oversight_does_not_see_a_discarded_draft(fsp: Registrant, operator_api: Any) -> None:
    asset_id = _draft(fsp, {"category": "BESS", "name": "Private"})["asset_id"]
    fsp.api.post(f"/asset-drafts/{asset_id}/discard")
    assert operator_api.get(f"/assets/{asset_id}").status_code == 404
    listed = operator_api.get("/assets", status="rejected").json()["items"]
    assert asset_id not in [a["asset_id"] for a in listed]


def test_a_decommissioned_asset_no_longer_answers_a_lookup_by_its_meter(fsp: Registrant) -> None:
    from flexreg.assets.tests.helpers_registration import IMPORT_MPAN

    asset = services.register(fsp.acting, hvac())
    fsp.api.post(
        f"/assets/{asset.asset_id}/decommission", {"on": TODAY().isoformat(), "reason": "Gone"}
    )
    assert fsp.api.post("/assets/lookup", {"mpan": IMPORT_MPAN}).json()["registered"] is False


@pytest.mark.django_db(transaction=True)
def test_decommissioning_leaves_a_check_a_worker_is_running_alone(fsp: Registrant) -> None:
    """A running check holds its row lock (then wants the asset's): decommissioning skips it
    rather than wait for it, which would deadlock."""
    import threading

    from django.db import connection, transaction

    asset = services.register(fsp.acting, record())
    AssetCheck.objects.filter(asset=asset).delete()
    running = AssetCheck.objects.create(asset=asset, validator="meter_point", status="pending")
    waiting = AssetCheck.objects.create(asset=asset, validator="mcs", status="error")
    locked, release = threading.Event(), threading.Event()

    def worker() -> None:
        try:
            with transaction.atomic():
                AssetCheck.objects.select_for_update().get(pk=running.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert locked.wait(10)
        response = fsp.api.post(
            f"/assets/{asset.asset_id}/decommission", {"on": TODAY().isoformat(), "reason": "Gone"}
        )
        assert response.status_code == 200, response.content
    finally:
        release.set()
        thread.join()
    assert AssetCheck.objects.get(pk=waiting.pk).status == "skipped"
    assert AssetCheck.objects.get(pk=running.pk).status == "pending"
