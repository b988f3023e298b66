"""Stream Companies House's free "Basic Company Data" bulk CSV.

The monthly product (about 5.7 million rows) comes as one CSV, or as a zip holding one
CSV. This module reads it row by row (never the whole file), yields a
:class:`BasicCompanyRecord` per usable row, and skips and counts malformed rows instead
of failing, so one bad line in millions does not stop an import.

Quirks handled:

* the header names carry leading spaces (`` CompanyNumber``, `` RegAddress.AddressLine2``,
  `` PreviousName_1.CompanyName`` ...): they are stripped;
* UTF-8 with or without a byte-order mark; undecodable bytes become U+FFFD rather than
  stopping the import at row 3 million;
* fields may be quoted, with embedded commas (and even line breaks);
* dates are ``dd/mm/yyyy`` or empty;
* ``CompanyStatus`` is a label (``Active``, ``Active - Proposal to Strike off``,
  ``In Administration/Receiver Manager``, ``RECEIVERSHIP``...), mapped to the public
  data API's ``company_status`` vocabulary by :func:`status_from_label`; the raw label
  is kept. An unknown label gives ``status=None`` (counted, not skipped).

Usage::

    with iter_basic_company_data(path) as rows:
        for record in rows:
            ...
        print(rows.yielded, rows.skipped, rows.skip_reasons)
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import IO, Final, Self

__all__ = [
    "BASIC_COMPANY_DATA_HEADER",
    "REQUIRED_COLUMNS",
    "STATUS_BY_LABEL",
    "BasicCompanyDataError",
    "BasicCompanyDataIterator",
    "BasicCompanyRecord",
    "iter_basic_company_data",
    "status_from_label",
]

#: The product's header line, exactly as published (note the leading spaces).
BASIC_COMPANY_DATA_HEADER: Final = (
    "CompanyName, CompanyNumber,RegAddress.CareOf,RegAddress.POBox,RegAddress.AddressLine1,"
    " RegAddress.AddressLine2,RegAddress.PostTown,RegAddress.County,RegAddress.Country,"
    "RegAddress.PostCode,CompanyCategory,CompanyStatus,CountryOfOrigin,DissolutionDate,"
    "IncorporationDate,Accounts.AccountRefDay,Accounts.AccountRefMonth,Accounts.NextDueDate,"
    "Accounts.LastMadeUpDate,Accounts.AccountCategory,Returns.NextDueDate,"
    "Returns.LastMadeUpDate,Mortgages.NumMortCharges,Mortgages.NumMortOutstanding,"
    "Mortgages.NumMortPartSatisfied,Mortgages.NumMortSatisfied,SICCode.SicText_1,"
    "SICCode.SicText_2,SICCode.SicText_3,SICCode.SicText_4,LimitedPartnerships.NumGenPartners,"
    "LimitedPartnerships.NumLimPartners,URI,PreviousName_1.CONDATE, PreviousName_1.CompanyName,"
    " PreviousName_2.CONDATE, PreviousName_2.CompanyName,PreviousName_3.CONDATE,"
    " PreviousName_3.CompanyName,PreviousName_4.CONDATE, PreviousName_4.CompanyName,"
    "PreviousName_5.CONDATE, PreviousName_5.CompanyName,PreviousName_6.CONDATE,"
    " PreviousName_6.CompanyName,PreviousName_7.CONDATE, PreviousName_7.CompanyName,"
    "PreviousName_8.CONDATE, PreviousName_8.CompanyName,PreviousName_9.CONDATE,"
    " PreviousName_9.CompanyName,PreviousName_10.CONDATE, PreviousName_10.CompanyName,"
    "ConfStmtNextDueDate,ConfStmtLastMadeUpDate"
)

_COLUMNS: Final = {
    "company_name": "CompanyName",
    "company_number": "CompanyNumber",
    "address_line_1": "RegAddress.AddressLine1",
    "address_line_2": "RegAddress.AddressLine2",
    "post_town": "RegAddress.PostTown",
    "county": "RegAddress.County",
    "country": "RegAddress.Country",
    "postcode": "RegAddress.PostCode",
    "category": "CompanyCategory",
    "status_label": "CompanyStatus",
    "dissolution_date": "DissolutionDate",
    "incorporation_date": "IncorporationDate",
}
#: Columns (stripped names) a file must have.
REQUIRED_COLUMNS: Final[tuple[str, ...]] = tuple(_COLUMNS.values())

# Labels seen in the product (compared after lower-casing and tidying spaces around "/"),
# mapped to the public data API's ``company_status``. Where a label combines two states
# the more serious insolvency process wins. "Live but Receiver Manager on at least one
# charge" is mapped to ``receivership`` on purpose: whatever the API says of such a
# company, it must not pass as plainly active without a person looking at it.
STATUS_BY_LABEL: Final[dict[str, str]] = {
    "active": "active",
    "active - proposal to strike off": "active",
    "liquidation": "liquidation",
    "in liquidation": "liquidation",
    "in administration": "administration",
    "administration": "administration",
    "administration order": "administration",
    "in administration/administrative receiver": "administration",
    "in administration/receiver manager": "administration",
    "voluntary arrangement": "voluntary-arrangement",
    "voluntary arrangement/administrative receiver": "voluntary-arrangement",
    "voluntary arrangement/receiver manager": "voluntary-arrangement",
    "receivership": "receivership",
    "receiver action": "receivership",
    "administrative receiver": "receivership",
    "receiver manager": "receivership",
    "receiver manager/administrative receiver": "receivership",
    "live but receiver manager on at least one charge": "receivership",
    "insolvency proceedings": "insolvency-proceedings",
    "dissolved": "dissolved",
    "converted/closed": "converted-closed",
    "converted closed": "converted-closed",
    "open": "open",
    "closed": "closed",
    "registered": "registered",
    "removed": "removed",
}

_SLASH: Final = re.compile(r"\s*/\s*")
_SPACES: Final = re.compile(r"\s+")
_NUMBER_SHAPE: Final = re.compile(r"^(?:\d{2}|[A-Z]{2}|[A-Z]\d)\d{5}[A-Z\d]$")
_MAX_EXAMPLES: Final = 100


def status_from_label(label: str) -> str | None:
    """The API status for a bulk-file label, or None when the label is unknown."""
    key = _SPACES.sub(" ", _SLASH.sub("/", label.strip().lower()))
    return STATUS_BY_LABEL.get(key)


class BasicCompanyDataError(Exception):
    """The file cannot be read as Basic Company Data (header, zip content, empty file)."""


@dataclass(frozen=True, slots=True)
class BasicCompanyRecord:
    company_number: str
    company_name: str
    status: str | None  # the API's vocabulary ("active", "liquidation"...), None if unknown
    status_label: str  # as written in the file
    category: str | None
    incorporation_date: date | None
    dissolution_date: date | None
    address_line_1: str | None
    address_line_2: str | None
    post_town: str | None
    county: str | None
    country: str | None
    postcode: str | None


class _BadRow(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _parse_date(value: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    parts = value.split("/")
    if len(parts) != 3 or not all(part.isdigit() for part in parts) or len(parts[2]) != 4:
        raise _BadRow("bad_date")
    try:
        return date(int(parts[2]), int(parts[1]), int(parts[0]))
    except ValueError:
        raise _BadRow("bad_date") from None


def _optional(value: str) -> str | None:
    value = value.strip()
    return value or None


def _company_number(value: str) -> str:
    number = value.strip().upper()
    if number.isdigit() and len(number) < 8:
        number = number.zfill(8)
    if not _NUMBER_SHAPE.match(number):
        raise _BadRow("bad_company_number")
    return number


class BasicCompanyDataIterator(Iterator[BasicCompanyRecord]):
    """Iterates the records of one file; counts what it read, yielded and skipped.

    The header is read (and checked) when the iterator is created; the file is closed when
    the rows run out, on :meth:`close`, or at the end of a ``with`` block.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.rows_read = 0  # data rows seen (blank lines are not rows)
        self.yielded = 0
        self.skipped = 0
        self.skip_reasons: Counter[str] = Counter()
        #: (line number in the file, the header being line 1; reason), the first 100 only
        self.skipped_examples: list[tuple[int, str]] = []
        self.unknown_status_labels: Counter[str] = Counter()
        self._archive: zipfile.ZipFile | None = None
        self._text: IO[str] = self._open()
        try:
            self._reader = csv.reader(self._text, strict=True)
            self._index, self._width = self._read_header()
        except BaseException:
            self.close()
            raise
        self._closed = False

    # -- opening --
    def _open(self) -> IO[str]:
        if not self.path.is_file():
            raise BasicCompanyDataError(f"{self.path} is not a file.")
        if self.path.suffix.lower() == ".zip" or zipfile.is_zipfile(self.path):
            try:
                self._archive = zipfile.ZipFile(self.path)
            except zipfile.BadZipFile as exc:
                raise BasicCompanyDataError(f"{self.path} is not a readable zip: {exc}") from exc
            members = [
                info
                for info in self._archive.infolist()
                if not info.is_dir()
                and info.filename.lower().endswith(".csv")
                and not info.filename.startswith("__MACOSX/")
            ]
            if len(members) != 1:
                self._archive.close()
                raise BasicCompanyDataError(
                    f"{self.path} must hold exactly one .csv file; it holds {len(members)}."
                )
            binary = self._archive.open(members[0])
            return io.TextIOWrapper(binary, encoding="utf-8-sig", errors="replace", newline="")
        return self.path.open(encoding="utf-8-sig", errors="replace", newline="")

    def _read_header(self) -> tuple[dict[str, int], int]:
        try:
            header = next(self._reader)
        except StopIteration:
            raise BasicCompanyDataError(f"{self.path} is empty: no header row.") from None
        except csv.Error as exc:
            raise BasicCompanyDataError(f"{self.path}: unreadable header ({exc}).") from exc
        names = [name.strip().lstrip("\ufeff").strip() for name in header]
        index: dict[str, int] = {}
        for position, name in enumerate(names):
            index.setdefault(name, position)
        missing = [column for column in REQUIRED_COLUMNS if column not in index]
        if missing:
            raise BasicCompanyDataError(
                f"{self.path} is not Basic Company Data: the header lacks {', '.join(missing)}."
            )
        return index, len(names)

    # -- iterating --
    def __iter__(self) -> Self:
        return self

    def __next__(self) -> BasicCompanyRecord:
        if self._closed:
            raise StopIteration
        while True:
            try:
                row = next(self._reader)
            except StopIteration:
                self.close()
                raise
            except csv.Error:
                # e.g. a stray quote the strict reader refuses; the reader resumes on the
                # next line.
                self.rows_read += 1
                self._skip("unparseable_csv")
                continue
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            self.rows_read += 1
            if len(row) != self._width:
                self._skip("wrong_field_count")
                continue
            try:
                record = self._record(row)
            except _BadRow as bad:
                self._skip(bad.reason)
                continue
            self.yielded += 1
            return record

    def _skip(self, reason: str) -> None:
        self.skipped += 1
        self.skip_reasons[reason] += 1
        if len(self.skipped_examples) < _MAX_EXAMPLES:
            self.skipped_examples.append((self._reader.line_num, reason))

    def _record(self, row: list[str]) -> BasicCompanyRecord:
        index = self._index

        def cell(field: str) -> str:
            return row[index[_COLUMNS[field]]]

        name = cell("company_name").strip()
        if not name:
            raise _BadRow("missing_company_name")
        number = _company_number(cell("company_number"))
        label = cell("status_label").strip()
        status = status_from_label(label) if label else None
        record = BasicCompanyRecord(
            company_number=number,
            company_name=name,
            status=status,
            status_label=label,
            category=_optional(cell("category")),
            incorporation_date=_parse_date(cell("incorporation_date")),
            dissolution_date=_parse_date(cell("dissolution_date")),
            address_line_1=_optional(cell("address_line_1")),
            address_line_2=_optional(cell("address_line_2")),
            post_town=_optional(cell("post_town")),
            county=_optional(cell("county")),
            country=_optional(cell("country")),
            postcode=_optional(cell("postcode")),
        )
        if status is None:
            self.unknown_status_labels[label] += 1
        return record

    # -- closing --
    def close(self) -> None:
        self._closed = True
        self._text.close()
        if self._archive is not None:
            self._archive.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def iter_basic_company_data(path: Path) -> BasicCompanyDataIterator:
    """Stream the records of a Basic Company Data ``.csv`` or ``.zip`` (one csv inside).

    Raises :class:`BasicCompanyDataError` at once if the header lacks a required column
    (the message names them). Malformed rows are skipped; see the returned iterator's
    ``skipped``, ``skip_reasons`` and ``skipped_examples``.
    """
    return BasicCompanyDataIterator(path)
