"""ENTSO-E's published lists of Energy Identification Codes: reading their CSV files, loading
them into ``EicRecord`` (``flexreg eic import``) and checking a participant's EIC against them
(the ``eic_register`` check of market entry).

The files are the ones ENTSO-E's central issuing office publishes per object type
(``X_eicCodes.csv`` for parties, ``W_eicCodes.csv`` for resource objects, ``Y``, ``Z``, ``T``,
``V``, ``A``): semicolon-separated UTF-8 with the header::

    EicCode;EicDisplayName;EicLongName;EicParent;EicResponsibleParty;EicStatus;
    MarketParticipantPostalCode;MarketParticipantIsoCountryCode;MarketParticipantVatCode;
    EicTypeFunctionList;type

Known quirks of the published files, all tolerated here: a byte-order mark; fields are not
quoted, so a name may contain the separator (``"Foo; S.L."``) or a line break (the record
continues on the next physical line); ``&`` sometimes appears as ``$amp;`` or ``&amp;``; empty
values written as ``n/a``, ``-`` or ``.``. Header names are matched ignoring case, spaces,
underscores and punctuation, so renamed or re-exported files (comma- or tab-separated, quoted,
``eic_code``...) load too. A zip of CSV files is read member by member.

Every code is validated (length, alphabet, object type, check character) with
:class:`flexreg.identifiers.EIC`; rows that fail are counted per reason and not loaded. Loading
is one transaction: ``COPY`` into a temporary table, then one ``INSERT ... ON CONFLICT`` upsert,
so a full list of tens of thousands of codes loads in about a second.
"""

from __future__ import annotations

import csv
import re
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from django.db import connection, transaction
from django.utils import timezone

from flexreg.core import audit
from flexreg.core.acting import Acting
from flexreg.entry.models import CheckRun, EicRecord
from flexreg.identifiers import EIC, EICType, IdentifierError

__all__ = [
    "ACTIVE_STATUS",
    "NOT_PUBLISHED",
    "EicFileError",
    "EicRow",
    "FileReport",
    "ImportResult",
    "assess",
    "format_result",
    "import_files",
    "names_match",
    "normalise_holder_name",
    "parse_text",
    "party_register_loaded",
    "read_files",
]

#: The status ENTSO-E publishes for a code in use (compared ignoring case).
ACTIVE_STATUS: Final = "Active"
#: Set by ``flexreg eic import --prune`` on codes no longer in the published list of their type.
NOT_PUBLISHED: Final = "Not published"

# Canonical column -> header names it may appear under (normalised: lower case, letters and
# digits only).
_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "code": ("eiccode", "code", "eic", "energyidentificationcode"),
    "display_name": ("eicdisplayname", "displayname", "display"),
    "long_name": ("eiclongname", "longname", "name", "eicname"),
    "parent": ("eicparent", "parent"),
    "responsible_party": ("eicresponsibleparty", "responsibleparty"),
    "status": ("eicstatus", "status"),
    "postal_code": ("marketparticipantpostalcode", "postalcode", "postcode"),
    "country": ("marketparticipantisocountrycode", "isocountrycode", "countrycode", "country"),
    "vat_code": ("marketparticipantvatcode", "vatcode", "vat", "vatnumber"),
    "function_list": ("eictypefunctionlist", "typefunctionlist", "functionlist", "functions"),
    "type": ("type", "eictype", "objecttype", "eicobjecttype"),
}
# The columns EicRecord keeps (the others are recognised, and skipped).
_LOADED: Final = frozenset(
    {"code", "display_name", "long_name", "status", "vat_code", "function_list", "type"}
)
_EMPTY: Final = frozenset({"", "n / a", "n/a", "-", "--", "-------", "."})
_CODE_SHAPE: Final = re.compile(r"^[0-9A-Z-]{16}$")
_MAX_JOINED_LINES: Final = 5  # a record broken over more physical lines than this is malformed
_EXAMPLES_KEPT: Final = 10


class EicFileError(Exception):
    """The file cannot be read as an EIC list at all (no header, no EicCode column)."""


@dataclass(slots=True)
class EicRow:
    code: str
    object_type: str
    display_name: str
    long_name: str
    status: str
    issuer: str  # the Local Issuing Office: the code's first two characters, e.g. "48" (GB)
    vat_code: str
    function_list: str
    source_file: str
    line: int


@dataclass
class FileReport:
    """What one file held: rows read, rows refused (per reason, with a few examples)."""

    name: str
    rows: int = 0
    bad: int = 0
    bad_reasons: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    encoding: str = "utf-8"
    delimiter: str = ";"

    def refuse(self, line: int, reason: str, detail: str) -> None:
        self.bad += 1
        self.bad_reasons[reason] += 1
        if len(self.examples) < _EXAMPLES_KEPT:
            self.examples.append(f"{self.name} line {line}: {reason}: {detail}"[:300])


@dataclass
class ImportResult:
    files: list[FileReport]
    read: int = 0  # good rows read (duplicates included)
    bad: int = 0
    duplicates: int = 0  # the same code more than once: the last one read wins
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    not_published: int = 0  # --prune: codes of the imported types missing from the files

    @property
    def loaded(self) -> int:
        return self.new + self.changed + self.unchanged

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": [f.name for f in self.files],
            "read": self.read,
            "bad": self.bad,
            "duplicates": self.duplicates,
            "loaded": self.loaded,
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "not_published": self.not_published,
            "bad_reasons": dict(sum((f.bad_reasons for f in self.files), Counter())),
        }


# --- reading --------------------------------------------------------------------------------


def _header_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.strip().strip('"').lower())


def _column_positions(header: Sequence[str]) -> dict[str, int]:
    keys = [_header_key(h) for h in header]
    positions: dict[str, int] = {}
    for column, aliases in _COLUMNS.items():
        for alias in aliases:
            if alias in keys and keys.index(alias) not in positions.values():
                positions[column] = keys.index(alias)
                break
    return positions


def _decode(data: bytes) -> tuple[str, str]:
    try:
        text, encoding = data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = data.decode("cp1252", errors="replace"), "windows-1252"
    return text.lstrip("\ufeff"), encoding


def _clean(value: str) -> str:
    if not value:
        return ""
    if "$amp;" in value or "&amp;" in value or "\ufeff" in value:
        value = value.replace("\ufeff", "").replace("$amp;", "&").replace("&amp;", "&")
    value = " ".join(value.split())  # trims and collapses runs of whitespace
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].replace('""', '"').strip()
    return "" if value.lower() in _EMPTY else value


def _splitter(delimiter: str) -> Any:
    def split(line: str) -> list[str]:
        if '"' in line:
            return next(csv.reader([line], delimiter=delimiter, skipinitialspace=True), [])
        return line.split(delimiter)

    return split


def _starts_record(line: str, delimiter: str) -> bool:
    head, sep, _ = line.partition(delimiter)
    return bool(sep) and bool(_CODE_SHAPE.match(head.strip().strip('"').upper()))


def parse_text(text: str, source: str, report: FileReport) -> Iterator[EicRow]:
    """The valid rows of one file's text; refused rows are counted on ``report``."""
    lines = re.split(r"\r\n|\r|\n", text)
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    if start is None:
        raise EicFileError(f"{source} is empty.")
    header_line = lines[start]
    delimiter = max((";", "\t", ","), key=lambda d: (header_line.count(d), d == ";"))
    if header_line.count(delimiter) == 0:
        raise EicFileError(f"{source}: the first line is not a header of an EIC list.")
    report.delimiter = delimiter
    split = _splitter(delimiter)
    header = split(header_line)
    positions = _column_positions(header)
    if "code" not in positions:
        raise EicFileError(
            f"{source}: no EicCode column in the header ({header_line.strip()[:200]!r})."
        )
    width = len(header)
    long_name_at = positions.get("long_name")
    wanted = [(c, at) for c, at in positions.items() if c in _LOADED]
    i = start + 1
    while i < len(lines):
        line, number = lines[i], i + 1
        i += 1
        if not line.strip():
            continue
        fields = split(line)
        joined = 0
        # A line break inside an unquoted name: the record goes on on the next line(s).
        while (
            len(fields) < width
            and i < len(lines)
            and joined < _MAX_JOINED_LINES
            and not _starts_record(lines[i], delimiter)
        ):
            line = f"{line} {lines[i]}"
            i += 1
            joined += 1
            fields = split(line)
        report.rows += 1
        if len(fields) > width:
            # An unquoted separator inside the long name: give the surplus back to it.
            if long_name_at is None:
                report.refuse(number, "too_many_fields", line.strip())
                continue
            surplus = len(fields) - width
            fields = [
                *fields[:long_name_at],
                delimiter.join(fields[long_name_at : long_name_at + surplus + 1]),
                *fields[long_name_at + surplus + 1 :],
            ]
        elif len(fields) < width:
            report.refuse(number, "too_few_fields", line.strip())
            continue
        row = {column: _clean(fields[at]) for column, at in wanted}
        raw_code = row["code"].upper()
        if not raw_code:
            report.refuse(number, "eic.empty", line.strip())
            continue
        try:
            code = str(EIC.parse(raw_code))
        except IdentifierError as exc:
            report.refuse(number, exc.code, raw_code)
            continue
        published_type = row.get("type", "").upper()
        if published_type and published_type != code[2]:
            report.refuse(
                number, "eic.type_mismatch", f"{code} is listed with type {published_type}"
            )
            continue
        yield EicRow(
            code=code,
            object_type=code[2],
            display_name=row.get("display_name", "")[:200],
            long_name=row.get("long_name", "")[:300],
            status=row.get("status", "")[:30],
            issuer=code[:2],
            vat_code=row.get("vat_code", "")[:40],
            function_list=row.get("function_list", "")[:300],
            source_file=source[:200],
            line=number,
        )


def _file_contents(path: Path) -> Iterator[tuple[str, bytes]]:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            members = [
                m
                for m in archive.infolist()
                if not m.is_dir() and m.filename.lower().endswith(".csv")
            ]
            if not members:
                raise EicFileError(f"{path.name} holds no CSV file.")
            for member in members:
                yield Path(member.filename).name, archive.read(member)
    else:
        yield path.name, path.read_bytes()


def read_files(paths: Iterable[Path | str]) -> tuple[dict[str, EicRow], ImportResult]:
    """Every valid row of the files, one per code (the last read wins), and the counts."""
    rows: dict[str, EicRow] = {}
    result = ImportResult(files=[])
    for raw_path in paths:
        path = Path(raw_path)
        if not path.is_file():
            raise EicFileError(f"{path} does not exist.")
        for name, data in _file_contents(path):
            text, encoding = _decode(data)
            report = FileReport(name=name, encoding=encoding)
            result.files.append(report)
            for row in parse_text(text, name, report):
                result.read += 1
                if row.code in rows:
                    result.duplicates += 1
                rows[row.code] = row
            result.bad += report.bad
    return rows, result


# --- loading --------------------------------------------------------------------------------

_DATA_COLUMNS: Final = (
    "object_type",
    "display_name",
    "long_name",
    "status",
    "issuer",
    "vat_code",
    "function_list",
)
_TEMP: Final = "flexreg_eic_import"


def import_files(
    paths: Iterable[Path | str], *, prune: bool = False, acting: Acting | None = None
) -> ImportResult:
    """Load (or refresh) ENTSO-E EIC lists into ``EicRecord``: new codes are added, known ones
    updated, nothing deleted. With ``prune``, codes of an object type the files cover but no
    longer list get the status ``"Not published"`` (kept as evidence, no longer active)."""
    rows, result = read_files(paths)
    acting = acting or Acting.system("eic-import")
    now = timezone.now()
    table = connection.ops.quote_name(EicRecord._meta.db_table)
    columns = ("code", *_DATA_COLUMNS, "source_file")
    column_list = ", ".join(columns)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{_TEMP}")
        cursor.execute(
            f"CREATE TEMP TABLE {_TEMP} (code varchar(16) PRIMARY KEY, "
            + ", ".join(f"{c} text NOT NULL" for c in (*_DATA_COLUMNS, "source_file"))
            + ") ON COMMIT DROP"
        )
        raw = cursor.cursor  # psycopg 3: COPY straight from Python, no text building
        with raw.copy(f"COPY {_TEMP} ({column_list}) FROM STDIN") as copy:
            for row in rows.values():
                copy.write_row(tuple(getattr(row, c) for c in columns))
        distinct = " OR ".join(f"r.{c} IS DISTINCT FROM t.{c}" for c in _DATA_COLUMNS)
        cursor.execute(
            f"SELECT count(*) FILTER (WHERE r.code IS NULL), "  # noqa: S608 - fixed names
            f"count(*) FILTER (WHERE r.code IS NOT NULL AND ({distinct})) "
            f"FROM {_TEMP} t LEFT JOIN {table} r ON r.code = t.code"
        )
        new, changed = cursor.fetchone()
        result.new, result.changed = int(new), int(changed)
        result.unchanged = len(rows) - result.new - result.changed
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in (*_DATA_COLUMNS, "source_file"))
        cursor.execute(
            f"INSERT INTO {table} ({column_list}, imported_at) "  # noqa: S608 - fixed names
            f"SELECT {column_list}, %s FROM {_TEMP} "
            f"ON CONFLICT (code) DO UPDATE SET {updates}, imported_at = EXCLUDED.imported_at",
            [now],
        )
        if prune and rows:
            types = sorted({row.object_type for row in rows.values()})
            cursor.execute(
                f"UPDATE {table} r SET status = %s, imported_at = %s "  # noqa: S608
                f"WHERE r.object_type = ANY(%s) AND r.status <> %s "
                f"AND NOT EXISTS (SELECT 1 FROM {_TEMP} t WHERE t.code = r.code)",
                [NOT_PUBLISHED, now, types, NOT_PUBLISHED],
            )
            result.not_published = cursor.rowcount
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{_TEMP}")
        audit.record(
            acting,
            "eic_register.imported",
            object_type="eic_register",
            object_id="entso-e",
            after={**result.as_dict(), "prune": prune},
            only_changed=False,
        )
    return result


# --- checking -------------------------------------------------------------------------------

# Legal-form words dropped before names are compared (ENTSO-E's names often omit or abbreviate
# them). Longest first so "public limited company" goes before "limited".
_LEGAL_FORMS: Final = (
    "limited liability partnership",
    "public limited company",
    "community interest company",
    "cyfyngedig",
    "limited",
    "ltd",
    "plc",
    "llp",
    "cyf",
    "ccc",
    "cic",
)
_LEGAL_FORMS_RE: Final = re.compile(r"\b(?:" + "|".join(map(re.escape, _LEGAL_FORMS)) + r")\b")


def normalise_holder_name(name: str) -> str:
    """A name folded for comparison: accents, case and punctuation ignored, ``&`` read as
    ``and``, legal forms (Limited/Ltd, PLC, LLP...) and a leading "The" dropped, spaces
    removed (ENTSO-E's display names squash or hyphenate words: ``BRIGHTWATT-FLEX``)."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    folded = folded.replace("$amp;", "&").replace("&amp;", "&").replace("&", " and ")
    folded = re.sub(r"[^a-z0-9]+", " ", folded)
    folded = _LEGAL_FORMS_RE.sub(" ", folded)
    folded = re.sub(r"^\s*the\s+", "", folded)
    return re.sub(r"\s+", "", folded)


def names_match(legal_name: str, *published: str) -> bool:
    """True if the legal name matches any of the published names once both are normalised."""
    wanted = normalise_holder_name(legal_name)
    return bool(wanted) and any(wanted == normalise_holder_name(name) for name in published if name)


def party_register_loaded() -> bool:
    """Has any list of party codes been imported? (Until then the check cannot conclude.)"""
    return EicRecord.objects.filter(object_type=EICType.PARTY.value).exists()


def _evidence(record: EicRecord) -> dict[str, Any]:
    return {
        "code": record.code,
        "object_type": record.object_type,
        "display_name": record.display_name,
        "long_name": record.long_name,
        "status": record.status,
        "issuer": record.issuer,
        "vat_code": record.vat_code,
        "function_list": record.function_list,
        "source_file": record.source_file,
        "imported_at": record.imported_at.isoformat(),
    }


def assess(code: str, legal_name: str) -> tuple[str, dict[str, Any]]:
    """Check an EIC given by a participant against the imported lists: it must be listed,
    active, a party (X) code, and held under the participant's legal name. Returns the check
    status (passed, or failed: operator review) and the outcome with the evidence."""
    failed, passed = CheckRun.Status.FAILED, CheckRun.Status.PASSED
    given = (code or "").strip().upper()
    if not given:
        return failed, {
            "detail": "No EIC was given: the central operator will check by hand.",
            "reasons": [{"code": "eic.missing", "message": "No EIC was given."}],
        }
    try:
        eic = EIC.parse(given)
    except IdentifierError as exc:
        return failed, {
            "detail": f"{given} is not a valid EIC: {exc.message}",
            "eic": given,
            "reasons": [{"code": exc.code, "message": exc.message}],
        }
    record = EicRecord.objects.filter(code=eic.value).first()
    if record is None:
        latest = (
            EicRecord.objects.filter(object_type=eic.value[2])
            .order_by("-imported_at")
            .values_list("imported_at", flat=True)
            .first()
        )
        message = f"{eic.value} is not in ENTSO-E's published list of EIC codes."
        return failed, {
            "detail": message,
            "eic": eic.value,
            "legal_name": legal_name,
            "register_imported_at": latest.isoformat() if latest else None,
            "reasons": [{"code": "eic.not_in_register", "message": message}],
        }
    reasons: list[dict[str, str]] = []
    if record.status.strip().lower() != ACTIVE_STATUS.lower():
        reasons.append(
            {
                "code": "eic.not_active",
                "message": f"ENTSO-E lists {record.code} as {record.status or 'without a status'}"
                f", not {ACTIVE_STATUS}.",
            }
        )
    if record.object_type != EICType.PARTY.value:
        kind = next((t.label for t in EICType if t.value == record.object_type), "other object")
        reasons.append(
            {
                "code": "eic.wrong_type",
                "message": f"{record.code} identifies a {kind} ({record.object_type}), not a "
                "party (X).",
            }
        )
    if not names_match(legal_name, record.long_name, record.display_name):
        holder = record.long_name or record.display_name or "no name"
        reasons.append(
            {
                "code": "eic.name_mismatch",
                "message": f"ENTSO-E lists {record.code} for {holder!r}, not {legal_name!r}.",
            }
        )
    outcome: dict[str, Any] = {"eic": record.code, "legal_name": legal_name}
    outcome["record"] = _evidence(record)
    if reasons:
        outcome["detail"] = " ".join(r["message"] for r in reasons)
        outcome["reasons"] = reasons
        return failed, outcome
    outcome["detail"] = (
        f"{record.code} is an active party code in ENTSO-E's list, held by "
        f"{record.long_name or record.display_name}."
    )
    return passed, outcome


def format_result(result: ImportResult) -> list[str]:
    """Human-readable lines for the command line."""
    lines = [
        f"{f.name}: {f.rows} rows, {f.bad} refused"
        + (f" (read as {f.encoding})" if f.encoding != "utf-8" else "")
        for f in result.files
    ]
    lines.append(
        f"loaded {result.loaded} codes: {result.new} new, {result.changed} changed, "
        f"{result.unchanged} unchanged"
    )
    if result.duplicates:
        lines.append(f"  {result.duplicates} codes were listed more than once (last one kept)")
    if result.not_published:
        lines.append(
            f"  {result.not_published} codes no longer published: marked {NOT_PUBLISHED!r}"
        )
    lines.append(f"refused {result.bad} rows")
    reasons: Counter[str] = Counter()
    for f in result.files:
        reasons.update(f.bad_reasons)
    for reason, count in sorted(reasons.items()):
        lines.append(f"  {count}: {reason}")
    for f in result.files:
        lines.extend(f"  e.g. {example}" for example in f.examples)
    return lines
