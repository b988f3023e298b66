"""Matrix rows: drafts and decommissioning (assets/api_lifecycle.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.matrix.base import Scenario, World, _expect
from tests.matrix.rows_assets import _assets


def _made(w: World) -> dict[str, str]:
    """A draft of A's FSP role and a decommissioned asset of A (made once per world)."""
    cached = w.__dict__.get("_lifecycle")
    if cached is not None:
        return dict(cached)
    from flexreg.accounts.acting import acting_for
    from flexreg.assets import services, services_lifecycle
    from flexreg.assets.tests.helpers_registration import hvac
    from flexreg.participants.models import Membership

    _assets(w)  # qualifies A's FSP role
    member = (
        Membership.objects.filter(participant_role__participant=w.a, participant_role__role="FSP")
        .exclude(permissions=[])
        .select_related("user", "participant_role__participant")
        .order_by("pk")
        .first()
    )
    assert member is not None
    acting = acting_for(member.user, member, via="session")
    draft = services_lifecycle.save_draft(acting, {"category": "BESS", "name": "Draft"})
    gone = services.register(acting, hvac(site={"postcode": "M1 1AE"}))
    services_lifecycle.decommission(acting, gone.asset_id, dt.date.today(), "Removed")
    made = {"draft": draft.asset_id, "decommissioned": gone.asset_id}
    w.__dict__["_lifecycle"] = made
    return made


def _qualified(w: World, path: str) -> str:
    _assets(w)  # qualifies A's FSP role
    return path


def _today() -> str:
    return dt.date.today().isoformat()


DRAFT: dict[str, Any] = {"category": "BESS", "name": "Half-done"}

SCENARIOS = [
    Scenario(
        "POST /api/v1/asset-drafts",
        lambda w: (_qualified(w, "/asset-drafts"), DRAFT),
        # drafting is registering (operational): B's FSP is not qualified
        _expect(401, 403, 403, 201, 403),
    ),
    Scenario(
        "PUT /api/v1/asset-drafts/{asset_id}",
        lambda w: (f"/asset-drafts/{_made(w)['draft']}", DRAFT),
        _expect(401, 403, 403, 200, 403),
    ),
    Scenario(
        "POST /api/v1/asset-drafts/{asset_id}/submit",
        # the draft is incomplete: A's own caller is told what is missing
        lambda w: (f"/asset-drafts/{_made(w)['draft']}/submit", None),
        _expect(401, 403, 403, 422, 403),
    ),
    Scenario(
        "POST /api/v1/asset-drafts/{asset_id}/discard",
        lambda w: (f"/asset-drafts/{_made(w)['draft']}/discard", None),
        _expect(401, 403, 403, 200, 403),
    ),
    Scenario(
        "POST /api/v1/assets/{asset_id}/decommission",
        lambda w: (
            f"/assets/{_assets(w)['asset_id']}/decommission",
            {"on": _today(), "reason": "Removed"},
        ),
        _expect(401, 403, 403, 200, 200),
    ),
    Scenario(
        "POST /api/v1/operator/assets/{asset_id}/recommission",
        lambda w: (
            f"/operator/assets/{_made(w)['decommissioned']}/recommission",
            {"reason": "Decommissioned by mistake"},
        ),
        _expect(401, 403, 403, 403, 200),
    ),
]
