"""The central operator's queue of assets waiting for a decision, in the portal and the API:
only ``assets:review`` opens it; it lists assets in query and those stuck in validation,
oldest first, a page at a time, each with its failing checks and possible duplicates; the
decision is made from the asset page."""

from __future__ import annotations

import base64
import datetime as dt
import html as htmllib
import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from tests.signin import helpers as signin_helpers

from conftest import Api
from flexreg.assets import selectors_review
from flexreg.assets.models import Asset, AssetCheck, AssetStatus, DuplicateFlag
from flexreg.assets.tests import helpers_registration
from flexreg.assets.tests.helpers_authenticity import make_asset
from flexreg.assets.tests.helpers_registration import Registrant
from flexreg.core.models import AuditEvent
from flexreg.participants.models import Participant

pytestmark = pytest.mark.django_db

fsp = helpers_registration.fsp
qualify = helpers_registration.qualify

QUEUE = "/operator/assets/queue/"
#: Long enough ago for a pending asset to be stuck.
T0 = timezone.now().replace(second=0, microsecond=0) - dt.timedelta(days=30)


def _participant(reg: Registrant) -> Participant:
    return Participant.objects.get(participant_id=reg.participant_id)


def _waiting(
    participant: Participant, n: int, *, status: str = AssetStatus.QUERY, minutes: int = 0
) -> list[Asset]:
    """``n`` assets made at T0 + minutes (+ one minute each, every third sharing its
    predecessor's instant: ties on the page boundary are broken by Asset ID)."""
    made = []
    at = T0 + dt.timedelta(minutes=minutes)
    for i in range(n):
        if i % 3 != 2:
            at += dt.timedelta(minutes=1)
        asset = make_asset(participant, status=status, created_at=at, updated_at=at)
        made.append(asset)
    return made


def _order(assets: list[Asset]) -> list[str]:
    return [a.asset_id for a in sorted(assets, key=lambda a: (a.created_at, a.asset_id))]


def _failing(asset: Asset, detail: str = "No such meter point at the registry.") -> AssetCheck:
    return AssetCheck.objects.create(
        asset=asset,
        validator="meter_point",
        status=AssetCheck.Status.NOT_FOUND,
        outcome={"service": "meter point registry", "detail": detail},
        finished_at=timezone.now(),
    )


def _operator_client(operator: Any) -> Client:
    return signin_helpers.portal_client(*operator)


def _rows(response: Any) -> list[str]:
    table = re.search(
        r'<table class="govuk-table" id="queue-table">.*?</table>', _text(response), re.S
    )
    if table is None:
        return []
    return re.findall(r'<a class="govuk-link" href="/assets/([0-9A-Z-]+)/">\1<span', table.group(0))


def _text(response: Any) -> str:
    return htmllib.unescape(response.content.decode())


def _next(response: Any) -> str | None:
    found = re.search(r'href="(\?[^"]*cursor=[^"]+)" rel="next"', response.content.decode())
    return htmllib.unescape(found.group(1)) if found else None


def _summary(response: Any) -> dict[str, str]:
    box = re.search(r'<div class="govuk-error-summary".*?</ul>', response.content.decode(), re.S)
    assert box, "no error summary"
    return {
        href: htmllib.unescape(text).strip()
        for href, text in re.findall(r'<a href="([^"]+)">(.*?)</a>', box.group(0))
    }


# --- who may open it ------------------------------------------------------------------------


def test_the_queue_and_the_decision_are_for_the_central_operator_only(
    client: Client, fsp: Registrant
) -> None:
    (asset,) = _waiting(_participant(fsp), 1)
    anonymous = client.get(QUEUE)
    assert anonymous.status_code == 302 and "/sign-in/" in anonymous["Location"]
    posted = client.post(
        f"/operator/assets/{asset.asset_id}/decision/", {"decision": "verify", "reason": "x"}
    )
    assert posted.status_code == 302 and "/sign-in/" in posted["Location"]

    member = signin_helpers.portal_client(fsp.user, fsp.membership)
    assert member.get(QUEUE).status_code == 403
    assert member.get(f"/operator/assets/{asset.asset_id}/decision/").status_code == 403
    refused = member.post(
        f"/operator/assets/{asset.asset_id}/decision/", {"decision": "verify", "reason": "Mine"}
    )
    assert refused.status_code == 403
    asset.refresh_from_db()
    assert asset.status == AssetStatus.QUERY
    # Their own asset's page: no decision form, no link to the queue.
    page = _text(member.get(f"/assets/{asset.asset_id}/"))
    assert 'id="decide-form"' not in page and QUEUE not in page
    assert AuditEvent.objects.filter(action="authorisation.denied").exists()


def test_the_nav_links_to_the_queue_for_the_operator(operator: Any) -> None:
    page = _text(_operator_client(operator).get("/operator/asset-catalogue/"))
    assert f'href="{QUEUE}"' in page and "Assets in query" in page


# --- the portal's queue ---------------------------------------------------------------------


def test_the_queue_pages_oldest_first_by_fifty(operator: Any, fsp: Registrant) -> None:
    me = _participant(fsp)
    queried = _waiting(me, 53)
    stuck = _waiting(me, 2, status=AssetStatus.PENDING_VALIDATION, minutes=-600)
    # Not waiting: checks running now, and decided assets.
    make_asset(me, status=AssetStatus.PENDING_VALIDATION)
    make_asset(me, status=AssetStatus.VERIFIED, created_at=T0)
    make_asset(me, status=AssetStatus.REJECTED, created_at=T0)
    expected = _order(stuck) + _order(queried)

    client = _operator_client(operator)
    first = client.get(QUEUE)
    assert first.status_code == 200
    assert 'aria-current="true"' in first.content.decode()  # the nav item is the current one
    assert _rows(first) == expected[:50]
    link = _next(first)
    assert link is not None
    second = client.get(QUEUE + link)
    assert _rows(second) == expected[50:]
    assert _next(second) is None
    assert 'rel="prev"' in second.content.decode()  # back to the first page

    # A cursor the page did not give out: the first page, as the other portal lists do.
    stale = client.get(QUEUE + "?cursor=not-a-cursor")
    assert stale.status_code == 200
    assert _rows(stale) == expected[:50]


def test_each_row_summarises_checks_candidates_and_why(operator: Any, fsp: Registrant) -> None:
    me = _participant(fsp)
    failing, flagged, both = _waiting(me, 3)
    (stuck,) = _waiting(me, 1, status=AssetStatus.PENDING_VALIDATION, minutes=-600)
    other = make_asset(me, status=AssetStatus.VERIFIED)
    _failing(failing)
    _failing(both, "Serial number not known to the manufacturer.")
    AssetCheck.objects.create(asset=failing, validator="dno_connection", status="passed")
    DuplicateFlag.objects.create(asset=flagged, candidate=other, rule="near_location")
    DuplicateFlag.objects.create(asset=both, candidate=other, rule="similar_serial")
    DuplicateFlag.objects.create(
        asset=both, candidate=flagged, rule="near_location", resolved_at=timezone.now()
    )
    AssetCheck.objects.create(asset=stuck, validator="meter_point", status="pending")

    client = _operator_client(operator)
    page = _text(client.get(QUEUE))
    assert _rows(client.get(QUEUE)) == [stuck.asset_id, *_order([failing, flagged, both])]
    row = {
        a.asset_id: re.search(rf"/assets/{a.asset_id}/\">{a.asset_id}<span.*?</tr>", page, re.S)
        for a in (failing, flagged, both, stuck)
    }
    assert all(row.values())
    failing_row = row[failing.asset_id].group(0)  # type: ignore[union-attr]
    assert "Checks did not pass" in failing_row
    assert "Meter point registry</strong>: Not found by the service. No such meter" in failing_row
    assert "Dno_connection" not in failing_row  # passed: not summarised
    flagged_row = row[flagged.asset_id].group(0)  # type: ignore[union-attr]
    assert (
        "Possible duplicate" in flagged_row
        and f"{other.asset_id}</a> (near location)" in flagged_row
    )
    both_row = row[both.asset_id].group(0)  # type: ignore[union-attr]
    assert "Checks did not pass" in both_row and "Possible duplicate" in both_row
    assert "(similar serial)" in both_row and flagged.asset_id not in both_row  # resolved
    stuck_row = row[stuck.asset_id].group(0)  # type: ignore[union-attr]
    assert "Stuck in validation" in stuck_row and "Waiting to run" in stuck_row

    by_kind = {kind: _rows(client.get(QUEUE, {"kind": kind})) for kind in selectors_review.KINDS}
    assert by_kind == {
        "authenticity": _order([failing, both]),
        "duplicate": _order([flagged, both]),
        "stuck": [stuck.asset_id],
    }
    assert _rows(client.get(QUEUE, {"kind": "nonsense"})) == _rows(client.get(QUEUE))


# --- the API's queue ------------------------------------------------------------------------


def _api_pages(api: Api, **params: Any) -> list[list[dict[str, Any]]]:
    pages = []
    cursor = None
    while True:
        response = api.get(
            "/operator/assets/queries", **params, **({"cursor": cursor} if cursor else {})
        )
        assert response.status_code == 200, response.content
        pages.append(response.json())
        cursor = response.headers.get("Next-Cursor")
        if not cursor:
            assert "Link" not in response.headers
            return pages
        assert response.headers["Link"].startswith("</api/v1/operator/assets/queries?")
        assert response.headers["Link"].endswith('>; rel="next"')
        assert f"cursor={cursor}" in response.headers["Link"]


def test_the_api_queue_follows_next_cursor(operator_api: Api, fsp: Registrant) -> None:
    me = _participant(fsp)
    queried = _waiting(me, 23)
    stuck = _waiting(me, 2, status=AssetStatus.PENDING_VALIDATION, minutes=30)
    _failing(queried[0])
    DuplicateFlag.objects.create(asset=queried[1], candidate=queried[0], rule="near_location")

    pages = _api_pages(operator_api, limit=10)
    assert [len(p) for p in pages] == [10, 10, 5]
    items = [item for page in pages for item in page]
    assert [i["asset_id"] for i in items] == _order(queried + stuck)
    by_id = {i["asset_id"]: i for i in items}
    first, second = by_id[queried[0].asset_id], by_id[queried[1].asset_id]
    assert first["kinds"] == ["authenticity"]
    assert first["checks"] == [
        {
            "validator": "meter_point",
            "status": "not_found",
            "detail": "No such meter point at the registry.",
        }
    ]
    assert second["kinds"] == ["duplicate"]
    assert second["candidates"][0]["asset_id"] == queried[0].asset_id
    assert second["candidates"][0]["rule"] == "near_location"
    assert {i["kinds"][0] for i in items if i["status"] == "pending_validation"} == {"stuck"}
    # One page by default (at most 200: what the queue returned before it had pages).
    assert len(_api_pages(operator_api)) == 1
    assert [i["asset_id"] for p in _api_pages(operator_api, kind="stuck", limit=1) for i in p] == (
        _order(stuck)
    )
    bad = operator_api.get("/operator/assets/queries", cursor="bm90LWEtY3Vyc29y")
    assert bad.status_code == 422 and bad.json()["errors"][0]["code"] == "cursor_invalid"
    nul = base64.urlsafe_b64encode(f"{T0.isoformat()}|A-\x00".encode()).decode()
    assert operator_api.get("/operator/assets/queries", cursor=nul).status_code == 422
    assert operator_api.get("/operator/assets/queries", kind="other").status_code == 422


def test_the_api_queue_costs_the_same_whatever_its_size(operator_api: Api, fsp: Registrant) -> None:
    me = _participant(fsp)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert operator_api.get("/operator/assets/queries").status_code == 200
        return len(ctx.captured_queries)

    few = _waiting(me, 2)
    _failing(few[0])
    count()  # the token's first use records it
    small = count()
    many = _waiting(me, 12, minutes=100)
    for asset in many:
        _failing(asset)
        DuplicateFlag.objects.create(asset=asset, candidate=few[1], rule="near_location")
    assert (
        count() == small <= 9
    )  # token (and its last use), the two branches, assets, checks, flags


def test_the_stuck_threshold_follows_the_give_up_limit(settings: Any, fsp: Registrant) -> None:
    settings.ASSET_CHECK_GIVE_UP_HOURS = 2
    now = timezone.now()
    assert selectors_review.stuck_before(now) == now - dt.timedelta(hours=3)


# --- deciding from the portal ---------------------------------------------------------------


def test_the_operator_decides_from_the_asset_page(operator: Any, fsp: Registrant) -> None:
    me = _participant(fsp)
    asset, rejected, other = _waiting(me, 3)
    asset.status_reason = "Authenticity checks did not pass:\n- Meter point registry: not found"
    asset.save(update_fields=["status_reason"])
    _failing(asset)
    DuplicateFlag.objects.create(asset=asset, candidate=other, rule="near_location")
    client = _operator_client(operator)

    page = _text(client.get(f"/assets/{asset.asset_id}/"))
    assert 'id="decide-form"' in page
    assert f'action="/operator/assets/{asset.asset_id}/decision/"' in page
    decision = f"/operator/assets/{asset.asset_id}/decision/"

    empty = client.post(decision, {"decision": "", "reason": "  "})
    assert empty.status_code == 422
    assert _summary(empty) == {
        "#decision": "Select verify or reject",
        "#reason": "Enter the reason (it is kept with the asset's history).",
    }
    assert "Error: Decide on asset" in _text(empty)
    control = client.post(decision, {"decision": "verify", "reason": "Checked\x1b[0m"})
    assert control.status_code == 422
    assert list(_summary(control)) == ["#reason"]
    kept = client.post(decision, {"decision": "verify", "reason": "x" * 2001})
    assert 'value="verify" aria-describedby="decision-verify-hint" checked' in kept.content.decode()
    asset.refresh_from_db()
    assert asset.status == AssetStatus.QUERY

    done = client.post(
        decision, {"decision": "verify", "reason": "Meter point confirmed by the DNO"}
    )
    assert done.status_code == 302 and done["Location"] == QUEUE
    asset.refresh_from_db()
    assert asset.status == AssetStatus.VERIFIED
    assert asset.status_reason == "Meter point confirmed by the DNO"
    assert not DuplicateFlag.objects.filter(asset=asset, resolved_at__isnull=True).exists()
    event = AuditEvent.objects.get(action="asset.verify", object_id=asset.asset_id)
    assert event.acting_role == "MARKET_FACILITATOR"
    queue = client.get(QUEUE)
    assert f"Asset {asset.asset_id} verified" in _text(queue)
    assert asset.asset_id not in _rows(queue)
    assert 'id="decide-form"' not in _text(client.get(f"/assets/{asset.asset_id}/"))

    again = client.post(decision, {"decision": "reject", "reason": "Second click"})
    assert again.status_code == 409
    assert _summary(again) == {
        "#outcome": f"Asset {asset.asset_id} is verified: it is no longer waiting for a decision"
    }
    assert client.get(decision).status_code == 404

    # The decision page on its own (the lower-case ID is the stored one), then a rejection.
    lower = client.get(f"/operator/assets/{rejected.asset_id.lower()}/decision/")
    assert lower.status_code == 302 and lower["Location"].endswith(
        f"/{rejected.asset_id}/decision/"
    )
    alone = client.get(f"/operator/assets/{rejected.asset_id}/decision/")
    assert alone.status_code == 200 and "It is in query." in _text(alone)
    refused = client.post(
        f"/operator/assets/{rejected.asset_id}/decision/",
        {"decision": "reject", "reason": "Not a real battery"},
    )
    assert refused.status_code == 302
    rejected.refresh_from_db()
    assert rejected.status == AssetStatus.REJECTED


def test_a_stuck_asset_can_be_decided(operator: Any, fsp: Registrant) -> None:
    (stuck,) = _waiting(_participant(fsp), 1, status=AssetStatus.PENDING_VALIDATION)
    client = _operator_client(operator)
    assert 'id="decide-form"' in _text(client.get(f"/assets/{stuck.asset_id}/"))
    done = client.post(
        f"/operator/assets/{stuck.asset_id}/decision/",
        {"decision": "verify", "reason": "Checked by hand: the meter service is down"},
    )
    assert done.status_code == 302
    stuck.refresh_from_db()
    assert stuck.status == AssetStatus.VERIFIED
