"""The central operator's manual decision on assets in ``query`` (authenticity failures,
possible duplicates) or stuck ``pending_validation``: verify or reject, with a reason.

The registrant is told the outcome once the decision commits (``assets.decided``, inbox and
email by the recipients' choice; the registering role's members who may see assets and the
person who registered it: ``authenticity.registrant_recipients``). The asset page shows the
operator's reason (``status_reason``).
"""

from __future__ import annotations

import logging
from typing import Final

from django.db import transaction
from django.utils import timezone

from flexreg.assets.lifecycle import LIFECYCLE
from flexreg.assets.models import Asset, AssetExternalId, AssetStatus, DuplicateFlag
from flexreg.assets.services_lifecycle import checked_reason
from flexreg.core import audit, permissions
from flexreg.core.acting import Acting
from flexreg.core.errors import DomainError

logger = logging.getLogger(__name__)

S = AssetStatus
REVIEW = "assets:review"
#: The operator's decisions: ``verify`` and ``reject`` of the asset lifecycle.
DECISIONS = LIFECYCLE
#: The notification the registrant gets with the operator's decision.
DECIDED_KIND: Final = "assets.decided"


@transaction.atomic
def decide(acting: Acting, asset: Asset, decision: str, reason: str) -> Asset:
    """``verify``: the asset is genuine and not a duplicate (its flags are resolved).
    ``reject``: it is not registered (its keys are freed: rejected assets block nothing).
    The registrant is told once this commits."""
    permissions.require(acting, REVIEW)
    if decision not in ("verify", "reject"):
        raise DomainError(code="asset.unknown_decision", detail="Decide verify or reject.")
    reason = checked_reason(reason)
    asset = (
        Asset.objects.select_for_update(of=("self",))
        .select_related("registered_by")
        .get(pk=asset.pk)
    )
    before = asset.status
    asset.status = DECISIONS.target(before, decision)
    asset.status_reason = reason
    asset.updated_at = timezone.now()
    asset.version += 1
    asset.save(update_fields=["status", "status_reason", "updated_at", "version"])
    DuplicateFlag.objects.filter(asset=asset, resolved_at__isnull=True).update(
        resolved_at=asset.updated_at
    )
    if asset.status == AssetStatus.REJECTED:
        AssetExternalId.objects.filter(asset=asset).update(claimed=False)
    audit.record(
        acting,
        f"asset.{decision}",
        object_type="asset",
        object_id=asset.asset_id,
        subject_participant_id=asset.registered_by.participant_id,
        before={"status": before},
        after={"status": asset.status, "reason": reason},
    )
    decided = asset
    transaction.on_commit(lambda: _tell_registrant(decided), robust=True)
    return asset


def _tell_registrant(asset: Asset) -> None:
    """Tell the registrant the operator's decision and reason (once per decision: the
    notice's dedupe key names the asset's version)."""
    from flexreg.assets.authenticity import registrant_recipients
    from flexreg.notifications import kinds
    from flexreg.notifications.services import notify

    if DECIDED_KIND not in kinds.KINDS:
        logger.warning(
            "notification kind %s is not in the catalogue: the registrant of %s is not told",
            DECIDED_KIND,
            asset.asset_id,
        )
        return
    verified = asset.status == AssetStatus.VERIFIED
    outcome = "verified" if verified else "rejected"
    with transaction.atomic():
        notify(
            DECIDED_KIND,
            registrant_recipients(asset),
            subject=f"Asset {outcome} by the central operator: {asset.name} ({asset.asset_id})",
            context={
                "asset_id": asset.asset_id,
                "asset_name": asset.name,
                "verified": verified,
                "status": asset.get_status_display(),
                "reason": asset.status_reason,
            },
            link=f"/assets/{asset.asset_id}/",
            participant_id=asset.registered_by.participant_id,
            dedupe_key=f"{DECIDED_KIND}:{asset.asset_id}:{asset.version}",
        )
