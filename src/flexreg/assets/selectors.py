"""Every read of assets, scoped to what the acting membership may see.

A caller sees the assets its participant is linked to now (legal owner, operator, controller,
a suspended link included) or registered; oversight (``assets:read_all``) sees every asset.
An asset the caller may not see answers 404 (``NotFound``), never 403, so IDs cannot be probed.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Concat
from django.utils import timezone

from flexreg.assets import conformance, rules
from flexreg.assets.models import (
    Asset,
    AssetCheck,
    AssetExternalId,
    AssetLink,
    AssetStatus,
    DuplicateFlag,
)
from flexreg.core.acting import Acting
from flexreg.core.errors import DomainError, NotFound
from flexreg.identifiers import AssetId

#: What the full view reads of a link (its participant's Participant ID only) and of a flag
#: (the candidate's Asset ID only).
_LINK_FIELDS = (
    *("asset", "public_id", "participant", "relationship", "contract_reference"),
    *("consent_reference", "valid_during", "suspended_at", "suspended_reason", "created_at"),
    "participant__participant_id",
)
_FLAG_FIELDS = (
    *("asset", "candidate", "rule", "detail", "created_at", "resolved_at"),
    "candidate__asset_id",
)

READ = "assets:read"
READ_ALL = "assets:read_all"
MAX_PAGE = 100


def may_read(acting: Acting) -> bool:
    return acting.is_authenticated and (acting.has(READ) or acting.has(READ_ALL))


def _current_links(participant_pk: int) -> QuerySet[AssetLink]:
    return AssetLink.objects.filter(
        participant_id=participant_pk, valid_during__contains=timezone.now()
    )


def _with_detail(qs: QuerySet[Asset]) -> QuerySet[Asset]:
    return qs.select_related("registered_by").prefetch_related(
        Prefetch("external_ids", queryset=AssetExternalId.objects.order_by("scheme", "value")),
        Prefetch(
            "links",
            queryset=AssetLink.objects.select_related("participant")
            .only(*_LINK_FIELDS)
            .order_by("created_at", "pk"),
        ),
        Prefetch("checks", queryset=AssetCheck.objects.order_by("validator")),
        Prefetch(
            "duplicate_flags",
            queryset=DuplicateFlag.objects.select_related("candidate")
            .only(*_FLAG_FIELDS)
            .order_by("created_at", "pk"),
        ),
    )


def _linked(participant_pk: int | None) -> Exists | Value:
    if participant_pk is None:
        return Value(False)
    return Exists(_current_links(participant_pk).filter(asset_id=OuterRef("pk")))


def visible(acting: Acting) -> QuerySet[Asset]:
    """Assets the caller may read, each annotated ``is_linked`` (a current link of the acting
    participant: the policy's full view). A per-row test: narrow it by an indexed filter
    (Asset ID, keys) first; lists go through :func:`page`."""
    if not may_read(acting):
        return Asset.objects.none()
    pk = acting.participant_pk
    qs = Asset.objects.annotate(is_linked=_linked(pk))
    if acting.has(READ_ALL):
        # Drafts (and discarded drafts, never submitted: no effective_from) are their
        # registrant's work in progress: not even oversight sees them.
        return qs.filter(Q(effective_from__isnull=False) | Q(registered_by_id=pk))
    if pk is None:
        return Asset.objects.none()
    return qs.filter(Q(registered_by_id=pk) | Q(is_linked=True))


def for_update(acting: Acting, asset_id: str, *, no_key: bool = False) -> Asset:
    """An asset the caller may see, locked for a change (``SELECT ... FOR UPDATE``); 404
    otherwise. Whether the caller may change it is the service's rule.

    ``no_key``: ``FOR NO KEY UPDATE`` instead, for a change to the asset's links: it still
    serialises such changes with each other and with the asset's own, but not with a
    transaction that only references the asset (a link inserted elsewhere checks its deferred
    foreign key at commit with ``FOR KEY SHARE``; under ``FOR UPDATE`` that writer and this
    one would deadlock on the exclusion constraint instead of one of them answering 409)."""
    found = (
        visible(acting)
        .select_related("registered_by")
        .select_for_update(of=("self",), no_key=no_key)
        .filter(asset_id=normalise_asset_id(asset_id))
        .first()
    )
    if found is None:
        raise NotFound(f"No asset {asset_id[:40]} that you may see.")
    return found


def own_draft_record(acting: Acting, asset_id: str) -> Mapping[str, Any] | None:
    """The record of the acting participant's draft, read without a lock (None when there is
    no such draft: the transaction that locks it then says why)."""
    record = (
        Asset.objects.filter(
            asset_id=normalise_asset_id(asset_id),
            registered_by_id=acting.participant_pk,
            status=AssetStatus.DRAFT,
        )
        .values_list("draft_record", flat=True)
        .first()
    )
    return record if isinstance(record, Mapping) else None


def may_maintain(acting: Acting, asset: Asset) -> bool:
    """Whether the caller may change an asset it sees (decommission it): the central operator
    (``assets:review``), or a party linked to it now, not suspended, acting with
    ``assets:register``."""
    if acting.has("assets:review"):
        return True
    if not acting.has("assets:register") or acting.participant_pk is None:
        return False
    return AssetLink.objects.filter(
        asset=asset,
        participant_id=acting.participant_pk,
        valid_during__contains=timezone.now(),
        suspended_at__isnull=True,
    ).exists()


def own_draft_for_update(acting: Acting, asset_id: str) -> Asset:
    """A draft the acting participant saved, locked; 404 if there is none it may see, 409
    (``asset.not_a_draft``) if it is no longer a draft."""
    found = (
        Asset.objects.select_related("registered_by")
        .select_for_update(of=("self",))
        .filter(asset_id=normalise_asset_id(asset_id), registered_by_id=acting.participant_pk)
        .first()
    )
    if found is None or acting.participant_pk is None:
        raise NotFound(f"No draft {asset_id} of yours.")
    if found.status != AssetStatus.DRAFT:
        raise DomainError(
            code="asset.not_a_draft",
            detail=f"Asset {found.asset_id} is {found.status}, not a draft: it was submitted "
            "or discarded already.",
            status=409,
            title="Conflict with the current state",
        )
    return found


def normalise_asset_id(asset_id: str) -> str:
    return str(asset_id).strip().upper()


def asset_for(acting: Acting, asset_id: str) -> Asset:
    """One asset the caller may see, with its links, checks and flags; 404 otherwise."""
    found = _with_detail(visible(acting)).filter(asset_id=normalise_asset_id(asset_id)).first()
    if found is None:
        raise NotFound(f"No asset {asset_id} that you may see.")
    return found


def as_registered(acting: Acting, asset: Asset) -> Asset:
    """An asset the caller just registered, re-read with what its full view shows (the
    registrant is linked, whatever read permissions its membership holds)."""
    linked = _linked(acting.participant_pk)
    return _with_detail(Asset.objects.annotate(is_linked=linked)).get(pk=asset.pk)


def visible_pks(acting: Acting, pks: Iterable[int]) -> set[int]:
    """Which of these assets the caller may see (one query)."""
    wanted = set(pks)
    if not wanted:
        return set()
    return set(visible(acting).filter(pk__in=wanted).values_list("pk", flat=True))


# --- lists ------------------------------------------------------------------------------------


def _encode(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def cursor_key(cursor: str) -> str | None:
    """The Asset ID a page cursor stands for, or None when it is not a cursor this list gave
    out (not base64, or not a well-formed Asset ID: a NUL byte or any other text would reach
    the database as the key). The API refuses such a cursor (422 ``cursor_invalid``); the
    portal starts from the first page."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return str(AssetId.parse(raw))
    except (ValueError, UnicodeDecodeError):  # IdentifierError is a ValueError
        return None


def _search(qs: QuerySet[Asset], q: str) -> QuerySet[Asset]:
    term = q.strip()
    if not term:
        return qs
    match = Q(name__icontains=term) | Q(asset_id=term.upper())
    key = conformance.serial_key(term)
    if key:
        match |= Q(serial_key=key)
    return qs.filter(match)


def _filtered(
    qs: QuerySet[Asset],
    *,
    status: str | None,
    category: str | None,
    postcode: str | None,
    mpan: str | None,
    q: str | None,
    cursor: str | None,
) -> QuerySet[Asset]:
    if status:
        qs = qs.filter(status=status)
    if category:
        qs = qs.filter(category=category)
    if postcode:
        qs = qs.filter(postcode=postcode)
    if mpan:
        qs = qs.filter(Q(import_mpan=mpan) | Q(export_mpan=mpan))
    if q:
        qs = _search(qs, q)
    after = cursor_key(cursor) if cursor else None
    if after is not None:
        qs = qs.filter(asset_id__gt=after)
    return qs


def _page_keys(
    acting: Acting, qs: QuerySet[Asset], size: int, *, selective: bool
) -> list[tuple[str, int]]:
    """(Asset ID, pk) of the next ``size`` visible assets. Not one query with an OR (which
    PostgreSQL can only answer by scanning): the assets the participant registered (index
    ``asset_registrant``) and those it is linked to now are each read in Asset ID order (each
    branch's plan follows its own statistics), then merged. With a ``selective`` filter
    (postcode, MPAN: indexed) the order is by an expression, so PostgreSQL reads the few
    matching rows through the filter's index and sorts them rather than walking the Asset ID
    index in the hope of meeting them."""
    order: Any = Concat(F("asset_id"), Value("")) if selective else "asset_id"
    if acting.has(READ_ALL):
        mine_or_submitted = Q(effective_from__isnull=False) | Q(
            registered_by_id=acting.participant_pk
        )
        return list(
            qs.filter(mine_or_submitted).order_by(order).values_list("asset_id", "pk")[:size]
        )
    pk = acting.participant_pk
    if pk is None:
        return []
    own = qs.filter(registered_by_id=pk)
    linked = qs.filter(_linked(pk))
    keys = {
        *own.order_by(order).values_list("asset_id", "pk")[:size],
        *linked.order_by(order).values_list("asset_id", "pk")[:size],
    }
    return sorted(keys)[:size]


def page(
    acting: Acting,
    *,
    status: str | None = None,
    category: str | None = None,
    postcode: str | None = None,
    mpan: str | None = None,
    q: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Asset], str | None]:
    """A keyset-paginated page of the caller's assets, ordered by Asset ID (random: no
    enumeration). Filters are already normalised (schemas)."""
    if not may_read(acting):
        return [], None
    limit = max(1, min(limit, MAX_PAGE))
    qs = _filtered(
        Asset.objects.all(),
        status=status,
        category=category,
        postcode=postcode,
        mpan=mpan,
        q=q,
        cursor=cursor,
    )
    keys = _page_keys(acting, qs, limit + 1, selective=bool(postcode or mpan))
    rows = list(
        _with_detail(Asset.objects.annotate(is_linked=_linked(acting.participant_pk)))
        .filter(pk__in=[pk for _, pk in keys[:limit]])
        .order_by("asset_id")
    )
    next_cursor = _encode(keys[limit - 1][0]) if len(keys) > limit else None
    return rows, next_cursor


# --- lookup before registering ----------------------------------------------------------------


@dataclass(frozen=True)
class LookupKeys:
    """Normalised keys to look up (schemas normalise them with the conformance helpers)."""

    mpan: str | None = None
    manufacturer_key: str | None = None
    serial_key: str | None = None
    external_id: tuple[str, str] | None = None
    eic: str | None = None


@dataclass(frozen=True)
class Match:
    matched_on: str  # "mpan" | "serial" | "external_id" | "eic"
    asset: Asset | None  # None: registered, but not visible to the caller


def _found(keys: LookupKeys) -> list[tuple[str, Asset]]:
    live = Asset.objects.filter(rules.LIVE)
    found: list[tuple[str, QuerySet[Asset]]] = []
    if keys.mpan:
        # A decommissioned asset frees its meter (its serial and identifiers stay claimed).
        at_meter = Asset.objects.filter(rules.IN_SERVICE)
        found.append(("mpan", at_meter.filter(Q(import_mpan=keys.mpan) | Q(export_mpan=keys.mpan))))
    if keys.serial_key:
        found.append(
            (
                "serial",
                live.filter(manufacturer_key=keys.manufacturer_key, serial_key=keys.serial_key),
            )
        )
    if keys.external_id:
        scheme, value = keys.external_id
        found.append(
            ("external_id", live.filter(external_ids__scheme=scheme, external_ids__value=value))
        )
    if keys.eic:
        found.append(("eic", live.filter(eic=keys.eic)))
    return [
        (on, asset)
        for on, qs in found
        for asset in qs.order_by("asset_id").distinct()[: rules.MAX_CANDIDATES]
    ]


def lookup(acting: Acting, keys: LookupKeys) -> list[Match]:
    """Which live assets hold these keys. Assets the caller may not see are not described:
    they collapse into one anonymous match per key."""
    found = _found(keys)
    seen = visible_pks(acting, (asset.pk for _, asset in found))
    matches: list[Match] = []
    hidden: set[str] = set()
    for on, asset in found:
        if asset.pk in seen:
            matches.append(Match(on, asset))
        elif on not in hidden:
            hidden.add(on)
            matches.append(Match(on, None))
    return matches
