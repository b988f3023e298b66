"""The central operator's queue of assets waiting for a decision (``assets:review``).

An asset waits for the operator when it is in ``query`` (an authenticity check did not pass, or
a possible duplicate was flagged) or is stuck in ``pending_validation``: still unchecked well
after its checks should have concluded (a check gives up, as ``failed``, after
``ASSET_CHECK_GIVE_UP_HOURS``; the sweep's last retry can come up to an hour later). Both are
what ``services_review.decide`` accepts.

The queue is oldest first (registration time, then Asset ID), keyset-paginated. Each status is
read as its own ordered branch over the index ``asset_status`` (status, created_at), then the
two are merged: no OR across statuses for PostgreSQL to answer by sorting every pending asset
(an import in flight holds up to 100,000 of them). A page costs five queries whatever its size:
the two branches' keys, the assets with their registrants, their checks, their open flags.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from dataclasses import dataclass
from typing import Final

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from flexreg.assets import authenticity
from flexreg.assets.models import Asset, AssetCheck, AssetStatus, DuplicateFlag
from flexreg.core import permissions
from flexreg.core.acting import Acting
from flexreg.core.errors import FieldError, ValidationFailed

REVIEW: Final = "assets:review"
DEFAULT_PAGE: Final = 50
MAX_PAGE: Final = 200
_ASSET_ID: Final = re.compile(r"[0-9A-Z-]{1,20}")
#: After the give-up limit, how long a pending asset may still wait for the sweep's last retry.
STUCK_MARGIN: Final = dt.timedelta(hours=1)

AUTHENTICITY: Final = "authenticity"
DUPLICATE: Final = "duplicate"
STUCK: Final = "stuck"
#: Why an asset waits, in the order a page shows them.
KINDS: Final = {
    AUTHENTICITY: "Checks did not pass",
    DUPLICATE: "Possible duplicate",
    STUCK: "Stuck in validation",
}
#: The checks worth the operator's attention: not passed, not skipped (still waiting included,
#: for the stuck ones).
OPEN_OR_FAILED: Final = frozenset(
    {
        AssetCheck.Status.FAILED,
        AssetCheck.Status.NOT_FOUND,
        AssetCheck.Status.ERROR,
        AssetCheck.Status.PENDING,
    }
)


@dataclass(frozen=True)
class QueueItem:
    asset: Asset  # with ``registered_by``
    kinds: tuple[str, ...]  # codes of KINDS, in its order
    checks: list[AssetCheck]  # not passed nor skipped, by validator
    candidates: list[DuplicateFlag]  # open flags, with ``candidate``, oldest first


@dataclass(frozen=True)
class QueuePage:
    items: list[QueueItem]
    next_cursor: str | None


def stuck_after() -> dt.timedelta:
    """How long a pending asset waits, registered and unchanged, before it counts as stuck."""
    return authenticity.give_up_after() + STUCK_MARGIN


def stuck_before(now: dt.datetime) -> dt.datetime:
    """A pending asset registered and unchanged since before this is stuck."""
    return now - stuck_after()


def _encode(created_at: dt.datetime, asset_id: str) -> str:
    raw = f"{created_at.isoformat()}|{asset_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[dt.datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, asset_id = raw.split("|", 1)
        since = dt.datetime.fromisoformat(when)
        if since.tzinfo is None or not _ASSET_ID.fullmatch(asset_id):
            raise ValueError("not a cursor")
        return since, asset_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed(
            [FieldError("cursor", "cursor_invalid", "This page link is not valid: start again.")]
        ) from None


def _after(qs: QuerySet[Asset], cursor: str | None) -> QuerySet[Asset]:
    if not cursor:
        return qs
    since, asset_id = _decode(cursor)
    # The ``>=`` bounds the index range; the OR only breaks ties at the cursor's instant.
    return qs.filter(created_at__gte=since).filter(
        Q(created_at__gt=since) | Q(asset_id__gt=asset_id)
    )


def _keys(qs: QuerySet[Asset], size: int) -> list[tuple[dt.datetime, str, int]]:
    return list(
        qs.order_by("created_at", "asset_id").values_list("created_at", "asset_id", "pk")[:size]
    )


def review_queue(
    acting: Acting,
    *,
    kind: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE,
    now: dt.datetime | None = None,
) -> QueuePage:
    """A page of the assets waiting for the operator's decision, oldest first. ``kind`` (one
    of KINDS) narrows it: failing checks, open duplicate flags, or stuck in validation."""
    permissions.require(acting, REVIEW)
    if kind is not None and kind not in KINDS:
        raise ValidationFailed([FieldError("kind", "kind_invalid", "Choose a kind of query.")])
    size = max(1, min(limit, MAX_PAGE)) + 1
    keys: list[tuple[dt.datetime, str, int]] = []
    if kind != STUCK:
        queried = _after(Asset.objects.filter(status=AssetStatus.QUERY), cursor)
        if kind == AUTHENTICITY:
            failing = AssetCheck.objects.filter(
                asset_id=OuterRef("pk"), status__in=authenticity.PROBLEMS
            )
            queried = queried.filter(Exists(failing))
        elif kind == DUPLICATE:
            flagged = DuplicateFlag.objects.filter(
                asset_id=OuterRef("pk"), resolved_at__isnull=True
            )
            queried = queried.filter(Exists(flagged))
        keys += _keys(queried, size)
    if kind in (None, STUCK):
        before = stuck_before(now or timezone.now())
        stuck = Asset.objects.filter(
            status=AssetStatus.PENDING_VALIDATION, created_at__lt=before, updated_at__lt=before
        )
        keys += _keys(_after(stuck, cursor), size)
    keys.sort()
    page_keys = keys[: size - 1]
    next_cursor = _encode(*page_keys[-1][:2]) if len(keys) >= size else None
    assets = (
        Asset.objects.filter(pk__in=[pk for _, _, pk in page_keys])
        .select_related("registered_by")
        .prefetch_related(
            Prefetch(
                "checks",
                queryset=AssetCheck.objects.filter(status__in=OPEN_OR_FAILED).order_by("validator"),
                to_attr="checks_to_review",
            ),
            Prefetch(
                "duplicate_flags",
                queryset=DuplicateFlag.objects.filter(resolved_at__isnull=True)
                .select_related("candidate")
                .only(
                    *("asset", "candidate", "rule", "detail", "created_at", "resolved_at"),
                    "candidate__asset_id",
                )
                .order_by("created_at", "pk"),
                to_attr="open_flags",
            ),
        )
        .order_by("created_at", "asset_id")
    )
    return QueuePage([_item(a) for a in assets], next_cursor)


def _item(asset: Asset) -> QueueItem:
    checks: list[AssetCheck] = asset.checks_to_review  # type: ignore[attr-defined]
    flags: list[DuplicateFlag] = asset.open_flags  # type: ignore[attr-defined]
    kinds = []
    if any(c.status in authenticity.PROBLEMS for c in checks):
        kinds.append(AUTHENTICITY)
    if flags:
        kinds.append(DUPLICATE)
    if asset.status == AssetStatus.PENDING_VALIDATION:
        kinds.append(STUCK)
    return QueueItem(asset=asset, kinds=tuple(kinds), checks=checks, candidates=flags)
