"""The central operator decides assets in query: verified (flags resolved) or rejected (its
keys freed), with a reason, audited; nobody else may."""

from __future__ import annotations

from typing import Any

import pytest

from flexreg.assets.models import Asset, AssetStatus
from flexreg.assets.tests.helpers_authenticity import make_asset
from flexreg.core.models import AuditEvent
from flexreg.participants.models import Participant

pytestmark = pytest.mark.django_db


def _query_asset(registered: Any) -> tuple[Asset, Any]:
    _, body, api = registered()
    participant = Participant.objects.get(participant_id=body["participant_id"])
    asset = make_asset(participant)
    asset.status = AssetStatus.QUERY
    asset.status_reason = "Meter point not found"
    asset.save()
    return asset, api


def test_the_operator_sees_the_queue_and_verifies(registered: Any, operator_api: Any) -> None:
    asset, _ = _query_asset(registered)
    queue = operator_api.get("/operator/assets/queries")
    assert queue.status_code == 200
    assert [q["asset_id"] for q in queue.json()] == [asset.asset_id]
    decided = operator_api.post(
        f"/operator/assets/{asset.asset_id}/decision",
        {"decision": "verify", "reason": "Meter point confirmed by the DNO by phone"},
    )
    assert decided.status_code == 200, decided.content
    assert decided.json()["status"] == "verified"
    assert AuditEvent.objects.filter(action="asset.verify", object_id=asset.asset_id).exists()
    assert operator_api.get("/operator/assets/queries").json() == []


def test_rejecting_needs_a_reason_and_happens_once(registered: Any, operator_api: Any) -> None:
    asset, _ = _query_asset(registered)
    path = f"/operator/assets/{asset.asset_id}/decision"
    assert operator_api.post(path, {"decision": "reject", "reason": " "}).status_code == 422
    assert operator_api.post(path, {"decision": "reject", "reason": "Not real"}).status_code == 200
    again = operator_api.post(path, {"decision": "verify", "reason": "Changed my mind"})
    assert again.status_code == 409
    assert again.json()["code"] == "asset.illegal_transition"


def test_participants_cannot_decide_their_own_assets(registered: Any) -> None:
    asset, api = _query_asset(registered)
    response = api.post(
        f"/operator/assets/{asset.asset_id}/decision", {"decision": "verify", "reason": "Mine"}
    )
    assert response.status_code == 403
    assert api.get("/operator/assets/queries").status_code == 403
