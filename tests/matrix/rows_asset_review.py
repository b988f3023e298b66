"""Matrix rows: the central operator's decisions on assets in query."""

from __future__ import annotations

from typing import Any

from tests.matrix.base import Scenario, World, _expect


def _queried(w: World) -> str:
    """An asset of participant A in query (made once)."""
    cached = w.__dict__.get("_queried_asset")
    if cached is not None:
        return str(cached)
    from flexreg.assets.models import AssetStatus
    from flexreg.assets.tests.helpers_authenticity import make_asset

    asset = make_asset(w.a)
    asset.status = AssetStatus.QUERY
    asset.save(update_fields=["status"])
    w.__dict__["_queried_asset"] = asset.asset_id
    return str(asset.asset_id)


DECISION: dict[str, Any] = {"decision": "verify", "reason": "Checked by phone"}

SCENARIOS = [
    Scenario(
        "GET /api/v1/operator/assets/queries",
        lambda w: ("/operator/assets/queries", None),
        _expect(401, 403, 403, 403, 200),
    ),
    Scenario(
        "POST /api/v1/operator/assets/{asset_id}/decision",
        lambda w: (f"/operator/assets/{_queried(w)}/decision", DECISION),
        _expect(401, 403, 403, 403, 200),
    ),
]
