"""Bulk registration: the set-wise engine behind asset imports (CSV or JSON Lines).

The stored file is read as a stream and processed in chunks of :data:`CHUNK_SIZE` records.
A thread reads and validates the next chunks (pure Python, never the database) while earlier
chunks are in the database, on :func:`workers` connections at once, each chunk in its own
transaction:

1. every record is validated in Python (one ``conformance.Validator`` per import, and the
   importing role's asset rules: ``role_rules``, the categories it may register and its extra
   ``role_details`` fields), and its duplicate keys, capacity band and columns computed;
2. the valid records are staged with ``COPY`` into a temporary table, each with a primary key
   taken from the table's sequence and a fresh Asset ID made in Python;
3. the exact duplicate rules (``rules``: manufacturer + serial, EIC, unique external IDs, and
   MPAN + category for assets without a serial) run as one SQL statement against the live
   assets, an index look-up per row and rule; the near rules' candidates (live assets at the
   same postcode or sharing an MPAN core) as one more, and the rules themselves in Python as
   ``rules`` applies them to one asset: ``near_location`` (same category, installed capacity
   within the band, and the same postcode; or, one more statement on the position index,
   another postcode within ``ASSET_NEAR_METRES``) and ``similar_serial`` (same manufacturer
   and site, serial one edit away, ``rules.one_edit_apart``);
4. within the file, the same keys are checked in Python in row order: the first row wins, a
   later row with a key already taken is rejected, one near an earlier row is flagged. This
   chunk's rows and those of chunks still in flight are checked here; committed chunks are
   live assets by then, so step 3 finds them;
5. the accepted rows go into ``assets_asset`` with one ``INSERT … SELECT`` (in a savepoint:
   should a concurrent registration have taken a key meanwhile, the unique indexes refuse it
   and the rows go in again with ``ON CONFLICT DO NOTHING``; a row left out is checked again
   and rejected, or given a new Asset ID if that was what clashed), then their external IDs,
   the registrant's links (as ``services.register`` makes them), the duplicate flags and
   every row's result, set-wise;
6. the import's progress is updated and ONE audit event (``asset.bulk_registered``) records
   the chunk. Once it commits, a task starts the new assets' authenticity checks
   (``authenticity.start_many``).

Chunks in flight keep the file's order where it matters (``_Order``): chunk i checks its
within-file duplicates after chunk i-1, inserts after it and commits after it. So progress
(``processed_rows``) is always a prefix of the file: a re-run resumes after it, and the work
is idempotent; a session advisory lock keeps two workers off the same import.

Outcomes: ``accepted`` (``pending_validation``, with its Asset ID), ``rejected`` (every
conformance error, or the duplicate rule it broke: code ``asset.duplicate`` on the key's field,
naming the existing Asset ID only if the importer may see it), ``flagged`` (registered in
``query`` with :class:`~flexreg.assets.models.DuplicateFlag` rows for the operator, and an
``asset.possible_duplicate`` note).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import itertools
import json
import logging
import math
import os
import queue
import threading
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any, Final

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from flexreg.assets import conformance, role_rules, rules, services
from flexreg.assets.catalogue import Catalogue
from flexreg.assets.catalogue_store import current_catalogue
from flexreg.assets.conformance import CleanAsset
from flexreg.assets.models import Asset, AssetImport, AssetStatus
from flexreg.core import audit
from flexreg.core.acting import Acting
from flexreg.core.errors import DomainError, FieldError
from flexreg.identifiers.flexreg_id import BODY_LENGTH, CROCKFORD_ALPHABET, flexreg_check_value

logger = logging.getLogger(__name__)

REGISTER: Final = services.REGISTER
CHUNK_SIZE: Final = 5_000
MAX_ROWS: Final = 100_000
#: First key of the session advisory lock held while an import runs ("FLXI").
RUN_LOCK_NAMESPACE: Final = 0x464C_5849
CONTRACT_REFERENCE: Final = "contract_reference"
#: The importing role's extra fields (its asset rules): ``role_details.<name>`` CSV columns, or
#: a ``role_details`` object in JSON Lines; stored on each asset as ``Asset.role_details``.
ROLE_DETAILS: Final = role_rules.PREFIX
OBJECT_TYPE: Final = "asset_import"

_STAGE: Final = "flexreg_import_stage"
_STAGE_EXT: Final = "flexreg_import_stage_ext"
_RULE_WORDS: Final = {
    "serial": "the same manufacturer and serial number",
    "eic": "the same EIC",
    "external_id": "the same external identifier",
    "meter": "an asset of the same category without a serial number at the same meter",
}


# --- reading the file ---------------------------------------------------------------------


class FileProblem(DomainError):
    """A file that cannot be imported at all (422, field ``file``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(
            code=code,
            detail=message,
            status=422,
            title="The file cannot be imported",
            errors=[FieldError("file", code, message)],
        )


@dataclass(frozen=True)
class Unreadable:
    """A record that could not be read (a JSON Lines line that is not JSON)."""

    error: FieldError


def sniff(head: bytes) -> str:
    """``csv`` or ``jsonl`` from the first bytes of a file (a JSON object first: JSON Lines)."""
    text = head.removeprefix(codecs.BOM_UTF8).lstrip()
    if not text:
        raise FileProblem("asset_import.empty", "The selected file is empty.")
    if b"\x00" in head:
        raise FileProblem(
            "asset_import.not_text", "The selected file must be a CSV or JSON Lines text file."
        )
    return "jsonl" if text.startswith(b"{") else "csv"


def known_columns(role: str | None = None) -> frozenset[str]:
    """The columns a CSV file may have: the asset's, the link's and the importing role's."""
    extra = role_rules.rules_for(role).columns if role else ()
    return frozenset(conformance.ALL_CSV_COLUMNS) | {CONTRACT_REFERENCE, *extra}


def _text(handle: IO[bytes]) -> io.TextIOWrapper:
    return io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")


def check_header(header: list[str] | None, role: str | None = None) -> None:
    """A CSV header must name known columns (``role``'s own among them), ``category`` too."""
    if not header:
        raise FileProblem("asset_import.empty", "The selected file is empty.")
    names = [str(c).strip().lower() for c in header]
    known = known_columns(role)
    unknown = [c for c in names if c and c not in known]
    if "category" not in names:
        raise FileProblem(
            "asset_import.no_header",
            "The first line of a CSV file must be the header row of the template "
            "(name, category, …): download the template of the category.",
        )
    if unknown:
        shown = ", ".join(repr(c[:40]) for c in unknown[:10])
        raise FileProblem(
            "asset_import.unknown_columns",
            f"The header has columns FlexReg does not know: {shown}. Use the template's columns.",
        )


def count_records(handle: IO[bytes], file_format: str, role: str | None = None) -> int:
    """Check a whole file can be read (UTF-8, a valid header for the importing ``role``) and
    count its records."""
    text = _text(handle)
    try:
        if file_format == "jsonl":
            return sum(1 for line in text if line.strip())
        reader = csv.reader(text)
        check_header(next(reader, None), role)
        return sum(1 for row in reader if row)
    except UnicodeDecodeError:
        raise FileProblem(
            "asset_import.not_utf8", "The selected file must be text encoded as UTF-8."
        ) from None
    except csv.Error as exc:
        raise FileProblem("asset_import.bad_csv", f"The CSV file cannot be read: {exc}.") from None
    finally:
        text.detach()


def read_records(handle: IO[bytes], file_format: str) -> Iterator[tuple[int, Any]]:
    """``(row, record)`` for each record of the file, ``row`` 1 for the first record (the CSV
    header and blank lines are not counted); ``record`` is a dict for the validator, or
    :class:`Unreadable`."""
    text = _text(handle)
    if file_format == "jsonl":
        row = 0
        for line in text:
            if not line.strip():
                continue
            row += 1
            try:
                yield row, json.loads(line)
            except ValueError as exc:
                yield (
                    row,
                    Unreadable(
                        FieldError("", "asset_import.invalid_json", f"Not a JSON object: {exc}.")
                    ),
                )
        return
    reader = csv.DictReader(text)
    flatten = conformance.flatten_csv_row
    for row, cells in enumerate(reader, start=1):
        yield row, flatten(cells)


# --- Asset IDs ----------------------------------------------------------------------------

# Byte b -> symbol b mod 32 (256 = 8 x 32: every symbol equally likely).
_ALPHABET_BYTES: Final = (CROCKFORD_ALPHABET * 8).encode()


def new_asset_ids(n: int) -> list[str]:
    """``n`` fresh random Asset IDs (as ``identifiers.new_asset_id``, ten times faster): ten
    Crockford symbols from the OS's random bytes and the check character."""
    found: list[str] = []
    while len(found) < n:
        want = n - len(found)
        raw = os.urandom(BODY_LENGTH * (want + want // 8 + 1)).translate(_ALPHABET_BYTES).decode()
        for i in range(0, len(raw) - BODY_LENGTH + 1, BODY_LENGTH):
            body = raw[i : i + BODY_LENGTH]
            value = flexreg_check_value("A" + body)
            if value < len(CROCKFORD_ALPHABET):
                found.append(f"A-{body}{CROCKFORD_ALPHABET[value]}")
                if len(found) == n:
                    break
    return found


# --- one row ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Row:
    number: int
    clean: CleanAsset | None = None
    contract: str = ""
    errors: list[dict[str, str]] = field(default_factory=list)
    pk: int = 0  # from the sequence, once staged
    asset_id: str = ""
    outcome: str = ""  # accepted | rejected | flagged
    keys: tuple[tuple[Any, ...], ...] = ()
    #: Possible duplicates: (rule, candidate pk, candidate Asset ID, detail, visible).
    near: list[tuple[str, int, str, dict[str, Any], bool]] = field(default_factory=list)
    low: Decimal = Decimal(0)
    high: Decimal = Decimal(0)
    #: The asset's columns for staging (``Engine.fields`` order).
    values: tuple[Any, ...] = ()
    #: (latitude low, high, longitude low, high) around its position, as ``rules`` bounds it.
    box: tuple[Decimal | None, ...] = (None, None, None, None)


def _contract_reference(raw: Any) -> tuple[str, list[FieldError]]:
    """The link's contract reference, as the single registration checks it."""
    if raw is None:
        return "", []
    if not isinstance(raw, str):
        return "", [FieldError(CONTRACT_REFERENCE, "type_error", "Enter the reference as text.")]
    value = raw.strip()
    limit = services.CONTRACT_REFERENCE_MAX
    if len(value) > limit:
        return "", [
            FieldError(
                CONTRACT_REFERENCE,
                "too_long",
                f"Enter {limit} characters or fewer (you gave {len(value)}).",
            )
        ]
    if not value.isprintable():
        return "", [
            FieldError(
                CONTRACT_REFERENCE,
                "text.control_character",
                "Remove the control character (such as a NUL byte) from the text.",
            )
        ]
    return value, []


def _keys(clean: CleanAsset, unique_schemes: frozenset[str]) -> tuple[tuple[Any, ...], ...]:
    """The exact duplicate keys of a clean asset: (rule, field, key…) each."""
    keys: list[tuple[Any, ...]] = []
    if clean.serial_key:
        keys.append(("serial", "serial_number", clean.manufacturer_key or "", clean.serial_key))
    if clean.eic:
        keys.append(("eic", "eic", clean.eic))
    for i, (scheme, value) in enumerate(clean.external_ids):
        if scheme in unique_schemes:
            keys.append(("external_id", f"external_ids.{i}", scheme, value))
    if not clean.serial_key:
        if clean.import_mpan:
            keys.append(("meter", "metering.import_mpan", "i", clean.import_mpan, clean.category))
        elif clean.export_mpan:
            keys.append(("meter", "metering.export_mpan", "x", clean.export_mpan, clean.category))
    return tuple(keys)


def _error(field_path: str, code: str, message: str) -> dict[str, str]:
    return {"field": field_path, "code": code, "message": message}


# --- SQL ----------------------------------------------------------------------------------

# Each rule is a per-row index look-up (LATERAL: the planner cannot swap it for a hash of the
# whole table); ``{only}`` narrows the staged rows when only some are checked again.

# Which assets each rule counts (``rules.LIVE`` and ``rules.IN_SERVICE``): drafts and rejected
# assets claim nothing; decommissioned assets keep their serial, EIC and external IDs only.
_CLAIMS: Final = "a.status NOT IN ('rejected', 'draft')"
_IN_SERVICE: Final = "a.status NOT IN ('rejected', 'draft', 'decommissioned')"

# Who registered a match: with the importer's current links (``Engine._visible``), whether
# the importer may see it (its Asset ID is named only then).
_VISIBLE: Final = "m.id AS matched_pk, m.registered_by_id"
_EXACT_SQL: Final = f"""
SELECT s.row_number, m.rule, m.field, m.asset_id,
       m.import_batch_id IS NOT DISTINCT FROM %(batch)s, {_VISIBLE}
  FROM {_STAGE} s
  CROSS JOIN LATERAL (
      SELECT 'serial' AS rule, 'serial_number' AS field, a.id, a.asset_id, a.import_batch_id,
             a.registered_by_id
        FROM assets_asset a
       WHERE s.serial_key <> '' AND a.manufacturer_key = s.manufacturer_key
         AND a.serial_key = s.serial_key AND a.serial_key <> '' AND {_CLAIMS}
      UNION ALL
      SELECT 'eic', 'eic', a.id, a.asset_id, a.import_batch_id, a.registered_by_id
        FROM assets_asset a
       WHERE s.eic IS NOT NULL AND a.eic = s.eic AND a.eic IS NOT NULL
         AND {_CLAIMS}
      UNION ALL
      SELECT 'meter', 'metering.import_mpan', a.id, a.asset_id, a.import_batch_id,
             a.registered_by_id
        FROM assets_asset a
       WHERE s.serial_key = '' AND s.import_mpan IS NOT NULL
         AND a.import_mpan = s.import_mpan AND a.category = s.category
         AND a.serial_key = '' AND {_IN_SERVICE}
      UNION ALL
      SELECT 'meter', 'metering.export_mpan', a.id, a.asset_id, a.import_batch_id,
             a.registered_by_id
        FROM assets_asset a
       WHERE s.serial_key = '' AND s.import_mpan IS NULL AND s.export_mpan IS NOT NULL
         AND a.export_mpan = s.export_mpan AND a.category = s.category
         AND a.import_mpan IS NULL AND a.serial_key = '' AND {_IN_SERVICE}
      LIMIT %(limit)s) m
 WHERE TRUE {{only}}
UNION ALL
SELECT x.row_number, 'external_id', 'external_ids.' || x.position, m.asset_id,
       m.import_batch_id IS NOT DISTINCT FROM %(batch)s, {_VISIBLE}
  FROM {_STAGE_EXT} x
  CROSS JOIN LATERAL (
      SELECT a.id, a.asset_id, a.import_batch_id, a.registered_by_id
        FROM assets_assetexternalid e JOIN assets_asset a ON a.id = e.asset_id
       WHERE e.scheme = x.scheme AND e.value = x.value AND e.is_unique AND e.claimed
         AND {_CLAIMS}
       LIMIT %(limit)s) m
 WHERE x.is_unique {{only_ext}}
 ORDER BY 1, 2, 4
"""  # noqa: S608

# The near rules' candidates, one statement: the live assets at the row's site (same
# postcode, or sharing one of its MPAN cores), each a plain index look-up; the rules are then
# applied in Python (``Engine._near``).
_SITE_COLUMNS: Final = (
    "a.id, a.asset_id, a.category, a.installed_kw, a.manufacturer_key, a.serial_key, "
    "a.serial_number, a.postcode, a.created_at, a.registered_by_id"
)
_SITE_SQL: Final = f"""
SELECT s.row_number, n.id, n.asset_id, n.category, n.installed_kw, n.manufacturer_key,
       n.serial_key, n.serial_number, n.postcode, n.created_at,
       {_VISIBLE.replace("m.", "n.")}
  FROM {_STAGE} s
  CROSS JOIN LATERAL (
      (SELECT {_SITE_COLUMNS} FROM assets_asset a
        WHERE a.postcode = s.postcode AND {_IN_SERVICE} LIMIT %(site_limit)s)
      UNION
      (SELECT {_SITE_COLUMNS} FROM assets_asset a
        WHERE s.serial_key <> '' AND a.import_mpan = ANY(ARRAY[s.import_mpan, s.export_mpan])
          AND {_IN_SERVICE} LIMIT %(site_limit)s)
      UNION
      (SELECT {_SITE_COLUMNS} FROM assets_asset a
        WHERE s.serial_key <> '' AND a.export_mpan = ANY(ARRAY[s.import_mpan, s.export_mpan])
          AND {_IN_SERVICE} LIMIT %(site_limit)s)
  ) n
 WHERE TRUE {{only}}
"""  # noqa: S608


# ``near_location``'s other half: same category and similar capacity at another postcode within
# ``ASSET_NEAR_METRES`` (bounding box on the position index, then the haversine distance).
_DISTANCE_SQL: Final = f"""
SELECT s.row_number, n.id, n.asset_id, n.installed_kw, n.distance,
       {_VISIBLE.replace("m.", "n.")}
  FROM {_STAGE} s
  CROSS JOIN LATERAL (
      SELECT a.id, a.asset_id, a.installed_kw, a.registered_by_id, d.distance
        FROM assets_asset a
        CROSS JOIN LATERAL (
            SELECT {2 * rules.EARTH_RADIUS_M} * asin(sqrt(
                power(sin(radians(a.latitude::float8 - s.latitude::float8) / 2), 2)
                + cos(radians(s.latitude::float8)) * cos(radians(a.latitude::float8))
                  * power(sin(radians(a.longitude::float8 - s.longitude::float8) / 2), 2)
            )) AS distance) d
       WHERE a.category = s.category AND a.latitude IS NOT NULL
         AND a.latitude BETWEEN s.lat_low AND s.lat_high
         AND a.longitude BETWEEN s.lon_low AND s.lon_high
         AND a.installed_kw BETWEEN s.kw_low AND s.kw_high
         AND a.postcode <> s.postcode AND {_IN_SERVICE}
         AND d.distance <= %(metres)s
       ORDER BY d.distance, a.id
       LIMIT %(limit)s) n
 WHERE s.lat_low IS NOT NULL {{only}}
"""  # noqa: S608


def _box(latitude: float, longitude: float, metres: float) -> tuple[Decimal, ...]:
    """The bounding box ``rules.within_distance`` searches around a position."""
    dlat = metres / rules.METRES_PER_DEGREE
    dlon = metres / (rules.METRES_PER_DEGREE * max(math.cos(math.radians(latitude)), 0.01))
    return (
        Decimal(str(latitude - dlat)),
        Decimal(str(latitude + dlat)),
        Decimal(str(longitude - dlon)),
        Decimal(str(longitude + dlon)),
    )


def _distance_m(a: CleanAsset, b: CleanAsset) -> float:
    """The haversine distance between two positioned assets, as ``rules.distance_m``."""
    lat1, lon1 = float(a.latitude), float(a.longitude)  # type: ignore[arg-type]
    lat2, lon2 = float(b.latitude), float(b.longitude)  # type: ignore[arg-type]
    h = (
        math.sin(math.radians(lat2 - lat1) / 2) ** 2
        + math.cos(math.radians(lat1))
        * math.cos(math.radians(lat2))
        * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * rules.EARTH_RADIUS_M * math.asin(math.sqrt(h))


#: Grid cells for the within-file distance rule: 0.01 degree (1.1 km north-south, 0.6–0.7 km
#: east-west in Great Britain), so a neighbour within ``ASSET_NEAR_METRES`` (up to 600 m) is
#: in the same or an adjacent cell.
_CELLS_PER_DEGREE: Final = 100


def _cell(clean: CleanAsset) -> tuple[Any, ...] | None:
    if clean.latitude is None or clean.longitude is None:
        return None
    return (
        "cell",
        clean.category,
        math.floor(clean.latitude * _CELLS_PER_DEGREE),
        math.floor(clean.longitude * _CELLS_PER_DEGREE),
    )


def _stage_columns(fields: tuple[str, ...]) -> list[tuple[str, str]]:
    """(column, type) of the staging table: the row, its key, Asset ID, status, link and
    capacity band, then the asset's own columns (``fields``: ``services.asset_fields``)."""
    types = {f.name: str(f.db_type(connection)) for f in Asset._meta.concrete_fields}
    return [
        ("row_number", "integer"),
        ("id", "bigint"),
        ("asset_id", types["asset_id"]),
        ("status", types["status"]),
        ("status_reason", "text"),
        ("contract_reference", "text"),
        ("kw_low", "numeric"),
        ("kw_high", "numeric"),
        ("lat_low", "numeric"),
        ("lat_high", "numeric"),
        ("lon_low", "numeric"),
        ("lon_high", "numeric"),
        *((name, types[name]) for name in fields),
    ]


# --- the engine ---------------------------------------------------------------------------


@dataclass
class ChunkResult:
    rows: int
    accepted: int
    rejected: int
    flagged: int
    asset_pks: list[int]


class Engine:
    """Runs the chunks of one import for the acting importer."""

    def __init__(
        self,
        batch: AssetImport,
        acting: Acting,
        catalogue: Catalogue | None = None,
        today: dt.date | None = None,
    ) -> None:
        self.batch = batch
        self.acting = acting
        self.catalogue = catalogue or current_catalogue()
        self.validator = conformance.Validator(self.catalogue, today)
        schemes = self.catalogue.external_id_schemes
        self.unique_schemes = frozenset(c for c, s in schemes.items() if s.unique)
        self.relationship = str(
            services.RELATIONSHIP_BY_ROLE.get(batch.role, services.Relationship.OPERATOR)
        )
        self.read_all = acting.has("assets:read_all")
        #: The importing role's asset rules (categories it may register, its extra fields).
        self.role_rules = role_rules.rules_for(batch.role)
        #: The asset columns a row supplies (``services.asset_fields``), known at the first row.
        self.fields: tuple[str, ...] = ()

    # -- per chunk --

    def process(self, records: list[tuple[int, Any]]) -> ChunkResult:
        """One chunk of records: validated, then registered in its own transaction."""
        return self.process_validated(self.validate(records))

    def validate(self, records: list[tuple[int, Any]]) -> list[_Row]:
        """Conformance of a chunk, in pure Python (no database: ``process_file`` runs it in a
        thread, a chunk ahead): the clean asset, its duplicate keys, its capacity band and its
        columns for staging, or every error."""
        validate = self.validator.validate
        asset_fields = services.asset_fields
        band = rules.capacity_band
        metres = rules.near_metres()
        unique = self.unique_schemes
        role_check = self.role_rules.check
        catalogue = self.catalogue
        rows: list[_Row] = []
        for number, record in records:
            row = _Row(number)
            rows.append(row)
            if isinstance(record, Unreadable):
                row.outcome = "rejected"
                row.errors = [record.error.as_dict()]
                continue
            contract_errors: list[FieldError] = []
            role_errors: list[FieldError] = []
            details: dict[str, Any] = {}
            if type(record) is dict:
                raw_details = None
                if CONTRACT_REFERENCE in record or ROLE_DETAILS in record:
                    record = dict(record)
                    if CONTRACT_REFERENCE in record:
                        row.contract, contract_errors = _contract_reference(
                            record.pop(CONTRACT_REFERENCE)
                        )
                    raw_details = record.pop(ROLE_DETAILS, None)
                details, role_errors = role_check(record.get("category"), raw_details, catalogue)
            clean, errors = validate(record)
            if errors or contract_errors or role_errors or clean is None:
                row.outcome = "rejected"
                row.errors = [e.as_dict() for e in (*errors, *contract_errors, *role_errors)]
                continue
            row.clean = clean
            row.outcome = "accepted"
            row.keys = _keys(clean, unique)
            row.low, row.high = band(clean.installed_kw)
            if clean.latitude is not None and clean.longitude is not None:
                row.box = _box(float(clean.latitude), float(clean.longitude), metres)
            values = asset_fields(clean)
            values[ROLE_DETAILS] = json.dumps(details) if details else "{}"
            if not self.fields:
                self.fields = tuple(values)
            row.values = tuple(values[name] for name in self.fields)
        return rows

    def process_validated(
        self, rows: list[_Row], order: _Order | None = None, index: int = 0
    ) -> ChunkResult:
        """Register a validated chunk in its own transaction. With ``order`` (chunks in
        flight on several connections), the chunk waits where file order matters."""
        with transaction.atomic():
            result = self._process(rows, order, index)
        if order is not None:
            order.done("committed", index)
        return result

    def _process(self, rows: list[_Row], order: _Order | None, index: int) -> ChunkResult:
        now = timezone.now()
        valid = [r for r in rows if r.clean is not None]
        raw = connection.connection
        if valid:
            self._prepare(valid)
            with raw.cursor() as cur:
                self._stage(cur, valid)
                self._exact(cur, valid, now, {r.number: r for r in valid}, subset=False)
                self._near(cur, valid, now)
        earlier: list[_Row] = []
        if order is not None:
            # The previous chunks' decisions, uncommitted maybe: checked here, in Python.
            order.wait("checked", index)
            earlier = order.recent(index)
        self._within_chunk(valid, earlier)
        if order is not None:
            order.keep(index, valid)
            order.done("checked", index)
            order.wait("inserted", index)  # the earlier row of a key always goes in first
        accepted = [r for r in valid if r.outcome in ("accepted", "flagged")]
        inserted: list[int] = []
        if accepted:
            with raw.cursor() as cur:
                inserted = self._insert(cur, accepted, now, order)
        if order is not None:
            order.done("inserted", index)
        with raw.cursor() as cur:
            self._results(cur, rows)
        counts = {o: sum(1 for r in rows if r.outcome == o) for o in ("accepted", "rejected")}
        counts["flagged"] = sum(1 for r in rows if r.outcome == "flagged")
        result = ChunkResult(
            rows=len(rows),
            accepted=counts["accepted"],
            rejected=counts["rejected"],
            flagged=counts["flagged"],
            asset_pks=inserted,
        )
        if order is not None:
            order.wait("committed", index)  # progress is a prefix of the file
        self._progress(result, rows, now)
        if inserted:
            _start_authenticity(inserted)
        return result

    def _prepare(self, valid: list[_Row]) -> None:
        """Primary keys from the table's sequence and fresh Asset IDs."""
        with connection.cursor() as cur:
            cur.execute(
                "SELECT nextval(pg_get_serial_sequence('assets_asset', 'id')) "
                "FROM generate_series(1, %s)",
                [len(valid)],
            )
            pks = [pk for (pk,) in cur.fetchall()]
        ids = new_asset_ids(len(valid))
        for row, pk, asset_id in zip(valid, pks, ids, strict=True):
            row.pk = pk
            row.asset_id = asset_id

    def _stage(self, cur: Any, valid: list[_Row]) -> None:
        columns = _stage_columns(self.fields)
        definition = ", ".join(f"{name} {kind}" for name, kind in columns)
        # Short index look-ups: compiling them (JIT) would cost more than running them.
        cur.execute("SET LOCAL jit = off")
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} ({definition}) ON COMMIT DROP")
        cur.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE_EXT} (row_number integer, position integer,"
            " scheme text, value text, is_unique boolean) ON COMMIT DROP"
        )
        cur.execute(f"TRUNCATE {_STAGE}, {_STAGE_EXT}")
        names = ", ".join(name for name, _ in columns)
        pending = AssetStatus.PENDING_VALIDATION.value
        with cur.copy(f"COPY {_STAGE} ({names}) FROM STDIN") as copy:
            write = copy.write_row
            for row in valid:
                write(
                    (
                        row.number,
                        row.pk,
                        row.asset_id,
                        pending,
                        "",
                        row.contract,
                        row.low,
                        row.high,
                        *row.box,
                        *row.values,
                    )
                )
        unique = self.unique_schemes
        with cur.copy(
            f"COPY {_STAGE_EXT} (row_number, position, scheme, value, is_unique) FROM STDIN"
        ) as copy:
            for row in valid:
                for i, (scheme, ext) in enumerate(row.clean.external_ids):  # type: ignore[union-attr]
                    copy.write_row((row.number, i, scheme, ext, scheme in unique))
        cur.execute(f"ANALYZE {_STAGE}")
        cur.execute(f"ANALYZE {_STAGE_EXT}")

    def _params(self, now: dt.datetime, rows: Iterable[int] = ()) -> dict[str, Any]:
        return {
            "batch": self.batch.pk,
            "participant": self.batch.participant_id,
            "read_all": self.read_all,
            "now": now,
            "rows": list(rows),
            "limit": rules.MAX_CANDIDATES,
            "site_limit": rules.SITE_CANDIDATES,
        }

    @staticmethod
    def _sql(template: str, subset: bool) -> str:
        """The statement over every staged row, or over ``%(rows)s`` only (a search of the
        array per row: for the few rows checked again after a race)."""
        return template.replace(
            "{only}", "AND s.row_number = ANY(%(rows)s)" if subset else ""
        ).replace("{only_ext}", "AND x.row_number = ANY(%(rows)s)" if subset else "")

    def _visible(self, cur: Any, found: list[tuple[int, int]], now: dt.datetime) -> set[int]:
        """Which matched assets ``(pk, registered_by)`` the importer may see: oversight sees
        all, a participant those it registered or is linked to now (``selectors.visible``)."""
        if self.read_all:
            return {pk for pk, _ in found}
        mine = self.batch.participant_id
        seen = {pk for pk, registrant in found if registrant == mine}
        others = sorted({pk for pk, registrant in found if registrant != mine})
        if others:
            # A look-up per match on the link's asset (LATERAL): a large importer has links
            # to hundreds of thousands of assets, never to be scanned for a few matches.
            cur.execute(
                "SELECT c.id FROM unnest(%s::bigint[]) AS c(id) CROSS JOIN LATERAL ("
                "SELECT 1 FROM assets_assetlink l WHERE l.asset_id = c.id "
                "AND l.participant_id = %s AND l.valid_during @> %s::timestamptz LIMIT 1) x",
                [others, mine, now],
            )
            seen |= {pk for (pk,) in cur.fetchall()}
        return seen

    def _exact(
        self,
        cur: Any,
        rows: list[_Row],
        now: dt.datetime,
        by_number: dict[int, _Row],
        *,
        subset: bool = True,
    ) -> list[_Row]:
        """Reject the rows an exact rule finds registered already; returns them. ``rows`` are
        every staged row (the first check) or those whose insert lost a race."""
        cur.execute(self._sql(_EXACT_SQL, subset), self._params(now, (r.number for r in rows)))
        found = cur.fetchall()
        seen = self._visible(cur, [(f[5], f[6]) for f in found], now)
        hit: list[_Row] = []
        for number, rule, path, asset_id, same_batch, pk, _registrant in found:
            visible = pk in seen
            row = by_number.get(number)
            if row is None:
                continue
            if row.outcome != "rejected":
                row.outcome = "rejected"
                row.errors = []
                hit.append(row)
            words = _RULE_WORDS[rule]
            if same_batch:
                message = (
                    f"Already registered as {asset_id} by an earlier row of this file: {words}."
                )
            elif visible:
                message = f"Already registered as {asset_id}: {words}."
            else:
                message = (
                    f"Already registered by another participant: {words}. {services.NEXT_STEPS}"
                )
            error = _error(path, "asset.duplicate", message)
            if error not in row.errors:
                row.errors.append(error)
        return hit

    def _near(self, cur: Any, rows: list[_Row], now: dt.datetime) -> None:
        """The near rules against the live assets, as ``rules`` applies them to one asset:
        ``near_location`` (same category, capacity in the band, and the same postcode —
        oldest first — or within the distance — nearest first) and ``similar_serial`` (same
        manufacturer and site, serial one edit away); at most ``rules.MAX_CANDIDATES``
        candidates per rule and kind."""
        live = {r.number: r for r in rows if r.outcome != "rejected"}
        if not live:
            return
        # Over every staged row (cheaper than narrowing to the live ones); the rest are skipped.
        cur.execute(self._sql(_SITE_SQL, False), self._params(now))
        found = [f for f in cur.fetchall() if f[0] in live]
        distant: list[tuple[Any, ...]] = []
        if any(r.box[0] is not None for r in live.values()):
            cur.execute(
                self._sql(_DISTANCE_SQL, False),
                {**self._params(now), "metres": rules.near_metres()},
            )
            distant = [f for f in cur.fetchall() if f[0] in live]
        seen = self._visible(
            cur, [(f[10], f[11]) for f in found] + [(f[5], f[6]) for f in distant], now
        )
        location: dict[int, list[tuple[Any, ...]]] = {}
        serial: dict[int, list[tuple[Any, ...]]] = {}
        for (
            number,
            pk,
            aid,
            category,
            kw,
            maker,
            key,
            serial_number,
            postcode,
            created,
            _pk,
            _registrant,
        ) in found:
            visible = pk in seen
            row = live.get(number)
            if row is None:
                continue
            clean = row.clean
            assert clean is not None
            if (
                postcode == clean.postcode
                and category == clean.category
                and row.low <= kw <= row.high
            ):
                detail = {"postcode": clean.postcode, "installed_kw": str(kw)}
                location.setdefault(number, []).append(
                    (created, pk, ("near_location", pk, aid, detail, bool(visible)))
                )
            if (
                clean.serial_key
                and key
                and maker == (clean.manufacturer_key or "")
                and rules.one_edit_apart(clean.serial_key, key)
            ):
                detail = {"serial_number": serial_number}
                serial.setdefault(number, []).append(
                    (key, pk, ("similar_serial", pk, aid, detail, bool(visible)))
                )
        distance: dict[int, list[tuple[Any, ...]]] = {}
        for number, pk, aid, kw, metres, _pk, _registrant in distant:
            detail = {"distance_m": round(metres, 1), "installed_kw": str(kw)}
            distance.setdefault(number, []).append(
                (metres, pk, ("near_location", pk, aid, detail, pk in seen))
            )
        for kind in (location, distance, serial):
            for number, matches in kind.items():
                matches.sort(key=lambda m: (m[0], m[1]))
                live[number].near.extend(m[2] for m in matches[: rules.MAX_CANDIDATES])

    def _within_chunk(self, rows: list[_Row], earlier: Iterable[_Row] = ()) -> None:
        """The first row with a key wins; later rows with it are rejected. A row near an
        earlier registered row of the file not yet visible to SQL (this chunk, or ``earlier``:
        chunks still in flight) is flagged against it (same rules as above)."""
        taken: dict[tuple[Any, ...], _Row] = {}
        places: dict[tuple[Any, ...], list[_Row]] = {}
        sites: dict[tuple[str, str], list[_Row]] = {}
        for row in earlier:
            if row.outcome in ("accepted", "flagged"):
                for key in row.keys:
                    taken.setdefault((key[0], *key[2:]), row)
                self._remember(row, places, sites)
        for row in rows:
            if row.outcome == "rejected":
                continue
            clean = row.clean
            assert clean is not None
            clashes = [
                (key, taken[(key[0], *key[2:])]) for key in row.keys if (key[0], *key[2:]) in taken
            ]
            if clashes:
                row.outcome = "rejected"
                row.near = []
                row.errors = [
                    _error(
                        key[1],
                        "asset.duplicate",
                        f"Row {first.number} of this file has {_RULE_WORDS[key[0]]} "
                        f"(registered as {first.asset_id}).",
                    )
                    for key, first in clashes
                ]
                continue
            for key in row.keys:
                taken[(key[0], *key[2:])] = row
            self._near_in_chunk(row, places, sites)
            self._remember(row, places, sites)
            if row.near:
                unique: dict[tuple[str, int], Any] = {}
                for match in row.near:
                    unique.setdefault((match[0], match[1]), match)
                row.near = list(unique.values())
                row.outcome = "flagged"
                row.errors = [_possible_duplicate(row.near)]

    @staticmethod
    def _remember(
        row: _Row,
        places: dict[tuple[Any, ...], list[_Row]],
        sites: dict[tuple[str, str], list[_Row]],
    ) -> None:
        clean = row.clean
        assert clean is not None
        places.setdefault((clean.postcode, clean.category), []).append(row)
        cell = _cell(clean)
        if cell is not None:
            places.setdefault(cell, []).append(row)
        if clean.serial_key:
            maker = clean.manufacturer_key or ""
            for key in {(maker, clean.postcode), *((maker, core) for core in clean.mpan_cores)}:
                sites.setdefault(key, []).append(row)

    @staticmethod
    def _near_in_chunk(
        row: _Row,
        places: dict[tuple[Any, ...], list[_Row]],
        sites: dict[tuple[str, str], list[_Row]],
    ) -> None:
        clean = row.clean
        assert clean is not None
        detail: dict[str, Any]
        for other in places.get((clean.postcode, clean.category), ()):
            kw = other.clean.installed_kw  # type: ignore[union-attr]
            if row.low <= kw <= row.high:
                detail = {"postcode": clean.postcode, "installed_kw": str(kw)}
                row.near.append(("near_location", other.pk, other.asset_id, detail, True))
        cell = _cell(clean)
        if cell is not None:
            metres = rules.near_metres()
            _, category, y, x = cell
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    for other in places.get(("cell", category, y + dy, x + dx), ()):
                        theirs = other.clean
                        assert theirs is not None
                        if theirs.postcode == clean.postcode or not (
                            row.low <= theirs.installed_kw <= row.high
                        ):
                            continue
                        gap = _distance_m(clean, theirs)
                        if gap <= metres:
                            detail = {
                                "distance_m": round(gap, 1),
                                "installed_kw": str(theirs.installed_kw),
                            }
                            row.near.append(
                                ("near_location", other.pk, other.asset_id, detail, True)
                            )
        if not clean.serial_key:
            return
        maker = clean.manufacturer_key or ""
        seen: set[int] = set()
        for key in {(maker, clean.postcode), *((maker, core) for core in clean.mpan_cores)}:
            for other in sites.get(key, ()):
                theirs_key = other.clean.serial_key or ""  # type: ignore[union-attr]
                if other.number not in seen and rules.one_edit_apart(clean.serial_key, theirs_key):
                    seen.add(other.number)
                    detail = {"serial_number": other.clean.serial_number}  # type: ignore[union-attr]
                    row.near.append(("similar_serial", other.pk, other.asset_id, detail, True))

    def _insert(
        self, cur: Any, rows: list[_Row], now: dt.datetime, order: _Order | None = None
    ) -> list[int]:
        flagged = [r for r in rows if r.outcome == "flagged"]
        if flagged:
            cur.execute(
                f"UPDATE {_STAGE} s SET status = %s, status_reason = r.reason "  # noqa: S608
                "FROM unnest(%s::integer[], %s::text[]) AS r(n, reason) WHERE s.row_number = r.n",
                [
                    AssetStatus.QUERY.value,
                    [r.number for r in flagged],
                    [_query_reason(len({m[1] for m in r.near})) for r in flagged],
                ],
            )
        columns = ", ".join(["id", "asset_id", "status", "status_reason", *self.fields])
        insert = (
            f"INSERT INTO assets_asset ({columns}, registered_by_id, registered_by_role, "  # noqa: S608
            "created_by_id, created_at, updated_at, version, catalogue_checksum, "
            f"import_batch_id) SELECT {columns}, %(participant)s, %(role)s, %(user)s, "
            f"%(now)s, %(now)s, 1, %(checksum)s, %(batch)s FROM {_STAGE} s "
            "JOIN unnest(%(rows)s::integer[]) AS r(n) ON r.n = s.row_number ORDER BY s.row_number"
        )
        params = {
            "participant": self.batch.participant_id,
            "role": self.batch.role,
            "user": self.batch.created_by_id,
            "now": now,
            "checksum": self.catalogue.checksum,
            "batch": self.batch.pk,
            "rows": [r.number for r in rows],
        }
        inserted: set[int] = set()
        try:
            # The usual case: nothing collides (checked above), a plain insert in a savepoint.
            with transaction.atomic():
                cur.execute(insert, params)
            inserted = {r.pk for r in rows}
        except psycopg.errors.UniqueViolation:
            inserted = self._insert_racing(cur, insert, params, rows, now)
        inserted -= self._external_ids(cur, rows, inserted, now)
        pks = sorted(inserted)
        self._links(cur, pks, now)
        lost = {r.pk for r in rows} - inserted  # rows that lost a race (never candidates)
        if order is not None:
            lost |= order.lost
            order.lost |= lost
        flagged = [r for r in rows if r.outcome == "flagged" and r.pk in inserted]
        self._flags(cur, flagged, lost, now)
        return pks

    def _insert_racing(
        self, cur: Any, insert: str, params: dict[str, Any], rows: list[_Row], now: dt.datetime
    ) -> set[int]:
        """Insert what does not collide; a row that does is checked again: rejected if a
        registration took its key meanwhile, else given a new Asset ID (a clash) and retried."""
        pending = {r.number: r for r in rows}
        inserted: set[int] = set()
        for _attempt in range(5):
            cur.execute(
                f"{insert} ON CONFLICT DO NOTHING RETURNING id",
                {**params, "rows": list(pending)},
            )
            done = {pk for (pk,) in cur.fetchall()}
            inserted |= done
            pending = {n: r for n, r in pending.items() if r.pk not in done}
            if not pending:
                return inserted
            losers = self._exact(cur, list(pending.values()), now, pending)
            for row in losers:
                pending.pop(row.number)
            if pending:
                fresh = new_asset_ids(len(pending))
                for row, asset_id in zip(pending.values(), fresh, strict=True):
                    row.asset_id = asset_id
                cur.execute(
                    f"UPDATE {_STAGE} s SET asset_id = r.asset_id FROM unnest(%s::integer[], "  # noqa: S608
                    "%s::text[]) AS r(n, asset_id) WHERE s.row_number = r.n",
                    [list(pending), [r.asset_id for r in pending.values()]],
                )
        raise RuntimeError("could not allocate unique Asset IDs")

    def _external_ids(
        self, cur: Any, rows: list[_Row], inserted: set[int], now: dt.datetime
    ) -> set[int]:
        """Insert the external IDs of the new assets; an asset whose unique external ID was
        taken meanwhile (a race) is removed and its row rejected. Returns the removed pks."""
        insert = (
            "INSERT INTO assets_assetexternalid (asset_id, scheme, value, is_unique) "  # noqa: S608
            f"SELECT s.id, x.scheme, x.value, x.is_unique FROM {_STAGE_EXT} x "
            f"JOIN {_STAGE} s ON s.row_number = x.row_number "
            "JOIN unnest(%s::bigint[]) AS p(id) ON p.id = s.id "
            "ORDER BY x.row_number, x.position"
        )
        try:
            with transaction.atomic():  # the usual case: no race
                cur.execute(insert, [sorted(inserted)])
            return set()
        except psycopg.errors.UniqueViolation:
            pass
        cur.execute(f"{insert} ON CONFLICT DO NOTHING RETURNING asset_id", [sorted(inserted)])
        got: dict[int, int] = {}
        for (pk,) in cur.fetchall():
            got[pk] = got.get(pk, 0) + 1
        wanted = {
            r.pk: len(r.clean.external_ids)
            for r in rows
            if r.pk in inserted and r.clean is not None and r.clean.external_ids
        }
        short = {pk for pk, n in wanted.items() if got.get(pk, 0) != n}
        if not short:
            return set()
        cur.execute("DELETE FROM assets_asset WHERE id = ANY(%s)", [sorted(short)])
        losers = [r for r in rows if r.pk in short]
        self._exact(cur, losers, now, {r.number: r for r in losers})
        for row in losers:
            row.outcome = "rejected"
            if not row.errors or row.errors[0]["code"] != "asset.duplicate":
                row.errors = [
                    _error(
                        "external_ids",
                        "asset.duplicate",
                        f"Already registered: {_RULE_WORDS['external_id']}.",
                    )
                ]
        return short

    def _links(self, cur: Any, pks: list[int], now: dt.datetime) -> None:
        if not pks:
            return
        cur.execute(
            "INSERT INTO assets_assetlink (public_id, asset_id, participant_id, relationship, "  # noqa: S608
            "contract_reference, consent_reference, valid_during, suspended_reason, created_at) "
            "SELECT gen_random_uuid(), s.id, %(participant)s, %(relationship)s, "
            "s.contract_reference, CASE WHEN s.domestic THEN s.consumer_consent_reference "
            "ELSE '' END, tstzrange(%(now)s, NULL, '[)'), '', %(now)s "
            f"FROM {_STAGE} s JOIN unnest(%(pks)s::bigint[]) AS p(id) ON p.id = s.id "
            "ORDER BY s.row_number",
            {
                "participant": self.batch.participant_id,
                "relationship": self.relationship,
                "now": now,
                "pks": pks,
            },
        )

    def _flags(self, cur: Any, rows: list[_Row], lost: set[Any], now: dt.datetime) -> None:
        if not rows:
            return
        with cur.copy(
            "COPY assets_duplicateflag (asset_id, candidate_id, rule, detail, created_at) "
            "FROM STDIN"
        ) as copy:
            for row in rows:
                seen: set[tuple[str, int]] = set()
                for rule, pk, _aid, detail, _visible in row.near:
                    if (rule, pk) in seen or pk in lost:
                        continue
                    seen.add((rule, pk))
                    copy.write_row((row.pk, pk, rule, json.dumps(detail), now))

    def _results(self, cur: Any, rows: list[_Row]) -> None:
        with cur.copy(
            "COPY assets_assetimportrow (batch_id, row_number, outcome, asset_id, errors) "
            "FROM STDIN"
        ) as copy:
            batch = self.batch.pk
            for row in rows:
                asset_id = row.asset_id if row.outcome in ("accepted", "flagged") else ""
                copy.write_row((batch, row.number, row.outcome, asset_id, json.dumps(row.errors)))

    def _progress(self, result: ChunkResult, rows: list[_Row], now: dt.datetime) -> None:
        AssetImport.objects.filter(pk=self.batch.pk).update(
            processed_rows=F("processed_rows") + result.rows,
            accepted=F("accepted") + result.accepted,
            rejected=F("rejected") + result.rejected,
            flagged=F("flagged") + result.flagged,
        )
        audit.record(
            self.acting,
            "asset.bulk_registered",
            object_type=OBJECT_TYPE,
            object_id=str(self.batch.public_id),
            subject_participant_id=self.acting.participant_id or "",
            after={
                "import_id": str(self.batch.public_id),
                "rows": f"{rows[0].number}-{rows[-1].number}" if rows else "",
                "accepted": result.accepted,
                "rejected": result.rejected,
                "flagged": result.flagged,
            },
        )


_NEAR_WORDS: Final = {
    "near_location": "of the same category and a similar capacity at the same postcode or close by",
    "similar_serial": "of the same manufacturer at the same site with a serial one character apart",
}


def _possible_duplicate(near: list[tuple[str, int, str, dict[str, Any], bool]]) -> dict[str, str]:
    """The flagged row's note: how many candidates, why, and those the importer may see."""
    count = len({m[1] for m in near})
    why = " or ".join(_NEAR_WORDS[r] for r in sorted({m[0] for m in near}))
    shown = sorted({m[2] for m in near if m[4]})
    named = f": {', '.join(shown)}" if shown else ""
    return _error(
        "",
        "asset.possible_duplicate",
        f"Registered, but it may duplicate {count} registered asset(s) {why}{named}. "
        "The central operator will check it.",
    )


def _query_reason(count: int) -> str:
    return (
        f"Possible duplicate of {count} registered asset(s): the central operator will check "
        "before its authenticity is confirmed."
    )


def _start_authenticity(pks: list[int]) -> None:
    """Once the chunk commits, queue the start of the new assets' authenticity checks (one
    task per chunk: ``tasks_imports.start_checks`` -> ``authenticity.start_many``), so the
    import goes on while other workers create and run the checks."""
    chosen = list(pks)

    def queue() -> None:
        from flexreg.assets import tasks_imports

        tasks_imports.start_checks.enqueue(chosen)

    transaction.on_commit(queue, robust=True)


# --- a whole import -----------------------------------------------------------------------


def chunks(records: Iterator[tuple[int, Any]], size: int) -> Iterator[list[tuple[int, Any]]]:
    while True:
        chunk = list(itertools.islice(records, size))
        if not chunk:
            return
        yield chunk


class Stopped(Exception):
    """Another chunk in flight failed: this one stops (and rolls back)."""


class _Order:
    """Keeps chunks processed on several connections in file order where it matters: chunk
    i decides its within-file duplicates after chunk i-1 did (and sees its rows), inserts
    after chunk i-1 inserted (the earlier row of a key goes in first) and commits after chunk
    i-1 committed (progress stays a prefix of the file, so a re-run resumes correctly)."""

    def __init__(self, workers: int) -> None:
        self.cond = threading.Condition()
        self.workers = workers
        self.marks = {"checked": -1, "inserted": -1, "committed": -1}
        self.rows: dict[int, list[_Row]] = {}
        self.lost: set[Any] = set()
        self.failed: BaseException | None = None

    def wait(self, mark: str, index: int) -> None:
        with self.cond:
            self.cond.wait_for(lambda: self.failed is not None or self.marks[mark] >= index - 1)
            if self.failed is not None:
                raise Stopped from self.failed

    def done(self, mark: str, index: int) -> None:
        with self.cond:
            self.marks[mark] = max(self.marks[mark], index)
            if mark == "committed":
                for old in [i for i in self.rows if i <= index - self.workers]:
                    del self.rows[old]
            self.cond.notify_all()

    def keep(self, index: int, rows: list[_Row]) -> None:
        with self.cond:
            self.rows[index] = rows

    def recent(self, index: int) -> list[_Row]:
        """The rows of the chunks before ``index`` that may still be in flight."""
        with self.cond:
            return [
                row
                for i in range(max(0, index - self.workers + 1), index)
                for row in self.rows.get(i, ())
            ]

    def fail(self, exc: BaseException) -> None:
        with self.cond:
            if self.failed is None:
                self.failed = exc
            self.cond.notify_all()


def workers() -> int:
    """Database connections an import uses at once (``ASSET_IMPORT_CONNECTIONS``, default 2)."""
    return max(1, int(getattr(settings, "ASSET_IMPORT_CONNECTIONS", 2)))


def process_file(
    engine: Engine,
    handle: IO[bytes],
    *,
    start_after: int = 0,
    chunk_size: int = CHUNK_SIZE,
    connections: int | None = None,
) -> None:
    """Run every chunk of the file after row ``start_after`` (the rows already done).

    The next chunks are read and validated in a thread (which never touches the database)
    while earlier ones are in the database, on ``connections`` connections at once (each
    chunk a transaction of its own, in file order where it matters: :class:`_Order`). Inside
    a transaction (tests) chunks run one by one on this connection: other connections would
    not see its data.
    """
    records = read_records(handle, engine.batch.file_format)
    remaining = (item for item in records if item[0] > start_after)
    limited = itertools.takewhile(lambda item: item[0] <= MAX_ROWS, remaining)
    validated = (engine.validate(chunk) for chunk in chunks(limited, chunk_size))
    count = workers() if connections is None else max(1, connections)
    if count == 1 or connection.in_atomic_block:
        for rows in read_ahead(validated):
            engine.process_validated(rows)
        return
    _in_parallel(engine, read_ahead(validated), count)


def _in_parallel(engine: Engine, validated: Generator[list[_Row], None, None], count: int) -> None:
    order = _Order(count)
    take = threading.Lock()
    numbered = enumerate(validated)

    def work() -> None:
        try:
            while order.failed is None:
                with take:
                    item = next(numbered, None)
                if item is None:
                    return
                index, rows = item
                engine.process_validated(rows, order, index)
        except Stopped:
            pass
        except BaseException as exc:
            order.fail(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [
        threading.Thread(target=work, name=f"asset-import-{n}", daemon=True) for n in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    validated.close()  # stops the reading thread
    if order.failed is not None:
        raise order.failed


_END: Final = object()


def read_ahead(items: Iterator[Any]) -> Generator[Any, None, None]:
    """Yield ``items`` produced by a thread one item ahead of the consumer; an exception
    in the thread is raised here. Stopping early stops the thread."""
    box: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((False, _END))
        except BaseException as exc:  # handed to the consumer
            put((False, exc))

    thread = threading.Thread(target=produce, name="asset-import-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = box.get()
            if ok:
                yield item
            elif item is _END:
                return
            else:
                raise item
    finally:
        stop.set()
        thread.join(timeout=30)


@contextlib.contextmanager
def run_lock(batch_pk: int) -> Iterator[bool]:
    """A session advisory lock on the import while it runs: True if this process holds it."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s, %s)", [RUN_LOCK_NAMESPACE, batch_pk])
        (held,) = cur.fetchone()
    try:
        yield bool(held)
    finally:
        if held:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s, %s)", [RUN_LOCK_NAMESPACE, batch_pk])
