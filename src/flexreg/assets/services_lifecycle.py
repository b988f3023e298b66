"""The asset lifecycle's writes besides registration itself (``assets.lifecycle``): drafts
(save, replace, discard; ``services.submit_draft`` submits one) and decommissioning (and the
operator's recommissioning of an asset decommissioned by mistake). One transaction each,
audited; docs/decisions/0017-asset-lifecycle-and-lists.md.

A draft is the registrant's work in progress: an ``Asset`` row in ``draft`` with a permanent
Asset ID, its name and category, and the record as entered (``draft_record``), checked only when
it is submitted. Drafts claim no key (the unique indexes skip them) and only the participant
that saved them sees them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, Final

from django.db import IntegrityError, transaction
from django.utils import timezone

from flexreg.assets import role_rules, selectors
from flexreg.assets.catalogue import Catalogue
from flexreg.assets.catalogue_store import current_catalogue
from flexreg.assets.lifecycle import LIFECYCLE
from flexreg.assets.models import Asset, AssetCheck, AssetLink, AssetStatus, DuplicateFlag
from flexreg.core import audit, permissions, validation
from flexreg.core.acting import Acting
from flexreg.core.errors import DomainError, FieldError, PermissionDenied, ValidationFailed
from flexreg.identifiers import new_asset_id

REGISTER: Final = "assets:register"
REVIEW: Final = "assets:review"
#: The largest draft record kept (its JSON, in bytes).
DRAFT_MAX_BYTES: Final = 64 * 1024
REASON_MAX: Final = 500
DECOMMISSIONED_KIND: Final = "assets.decommissioned"


# --- drafts -----------------------------------------------------------------------------------


def _draft_fields(
    record: Any, catalogue: Catalogue, role: str | None
) -> tuple[str, str, dict[str, Any]]:
    """(name, category, record) of a draft: only the category must be right now (known, in
    use, and one the acting role may register)."""
    if not isinstance(record, Mapping):
        raise ValidationFailed([FieldError("", "type_error", "An asset record is a JSON object.")])
    body = dict(record)
    errors: list[FieldError] = validation.control_character_errors(body)
    try:
        size = len(json.dumps(body, allow_nan=False).encode())
    except (TypeError, ValueError):
        errors.append(
            FieldError(
                "",
                "asset.draft_invalid",
                "A draft holds JSON values: text, numbers "
                "(not NaN or Infinity), true/false, lists and objects.",
            )
        )
        size = 0
    if size > DRAFT_MAX_BYTES:
        errors.append(
            FieldError("", "asset.draft_too_large", "A draft may hold up to 64 KB of data.")
        )
    raw_category = body.get("category")
    given = raw_category if isinstance(raw_category, str) else ""
    found = catalogue.category_list.lookup(given) if given.strip() else None
    category = found.code if found is not None else given.strip().upper()
    schema = catalogue.categories.get(category)
    if schema is None or schema.retired:
        errors.append(
            FieldError(
                "category",
                "asset.category_required" if not category else "asset.unknown_category",
                "Select the kind of asset before saving a draft.",
            )
        )
    else:
        rules = role_rules.rules_for(role)
        if not rules.allows(category):
            errors.append(rules.refused(category, schema.label, catalogue))
    raw_name = body.get("name", "")
    name = raw_name.strip() if isinstance(raw_name, str) else ""
    limit = catalogue.limits.text.get("name", 200)
    if len(name) > limit or not name.isprintable():
        errors.append(
            FieldError("name", "asset.draft_name", f"Enter a name of up to {limit} characters.")
        )
    if errors:
        raise ValidationFailed(errors, detail=f"{len(errors)} field(s) are not valid.")
    body["category"] = category
    return name, category, body


def _registrant(acting: Acting) -> int:
    if acting.participant_pk is None or acting.role is None:
        raise DomainError(
            code="asset.registrant_required",
            detail="Assets are registered by a participant role: act for one.",
        )
    return acting.participant_pk


@transaction.atomic
def save_draft(
    acting: Acting, record: Mapping[str, Any], catalogue: Catalogue | None = None
) -> Asset:
    """Save a registration to finish later: a draft with a permanent Asset ID."""
    permissions.require(acting, REGISTER)
    registrant_pk = _registrant(acting)
    name, category, body = _draft_fields(record, catalogue or current_catalogue(), acting.role)
    now = timezone.now()
    for _ in range(5):
        try:
            with transaction.atomic():
                asset = Asset.objects.create(
                    asset_id=str(new_asset_id()),
                    status=AssetStatus.DRAFT,
                    name=name,
                    category=category,
                    draft_record=body,
                    registered_by_id=registrant_pk,
                    registered_by_role=acting.role or "",
                    created_by_id=acting.user_id,
                    created_at=now,
                    updated_at=now,
                )
            break
        except IntegrityError:  # an Asset ID clash (random IDs): draw again
            continue
    else:
        raise RuntimeError("could not allocate a unique Asset ID")
    _audit(acting, asset, "asset.draft_saved", None, {"category": category, "name": name})
    return asset


@transaction.atomic
def update_draft(
    acting: Acting, asset_id: str, record: Mapping[str, Any], catalogue: Catalogue | None = None
) -> Asset:
    """Replace a draft's record (the whole record, as entered)."""
    permissions.require(acting, REGISTER)
    _registrant(acting)
    draft = selectors.own_draft_for_update(acting, asset_id)
    name, category, body = _draft_fields(record, catalogue or current_catalogue(), acting.role)
    before = {"category": draft.category, "name": draft.name}
    draft.name, draft.category, draft.draft_record = name, category, body
    draft.updated_at = timezone.now()
    draft.version += 1
    draft.save(update_fields=["name", "category", "draft_record", "updated_at", "version"])
    _audit(acting, draft, "asset.draft_updated", before, {"category": category, "name": name})
    return draft


@transaction.atomic
def discard_draft(acting: Acting, asset_id: str) -> Asset:
    """Discard a draft: it ends ``rejected`` (its Asset ID is never reused), its record gone."""
    permissions.require(acting, REGISTER)
    _registrant(acting)
    draft = selectors.own_draft_for_update(acting, asset_id)
    draft.status = LIFECYCLE.target(draft.status, "discard")
    draft.status_reason = "Discarded by the registrant before it was submitted."
    draft.draft_record = {}
    draft.updated_at = timezone.now()
    draft.version += 1
    draft.save(update_fields=["status", "status_reason", "draft_record", "updated_at", "version"])
    _audit(acting, draft, "asset.draft_discarded", {"status": "draft"}, {"status": draft.status})
    return draft


# --- decommissioning --------------------------------------------------------------------------


def reason_errors(raw: str) -> tuple[str, list[FieldError]]:
    """A reason kept with the asset's history (and told to its parties): plain text of up to
    ``REASON_MAX`` characters, lines allowed (a browser sends them as CRLF)."""
    reason = (raw or "").replace("\r\n", "\n").strip()
    if not reason:
        return "", [
            FieldError(
                "reason",
                "asset.reason_required",
                "Enter the reason (it is kept with the asset's history).",
            )
        ]
    if len(reason) > REASON_MAX or not reason.replace("\n", " ").isprintable():
        message = f"Use up to {REASON_MAX} characters of text."
        return "", [FieldError("reason", "asset.reason_invalid", message)]
    return reason, []


def checked_reason(raw: str) -> str:
    """The reason, or 422 (``asset.reason_required``, ``asset.reason_invalid``)."""
    reason, errors = reason_errors(raw)
    if errors:
        raise ValidationFailed(errors)
    return reason


@transaction.atomic
def decommission(acting: Acting, asset_id: str, on: dt.date, reason: str) -> Asset:
    """The asset is no longer in service from ``on`` (today or earlier). Its checks still
    waiting are skipped and its flags resolved; its links stay (the parties keep its record);
    it keeps its serial, EIC and external IDs (it is not registered again) but frees its
    meter for a replacement."""
    if not (acting.has(REGISTER) or acting.has(REVIEW)):
        raise PermissionDenied(REGISTER)
    asset = selectors.for_update(acting, asset_id)
    target = LIFECYCLE.target(asset.status, "decommission")
    if not selectors.may_maintain(acting, asset):
        raise DomainError(
            code="asset.not_linked",
            detail="Only a party linked to the asset (owner, operator, provider) or the central "
            "operator may decommission it.",
            status=403,
            title="Forbidden",
        )
    reason, errors = reason_errors(reason)
    today = timezone.localdate()
    if on > today:
        errors.append(
            FieldError(
                "on", "asset.decommission_in_future", "Enter a date that is today or in the past."
            )
        )
    if asset.commissioning_date is not None and on < asset.commissioning_date:
        errors.append(
            FieldError(
                "on",
                "asset.decommission_before_commissioning",
                "Enter a date on or after the asset's commissioning date "
                f"({asset.commissioning_date:%-d %B %Y}).",
            )
        )
    if errors:
        raise ValidationFailed(errors)
    before = asset.status
    asset.status = target
    now = timezone.now()
    told = _linked_participants(asset, now)
    # Only the checks no worker is running now (a running one locks its row, then the asset:
    # waiting for it here would deadlock); it concludes after this commits and leaves a
    # decommissioned asset as it is.
    waiting = list(
        AssetCheck.objects.select_for_update(skip_locked=True)
        .filter(asset=asset, status__in=[AssetCheck.Status.PENDING, AssetCheck.Status.ERROR])
        .values_list("pk", flat=True)
    )
    AssetCheck.objects.filter(pk__in=waiting).update(
        status=AssetCheck.Status.SKIPPED,
        next_attempt_at=None,
        finished_at=now,
        outcome={"detail": "Not run: the asset was decommissioned."},
    )
    DuplicateFlag.objects.filter(asset=asset, resolved_at__isnull=True).update(resolved_at=now)
    asset.status_reason = reason
    asset.decommissioned_on = on
    asset.updated_at = now
    asset.version += 1
    asset.save(
        update_fields=["status", "status_reason", "decommissioned_on", "updated_at", "version"]
    )
    _audit(
        acting,
        asset,
        "asset.decommissioned",
        {"status": before},
        {"status": asset.status, "on": on.isoformat(), "reason": reason},
    )
    transaction.on_commit(lambda: _tell(asset, told, acting), robust=True)
    return asset


@transaction.atomic
def recommission(acting: Acting, asset_id: str, reason: str) -> Asset:
    """The central operator puts back in service an asset decommissioned by mistake: it goes
    to ``pending_validation`` and its authenticity checks run again. Refused (409) when a
    replacement has taken its meter meanwhile."""
    permissions.require(acting, REVIEW)
    asset = selectors.for_update(acting, asset_id)
    reason = checked_reason(reason)
    before = asset.status
    asset.status = LIFECYCLE.target(before, "recommission")
    asset.status_reason = reason
    asset.decommissioned_on = None
    asset.updated_at = timezone.now()
    asset.version += 1
    try:
        with transaction.atomic():
            asset.save(
                update_fields=[
                    *("status", "status_reason", "decommissioned_on", "updated_at", "version")
                ]
            )
    except IntegrityError as exc:
        raise DomainError(
            code="asset.meter_taken",
            detail="Another asset of this category without a serial number is now registered at "
            "its meter: it cannot be put back in service.",
            status=409,
            title="Conflict with the current state",
        ) from exc
    AssetCheck.objects.filter(asset=asset).delete()  # evidence stays in the audit log
    _audit(acting, asset, "asset.recommissioned", {"status": before}, {"status": asset.status})
    pk = asset.pk

    def start() -> None:
        from flexreg.assets import authenticity

        authenticity.start(pk)

    transaction.on_commit(start, robust=True)
    return asset


def _linked_participants(asset: Asset, now: dt.datetime) -> list[int]:
    return sorted(
        set(
            AssetLink.objects.filter(asset=asset, valid_during__contains=now).values_list(
                "participant_id", flat=True
            )
        )
        | {asset.registered_by_id}
    )


def _tell(asset: Asset, participant_pks: list[int], acting: Acting) -> None:
    """Tell each party linked to the asset (its members who see assets), not the actor."""
    from flexreg.notifications.services import notify
    from flexreg.participants import selectors_recipients
    from flexreg.participants.models import ParticipantRole

    users: set[int] = set()
    for held in ParticipantRole.objects.filter(participant_id__in=participant_pks):
        users.update(selectors_recipients.role_members(held, "assets:read"))
    users.discard(acting.user_id or 0)
    notify(
        DECOMMISSIONED_KIND,
        sorted(users),
        subject=f"Asset decommissioned: {asset.name} ({asset.asset_id})",
        context={
            "asset_id": asset.asset_id,
            "asset_name": asset.name,
            "on": asset.decommissioned_on,
            "reason": asset.status_reason,
        },
        link=f"/assets/{asset.asset_id}/",
        dedupe_key=f"{DECOMMISSIONED_KIND}:{asset.asset_id}:{asset.version}",
    )


def _audit(
    acting: Acting,
    asset: Asset,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any],
) -> None:
    audit.record(
        acting,
        action,
        object_type="asset",
        object_id=asset.asset_id,
        subject_participant_id=asset.registered_by.participant_id,
        before=before,
        after=after,
    )
