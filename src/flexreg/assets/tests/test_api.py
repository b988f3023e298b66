"""The assets API: POST /assets (201 with the full view and Location; 422, 403 and 409 as
problem details), GET /assets/{asset_id} (full view for linked parties and oversight, public for
a registrant no longer linked, 404 for anyone else) and GET /assets (filtered, keyset-paginated,
with a query count that does not grow with the rows)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import DateTimeTZRange
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import Api
from flexreg.assets import services
from flexreg.assets.models import Asset, AssetLink
from flexreg.assets.tests import helpers_registration
from flexreg.assets.tests.helpers_registration import EXPORT_MPAN, IMPORT_MPAN, Registrant, record

pytestmark = pytest.mark.django_db

# Fixtures shared by the registration tests.
fsp = helpers_registration.fsp
qualify = helpers_registration.qualify
rival = helpers_registration.rival

PROBLEM = "application/problem+json"


# --- POST /assets -------------------------------------------------------------------------------


def test_registering_answers_201_with_the_full_view_and_its_location(fsp: Registrant) -> None:
    rec = record(
        serial_number="sn 0042",
        external_ids=[{"scheme": "OCPP_CHARGE_POINT", "value": "cp-42"}],
        metering={"import_mpan": "10 1234 5678 903"},
        contract_reference="C-1",
    )
    response = fsp.api.post("/assets", rec)
    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Location"] == f"/api/v1/assets/{body['asset_id']}"
    assert body["view"] == "full"
    assert body["status"] == "pending_validation"
    assert body["serial_number"] == "sn 0042"
    assert body["metering"] == {"import_mpan": IMPORT_MPAN, "export_mpan": None}
    assert body["capacity"]["storage_kwh"] == "13.50"
    assert body["external_ids"] == [{"scheme": "OCPP_CHARGE_POINT", "value": "CP-42"}]
    assert body["network"]["dno_licence_area"] and body["network"]["gsp_group"]
    assert body["registered_by"] == {"participant_id": fsp.participant_id, "role": "FSP"}
    [link] = body["links"]
    assert link["participant_id"] == fsp.participant_id
    assert link["relationship"] == "controller"
    assert link["contract_reference"] == "C-1"
    assert link["valid_to"] is None
    assert body["checks"] == [] and body["duplicate_flags"] == []
    assert '"id"' not in response.content.decode()


def test_conformance_errors_are_one_problem_with_every_error(fsp: Registrant) -> None:
    rec = record(
        category="HEAT_PUMP",
        v2g=True,
        capacity={"installed_kw": "-1"},
        metering={"import_mpan": "99"},
    )
    response = fsp.api.post("/assets", rec)
    assert response.status_code == 422
    assert response["Content-Type"] == PROBLEM
    problem = response.json()
    assert problem["code"] == "validation_failed"
    fields = {e["field"] for e in problem["errors"]}
    assert {
        "v2g",
        "capacity.installed_kw",
        "metering.import_mpan",
        "capacity.storage_kwh",
    } <= fields
    assert all(e["code"] and e["message"] for e in problem["errors"])
    assert not Asset.objects.exists()


def test_a_body_that_is_not_an_object_is_a_problem(fsp: Registrant) -> None:
    response = fsp.api.post("/assets", ["not", "an", "object"])
    assert response.status_code == 422
    assert response["Content-Type"] == PROBLEM


def test_a_freshly_registered_fsp_is_not_qualified_and_gets_403(registered: Any) -> None:
    _, _, api = registered()  # its first membership: ASSET_OWNER, not qualified either
    response = api.post("/assets", record())
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert not Asset.objects.exists()


def test_a_duplicate_is_a_409_problem(fsp: Registrant, rival: Registrant) -> None:
    first = fsp.api.post("/assets", record(serial_number="DUP-1")).json()
    again = rival.api.post("/assets", record(serial_number="dup 1"))
    assert again.status_code == 409
    assert again["Content-Type"] == PROBLEM
    problem = again.json()
    assert problem["code"] == "asset.duplicate"
    assert problem["duplicates"] == [
        {"rule": "serial", "field": "serial_number", "asset_id": None, "registered_elsewhere": True}
    ]
    assert first["asset_id"] not in again.content.decode()
    assert fsp.participant_id not in again.content.decode()
    mine = fsp.api.post("/assets", record(serial_number="DUP-1")).json()
    assert mine["duplicates"][0]["asset_id"] == first["asset_id"]


# --- GET /assets/{asset_id} ---------------------------------------------------------------------


def test_linked_parties_and_the_operator_see_the_full_view_others_404(
    fsp: Registrant, rival: Registrant, operator_api: Api
) -> None:
    asset_id = fsp.api.post("/assets", record()).json()["asset_id"]
    mine = fsp.api.get(f"/assets/{asset_id.lower()}")
    assert mine.status_code == 200
    assert mine.json()["view"] == "full"
    assert operator_api.get(f"/assets/{asset_id}").json()["view"] == "full"
    for path in (f"/assets/{asset_id}", "/assets/A-NOSUCHASSET"):
        response = rival.api.get(path)
        assert response.status_code == 404
        assert response["Content-Type"] == PROBLEM


def test_a_registrant_no_longer_linked_sees_the_public_view(fsp: Registrant) -> None:
    asset = services.register(fsp.acting, record())
    ended = timezone.now() - dt.timedelta(seconds=1)
    AssetLink.objects.filter(asset=asset).update(
        valid_during=DateTimeTZRange(asset.created_at - dt.timedelta(days=1), ended, "[)")
    )
    body = fsp.api.get(f"/assets/{asset.asset_id}").json()
    assert body == {
        "view": "public",
        "asset_id": asset.asset_id,
        "category": "BESS",
        "status": "pending_validation",
    }


def test_another_participant_linked_now_sees_the_full_view(
    fsp: Registrant, rival: Registrant
) -> None:
    asset = services.register(fsp.acting, record())
    AssetLink.objects.create(
        asset=asset,
        participant_id=rival.participant_pk,
        relationship="legal_owner",
        valid_during=DateTimeTZRange(timezone.now() - dt.timedelta(minutes=1), None, "[)"),
    )
    body = rival.api.get(f"/assets/{asset.asset_id}").json()
    assert body["view"] == "full"
    assert {link["relationship"] for link in body["links"]} == {"controller", "legal_owner"}


def test_duplicate_flags_name_only_candidates_the_caller_may_see(
    fsp: Registrant, rival: Registrant, operator_api: Api
) -> None:
    theirs = services.register(rival.acting, record(manufacturer="Zeta", serial_number="Z-1"))
    mine = services.register(fsp.acting, record(manufacturer="Acme", serial_number="A-1"))
    [flag] = fsp.api.get(f"/assets/{mine.asset_id}").json()["duplicate_flags"]
    assert flag["rule"] == "near_location"
    assert flag["candidate_asset_id"] is None
    assert flag["detail"] is None
    [seen] = operator_api.get(f"/assets/{mine.asset_id}").json()["duplicate_flags"]
    assert seen["candidate_asset_id"] == theirs.asset_id
    assert seen["detail"]["postcode"] == "CB1 2AB"


# --- GET /assets --------------------------------------------------------------------------------


def register_many(registrant: Registrant, count: int, **overrides: Any) -> list[str]:
    return [
        services.register(registrant.acting, record(**overrides)).asset_id for _ in range(count)
    ]


def test_the_list_holds_only_the_callers_assets_in_pages(
    fsp: Registrant, rival: Registrant, operator_api: Api
) -> None:
    mine = register_many(fsp, 5)
    theirs = register_many(rival, 2, site={"postcode": "LS1 4AP"})
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = fsp.api.get("/assets", **params).json()
        assert len(body["items"]) <= 2
        seen += [item["asset_id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(mine)
    assert [i["asset_id"] for i in rival.api.get("/assets").json()["items"]] == sorted(theirs)
    everything = operator_api.get("/assets", limit=100).json()["items"]
    assert {i["asset_id"] for i in everything} == set(mine) | set(theirs)


def test_the_page_size_is_capped(fsp: Registrant) -> None:
    register_many(fsp, 3)
    body = fsp.api.get("/assets", limit=1000).json()
    assert len(body["items"]) == 3
    assert fsp.api.get("/assets", limit=0).json()["next_cursor"] is not None


def test_list_filters(fsp: Registrant) -> None:
    battery = services.register(fsp.acting, record(name="Garage battery", serial_number="GB-77"))
    solar = services.register(
        fsp.acting,
        record(
            category="SOLAR_PV",
            name="Roof panels",
            capacity={
                "installed_kw": "4",
                "export_kw": "3.68",
                "import_kw": None,
                "storage_kwh": None,
            },
            metering={"import_mpan": None, "export_mpan": EXPORT_MPAN},
            site={"postcode": "LS1 4AP"},
        ),
    )

    def ids(**params: Any) -> list[str]:
        response = fsp.api.get("/assets", **params)
        assert response.status_code == 200, response.content
        return [item["asset_id"] for item in response.json()["items"]]

    assert ids(category="SOLAR_PV") == [solar.asset_id]
    assert ids(status="pending_validation") == sorted([battery.asset_id, solar.asset_id])
    assert ids(status="query") == []
    assert ids(postcode="ls14ap") == [solar.asset_id]
    assert ids(mpan="10-1234-5678-903") == [battery.asset_id]
    assert ids(mpan=f"S 01 801 100 {EXPORT_MPAN}") == [solar.asset_id]
    assert ids(q="garage") == [battery.asset_id]
    assert ids(q="gb 77") == [battery.asset_id]
    assert ids(q=solar.asset_id.lower()) == [solar.asset_id]


def test_bad_filters_are_problems(fsp: Registrant) -> None:
    response = fsp.api.get("/assets", mpan="1012345678900")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "mpan"
    assert fsp.api.get("/assets", status="lost").status_code == 422


def count_list_queries(api: Api) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get("/assets", limit=50)
        assert response.status_code == 200
    return len(ctx.captured_queries)


LIST_QUERY_BUDGET = 9  # auth, 2 x keys (own, linked), page, links, checks, flags, ids, candidates


def test_the_list_query_count_does_not_grow_with_the_rows(
    fsp: Registrant, rival: Registrant, operator_api: Api
) -> None:
    for i in range(2):
        services.register(
            fsp.acting, record(external_ids=[{"scheme": "BM_UNIT", "value": f"E_X-{i}"}])
        )
    count_list_queries(fsp.api)  # the token's first use records it (one more query)
    count_list_queries(operator_api)
    few = count_list_queries(fsp.api)
    few_operator = count_list_queries(operator_api)
    for i in range(10):
        services.register(
            fsp.acting, record(external_ids=[{"scheme": "BM_UNIT", "value": f"E_Y-{i}"}])
        )
    services.register(rival.acting, record(site={"postcode": "LS1 4AP"}))
    many = count_list_queries(fsp.api)
    assert many == few <= LIST_QUERY_BUDGET
    assert count_list_queries(operator_api) == few_operator <= LIST_QUERY_BUDGET
