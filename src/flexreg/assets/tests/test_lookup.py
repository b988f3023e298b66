"""POST /api/v1/assets/lookup: is this asset registered already? By MPAN (any format), by
manufacturer and serial (any format), by external ID or by EIC; a match reveals the Asset ID,
category and status only to a caller who may see the asset, otherwise only that it is
registered elsewhere and what to do next."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Api
from flexreg.assets import services
from flexreg.assets.models import Asset, AssetStatus
from flexreg.assets.tests import helpers_registration
from flexreg.assets.tests.helpers_registration import IMPORT_MPAN, Registrant, hvac, record

pytestmark = pytest.mark.django_db

# Fixtures shared by the registration tests.
fsp = helpers_registration.fsp
qualify = helpers_registration.qualify
rival = helpers_registration.rival

EIC = "48WTESTBESS0003C"


def lookup(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/assets/lookup", body)
    assert response.status_code == 200, response.content
    return response.json()


def test_an_asset_not_registered_yet(fsp: Registrant) -> None:
    body = lookup(fsp.api, {"mpan": IMPORT_MPAN, "manufacturer": "Acme", "serial_number": "X"})
    assert body == {"registered": False, "matches": []}


@pytest.mark.parametrize(
    ("manufacturer", "serial"),
    [
        ("Acme Energy Ltd", "LK-0001"),
        ("ACME ENERGY", "lk 0001"),
        ("acme energy limited", "Lk.00-01"),
    ],
)
def test_by_manufacturer_and_serial_in_any_format_the_owner_sees_its_asset(
    fsp: Registrant, manufacturer: str, serial: str
) -> None:
    asset = services.register(fsp.acting, record(serial_number="LK-0001"))
    body = lookup(fsp.api, {"manufacturer": manufacturer, "serial_number": serial})
    assert body["registered"] is True
    assert body["matches"] == [
        {
            "matched_on": "serial",
            "registered_elsewhere": False,
            "asset_id": asset.asset_id,
            "category": "BESS",
            "status": "pending_validation",
            "next_steps": f"You may see this asset: GET /api/v1/assets/{asset.asset_id}. "
            "Do not register it again.",
        }
    ]


def test_another_participant_learns_only_that_it_is_registered_and_what_to_do(
    fsp: Registrant, rival: Registrant
) -> None:
    asset = services.register(fsp.acting, record(serial_number="LK-0002", eic=EIC))
    response = rival.api.post(
        "/assets/lookup",
        {"manufacturer": "Acme Energy", "serial_number": "LK0002", "eic": EIC.lower()},
    )
    body = response.json()
    assert body["registered"] is True
    assert [m["matched_on"] for m in body["matches"]] == ["serial", "eic"]
    for match in body["matches"]:
        assert match["registered_elsewhere"] is True
        assert match["asset_id"] is None and match["category"] is None and match["status"] is None
        assert "provider switch" in match["next_steps"]
    text = response.content.decode()
    assert asset.asset_id not in text and fsp.participant_id not in text


@pytest.mark.parametrize(
    "variant",
    [IMPORT_MPAN, "10 1234 5678 903", "10-1234-5678-903", "S 01 801 100 / 10 1234 5678 903"],
)
def test_by_mpan_in_any_format(fsp: Registrant, rival: Registrant, variant: str) -> None:
    first = services.register(fsp.acting, record(site={"postcode": "LS1 4AP"}))
    second = services.register(fsp.acting, hvac())
    mine = lookup(fsp.api, {"mpan": variant})
    assert {m["asset_id"] for m in mine["matches"]} == {first.asset_id, second.asset_id}
    assert {m["matched_on"] for m in mine["matches"]} == {"mpan"}
    theirs = lookup(rival.api, {"mpan": variant})
    # the assets of others at the meter collapse into one answer: not even how many there are
    assert theirs["registered"] is True
    [elsewhere] = theirs["matches"]
    assert elsewhere["registered_elsewhere"] is True
    assert "serial number" in elsewhere["next_steps"]


def test_by_external_id_ignoring_case(fsp: Registrant, rival: Registrant) -> None:
    ids = [{"scheme": "OCPP_CHARGE_POINT", "value": "CP-77"}]
    asset = services.register(fsp.acting, record(external_ids=ids))
    body = lookup(fsp.api, {"external_id": {"scheme": "ocpp_charge_point", "value": "cp-77"}})
    assert [m["asset_id"] for m in body["matches"]] == [asset.asset_id]
    other = lookup(rival.api, {"external_id": {"scheme": "OCPP_CHARGE_POINT", "value": "CP-77"}})
    assert other["matches"][0]["registered_elsewhere"] is True


def test_the_operator_sees_every_match(fsp: Registrant, operator_api: Api) -> None:
    asset = services.register(fsp.acting, record(eic=EIC))
    body = lookup(operator_api, {"eic": EIC})
    assert [m["asset_id"] for m in body["matches"]] == [asset.asset_id]


def test_a_rejected_asset_is_not_registered(fsp: Registrant) -> None:
    asset = services.register(fsp.acting, record(eic=EIC))
    Asset.objects.filter(pk=asset.pk).update(status=AssetStatus.REJECTED)
    assert lookup(fsp.api, {"eic": EIC}) == {"registered": False, "matches": []}


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({}, "(request)", "lookup.key_required"),
        ({"serial_number": "X-1"}, "(request)", "lookup.manufacturer_required"),
        ({"mpan": "1012345678900"}, "mpan", "mpan.bad_check_digit"),
        ({"eic": "10YGB----------A"}, "eic", "eic.wrong_type"),
        ({"external_id": {"scheme": "NOPE", "value": "1"}}, "external_id", "choice.invalid"),
        ({"mpan": IMPORT_MPAN, "name": "x"}, "name", "unknown_field"),
    ],
)
def test_bad_lookups_are_problems(
    fsp: Registrant, body: dict[str, Any], field: str, code: str
) -> None:
    response = fsp.api.post("/assets/lookup", body)
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert (field, code) in {(e["field"], e["code"]) for e in response.json()["errors"]}


def test_a_member_without_assets_read_may_not_look_up(
    fsp: Registrant, make_user: Any, api_for: Any
) -> None:
    from flexreg.participants.models import Membership

    user = make_user()
    membership = Membership.objects.create(
        user=user, participant_role=fsp.membership.participant_role, permissions=[]
    )
    response = api_for(user, membership).post("/assets/lookup", {"mpan": IMPORT_MPAN})
    assert response.status_code == 403
