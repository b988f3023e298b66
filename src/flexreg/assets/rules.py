"""Named duplicate rules for asset registration (docs/decisions/0015-asset-duplicates.md).

Exact rules say the same physical asset is registered already (the service answers 409
``asset.duplicate``); each is backed by a unique index on ``Asset`` or ``AssetExternalId``:

- ``serial``: manufacturer + serial number (normalised keys from conformance);
- ``eic``: the EIC (W code);
- ``external_id``: an external identifier of a scheme that names one asset (OCPP charge point);
- ``meter``: MPAN core + category, for assets registered without a serial number.

Near rules flag a possible duplicate (the registration goes to ``query`` with the candidates
listed), never merge:

- ``near_location``: same category, similar installed capacity, and the same postcode or (both
  with coordinates) within a configurable distance;
- ``similar_serial``: same manufacturer and site (postcode or a shared MPAN core), serial one
  edit away (a character changed, added, removed, or two neighbours swapped).

Every rule counts live assets only: a rejected asset or a draft never blocks or flags a
registration; a decommissioned asset keeps its serial, EIC and external IDs but no longer
counts at its site (meter and near rules), so a replacement can be registered.
:func:`lock_keys` serialises registrations that share a key (transaction-scoped advisory locks
taken in one order), so of two concurrent registrations of one asset the second waits, then
sees the first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from django.conf import settings
from django.db import connection
from django.db.models import F, FloatField, Q, QuerySet, Value
from django.db.models.functions import ASin, Cast, Cos, Power, Radians, Sin, Sqrt

from flexreg.assets.catalogue import Catalogue
from flexreg.assets.conformance import CleanAsset
from flexreg.assets.models import Asset, AssetExternalId, AssetStatus

#: First key of every advisory lock the asset rules take ("FLXA"): a key space of its own.
LOCK_NAMESPACE: Final = 0x464C_5841
#: At most this many candidates are listed per near rule.
MAX_CANDIDATES: Final = 20
#: At most this many assets of one manufacturer at one site are compared by serial.
SITE_CANDIDATES: Final = 1000
EARTH_RADIUS_M: Final = 6_371_000.0
METRES_PER_DEGREE: Final = 111_320.0
DEFAULT_NEAR_CAPACITY_PCT: Final = Decimal("10")
DEFAULT_NEAR_METRES: Final = 100.0
#: Assets whose keys are claimed (serial, EIC, external IDs): not rejected, not a draft.
LIVE: Final = ~Q(status__in=[AssetStatus.REJECTED, AssetStatus.DRAFT])
#: Assets in service at their site (meter rule, near rules): live and not decommissioned.
IN_SERVICE: Final = LIVE & ~Q(status=AssetStatus.DECOMMISSIONED)


@dataclass(frozen=True)
class Collision:
    """An exact duplicate: the existing asset and the rule (and field) it collided on."""

    rule: str
    field: str
    asset_pk: int
    asset_id: str


@dataclass(frozen=True)
class NearMatch:
    """A possible duplicate to flag."""

    rule: str
    candidate_pk: int
    detail: dict[str, Any] = field(default_factory=dict)


# --- locks ------------------------------------------------------------------------------------


#: GB's northernmost latitude is under 61°: a degree of longitude there is at least this
#: share of a degree of latitude, so a cell this many times wider than tall is never narrower
#: than the near distance anywhere in GB.
_MIN_COS_LATITUDE: Final = math.cos(math.radians(61.0))


def lock_keys(asset: CleanAsset, catalogue: Catalogue) -> list[str]:
    """The normalised keys two registrations of one asset share, sorted (``lock`` takes them
    in the order of their hashes).

    Exact rules: each MPAN core, manufacturer + serial, EIC, unique external IDs. Near rules,
    so that two near matches registered at once are still flagged (the second sees the first):
    the site (``site:<postcode>``: the same postcode, and near-identical serials at a site,
    whatever the category; a site sharing a meter shares its ``mpan:`` key) and, for an asset
    with coordinates, the cells around its position (:func:`cells_around`)."""
    keys = {f"mpan:{core}" for core in asset.mpan_cores}
    if asset.serial_key:
        keys.add(f"serial:{asset.manufacturer_key}:{asset.serial_key}")
    if asset.eic:
        keys.add(f"eic:{asset.eic}")
    keys.update(
        f"external:{scheme}:{value}" for scheme, value in unique_external_ids(asset, catalogue)
    )
    keys.add(f"site:{asset.postcode}")
    if asset.latitude is not None and asset.longitude is not None:
        lat, lon = float(asset.latitude), float(asset.longitude)
        keys.update(f"cell:{asset.category}:{i}:{j}" for i, j in cells_around(lat, lon))
    return sorted(keys)


def cells_around(latitude: float, longitude: float) -> list[tuple[int, int]]:
    """The grid cell of a position and its eight neighbours. A cell is at least the near
    distance across (:func:`near_metres`) everywhere in GB, so two assets within that
    distance of each other are in the same or neighbouring cells, and each one's nine cells
    include the other's own: two registrations that the distance rule would match share a
    lock."""
    height = near_metres() / METRES_PER_DEGREE
    width = height / _MIN_COS_LATITUDE
    row, column = math.floor(latitude / height), math.floor(longitude / width)
    return [(row + i, column + j) for i in (-1, 0, 1) for j in (-1, 0, 1)]


def lock(keys: Iterable[str]) -> None:
    """Take a transaction-scoped advisory lock per key (one round trip), in the order of
    their hashes, the same in every transaction: no two registrations wait for each other
    in a cycle."""
    ordered = list(keys)
    if not ordered:
        return
    with connection.cursor() as cur:
        cur.execute(
            # In the order of the locks themselves (the keys' hashes), whatever the keys: two
            # keys of one hash are one lock, taken once.
            "SELECT count(pg_advisory_xact_lock(%s, h)) FROM "
            "(SELECT DISTINCT hashtext(k) AS h FROM unnest(%s::text[]) AS k ORDER BY h) AS s",
            [LOCK_NAMESPACE, ordered],
        )


# --- exact rules ------------------------------------------------------------------------------


def unique_external_ids(asset: CleanAsset, catalogue: Catalogue) -> list[tuple[str, str]]:
    schemes = catalogue.external_id_schemes
    return [(s, v) for s, v in asset.external_ids if s in schemes and schemes[s].unique]


def _live() -> QuerySet[Asset]:
    return Asset.objects.filter(LIVE)


def _in_service() -> QuerySet[Asset]:
    return Asset.objects.filter(IN_SERVICE)


def serial_taken(asset: CleanAsset) -> list[Collision]:
    if not asset.serial_key:
        return []
    found = _live().filter(
        manufacturer_key=asset.manufacturer_key or "", serial_key=asset.serial_key
    )
    return [Collision("serial", "serial_number", pk, aid) for pk, aid in _ids(found)]


def eic_taken(asset: CleanAsset) -> list[Collision]:
    if not asset.eic:
        return []
    return [Collision("eic", "eic", pk, aid) for pk, aid in _ids(_live().filter(eic=asset.eic))]


def external_ids_taken(asset: CleanAsset, catalogue: Catalogue) -> list[Collision]:
    wanted = unique_external_ids(asset, catalogue)
    if not wanted:
        return []
    match = Q()
    for scheme, value in wanted:
        match |= Q(scheme=scheme, value=value)
    rows = (
        AssetExternalId.objects.filter(match, is_unique=True, claimed=True)
        .exclude(asset__status__in=[AssetStatus.REJECTED, AssetStatus.DRAFT])
        .order_by("asset__asset_id")
        .values_list("asset_id", "asset__asset_id", "scheme", "value")[:MAX_CANDIDATES]
    )
    index = {(e.scheme, e.value): i for i, e in enumerate(asset.external_ids)}
    return [
        Collision("external_id", f"external_ids.{index.get((s, v), 0)}", pk, aid)
        for pk, aid, s, v in rows
    ]


def meter_taken(asset: CleanAsset) -> list[Collision]:
    """An asset without a serial number: one of its category per meter (import MPAN, or the
    export MPAN when it has no import MPAN)."""
    if asset.serial_key:
        return []
    if asset.import_mpan:
        where, path = Q(import_mpan=asset.import_mpan), "metering.import_mpan"
    elif asset.export_mpan:
        where, path = (
            Q(import_mpan__isnull=True, export_mpan=asset.export_mpan),
            "metering.export_mpan",
        )
    else:
        return []
    found = _in_service().filter(where, serial_key="", category=asset.category)
    return [Collision("meter", path, pk, aid) for pk, aid in _ids(found)]


def exact_duplicates(asset: CleanAsset, catalogue: Catalogue) -> list[Collision]:
    """Every exact rule the asset breaks (empty: it is not registered yet)."""
    return [
        *serial_taken(asset),
        *eic_taken(asset),
        *external_ids_taken(asset, catalogue),
        *meter_taken(asset),
    ]


def _ids(qs: QuerySet[Asset]) -> list[tuple[int, str]]:
    return list(qs.order_by("asset_id").values_list("pk", "asset_id")[:MAX_CANDIDATES])


# --- near rules -------------------------------------------------------------------------------


def capacity_band(installed_kw: Decimal) -> tuple[Decimal, Decimal]:
    pct = Decimal(str(getattr(settings, "ASSET_NEAR_CAPACITY_PCT", DEFAULT_NEAR_CAPACITY_PCT)))
    spread = installed_kw * pct / 100
    return installed_kw - spread, installed_kw + spread


def near_metres() -> float:
    return float(getattr(settings, "ASSET_NEAR_METRES", DEFAULT_NEAR_METRES))


def _similar(asset: CleanAsset) -> QuerySet[Asset]:
    low, high = capacity_band(asset.installed_kw)
    return _in_service().filter(
        category=asset.category, installed_kw__gte=low, installed_kw__lte=high
    )


def same_postcode(asset: CleanAsset) -> list[NearMatch]:
    rows = (
        _similar(asset)
        .filter(postcode=asset.postcode)
        .order_by("created_at", "pk")
        .values_list("pk", "installed_kw")[:MAX_CANDIDATES]
    )
    return [
        NearMatch("near_location", pk, {"postcode": asset.postcode, "installed_kw": str(kw)})
        for pk, kw in rows
    ]


def distance_m(latitude: float, longitude: float) -> Any:
    """The haversine distance in metres from a point to each row's coordinates (SQL)."""
    lat = Cast(F("latitude"), FloatField())
    lon = Cast(F("longitude"), FloatField())
    half_dlat = Sin(Radians(lat - Value(latitude)) / 2)
    half_dlon = Sin(Radians(lon - Value(longitude)) / 2)
    a = Power(half_dlat, 2) + Value(math.cos(math.radians(latitude))) * Cos(Radians(lat)) * Power(
        half_dlon, 2
    )
    return Value(2 * EARTH_RADIUS_M) * ASin(Sqrt(a))


def within_distance(asset: CleanAsset) -> list[NearMatch]:
    """Assets elsewhere (another postcode) within the distance: a bounding box, then the
    haversine distance."""
    if asset.latitude is None or asset.longitude is None:
        return []
    metres = near_metres()
    lat, lon = float(asset.latitude), float(asset.longitude)
    dlat = metres / METRES_PER_DEGREE
    dlon = metres / (METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
    rows = (
        _similar(asset)
        .exclude(postcode=asset.postcode)
        .filter(
            latitude__gte=Decimal(str(lat - dlat)),
            latitude__lte=Decimal(str(lat + dlat)),
            longitude__gte=Decimal(str(lon - dlon)),
            longitude__lte=Decimal(str(lon + dlon)),
        )
        .annotate(distance=distance_m(lat, lon))
        .filter(distance__lte=metres)
        .order_by("distance", "pk")
        .values_list("pk", "installed_kw", "distance")[:MAX_CANDIDATES]
    )
    return [
        NearMatch("near_location", pk, {"distance_m": round(d, 1), "installed_kw": str(kw)})
        for pk, kw, d in rows
    ]


def one_edit_apart(a: str, b: str) -> bool:
    """Whether ``b`` is ``a`` with one edit: a character changed, added or removed, or two
    neighbours swapped (not the same string)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    if len(a) == len(b):
        if a[head + 1 :] == b[head + 1 :]:
            return True  # changed
        swapped = a[head : head + 2] == b[head : head + 2][::-1]
        return swapped and a[head + 2 :] == b[head + 2 :]
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return longer[head + 1 :] == shorter[head:]  # added or removed


def same_site(asset: CleanAsset) -> Q:
    """The same postcode, or a shared MPAN core."""
    site = Q(postcode=asset.postcode)
    cores = list(asset.mpan_cores)
    if cores:
        site |= Q(import_mpan__in=cores) | Q(export_mpan__in=cores)
    return site


def similar_serial(asset: CleanAsset) -> list[NearMatch]:
    """Same manufacturer and site (postcode or meter), serial one edit away. Not across
    sites: manufacturers number serials in sequence, so most serials have a neighbour one
    edit away somewhere (decision 0015)."""
    if not asset.serial_key:
        return []
    rows = (
        _in_service()
        .filter(same_site(asset), manufacturer_key=asset.manufacturer_key or "")
        .exclude(serial_key="")
        .order_by("serial_key", "pk")
        .values_list("pk", "serial_key", "serial_number")[:SITE_CANDIDATES]
    )
    found = [
        NearMatch("similar_serial", pk, {"serial_number": serial})
        for pk, key, serial in rows
        if one_edit_apart(asset.serial_key, key)
    ]
    return found[:MAX_CANDIDATES]


def near_matches(asset: CleanAsset) -> list[NearMatch]:
    """Every possible duplicate (one per candidate and rule)."""
    found = [*same_postcode(asset), *within_distance(asset), *similar_serial(asset)]
    seen: set[tuple[str, int]] = set()
    unique = []
    for match in found:
        if (match.rule, match.candidate_pk) not in seen:
            seen.add((match.rule, match.candidate_pk))
            unique.append(match)
    return unique
