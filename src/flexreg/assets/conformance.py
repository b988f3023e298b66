"""Conformance validation of an asset registration (pure Python, no Django, no database).

:func:`validate` takes one asset record in the shape of the API's request body and returns
either a :class:`CleanAsset` (normalised values, ready to store) and no errors, or None and
*every* error found, each a :class:`~flexreg.core.errors.FieldError` with a dotted field path
(``capacity.export_kw``, ``metering.import_mpan``, ``external_ids.0.value``) and a stable
code. Nothing here looks anything up outside the process: whether the MPAN exists, the
serial is known or the connection matches is the asynchronous authenticity stage.

The record::

    {
      "name", "category", "description", "manufacturer", "model", "serial_number", "eic",
      "external_ids": [{"scheme", "value"}],
      "energy_source",
      "capacity": {"installed_kw", "export_kw", "import_kw", "storage_kwh"},
      "flexibility_direction", "v2g",
      "metering": {"import_mpan", "export_mpan"},
      "site": {"address_line1", "address_line2", "town", "postcode", "latitude",
               "longitude", "domestic", "consumer_consent_reference"},
      "network": {"dno", "gsp_group", "voltage_level", "connection_status",
                  "connection_type", "connection_reference"},
      "commissioning_date", "effective_from"
    }

Absent, null and blank (whitespace-only) values are the same: not given. The category
schema in the catalogue (``categories.toml``) says which fields are required or forbidden;
the rules that hold for every category are written below (:data:`ERROR_CODES` lists every
code). :func:`flatten_csv_row` turns a row of a bulk CSV file into a record, and
:data:`CSV_COLUMNS` gives the columns of the downloadable template of each category.

For bulk work make one :class:`Validator` (catalogue and date bound once) and call it per
row; it keeps no state between rows.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final, NamedTuple
from zoneinfo import ZoneInfo

from flexreg.assets.catalogue import (
    RULE_FIELDS,
    Catalogue,
    CategorySchema,
    Choice,
    ChoiceList,
    FieldRule,
    default_catalogue,
)
from flexreg.core.errors import FieldError
from flexreg.identifiers import (
    DISTRIBUTORS,
    EIC,
    EICType,
    GSPGroup,
    IdentifierError,
    MPANCore,
    Postcode,
)
from flexreg.identifiers.mpan import MPAN_PRIMES

__all__ = [
    "ALL_CSV_COLUMNS",
    "CSV_COLUMNS",
    "ERROR_CODES",
    "CleanAsset",
    "ExternalId",
    "Validator",
    "csv_columns",
    "csv_columns_by_category",
    "flatten_csv_row",
    "manufacturer_key",
    "resolve_dno",
    "serial_key",
    "validate",
    "validate_rows",
]

LONDON: Final = ZoneInfo("Europe/London")

#: Every code :func:`validate` may give besides the identifier codes (``mpan.*``,
#: ``postcode.*``, ``eic.*``, ``gsp_group.*``, see ``flexreg.identifiers.ERROR_CODES``) and
#: the codes a catalogue's category schemas name for their own field rules.
ERROR_CODES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "type_error": "The value has the wrong type (e.g. a number where text is expected).",
        "unknown_field": "The record has a field FlexReg does not know.",
        "required": "The field is required (for this category).",
        "not_allowed": "The field is not allowed (for this category).",
        "too_long": "The text is longer than allowed.",
        "text.control_character": "The text contains a NUL or another control character.",
        "choice.invalid": "Not a value of the controlled list.",
        "choice.retired": "A retired value of the controlled list.",
        "decimal.invalid": "Not a number (digits and at most one decimal point).",
        "decimal.too_many_places": "More decimal places than allowed.",
        "decimal.out_of_range": "The number is too small or too large.",
        "date.invalid": "Not a date in the form YYYY-MM-DD.",
        "date.out_of_range": "The date is too far in the past or the future.",
        "serial.invalid": "The serial number has no letter or digit.",
        "external_id.bad_prefix": "The identifier does not start with a prefix of its scheme.",
        "external_id.invalid_format": "The identifier does not match its scheme's format.",
        "asset.too_many_external_ids": "More external identifiers than allowed.",
        "asset.duplicate_external_id": "The same external identifier is given twice.",
        "asset.energy_source_not_allowed": "The category cannot have this energy source.",
        "asset.storage_required": "A battery needs its storage energy (category rule).",
        "asset.v2g_only_ev_charger": "Only EV chargers can be V2G (category rule).",
        "asset.other_needs_description": "OTHER assets need a description (category rule).",
        "asset.mpan_required": "Neither an import nor an export MPAN is given.",
        "asset.export_exceeds_installed": "Export capacity above installed capacity.",
        "asset.import_exceeds_installed": "Import capacity above installed capacity.",
        "asset.export_needs_v2g": "An EV charger exports only if it is V2G.",
        "asset.v2g_needs_export": "A V2G charger needs an export capacity.",
        "asset.same_mpan": "The import and the export MPAN are the same.",
        "asset.mpan_distributor_mismatch": "The two MPANs have different distributors.",
        "asset.dno_unknown": "The DNO given is not a known distributor.",
        "asset.dno_mismatch": "The DNO given is not the MPAN's distributor.",
        "asset.gsp_mismatch": "The GSP group given is not the MPAN's.",
        "asset.gsp_group_required": "An IDNO's MPAN does not tell the GSP group: give it.",
        "asset.outside_gb": "The coordinates are outside Great Britain.",
        "asset.coordinates_incomplete": "Only one of latitude and longitude is given.",
        "asset.consent_required": "A domestic site needs the consumer's consent reference.",
        "asset.serial_needs_manufacturer": "A serial number needs its manufacturer.",
        "asset.commissioning_in_future": "A connected asset's commissioning date is ahead.",
        "asset.effective_before_commissioning": "Effective before it was commissioned.",
    }
)

_TOP_KEYS: Final = frozenset(
    {
        "name",
        "category",
        "description",
        "manufacturer",
        "model",
        "serial_number",
        "eic",
        "external_ids",
        "energy_source",
        "capacity",
        "flexibility_direction",
        "v2g",
        "metering",
        "site",
        "network",
        "commissioning_date",
        "effective_from",
    }
)
_SECTIONS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "capacity": frozenset({"installed_kw", "export_kw", "import_kw", "storage_kwh"}),
        "metering": frozenset({"import_mpan", "export_mpan"}),
        "site": frozenset(
            {
                "address_line1",
                "address_line2",
                "town",
                "postcode",
                "latitude",
                "longitude",
                "domestic",
                "consumer_consent_reference",
            }
        ),
        "network": frozenset(
            {
                "dno",
                "gsp_group",
                "voltage_level",
                "connection_status",
                "connection_type",
                "connection_reference",
            }
        ),
    }
)
_EXTERNAL_ID_KEYS: Final = frozenset({"scheme", "value"})

#: Field labels for messages.
_LABELS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "name": "the asset's name",
        "category": "the category",
        "description": "a description",
        "manufacturer": "the manufacturer",
        "model": "the model",
        "serial_number": "the serial number",
        "eic": "the EIC",
        "external_ids": "the external identifiers",
        "energy_source": "the energy source",
        "capacity.installed_kw": "the installed capacity in kW",
        "capacity.export_kw": "the export capacity in kW",
        "capacity.import_kw": "the import capacity in kW",
        "capacity.storage_kwh": "the storage energy in kWh",
        "flexibility_direction": "the direction of flexibility",
        "v2g": "whether the charger is V2G",
        "metering.import_mpan": "the import MPAN",
        "metering.export_mpan": "the export MPAN",
        "site.address_line1": "the first line of the site's address",
        "site.address_line2": "the second line of the site's address",
        "site.town": "the site's town or city",
        "site.postcode": "the site's postcode",
        "site.latitude": "the latitude",
        "site.longitude": "the longitude",
        "network.dno": "the DNO",
        "network.gsp_group": "the GSP group",
        "network.voltage_level": "the voltage level",
        "network.connection_status": "the connection status",
        "network.connection_type": "the connection type",
        "network.connection_reference": "the DNO connection reference",
        "commissioning_date": "the commissioning date",
        "effective_from": "the date the registration takes effect",
    }
)

# Single-line text: no control character at all; multi-line text may hold tab and newlines.
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_MULTILINE: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_NUMBER: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_CACHE_SIZE: Final = 50_000
_PLAIN_NUMBER: Final = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,2})?", re.ASCII)
_PLAIN_COORDINATE: Final = re.compile(r"-?[0-9]{1,3}\.[0-9]{1,15}", re.ASCII)
_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
# Every normalised postcode this matches is one identifiers.Postcode accepts (its shapes and
# Royal Mail's letter rules, written out); anything else goes through Postcode.parse.
_FAST_POSTCODE: Final = re.compile(
    r"(?:[A-PR-UWYZ][0-9]{1,2}|[A-PR-UWYZ][A-HK-Y][0-9]{1,2}|[A-PR-UWYZ][0-9][A-HJKPSTUW]"
    r"|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY]) [0-9][ABD-HJLNP-UW-Z]{2}",
    re.ASCII,
)
_SERIAL_DROP: Final = re.compile(r"[\s\-._\u2010-\u2015\u2212]+")
_NON_ALNUM: Final = re.compile(r"[^0-9A-Z]+")
_LEGAL_FORMS: Final = frozenset(
    {"LTD", "LIMITED", "PLC", "LLP", "LLC", "INC", "CORP", "CORPORATION", "CO", "COMPANY"}
    | {"GMBH", "AG", "KG", "SE", "SA", "SAS", "SARL", "SPA", "SRL", "BV", "NV", "AB", "AS", "OY"}
)
# The check digit is computed on the ASCII codes: subtract 48 ("0") x the sum of the weights.
_MPAN_WEIGHT_OFFSET: Final = 48 * sum(MPAN_PRIMES)
assert MPAN_PRIMES == (3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43)
_CSV_TRUE: Final = frozenset({"true", "yes", "y", "1"})
_CSV_FALSE: Final = frozenset({"false", "no", "n", "0"})


class _Bad:
    """A value that failed (its error is already recorded): no further rule looks at it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "BAD"


BAD: Final = _Bad()


class ExternalId(NamedTuple):
    """An identifier the asset already has in another scheme, normalised."""

    scheme: str
    value: str


@dataclass(frozen=True)
class CleanAsset:
    """An asset record that passed conformance, in normalised form.

    Free text that was not given is ``""``; identifiers, choices, numbers and dates that
    were not given are None. ``serial_key`` and ``manufacturer_key`` are the duplicate
    detection keys (compare ``manufacturer_key`` + ``serial_key``). ``distributor_id`` is
    the MPAN's first two digits (a DNO licence area, or an IDNO from 24 on);
    ``dno_licence_area`` is the MPID of the licence area the site is in (for an IDNO, the
    host area of its GSP group) and ``gsp_group`` its GSP group.
    """

    name: str
    category: str
    description: str
    manufacturer: str
    manufacturer_key: str | None
    model: str
    serial_number: str
    serial_key: str | None
    eic: str | None
    external_ids: tuple[ExternalId, ...]
    energy_source: str | None
    installed_kw: Decimal
    export_kw: Decimal | None
    import_kw: Decimal | None
    storage_kwh: Decimal | None
    flexibility_direction: str
    v2g: bool
    import_mpan: str | None
    export_mpan: str | None
    distributor_id: str | None
    dno_licence_area: str | None
    gsp_group: str | None
    address_line1: str
    address_line2: str
    town: str
    postcode: str
    latitude: Decimal | None
    longitude: Decimal | None
    domestic: bool
    consumer_consent_reference: str
    voltage_level: str | None
    connection_status: str
    connection_type: str | None
    dno_connection_reference: str
    commissioning_date: dt.date | None
    effective_from: dt.date

    @classmethod
    def _trusted(cls, values: dict[str, Any]) -> CleanAsset:
        # The validator's own constructor: one dict update instead of a frozen __init__'s
        # object.__setattr__ per field (a third of the time per row). Values are checked.
        asset = object.__new__(cls)
        asset.__dict__.update(values)
        return asset

    @property
    def mpan_cores(self) -> tuple[str, ...]:
        return tuple(m for m in (self.import_mpan, self.export_mpan) if m)

    def as_record(self) -> dict[str, Any]:
        """The record in the input shape (JSON-ready): validating it gives this asset back."""

        def num(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        def day(value: dt.date | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "name": self.name,
            "category": self.category,
            "description": self.description or None,
            "manufacturer": self.manufacturer or None,
            "model": self.model or None,
            "serial_number": self.serial_number or None,
            "eic": self.eic,
            "external_ids": [{"scheme": s, "value": v} for s, v in self.external_ids],
            "energy_source": self.energy_source,
            "capacity": {
                "installed_kw": num(self.installed_kw),
                "export_kw": num(self.export_kw),
                "import_kw": num(self.import_kw),
                "storage_kwh": num(self.storage_kwh),
            },
            "flexibility_direction": self.flexibility_direction,
            "v2g": self.v2g,
            "metering": {"import_mpan": self.import_mpan, "export_mpan": self.export_mpan},
            "site": {
                "address_line1": self.address_line1,
                "address_line2": self.address_line2 or None,
                "town": self.town or None,
                "postcode": self.postcode,
                "latitude": num(self.latitude),
                "longitude": num(self.longitude),
                "domestic": self.domestic,
                "consumer_consent_reference": self.consumer_consent_reference or None,
            },
            "network": {
                "dno": self.distributor_id,
                "gsp_group": self.gsp_group,
                "voltage_level": self.voltage_level,
                "connection_status": self.connection_status,
                "connection_type": self.connection_type,
                "connection_reference": self.dno_connection_reference or None,
            },
            "commissioning_date": day(self.commissioning_date),
            "effective_from": day(self.effective_from),
        }


# --- keys for duplicate detection -------------------------------------------------------------


def serial_key(serial: str) -> str:
    """A serial number as compared for duplicates: NFKC, upper case, without spaces, dashes,
    dots and underscores (``"ab-12 34.5"`` and ``"AB1234_5"`` are the same)."""
    if serial.isascii() and serial.isprintable():
        # The usual case, without a regular expression: the only ASCII whitespace left in
        # validated single-line text is the space.
        return serial.replace(" ", "").replace("-", "").replace(".", "").replace("_", "").upper()
    return _SERIAL_DROP.sub("", unicodedata.normalize("NFKC", serial)).upper()


@lru_cache(maxsize=4096)
def manufacturer_key(manufacturer: str) -> str:
    """A manufacturer's name as compared for duplicates: upper case letters and digits only,
    without a trailing legal form (``"Tesla, Inc."`` and ``"TESLA"`` are the same)."""
    words = _NON_ALNUM.sub(" ", unicodedata.normalize("NFKC", manufacturer).upper()).split()
    core = list(words)
    while len(core) > 1 and core[-1] in _LEGAL_FORMS:
        core.pop()
    return "".join(core)


# --- DNO names --------------------------------------------------------------------------------

_DNO_GROUP_NAMES: Final = {
    "UKPN": ("UK Power Networks",),
    "SSEN": ("Scottish and Southern Electricity Networks", "Scottish and Southern"),
    "SPEN": ("SP Energy Networks", "Scottish Power Energy Networks"),
    "NGED": ("National Grid Electricity Distribution", "National Grid", "WPD"),
    "NPG": ("Northern Powergrid",),
    "ENWL": ("Electricity North West", "ENW"),
}


def _alias_key(raw: str) -> str:
    return _NON_ALNUM.sub("", raw.upper())


def _build_dno_aliases() -> dict[str, frozenset[str]]:
    aliases: dict[str, set[str]] = {}

    def add(name: str, distributor_id: str) -> None:
        aliases.setdefault(_alias_key(name), set()).add(distributor_id)

    for d in DISTRIBUTORS.values():
        add(d.distributor_id, d.distributor_id)
        add(d.name, d.distributor_id)
        add(d.operator, d.distributor_id)
        if d.mpid:
            add(d.mpid, d.distributor_id)
        if not d.is_idno:
            group = d.operator.split()[0]
            add(group, d.distributor_id)
            for name in _DNO_GROUP_NAMES.get(_alias_key(group), ()):
                add(name, d.distributor_id)
    return {key: frozenset(ids) for key, ids in aliases.items()}


_DNO_ALIASES: Final = _build_dno_aliases()
#: GSP group -> the DNO licence area's distributor (the host of any IDNO network there).
_DNO_BY_GSP: Final = {
    d.gsp_group_id: d for d in DISTRIBUTORS.values() if d.gsp_group_id is not None
}


def resolve_dno(raw: str) -> frozenset[str]:
    """The distributor IDs a registrant's DNO could mean: a distributor ID (``"10"``), a
    licence area's MPID (``"EELC"``) or name (``"Eastern"``), an operator (``"UKPN EPN"``,
    or ``"NGED"`` for its four areas) or an IDNO's name. Empty when it names none."""
    found = _DNO_ALIASES.get(raw)
    if found is None:
        found = _DNO_ALIASES.get(_alias_key(raw), frozenset())
    return found


# --- field parsers: each returns the clean value, None (not given) or BAD (error recorded) ---


def _text(
    raw: Any, path: str, limit: int, errors: list[FieldError], *, multiline: bool = False
) -> Any:
    if raw is None:
        return None
    if not isinstance(raw, str):
        errors.append(FieldError(path, "type_error", f"Enter {_LABELS.get(path, path)} as text."))
        return BAD
    value = raw.strip()
    if not value:
        return None
    if not value.isprintable() and (_CONTROL_MULTILINE if multiline else _CONTROL).search(value):
        errors.append(
            FieldError(
                path,
                "text.control_character",
                "Remove the control character (such as a NUL byte) from the text.",
            )
        )
        return BAD
    if not value.isascii():
        value = unicodedata.normalize("NFC", value)
    if len(value) > limit:
        errors.append(
            FieldError(
                path, "too_long", f"Enter {limit} characters or fewer (you gave {len(value)})."
            )
        )
        return BAD
    return value


def _choice(raw: Any, path: str, choices: ChoiceList, errors: list[FieldError]) -> Any:
    if raw is None:
        return None
    if not isinstance(raw, str):
        errors.append(FieldError(path, "type_error", "Enter one of the listed codes as text."))
        return BAD
    value = raw.strip()
    if not value:
        return None
    choice = choices.lookup(value)
    if choice is None:
        listed = ", ".join(c.code for c in choices.active)
        errors.append(
            FieldError(path, "choice.invalid", f"{value[:40]!r} is not one of: {listed}.")
        )
        return BAD
    if choice.retired:
        listed = ", ".join(c.code for c in choices.active)
        errors.append(
            FieldError(
                path,
                "choice.retired",
                f"{choice.code} is no longer used for new registrations; choose one of: {listed}.",
            )
        )
        return BAD
    return choice


def _number(raw: Any, path: str, errors: list[FieldError]) -> Any:
    """A finite Decimal from an int, a float (as written), a Decimal or a numeric string."""
    if raw is None:
        return None
    kind = type(raw)
    if kind is str:
        value = raw.strip()
        if not value:
            return None
        if _NUMBER.fullmatch(value):
            return Decimal(value)
        errors.append(
            FieldError(
                path,
                "decimal.invalid",
                "Enter a number using digits and a decimal point only (no commas or units).",
            )
        )
        return BAD
    if kind is int:
        return Decimal(raw)
    if kind is float:
        if raw != raw or raw in (float("inf"), float("-inf")):
            errors.append(FieldError(path, "decimal.invalid", "Enter a finite number."))
            return BAD
        return Decimal(repr(raw))
    if isinstance(raw, Decimal):
        if not raw.is_finite():
            errors.append(FieldError(path, "decimal.invalid", "Enter a finite number."))
            return BAD
        return raw
    errors.append(FieldError(path, "type_error", "Enter a number."))
    return BAD


def _capacity(
    raw: Any,
    path: str,
    quantum: Decimal,
    maximum: Decimal,
    positive: bool,
    unit: str,
    errors: list[FieldError],
    cache: dict[str, Decimal],
) -> Any:
    if raw is None:
        return None
    if type(raw) is str:
        # The usual case: plain digits, few distinct values in a file (product ratings).
        clean = cache.get(raw)
        if clean is None and _PLAIN_NUMBER.fullmatch(raw):
            number = Decimal(raw)
            clean = number.quantize(quantum)
            if clean == number:
                if len(cache) >= _CACHE_SIZE:
                    cache.clear()
                cache[raw] = clean
            else:
                clean = None
        if clean is not None and clean <= maximum and (clean or not positive):
            return clean
    number = _number(raw, path, errors)
    if number is None or number is BAD:
        return number
    if number < 0 or (positive and number == 0) or number > maximum:
        low = "more than 0" if positive else "0 or more"
        errors.append(
            FieldError(
                path,
                "decimal.out_of_range",
                f"Enter {low} and at most {maximum:,} {unit}.",
            )
        )
        return BAD
    clean = number.quantize(quantum)
    if clean != number:
        places = -quantum.as_tuple().exponent  # type: ignore[operator]
        errors.append(
            FieldError(
                path,
                "decimal.too_many_places",
                f"Enter {unit} with at most {places} decimal places.",
            )
        )
        return BAD
    return clean if clean else quantum * 0


def _bool(raw: Any, path: str, errors: list[FieldError]) -> Any:
    if raw is None or raw is True or raw is False:
        return raw
    errors.append(FieldError(path, "type_error", "Enter true or false."))
    return BAD


def _date(
    raw: Any,
    path: str,
    earliest: dt.date,
    latest: dt.date,
    errors: list[FieldError],
    cache: dict[str, dt.date],
) -> Any:
    if raw is None:
        return None
    if type(raw) is str:
        value = cache.get(raw)
        if value is None:
            text = raw.strip()
            if not text:
                return None
            try:
                if not _ISO_DATE.fullmatch(text):
                    raise ValueError
                value = dt.date.fromisoformat(text)
            except ValueError:
                errors.append(
                    FieldError(
                        path, "date.invalid", "Enter a real date as YYYY-MM-DD, e.g. 2024-03-31."
                    )
                )
                return BAD
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
            cache[raw] = value
    elif isinstance(raw, dt.datetime):
        errors.append(FieldError(path, "type_error", "Enter a date without a time."))
        return BAD
    elif isinstance(raw, dt.date):
        value = raw
    else:
        errors.append(FieldError(path, "type_error", "Enter a date as text (YYYY-MM-DD)."))
        return BAD
    if not earliest <= value <= latest:
        errors.append(
            FieldError(
                path,
                "date.out_of_range",
                f"Enter a date from {earliest.isoformat()} to {latest.isoformat()}.",
            )
        )
        return BAD
    return value


def _identifier_error(path: str, error: IdentifierError) -> FieldError:
    return FieldError(path, error.code, error.message)


def _mpan(raw: Any, path: str, errors: list[FieldError]) -> Any:
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str):
        errors.append(FieldError(path, "type_error", "Enter the MPAN as text."))
        return BAD
    value = raw.strip()
    if not value:
        return None
    # Fast path for a plain valid 13-digit core; anything else goes through the parser,
    # which gives the precise error.
    if len(value) == 13 and value.isdigit() and value.isascii() and value[:2] in DISTRIBUTORS:
        b = value.encode()
        total = (
            b[0] * 3
            + b[1] * 5
            + b[2] * 7
            + b[3] * 13
            + b[4] * 17
            + b[5] * 19
            + b[6] * 23
            + b[7] * 29
            + b[8] * 31
            + b[9] * 37
            + b[10] * 41
            + b[11] * 43
            - _MPAN_WEIGHT_OFFSET
        )
        if total % 11 % 10 == b[12] - 48:
            return value
    try:
        return MPANCore.parse(value).value
    except IdentifierError as exc:
        errors.append(_identifier_error(path, exc))
        return BAD


def _postcode(raw: Any, path: str, errors: list[FieldError]) -> Any:
    if raw is None:
        return None
    if not isinstance(raw, str):
        errors.append(FieldError(path, "type_error", "Enter the postcode as text."))
        return BAD
    if _FAST_POSTCODE.fullmatch(raw):
        return raw
    value = "".join(raw.split()).upper()
    if not value:
        return None
    value = f"{value[:-3]} {value[-3:]}"
    if _FAST_POSTCODE.fullmatch(value):
        return value
    try:
        return Postcode.parse(raw).value
    except IdentifierError as exc:
        errors.append(_identifier_error(path, exc))
        return BAD


def _eic(raw: Any, path: str, errors: list[FieldError]) -> Any:
    if raw is None:
        return None
    if not isinstance(raw, str):
        errors.append(FieldError(path, "type_error", "Enter the EIC as text."))
        return BAD
    if not raw.strip():
        return None
    try:
        return EIC.parse(raw, expected_type=EICType.RESOURCE).value
    except IdentifierError as exc:
        errors.append(_identifier_error(path, exc))
        return BAD


def _gsp_group(raw: Any, path: str, errors: list[FieldError]) -> Any:
    if raw is None:
        return None
    if not isinstance(raw, str):
        errors.append(FieldError(path, "type_error", "Enter the GSP group as text, e.g. _A."))
        return BAD
    if not raw.strip():
        return None
    try:
        return GSPGroup.parse(raw).value
    except IdentifierError as exc:
        errors.append(_identifier_error(path, exc))
        return BAD


def _dno(raw: Any, path: str, errors: list[FieldError]) -> Any:
    if raw is None:
        return None
    if not isinstance(raw, str):
        errors.append(FieldError(path, "type_error", "Enter the DNO as text."))
        return BAD
    value = raw.strip()
    if not value:
        return None
    ids = resolve_dno(value) if len(value) <= 64 else frozenset()
    if not ids:
        errors.append(
            FieldError(
                path,
                "asset.dno_unknown",
                f"{value[:40]!r} is not a distributor we know: give its distributor ID (the "
                "MPAN's first two digits, e.g. 10), its MPID (e.g. EELC) or its licence "
                "area (e.g. Eastern).",
            )
        )
        return BAD
    return ids


def _coordinate(
    raw: Any,
    path: str,
    low: Decimal,
    high: Decimal,
    quantum: Decimal,
    errors: list[FieldError],
) -> Any:
    if type(raw) is str and _PLAIN_COORDINATE.fullmatch(raw):
        number = Decimal(raw)
        if low <= number <= high:
            return number.quantize(quantum)
    number = _number(raw, path, errors)
    if number is None or number is BAD:
        return number
    if not low <= number <= high:
        errors.append(
            FieldError(
                path,
                "asset.outside_gb",
                f"Enter a value from {low} to {high}: the site must be in Great Britain.",
            )
        )
        return BAD
    return number.quantize(quantum)


# --- the validator ----------------------------------------------------------------------------


def _section(
    record: Mapping[str, Any], name: str, bad: list[str], errors: list[FieldError]
) -> Mapping[str, Any]:
    raw = record.get(name)
    if raw is None:
        return {}
    if type(raw) is not dict and not isinstance(raw, Mapping):
        errors.append(FieldError(name, "type_error", f"{name} is an object of fields."))
        bad.append(name)
        return {}
    allowed = _SECTIONS[name]
    if not allowed.issuperset(raw):
        for key in sorted(str(k) for k in raw if k not in allowed):
            errors.append(_unknown(f"{name}.{key}"))
    return raw


def _unknown(path: str) -> FieldError:
    return FieldError(path, "unknown_field", f"{path} is not a field of an asset record.")


_CHOICE_FIELDS: Final = frozenset(
    {
        "category",
        "energy_source",
        "flexibility_direction",
        "network.voltage_level",
        "network.connection_status",
        "network.connection_type",
    }
)


def _rule_error(path: str, rule: FieldRule, schema: CategorySchema) -> FieldError:
    if rule.message is not None:
        return FieldError(path, rule.code, rule.message)
    label = _LABELS.get(path, path)
    if rule.presence == "required":
        verb = "Choose" if path in _CHOICE_FIELDS else "Enter"
        return FieldError(
            path, rule.code, f"{verb} {label}: assets of the category {schema.label} need it."
        )
    return FieldError(
        path, rule.code, f"Leave out {label}: assets of the category {schema.label} do not have it."
    )


class Validator:
    """Conformance validation bound to a catalogue and a date (``today``: the UK's date
    when not given, taken once when the validator is made)."""

    __slots__ = (
        "_categories",
        "_coordinate_quantum",
        "_date_cache",
        "_directions",
        "_earliest",
        "_energy_sources",
        "_kw_cache",
        "_kw_quantum",
        "_latest",
        "_statuses",
        "_text",
        "_types",
        "_voltages",
        "catalogue",
        "today",
    )

    def __init__(self, catalogue: Catalogue | None = None, today: dt.date | None = None) -> None:
        self.catalogue = catalogue if catalogue is not None else default_catalogue()
        self.today = today if today is not None else dt.datetime.now(LONDON).date()
        limits = self.catalogue.limits
        self._kw_quantum = Decimal(1).scaleb(-limits.kw_places)
        self._earliest = limits.earliest_date
        self._latest = self.today + dt.timedelta(days=limits.max_days_ahead)
        self._text = dict(limits.text)
        self._categories = self.catalogue.category_list
        self._energy_sources = self.catalogue.energy_sources
        self._directions = self.catalogue.flexibility_directions
        self._voltages = self.catalogue.voltage_levels
        self._statuses = self.catalogue.connection_statuses
        self._types = self.catalogue.connection_types
        self._coordinate_quantum = Decimal(1).scaleb(-limits.coordinate_places)
        # Parsed values of the strings met so far (bulk files repeat ratings and dates).
        self._kw_cache: dict[str, Decimal] = {}
        self._date_cache: dict[str, dt.date] = {}

    def __call__(self, record: Any) -> tuple[CleanAsset | None, list[FieldError]]:
        return self.validate(record)

    def validate(self, record: Any) -> tuple[CleanAsset | None, list[FieldError]]:
        """Validate one record: ``(CleanAsset, [])`` or ``(None, every error)``."""
        if type(record) is not dict and not isinstance(record, Mapping):
            return None, [FieldError("", "type_error", "An asset record is a JSON object.")]
        cat = self.catalogue
        limits = cat.limits
        text = self._text
        errors: list[FieldError] = []
        if not _TOP_KEYS.issuperset(record):
            for key in sorted(str(k) for k in record if k not in _TOP_KEYS):
                errors.append(_unknown(key))
        get = record.get
        bad_sections: list[str] = []
        capacity = get("capacity")
        if type(capacity) is not dict or not _SECTIONS["capacity"].issuperset(capacity):
            capacity = _section(record, "capacity", bad_sections, errors)
        metering = get("metering")
        if type(metering) is not dict or not _SECTIONS["metering"].issuperset(metering):
            metering = _section(record, "metering", bad_sections, errors)
        site = get("site")
        if type(site) is not dict or not _SECTIONS["site"].issuperset(site):
            site = _section(record, "site", bad_sections, errors)
        network = get("network")
        if type(network) is not dict or not _SECTIONS["network"].issuperset(network):
            network = _section(record, "network", bad_sections, errors)
        # Optional fields are mostly absent: each parser is called only for a value given.
        v: dict[str, Any] = {}

        # Identity.
        name = _text(get("name"), "name", text["name"], errors)
        category_choice = _choice(get("category"), "category", self._categories, errors)
        if name is None:
            errors.append(FieldError("name", "required", "Enter the asset's name."))
        if category_choice is None:
            errors.append(FieldError("category", "required", "Choose the asset's category."))
        x = get("description")
        v["description"] = (
            x if x is None else _text(x, "description", text["description"], errors, multiline=True)
        )
        x = get("manufacturer")
        v["manufacturer"] = (
            x if x is None else _text(x, "manufacturer", text["manufacturer"], errors)
        )
        x = get("model")
        v["model"] = x if x is None else _text(x, "model", text["model"], errors)
        x = get("serial_number")
        v["serial_number"] = serial = (
            x if x is None else _text(x, "serial_number", text["serial_number"], errors)
        )
        skey = None
        if isinstance(serial, str):
            skey = serial_key(serial)
            if not skey:
                errors.append(
                    FieldError(
                        "serial_number",
                        "serial.invalid",
                        "Enter a serial number with at least one letter or digit.",
                    )
                )
                v["serial_number"] = BAD
        x = get("eic")
        v["eic"] = x if x is None else _eic(x, "eic", errors)
        x = get("external_ids")
        v["external_ids"] = x if x is None else self._external_ids(x, errors)
        x = get("energy_source")
        v["energy_source"] = (
            x if x is None else _choice(x, "energy_source", self._energy_sources, errors)
        )

        # Capacities.
        q = self._kw_quantum
        kc = self._kw_cache
        max_kw = limits.max_kw
        v["capacity.installed_kw"] = _capacity(
            capacity.get("installed_kw"), "capacity.installed_kw", q, max_kw, True, "kW", errors, kc
        )
        x = capacity.get("export_kw")
        v["capacity.export_kw"] = (
            x
            if x is None
            else _capacity(x, "capacity.export_kw", q, max_kw, False, "kW", errors, kc)
        )
        x = capacity.get("import_kw")
        v["capacity.import_kw"] = (
            x
            if x is None
            else _capacity(x, "capacity.import_kw", q, max_kw, False, "kW", errors, kc)
        )
        x = capacity.get("storage_kwh")
        v["capacity.storage_kwh"] = (
            x
            if x is None
            else _capacity(x, "capacity.storage_kwh", q, limits.max_kwh, True, "kWh", errors, kc)
        )
        v["flexibility_direction"] = _choice(
            get("flexibility_direction"), "flexibility_direction", self._directions, errors
        )
        x = get("v2g")
        v["v2g"] = x if x is None else _bool(x, "v2g", errors)

        # Metering, site and network.
        x = metering.get("import_mpan")
        v["metering.import_mpan"] = x if x is None else _mpan(x, "metering.import_mpan", errors)
        x = metering.get("export_mpan")
        v["metering.export_mpan"] = x if x is None else _mpan(x, "metering.export_mpan", errors)
        v["site.address_line1"] = _text(
            site.get("address_line1"), "site.address_line1", text["site.address_line1"], errors
        )
        x = site.get("address_line2")
        v["site.address_line2"] = (
            x if x is None else _text(x, "site.address_line2", text["site.address_line2"], errors)
        )
        v["site.town"] = _text(site.get("town"), "site.town", text["site.town"], errors)
        v["site.postcode"] = _postcode(site.get("postcode"), "site.postcode", errors)
        x = site.get("latitude")
        v["site.latitude"] = (
            x
            if x is None
            else _coordinate(
                x,
                "site.latitude",
                limits.min_latitude,
                limits.max_latitude,
                self._coordinate_quantum,
                errors,
            )
        )
        x = site.get("longitude")
        v["site.longitude"] = (
            x
            if x is None
            else _coordinate(
                x,
                "site.longitude",
                limits.min_longitude,
                limits.max_longitude,
                self._coordinate_quantum,
                errors,
            )
        )
        x = site.get("domestic")
        domestic = x if x is None else _bool(x, "site.domestic", errors)
        x = site.get("consumer_consent_reference")
        consent = (
            x
            if x is None
            else _text(
                x,
                "site.consumer_consent_reference",
                text["site.consumer_consent_reference"],
                errors,
            )
        )
        x = network.get("dno")
        v["network.dno"] = x if x is None else _dno(x, "network.dno", errors)
        x = network.get("gsp_group")
        v["network.gsp_group"] = x if x is None else _gsp_group(x, "network.gsp_group", errors)
        x = network.get("voltage_level")
        v["network.voltage_level"] = (
            x if x is None else _choice(x, "network.voltage_level", self._voltages, errors)
        )
        v["network.connection_status"] = status = _choice(
            network.get("connection_status"), "network.connection_status", self._statuses, errors
        )
        x = network.get("connection_type")
        v["network.connection_type"] = (
            x if x is None else _choice(x, "network.connection_type", self._types, errors)
        )
        x = network.get("connection_reference")
        v["network.connection_reference"] = (
            x
            if x is None
            else _text(
                x, "network.connection_reference", text["network.connection_reference"], errors
            )
        )
        x = get("commissioning_date")
        v["commissioning_date"] = commissioned_on = (
            x
            if x is None
            else _date(
                x, "commissioning_date", self._earliest, self._latest, errors, self._date_cache
            )
        )
        x = get("effective_from")
        v["effective_from"] = effective = (
            x
            if x is None
            else _date(x, "effective_from", self._earliest, self._latest, errors, self._date_cache)
        )
        # A section of the wrong type was reported once: none of its fields is "missing".
        for section in bad_sections:
            for key in _SECTIONS[section]:
                v[f"{section}.{key}"] = BAD

        # Category rules.
        schema: CategorySchema | None = None
        if isinstance(category_choice, Choice):
            schema = cat.categories[category_choice.code]
            self._category_rules(schema, v, errors)

        # Rules for every category.
        if domestic is True and consent is None:
            errors.append(
                FieldError(
                    "site.consumer_consent_reference",
                    "asset.consent_required",
                    "Enter the consumer's consent reference: the site is a home.",
                )
            )
        if isinstance(serial, str) and v["manufacturer"] is None:
            errors.append(
                FieldError(
                    "manufacturer",
                    "asset.serial_needs_manufacturer",
                    "Enter the manufacturer: a serial number means something only with it.",
                )
            )
        lat, lon = v["site.latitude"], v["site.longitude"]
        if (lat is None) != (lon is None) and lat is not BAD and lon is not BAD:
            missing = "site.longitude" if lon is None else "site.latitude"
            errors.append(
                FieldError(
                    missing,
                    "asset.coordinates_incomplete",
                    "Enter both latitude and longitude, or neither.",
                )
            )
        distributor_id, licence_area, gsp_group = self._network(v, errors)
        if isinstance(status, Choice) and status.commissioned:
            if commissioned_on is None:
                errors.append(
                    FieldError(
                        "commissioning_date",
                        "required",
                        f"Enter the commissioning date: the asset is {status.label.lower()}.",
                    )
                )
            elif isinstance(commissioned_on, dt.date) and commissioned_on > self.today:
                errors.append(
                    FieldError(
                        "commissioning_date",
                        "asset.commissioning_in_future",
                        f"The commissioning date cannot be after today for an asset that is "
                        f"{status.label.lower()}; a pending connection may give a planned date.",
                    )
                )
        if (
            isinstance(effective, dt.date)
            and isinstance(commissioned_on, dt.date)
            and effective < commissioned_on
        ):
            errors.append(
                FieldError(
                    "effective_from",
                    "asset.effective_before_commissioning",
                    "The registration cannot take effect before the asset was commissioned "
                    f"({commissioned_on.isoformat()}).",
                )
            )

        if errors:
            return None, errors
        assert schema is not None
        if effective is None:
            effective = self.today
            if commissioned_on is not None and commissioned_on > effective:
                effective = commissioned_on
        manufacturer = v["manufacturer"]
        energy = v["energy_source"]
        voltage = v["network.voltage_level"]
        connection_type = v["network.connection_type"]
        return (
            CleanAsset._trusted(
                {
                    "name": name,
                    "category": schema.code,
                    "description": v["description"] or "",
                    "manufacturer": manufacturer or "",
                    "manufacturer_key": manufacturer_key(manufacturer) if manufacturer else None,
                    "model": v["model"] or "",
                    "serial_number": serial or "",
                    "serial_key": skey,
                    "eic": v["eic"],
                    "external_ids": v["external_ids"] or (),
                    "energy_source": energy.code if energy is not None else None,
                    "installed_kw": v["capacity.installed_kw"],
                    "export_kw": v["capacity.export_kw"],
                    "import_kw": v["capacity.import_kw"],
                    "storage_kwh": v["capacity.storage_kwh"],
                    "flexibility_direction": v["flexibility_direction"].code,
                    "v2g": bool(v["v2g"]),
                    "import_mpan": v["metering.import_mpan"],
                    "export_mpan": v["metering.export_mpan"],
                    "distributor_id": distributor_id,
                    "dno_licence_area": licence_area,
                    "gsp_group": gsp_group,
                    "address_line1": v["site.address_line1"],
                    "address_line2": v["site.address_line2"] or "",
                    "town": v["site.town"] or "",
                    "postcode": v["site.postcode"],
                    "latitude": lat,
                    "longitude": lon,
                    "domestic": bool(domestic),
                    "consumer_consent_reference": consent or "",
                    "voltage_level": voltage.code if voltage is not None else None,
                    "connection_status": status.code,
                    "connection_type": connection_type.code
                    if connection_type is not None
                    else None,
                    "dno_connection_reference": v["network.connection_reference"] or "",
                    "commissioning_date": commissioned_on,
                    "effective_from": effective,
                }
            ),
            [],
        )

    def _category_rules(
        self, schema: CategorySchema, v: dict[str, Any], errors: list[FieldError]
    ) -> None:
        # Fill in the category's default energy source before presence is judged.
        if v["energy_source"] is None and schema.default_energy_source is not None:
            v["energy_source"] = self.catalogue.energy_sources.choices[schema.default_energy_source]
        for path, rule in schema.required_rules:
            if v[path] is None:
                errors.append(_rule_error(path, rule, schema))
        for path, rule in schema.forbidden_rules:
            value = v[path]
            if value is not None and value is not BAD and value is not False:
                errors.append(_rule_error(path, rule, schema))
        source = v["energy_source"]
        if (
            isinstance(source, Choice)
            and schema.energy_sources is not None
            and source.code not in schema.energy_sources
            and schema.fields["energy_source"].presence != "forbidden"
        ):
            errors.append(
                FieldError(
                    "energy_source",
                    "asset.energy_source_not_allowed",
                    f"Assets of the category {schema.label} have one of these energy "
                    f"sources: {', '.join(schema.energy_sources)}.",
                )
            )
        constraints = schema.constraints
        if not constraints:
            return
        installed = v["capacity.installed_kw"]
        export = v["capacity.export_kw"]
        imported = v["capacity.import_kw"]
        if (
            "at_least_one_mpan" in constraints
            and v["metering.import_mpan"] is None
            and v["metering.export_mpan"] is None
            and schema.fields["metering.import_mpan"].presence != "required"
            and schema.fields["metering.export_mpan"].presence != "required"
        ):
            errors.append(
                FieldError(
                    "metering",
                    "asset.mpan_required",
                    "Enter the import MPAN, the export MPAN or both.",
                )
            )
        if isinstance(installed, Decimal):
            if (
                "export_le_installed" in constraints
                and isinstance(export, Decimal)
                and export > installed
            ):
                errors.append(
                    FieldError(
                        "capacity.export_kw",
                        "asset.export_exceeds_installed",
                        f"The export capacity cannot exceed the installed capacity "
                        f"({installed} kW).",
                    )
                )
            if (
                "import_le_installed" in constraints
                and isinstance(imported, Decimal)
                and imported > installed
            ):
                errors.append(
                    FieldError(
                        "capacity.import_kw",
                        "asset.import_exceeds_installed",
                        f"The import capacity cannot exceed the installed capacity "
                        f"({installed} kW).",
                    )
                )
        v2g = v["v2g"]
        if (
            "export_needs_v2g" in constraints
            and isinstance(export, Decimal)
            and export > 0
            and v2g is not True
            and v2g is not BAD
        ):
            errors.append(
                FieldError(
                    "capacity.export_kw",
                    "asset.export_needs_v2g",
                    "Only a vehicle-to-grid (V2G) charger exports: set v2g to true or "
                    "leave the export capacity out.",
                )
            )
        if (
            "v2g_needs_export" in constraints
            and v2g is True
            and (export is None or (isinstance(export, Decimal) and export == 0))
        ):
            errors.append(
                FieldError(
                    "capacity.export_kw",
                    "asset.v2g_needs_export",
                    "Enter the export capacity in kW: a V2G charger exports.",
                )
            )

    def _network(
        self, v: dict[str, Any], errors: list[FieldError]
    ) -> tuple[str | None, str | None, str | None]:
        """Derive (distributor ID, licence area MPID, GSP group) and check what was given."""
        imp, exp = v["metering.import_mpan"], v["metering.export_mpan"]
        given_dno, given_gsp = v["network.dno"], v["network.gsp_group"]
        if imp is BAD or exp is BAD:
            return None, None, None
        distributor_id = None
        if imp is not None and exp is not None:
            if imp == exp:
                errors.append(
                    FieldError(
                        "metering.export_mpan",
                        "asset.same_mpan",
                        "The export MPAN is the same as the import MPAN: give each once.",
                    )
                )
            if imp[:2] != exp[:2]:
                errors.append(
                    FieldError(
                        "metering.export_mpan",
                        "asset.mpan_distributor_mismatch",
                        f"The export MPAN's distributor ({exp[:2]}) is not the import MPAN's "
                        f"({imp[:2]}): both meters of a site are on one network.",
                    )
                )
                return None, None, None
            distributor_id = imp[:2]
        elif imp is not None or exp is not None:
            distributor_id = (imp or exp)[:2]

        if distributor_id is None:
            # No MPAN (a category that needs none): take what the registrant said.
            host = None
            if isinstance(given_gsp, str):
                host = _DNO_BY_GSP[given_gsp]
            elif isinstance(given_dno, frozenset):
                dnos = [i for i in given_dno if not DISTRIBUTORS[i].is_idno]
                if len(dnos) == 1:
                    host = DISTRIBUTORS[dnos[0]]
            if host is None:
                return None, None, None
            if (
                isinstance(given_dno, frozenset)
                and host.distributor_id not in given_dno
                and not any(DISTRIBUTORS[i].is_idno for i in given_dno)
            ):
                errors.append(self._dno_mismatch(host.distributor_id))
            only = (
                next(iter(given_dno))
                if isinstance(given_dno, frozenset) and len(given_dno) == 1
                else None
            )
            return only or host.distributor_id, host.mpid, host.gsp_group_id

        distributor = DISTRIBUTORS[distributor_id]
        if not distributor.is_idno:
            gsp = distributor.gsp_group_id
            if isinstance(given_gsp, str) and given_gsp != gsp:
                errors.append(
                    FieldError(
                        "network.gsp_group",
                        "asset.gsp_mismatch",
                        f"The MPAN's distributor ({distributor_id}, {distributor.name}) is in "
                        f"GSP group {gsp}, not {given_gsp}.",
                    )
                )
            if isinstance(given_dno, frozenset) and distributor_id not in given_dno:
                errors.append(self._dno_mismatch(distributor_id))
            return distributor_id, distributor.mpid, gsp

        # An IDNO: its networks sit inside any licence area, so the MPAN does not tell the GSP
        # group. The registrant gives it (or names the host DNO); the licence area follows.
        host = None
        if isinstance(given_gsp, str):
            host = _DNO_BY_GSP[given_gsp]
        elif given_gsp is None and isinstance(given_dno, frozenset):
            dnos = [i for i in given_dno if not DISTRIBUTORS[i].is_idno]
            if len(dnos) == 1:
                host = DISTRIBUTORS[dnos[0]]
        if host is None:
            if given_gsp is None and given_dno is not BAD:
                errors.append(
                    FieldError(
                        "network.gsp_group",
                        "asset.gsp_group_required",
                        f"Enter the GSP group: the MPAN is on an IDNO's network "
                        f"({distributor.name}), which can be in any area.",
                    )
                )
            return distributor_id, None, None
        if (
            isinstance(given_dno, frozenset)
            and distributor_id not in given_dno
            and host.distributor_id not in given_dno
        ):
            errors.append(self._dno_mismatch(distributor_id, host.distributor_id))
        return distributor_id, host.mpid, host.gsp_group_id

    @staticmethod
    def _dno_mismatch(distributor_id: str, host_id: str | None = None) -> FieldError:
        d = DISTRIBUTORS[distributor_id]
        what = f"{d.distributor_id} ({d.mpid or d.name}, {d.operator})"
        if host_id is not None:
            h = DISTRIBUTORS[host_id]
            what += f" in the {h.name} licence area ({h.mpid})"
        return FieldError(
            "network.dno",
            "asset.dno_mismatch",
            f"The DNO given does not match the MPAN's distributor {what}.",
        )

    def _external_ids(self, raw: Any, errors: list[FieldError]) -> Any:
        if raw is None:
            return None
        if not isinstance(raw, list | tuple):
            errors.append(
                FieldError("external_ids", "type_error", "external_ids is a list of objects.")
            )
            return BAD
        if not raw:
            return None
        limit = self.catalogue.limits.max_external_ids
        if len(raw) > limit:
            errors.append(
                FieldError(
                    "external_ids",
                    "asset.too_many_external_ids",
                    f"Give at most {limit} external identifiers.",
                )
            )
            return BAD
        schemes = self.catalogue.external_id_schemes
        found: list[ExternalId] = []
        seen: set[ExternalId] = set()
        bad = False
        for i, item in enumerate(raw):
            path = f"external_ids.{i}"
            if not isinstance(item, Mapping):
                errors.append(
                    FieldError(path, "type_error", "Each external identifier is {scheme, value}.")
                )
                bad = True
                continue
            if not _EXTERNAL_ID_KEYS.issuperset(item):
                for key in sorted(str(k) for k in item if k not in _EXTERNAL_ID_KEYS):
                    errors.append(_unknown(f"{path}.{key}"))
                bad = True
            scheme = _choice(
                item.get("scheme"), f"{path}.scheme", self.catalogue.scheme_list, errors
            )
            if scheme is None:
                errors.append(
                    FieldError(f"{path}.scheme", "required", "Choose the identifier's scheme.")
                )
            spec = schemes[scheme.code] if isinstance(scheme, Choice) else None
            value = _text(
                item.get("value"),
                f"{path}.value",
                spec.max_length if spec is not None else 200,
                errors,
            )
            if value is None:
                errors.append(FieldError(f"{path}.value", "required", "Enter the identifier."))
            if spec is None or not isinstance(value, str):
                bad = True
                continue
            if spec.case == "upper":
                value = value.upper()
            if spec.prefixes and not value.startswith(spec.prefixes):
                errors.append(
                    FieldError(
                        f"{path}.value",
                        "external_id.bad_prefix",
                        f"A {spec.label} starts with one of {', '.join(spec.prefixes)}.",
                    )
                )
                bad = True
                continue
            if spec.pattern is not None and not spec.pattern.fullmatch(value):
                errors.append(
                    FieldError(
                        f"{path}.value",
                        "external_id.invalid_format",
                        f"{value[:40]!r} is not in the format of a {spec.label}.",
                    )
                )
                bad = True
                continue
            external = ExternalId(spec.code, value)
            if external in seen:
                errors.append(
                    FieldError(
                        path,
                        "asset.duplicate_external_id",
                        f"{spec.code} {value} is listed twice.",
                    )
                )
                bad = True
                continue
            seen.add(external)
            found.append(external)
        return BAD if bad else tuple(found)


def validate(
    record: Mapping[str, Any],
    *,
    catalogue: Catalogue | None = None,
    today: dt.date | None = None,
) -> tuple[CleanAsset | None, list[FieldError]]:
    """Validate one asset record: ``(CleanAsset, [])``, or ``(None, every error)``.

    ``catalogue`` defaults to :func:`~flexreg.assets.catalogue.default_catalogue` (pass the
    one with the operator's overlays); ``today`` to the date in the UK now.
    """
    return Validator(catalogue, today).validate(record)


# --- CSV --------------------------------------------------------------------------------------

#: Every column a bulk CSV file may have, in template order.
ALL_CSV_COLUMNS: Final[tuple[str, ...]] = (
    "name",
    "category",
    *RULE_FIELDS[: RULE_FIELDS.index("site.longitude") + 1],
    "site.domestic",
    "site.consumer_consent_reference",
    *RULE_FIELDS[RULE_FIELDS.index("site.longitude") + 1 :],
)
_CSV_BOOLEANS: Final = frozenset({"v2g", "site.domestic"})


def csv_columns(category: str, catalogue: Catalogue | None = None) -> tuple[str, ...]:
    """The columns of the CSV template for ``category``: every column but its forbidden
    fields (a blank cell is always allowed, so one file may mix categories)."""
    schema = (catalogue or default_catalogue()).categories[category]
    forbidden = {field for field, _ in schema.forbidden_rules}
    return tuple(c for c in ALL_CSV_COLUMNS if c not in forbidden)


def csv_columns_by_category(catalogue: Catalogue | None = None) -> Mapping[str, tuple[str, ...]]:
    """Category in use -> the columns of its CSV template. Pass the catalogue in force
    (``catalogue_store.current_catalogue()``, with the operator's categories and retirements);
    without one, the file's catalogue alone."""
    catalogue = catalogue or default_catalogue()
    return MappingProxyType(
        {
            code: csv_columns(code, catalogue)
            for code, schema in catalogue.categories.items()
            if not schema.retired
        }
    )


#: Category -> the columns of its CSV template, for the file's catalogue alone (fixed at import).
#: Templates offered to registrants follow the catalogue in force: ``csv_columns_by_category``
#: (or ``csv_columns``) with ``catalogue_store.current_catalogue()``.
CSV_COLUMNS: Final[Mapping[str, tuple[str, ...]]] = csv_columns_by_category(default_catalogue())


def _split_external_ids(cell: str) -> list[dict[str, str]]:
    items = []
    for part in cell.split(";"):
        part = part.strip()
        if not part:
            continue
        scheme, sep, value = part.partition(":")
        if not sep:
            scheme, value = "", part
        items.append({"scheme": scheme.strip(), "value": value.strip()})
    return items


_CSV_COLUMN_CACHE: dict[Any, tuple[str, str, str, str]] = {}


def _csv_column(column: Any) -> tuple[str, str, str, str]:
    """(key, section, field, kind) of a CSV header, remembered (headers repeat every row)."""
    key = str(column).strip().lstrip("\ufeff").strip().lower()
    section, dot, field = key.partition(".")
    kind = "ids" if key == "external_ids" else "bool" if key in _CSV_BOOLEANS else ""
    spec = (key, section if dot else "", field, kind)
    if len(_CSV_COLUMN_CACHE) < 1000:
        _CSV_COLUMN_CACHE[column] = spec
    return spec


def flatten_csv_row(row: Mapping[Any, Any]) -> dict[str, Any]:
    """Turn one row of a bulk CSV file (``csv.DictReader``) into a record for :func:`validate`.

    Column names are dotted paths (``capacity.installed_kw``, ``site.postcode``; case and
    surrounding spaces ignored); blank cells are left out; ``v2g`` and ``site.domestic`` read
    true/false, yes/no, y/n or 1/0; ``external_ids`` holds ``SCHEME:VALUE`` pairs separated by
    ``;`` (``BM_UNIT:E_ABCD-1;OCPP_CHARGE_POINT:CP-0001``). Cells beyond the header end up
    under ``_extra_cells`` (reported as an unknown field); unknown columns stay as they are so
    that :func:`validate` reports them.
    """
    record: dict[str, Any] = {}
    columns = _CSV_COLUMN_CACHE
    for column, cell in row.items():
        if cell is None or (type(cell) is str and (not cell or cell.isspace())):
            continue
        spec = columns.get(column)
        if spec is None:
            if column is None:
                record["_extra_cells"] = cell
                continue
            spec = _csv_column(column)
        key, section, field, kind = spec
        if not key:
            continue
        value: Any = cell
        if kind and type(cell) is str:
            if kind == "ids":
                value = _split_external_ids(cell)
            else:
                word = cell.strip().lower()
                value = True if word in _CSV_TRUE else False if word in _CSV_FALSE else cell
        if not section:
            record[key] = value
            continue
        sub = record.get(section)
        if sub is None:
            sub = record[section] = {}
        if type(sub) is dict:
            sub[field] = value
        else:
            record[key] = value
    return record


def validate_rows(
    rows: Iterable[Mapping[str, Any]],
    *,
    catalogue: Catalogue | None = None,
    today: dt.date | None = None,
) -> Iterable[tuple[CleanAsset | None, list[FieldError]]]:
    """Validate many records with one :class:`Validator` (a generator, one result per row)."""
    validator = Validator(catalogue, today)
    for row in rows:
        yield validator.validate(row)
