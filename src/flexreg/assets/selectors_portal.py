"""Reads the portal's asset pages need beyond ``selectors``: an asset's history (its audit
events) and whether the acting role could register assets once qualified.

Callers pass an asset already read through ``selectors.asset_for`` (so the caller may see it)
and show the history only in the full view (``policies.view_of``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from flexreg.assets.models import Asset
from flexreg.core.acting import Acting
from flexreg.core.models import AuditEvent
from flexreg.core.permissions import ASSET_REGISTRANTS

HISTORY_LIMIT: Final = 100
ACTIONS: Final = {
    "asset.registered": "Registered",
    "asset.bulk_registered": "Registered from a file",
    "asset.authenticity_started": "Authenticity checks started",
    "asset.check_concluded": "Check concluded",
    "asset.authenticity_concluded": "Validation concluded",
    "asset.verify": "Verified by the central operator",
    "asset.reject": "Rejected by the central operator",
    "asset.draft_saved": "Saved as a draft",
    "asset.draft_updated": "Draft updated",
    "asset.draft_discarded": "Draft discarded",
    "asset.decommissioned": "Decommissioned",
    "asset.recommissioned": "Recommissioned",
    "asset.link_added": "Party linked",
    "asset.link_ended": "Party's link ended",
    "asset.link_suspended": "Party's link suspended",
    "asset.consent_revocation_received": "Consumer consent revoked",
}


@dataclass(frozen=True)
class HistoryItem:
    occurred_at: object
    action: str
    what: str
    by: str


def _what(event: AuditEvent) -> str:
    after = (event.changes or {}).get("after") or event.changes or {}
    if not isinstance(after, dict):
        return ""
    if event.action == "asset.check_concluded":
        return " ".join(str(after.get(k, "")) for k in ("validator", "status")).strip()
    if "status" in after:
        return f"Status: {str(after['status']).replace('_', ' ')}"
    return ""


def history(asset: Asset) -> list[HistoryItem]:
    """The asset's audit events, oldest first (the personal values are never read)."""
    events = AuditEvent.objects.filter(object_type="asset", object_id=asset.asset_id).order_by(
        "seq"
    )[:HISTORY_LIMIT]
    return [
        HistoryItem(
            occurred_at=e.occurred_at,
            action=ACTIONS.get(e.action, e.action),
            what=_what(e),
            by="FlexReg (automatic)"
            if e.via == "system"
            else " ".join(p for p in (e.acting_participant_id, e.acting_role) if p) or "FlexReg",
        )
        for e in events
    ]


@dataclass(frozen=True)
class RegisterBlock:
    """Why the acting membership may not register assets, and where to go next."""

    reason: str  # no_role | role_cannot | not_qualified | no_permission
    role: str | None
    participant_id: str | None


def register_block(acting: Acting) -> RegisterBlock | None:
    """None if the acting membership may register assets now."""
    if acting.has("assets:register"):
        return None
    if acting.role is None or acting.membership_id is None:
        return RegisterBlock("no_role", None, None)
    if acting.role not in ASSET_REGISTRANTS:
        return RegisterBlock("role_cannot", acting.role, acting.participant_id)
    from flexreg.participants.models import Membership

    membership = (
        Membership.objects.select_related("participant_role")
        .filter(pk=acting.membership_id)
        .first()
    )
    if membership is not None and membership.participant_role.qualified_at is None:
        return RegisterBlock("not_qualified", acting.role, acting.participant_id)
    return RegisterBlock("no_permission", acting.role, acting.participant_id)
