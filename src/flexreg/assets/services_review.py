"""The central operator's manual decision on assets in ``query`` (authenticity failures,
possible duplicates) or stuck ``pending_validation``: verify or reject, with a reason."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from flexreg.assets.lifecycle import LIFECYCLE
from flexreg.assets.models import Asset, AssetExternalId, AssetStatus, DuplicateFlag
from flexreg.core import audit, permissions
from flexreg.core.acting import Acting
from flexreg.core.errors import DomainError

S = AssetStatus
REVIEW = "assets:review"
#: The operator's decisions: ``verify`` and ``reject`` of the asset lifecycle.
DECISIONS = LIFECYCLE


@transaction.atomic
def decide(acting: Acting, asset: Asset, decision: str, reason: str) -> Asset:
    """``verify``: the asset is genuine and not a duplicate (its flags are resolved).
    ``reject``: it is not registered (its keys are freed: rejected assets block nothing)."""
    permissions.require(acting, REVIEW)
    if decision not in ("verify", "reject"):
        raise DomainError(code="asset.unknown_decision", detail="Decide verify or reject.")
    if not reason.strip():
        raise DomainError(code="asset.reason_required", detail="Give a reason for the decision.")
    asset = Asset.objects.select_for_update().get(pk=asset.pk)
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
    return asset
