"""The asset catalogue as data: controlled lists and category schemas (pure Python).

The catalogue lives in a TOML file (``categories.toml`` beside this module) plus the central
operator's changes (additions, retirements) stored elsewhere and passed in as *overlays*:
tables deep-merged over the file, so values can be added, relabelled or retired but never
removed. :func:`compile_catalogue` validates the merged text and returns a frozen
:class:`Catalogue`, or raises :class:`CatalogueInvalid` listing every problem with its path
(the style of ``flexreg.entry.ruleset``). No Django, no database.

What the catalogue holds:

* controlled lists (:data:`LIST_NAMES`): energy sources, connection statuses, connection
  types, flexibility directions, voltage levels; each value has a code, a label, an optional
  hint and a ``retired`` flag (a retired value is refused for new registrations);
* external identifier schemes (BM Unit, OCPP charge point, ECR, ...) with their format;
* category schemas: for every field in :data:`RULE_FIELDS`, whether the category requires,
  allows or forbids it (with an optional own error code and message), the energy sources it
  may name (and a default), and which named cross-field :data:`CONSTRAINTS` hold (never
  less than :data:`CORE_FIELDS` required and :data:`CORE_CONSTRAINTS`: what the database and
  the duplicate rules need of every asset);
* limits: capacity ceilings, decimal places, text lengths, date and coordinate bounds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

__all__ = [
    "CONSTRAINTS",
    "CORE_CONSTRAINTS",
    "CORE_CONSTRAINT_CODE",
    "CORE_FIELDS",
    "CORE_FIELD_CODE",
    "DEFAULT_FILE",
    "FIXED_FIELDS",
    "KINDS",
    "LIST_NAMES",
    "PRESENCES",
    "RULE_FIELDS",
    "SCHEMA",
    "TEXT_FIELDS",
    "Catalogue",
    "CatalogueInvalid",
    "CategorySchema",
    "Choice",
    "ChoiceList",
    "ExternalIdScheme",
    "FieldRule",
    "Limits",
    "choice_key",
    "compile_catalogue",
    "default_catalogue",
    "load_file",
    "parse",
]

SCHEMA: Final = 1
DEFAULT_FILE: Final = Path(__file__).parent / "categories.toml"

#: The controlled lists every catalogue defines (``[lists.<name>]``).
LIST_NAMES: Final[tuple[str, ...]] = (
    "energy_sources",
    "connection_statuses",
    "connection_types",
    "flexibility_directions",
    "voltage_levels",
)
PRESENCES: Final[tuple[str, ...]] = ("required", "optional", "forbidden")
#: What a category is, broadly (for forms, filters and near-match rules).
KINDS: Final[tuple[str, ...]] = ("storage", "generation", "demand", "other")

#: The fields a category schema rules on, in the order of a record (and of CSV columns).
RULE_FIELDS: Final[tuple[str, ...]] = (
    "description",
    "manufacturer",
    "model",
    "serial_number",
    "eic",
    "external_ids",
    "energy_source",
    "capacity.installed_kw",
    "capacity.export_kw",
    "capacity.import_kw",
    "capacity.storage_kwh",
    "flexibility_direction",
    "v2g",
    "metering.import_mpan",
    "metering.export_mpan",
    "site.address_line1",
    "site.address_line2",
    "site.town",
    "site.postcode",
    "site.latitude",
    "site.longitude",
    "network.dno",
    "network.gsp_group",
    "network.voltage_level",
    "network.connection_status",
    "network.connection_type",
    "network.connection_reference",
    "commissioning_date",
    "effective_from",
)
#: Fields every record has whatever its category (not ruled by schemas): name and category
#: are always required; the consent reference is required when ``site.domestic`` is true.
FIXED_FIELDS: Final[tuple[str, ...]] = (
    "name",
    "category",
    "site.domestic",
    "site.consumer_consent_reference",
)
#: Text fields whose longest length ``[limits.text]`` must set.
TEXT_FIELDS: Final[tuple[str, ...]] = (
    "name",
    "description",
    "manufacturer",
    "model",
    "serial_number",
    "site.address_line1",
    "site.address_line2",
    "site.town",
    "site.consumer_consent_reference",
    "network.connection_reference",
)

#: Named cross-field constraints the service implements: name -> (error code, field path).
CONSTRAINTS: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        "at_least_one_mpan": ("asset.mpan_required", "metering"),
        "export_le_installed": ("asset.export_exceeds_installed", "capacity.export_kw"),
        "import_le_installed": ("asset.import_exceeds_installed", "capacity.import_kw"),
        "export_needs_v2g": ("asset.export_needs_v2g", "capacity.export_kw"),
        "v2g_needs_export": ("asset.v2g_needs_export", "capacity.export_kw"),
    }
)

#: Fields every category requires, whatever its schema or the defaults say: the asset table
#: stores them in NOT NULL columns (``postcode``, ``connection_status``,
#: ``flexibility_direction``, ``address_line1``; ``installed_kw`` is null only for a draft) and
#: registration, the duplicate rules (capacity band, same postcode) and bulk import use them
#: on every record. A catalogue that makes one optional or forbidden is refused with
#: :data:`CORE_FIELD_CODE` at the field's path (the clearer choice: forcing them required
#: behind the operator's back would make the catalogue say one thing and do another).
CORE_FIELDS: Final[tuple[str, ...]] = (
    "capacity.installed_kw",
    "flexibility_direction",
    "site.address_line1",
    "site.postcode",
    "network.connection_status",
)
#: Constraints every category holds: the database checks them too (``export_le_installed``:
#: check constraint ``asset_export_within_installed``), so leaving one out would turn a
#: registrant's mistake into a database error. Refused with :data:`CORE_CONSTRAINT_CODE`.
CORE_CONSTRAINTS: Final[tuple[str, ...]] = ("export_le_installed",)
#: The stable error codes of those two refusals (``CatalogueInvalid.codes``).
CORE_FIELD_CODE: Final = "catalogue.field_always_required"
CORE_CONSTRAINT_CODE: Final = "catalogue.constraint_always_applies"
_CORE_FIELD_WHY: Final[Mapping[str, str]] = MappingProxyType(
    {
        "capacity.installed_kw": "every asset has an installed capacity (the duplicate rules "
        "compare it and the export capacity is checked against it)",
        "flexibility_direction": "every asset has a direction of flexibility",
        "site.address_line1": "every asset has a site address",
        "site.postcode": "every asset has a site postcode (the duplicate rules compare it)",
        "network.connection_status": "every asset has a connection status",
    }
)

_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]{0,39}")
_ERROR_CODE = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+")
_SEPARATORS = re.compile(r"[\s\-]+")
_TOP_KEYS = frozenset(
    {
        "schema",
        "name",
        "revision",
        "limits",
        "lists",
        "external_id_schemes",
        "defaults",
        "categories",
    }
)
_CHOICE_KEYS = frozenset({"label", "hint", "retired"})
_STATUS_KEYS = _CHOICE_KEYS | {"commissioned"}
_SCHEME_KEYS = _CHOICE_KEYS | {"prefixes", "pattern", "max_length", "case", "unique"}
_CATEGORY_KEYS = _CHOICE_KEYS | {
    "kind",
    "energy_sources",
    "default_energy_source",
    "constraints",
    "fields",
}
_RULE_KEYS = frozenset({"presence", "code", "message"})
_LIMIT_KEYS = frozenset(
    {
        "kw_places",
        "max_kw",
        "max_kwh",
        "earliest_date",
        "max_days_ahead",
        "min_latitude",
        "max_latitude",
        "min_longitude",
        "max_longitude",
        "coordinate_places",
        "max_external_ids",
        "text",
    }
)
_CASES = ("upper", "preserve")


def choice_key(raw: str) -> str:
    """How controlled-list codes are compared: upper case, spaces and dashes as ``_``."""
    return _SEPARATORS.sub("_", raw.strip()).upper()


# --- the compiled catalogue -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Choice:
    """One value of a controlled list."""

    code: str
    label: str
    hint: str = ""
    retired: bool = False
    #: Connection statuses only: the asset is (or was) in service, so its commissioning date
    #: is required and not in the future.
    commissioned: bool | None = None


@dataclass(frozen=True, slots=True, eq=False)
class ChoiceList:
    """A controlled list: codes in file order, looked up ignoring case and separators."""

    name: str
    choices: Mapping[str, Choice]
    #: Code and compared form (:func:`choice_key`) -> value. A plain dict: it is looked up
    #: for every field of every row of a bulk import.
    index: Mapping[str, Choice]

    @classmethod
    def of(cls, name: str, choices: Iterable[Choice]) -> ChoiceList:
        by_code = {c.code: c for c in choices}
        index = {choice_key(code): c for code, c in by_code.items()}
        index.update(by_code)
        return cls(name, MappingProxyType(by_code), index)

    def lookup(self, raw: str) -> Choice | None:
        """The value ``raw`` names (retired or not), or None."""
        choice = self.index.get(raw)
        if choice is None:
            choice = self.index.get(choice_key(raw))
        return choice

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self.choices)

    @property
    def active(self) -> tuple[Choice, ...]:
        """The values new registrations may use, in file order."""
        return tuple(c for c in self.choices.values() if not c.retired)

    def __contains__(self, code: object) -> bool:
        return code in self.choices

    def __iter__(self) -> Any:
        return iter(self.choices.values())

    def __len__(self) -> int:
        return len(self.choices)


@dataclass(frozen=True, slots=True)
class FieldRule:
    """Whether a category requires, allows or forbids a field, and the error it gives."""

    presence: str
    #: The error code when the rule is broken (``required`` / ``not_allowed`` by default).
    code: str = ""
    #: The message when the rule is broken; None for the generic one.
    message: str | None = None


@dataclass(frozen=True, slots=True)
class ExternalIdScheme:
    code: str
    label: str
    hint: str
    retired: bool
    prefixes: tuple[str, ...]
    pattern: re.Pattern[str] | None
    max_length: int
    #: ``upper``: compared and stored in upper case; ``preserve``: as given.
    case: str
    #: The identifier names one physical asset (a unique index backs it).
    unique: bool


@dataclass(frozen=True, slots=True, eq=False)
class CategorySchema:
    code: str
    label: str
    hint: str
    retired: bool
    kind: str
    #: Every field of :data:`RULE_FIELDS` -> its rule for this category.
    fields: Mapping[str, FieldRule]
    #: Energy sources the category may name; None means any on the list.
    energy_sources: tuple[str, ...] | None
    #: Filled in when the registrant names none.
    default_energy_source: str | None
    constraints: frozenset[str]
    #: ``(field, rule)`` for the required and the forbidden fields (precomputed for speed).
    required_rules: tuple[tuple[str, FieldRule], ...] = ()
    forbidden_rules: tuple[tuple[str, FieldRule], ...] = ()

    def presence(self, field: str) -> str:
        return self.fields[field].presence

    @property
    def required_fields(self) -> tuple[str, ...]:
        return tuple(f for f, r in self.fields.items() if r.presence == "required")

    @property
    def forbidden_fields(self) -> tuple[str, ...]:
        return tuple(f for f, r in self.fields.items() if r.presence == "forbidden")


@dataclass(frozen=True, slots=True)
class Limits:
    kw_places: int
    max_kw: Decimal
    max_kwh: Decimal
    earliest_date: dt.date
    max_days_ahead: int
    min_latitude: Decimal
    max_latitude: Decimal
    min_longitude: Decimal
    max_longitude: Decimal
    coordinate_places: int
    max_external_ids: int
    #: Text field path -> longest length in characters.
    text: Mapping[str, int]


@dataclass(frozen=True, slots=True, eq=False)
class Catalogue:
    name: str
    revision: str
    #: SHA-256 of the merged source (file and overlays), to record which catalogue validated.
    checksum: str
    limits: Limits
    lists: Mapping[str, ChoiceList]
    categories: Mapping[str, CategorySchema]
    category_list: ChoiceList
    external_id_schemes: Mapping[str, ExternalIdScheme]
    scheme_list: ChoiceList

    @property
    def energy_sources(self) -> ChoiceList:
        return self.lists["energy_sources"]

    @property
    def connection_statuses(self) -> ChoiceList:
        return self.lists["connection_statuses"]

    @property
    def connection_types(self) -> ChoiceList:
        return self.lists["connection_types"]

    @property
    def flexibility_directions(self) -> ChoiceList:
        return self.lists["flexibility_directions"]

    @property
    def voltage_levels(self) -> ChoiceList:
        return self.lists["voltage_levels"]

    def category(self, code: str) -> CategorySchema:
        return self.categories[code]


# --- validation -------------------------------------------------------------------------------


class CatalogueInvalid(Exception):
    """Every problem found, each as ``path: message``; ``codes`` maps the problems that have
    a stable error code of their own (:data:`CORE_FIELD_CODE`, :data:`CORE_CONSTRAINT_CODE`)
    to it (the others are plain ``catalogue.invalid``)."""

    def __init__(self, problems: list[str], codes: Mapping[str, str] | None = None) -> None:
        self.problems = problems
        self.codes: Mapping[str, str] = dict(codes or {})
        super().__init__("; ".join(problems))


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.codes: dict[str, str] = {}

    def add(self, path: str, message: str, code: str | None = None) -> None:
        problem = f"{path}: {message}"
        self.items.append(problem)
        if code is not None:
            self.codes[problem] = code


def _table(p: _Problems, path: str, value: Any, *, required: bool = True) -> Mapping[str, Any]:
    if value is None:
        if required:
            p.add(path, "is required")
        return {}
    if not isinstance(value, Mapping):
        p.add(path, "must be a table")
        return {}
    return value


def _unknown_keys(p: _Problems, path: str, given: Iterable[str], allowed: Iterable[str]) -> None:
    allowed = set(allowed)
    for key in sorted(set(given) - allowed):
        p.add(f"{path}.{key}", f"unknown setting (allowed: {', '.join(sorted(allowed))})")


def _text(p: _Problems, path: str, value: Any, *, required: bool, limit: int = 500) -> str:
    if value is None:
        if required:
            p.add(path, "is required")
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        p.add(path, "must be non-empty text")
        return ""
    if len(value) > limit:
        p.add(path, f"must be at most {limit} characters")
    return value.strip()


def _bool(p: _Problems, path: str, value: Any, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        p.add(path, "must be true or false")
        return default
    return value


def _int(p: _Problems, path: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        p.add(path, f"must be a whole number from {low} to {high}")
        return low
    return value


def _decimal(p: _Problems, path: str, value: Any) -> Decimal:
    # Written as a string in the file so no binary float rounding creeps in; whole numbers
    # may be written bare.
    if isinstance(value, bool) or not isinstance(value, str | int):
        p.add(path, 'must be a number written as text, e.g. "2000000"')
        return Decimal(0)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        p.add(path, f"{value!r} is not a number")
        return Decimal(0)
    if not number.is_finite():
        p.add(path, "must be a finite number")
        return Decimal(0)
    return number


def _code_list(
    p: _Problems, path: str, value: Any, allowed: Iterable[str] | None = None
) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        p.add(path, "must be a list of codes")
        return []
    if allowed is not None:
        allowed = tuple(allowed)
        for v in value:
            if v not in allowed:
                p.add(path, f"{v!r} is not one of {', '.join(allowed)}")
    if len(set(value)) != len(value):
        p.add(path, "lists a value twice")
    return list(value)


def _choice(p: _Problems, path: str, code: str, raw: Any, keys: frozenset[str]) -> Choice:
    if not _CODE.fullmatch(code):
        p.add(path, "a code is 1-40 letters, digits and _, starting with a letter or digit")
    if not isinstance(raw, Mapping):
        p.add(path, "must be a table with at least a label")
        return Choice(code, code)
    _unknown_keys(p, path, raw, keys)
    commissioned = None
    if "commissioned" in keys:
        if not isinstance(raw.get("commissioned"), bool):
            p.add(f"{path}.commissioned", "must be true or false")
        commissioned = bool(raw.get("commissioned"))
    return Choice(
        code=code,
        label=_text(p, f"{path}.label", raw.get("label"), required=True, limit=200),
        hint=_text(p, f"{path}.hint", raw.get("hint"), required=False),
        retired=_bool(p, f"{path}.retired", raw.get("retired"), False),
        commissioned=commissioned,
    )


def _choice_list(p: _Problems, path: str, raw: Any, keys: frozenset[str]) -> list[Choice]:
    table = _table(p, path, raw)
    if isinstance(raw, Mapping) and not table:
        p.add(path, "must list at least one value")
    choices = [_choice(p, f"{path}.{code}", code, value, keys) for code, value in table.items()]
    seen: dict[str, str] = {}
    for choice in choices:
        key = choice_key(choice.code)
        if key in seen:
            p.add(
                f"{path}.{choice.code}",
                f"is the same code as {seen[key]!r} (codes are compared ignoring case)",
            )
        seen[key] = choice.code
    if choices and all(c.retired for c in choices):
        p.add(path, "every value is retired: at least one must stay in use")
    return choices


def _limits(p: _Problems, raw: Any) -> Limits:
    t = _table(p, "limits", raw)
    _unknown_keys(p, "limits", t, _LIMIT_KEYS)
    earliest = dt.date(1900, 1, 1)
    if isinstance(t.get("earliest_date"), dt.date) and not isinstance(
        t.get("earliest_date"), dt.datetime
    ):
        earliest = t["earliest_date"]
    elif isinstance(t.get("earliest_date"), str):
        try:
            earliest = dt.date.fromisoformat(t["earliest_date"])
        except ValueError:
            p.add("limits.earliest_date", "must be a date (YYYY-MM-DD)")
    else:
        p.add("limits.earliest_date", "must be a date (YYYY-MM-DD)")
    text_raw = _table(p, "limits.text", t.get("text"))
    _unknown_keys(p, "limits.text", text_raw, TEXT_FIELDS)
    text = {}
    for field in TEXT_FIELDS:
        if field not in text_raw:
            p.add(f"limits.text.{field}", "is missing: every text field needs a longest length")
            continue
        text[field] = _int(p, f"limits.text.{field}", text_raw[field], 1, 10000)
    limits = Limits(
        kw_places=_int(p, "limits.kw_places", t.get("kw_places"), 0, 6),
        max_kw=_decimal(p, "limits.max_kw", t.get("max_kw")),
        max_kwh=_decimal(p, "limits.max_kwh", t.get("max_kwh")),
        earliest_date=earliest,
        max_days_ahead=_int(p, "limits.max_days_ahead", t.get("max_days_ahead"), 0, 36500),
        min_latitude=_decimal(p, "limits.min_latitude", t.get("min_latitude")),
        max_latitude=_decimal(p, "limits.max_latitude", t.get("max_latitude")),
        min_longitude=_decimal(p, "limits.min_longitude", t.get("min_longitude")),
        max_longitude=_decimal(p, "limits.max_longitude", t.get("max_longitude")),
        coordinate_places=_int(p, "limits.coordinate_places", t.get("coordinate_places"), 0, 10),
        max_external_ids=_int(p, "limits.max_external_ids", t.get("max_external_ids"), 0, 100),
        text=MappingProxyType(text),
    )
    for name in ("max_kw", "max_kwh"):
        if getattr(limits, name) <= 0:
            p.add(f"limits.{name}", "must be more than 0")
    if not Decimal(-90) <= limits.min_latitude < limits.max_latitude <= Decimal(90):
        p.add("limits.min_latitude", "latitudes run from -90 to 90, min below max")
    if not Decimal(-180) <= limits.min_longitude < limits.max_longitude <= Decimal(180):
        p.add("limits.min_longitude", "longitudes run from -180 to 180, min below max")
    return limits


def _scheme(p: _Problems, path: str, code: str, raw: Any) -> ExternalIdScheme:
    choice = _choice(p, path, code, raw, _SCHEME_KEYS)
    t = raw if isinstance(raw, Mapping) else {}
    prefixes: list[str] = []
    if "prefixes" in t:
        prefixes = _code_list(p, f"{path}.prefixes", t["prefixes"])
        if not prefixes:
            p.add(f"{path}.prefixes", "lists no prefix (leave it out to allow any)")
    pattern = None
    if "pattern" in t:
        if not isinstance(t["pattern"], str) or not t["pattern"]:
            p.add(f"{path}.pattern", "must be a regular expression")
        else:
            try:
                pattern = re.compile(t["pattern"])
            except re.error as exc:
                p.add(f"{path}.pattern", f"is not a valid regular expression ({exc})")
    case = t.get("case", "preserve")
    if case not in _CASES:
        p.add(f"{path}.case", f"{case!r} is not one of {', '.join(_CASES)}")
    if not isinstance(t.get("unique"), bool):
        p.add(f"{path}.unique", "must be true or false (does the identifier name one asset?)")
    return ExternalIdScheme(
        code=code,
        label=choice.label,
        hint=choice.hint,
        retired=choice.retired,
        prefixes=tuple(prefixes),
        pattern=pattern,
        max_length=_int(p, f"{path}.max_length", t.get("max_length"), 1, 200),
        case=case if case in _CASES else "preserve",
        unique=bool(t.get("unique")),
    )


def _rule(p: _Problems, path: str, raw: Any) -> FieldRule | None:
    if isinstance(raw, str):
        raw = {"presence": raw}
    if not isinstance(raw, Mapping):
        p.add(path, 'must be "required", "optional", "forbidden" or a table with presence')
        return None
    _unknown_keys(p, path, raw, _RULE_KEYS)
    presence = raw.get("presence")
    if presence not in PRESENCES:
        p.add(f"{path}.presence", f"{presence!r} is not one of {', '.join(PRESENCES)}")
        return None
    code = raw.get("code")
    if code is None:
        code = {"required": "required", "forbidden": "not_allowed"}.get(presence, "")
    elif presence == "optional":
        p.add(f"{path}.code", "an optional field breaks no rule, so it has no error code")
    elif not isinstance(code, str) or not _ERROR_CODE.fullmatch(code):
        p.add(
            f"{path}.code", "an error code is dotted lower-case words, e.g. asset.storage_required"
        )
        code = ""
    message = raw.get("message")
    if message is not None:
        message = _text(p, f"{path}.message", message, required=True, limit=300)
        if presence == "optional":
            p.add(f"{path}.message", "an optional field breaks no rule, so it has no message")
    return FieldRule(presence=presence, code=code, message=message)


def _rules(p: _Problems, path: str, raw: Any) -> dict[str, FieldRule]:
    table = _table(p, path, raw, required=False)
    _unknown_keys(p, path, table, RULE_FIELDS)
    rules = {}
    for field, value in table.items():
        if field in RULE_FIELDS and (rule := _rule(p, f"{path}.{field}", value)) is not None:
            rules[field] = rule
    return rules


def _refuse_loose_core(
    p: _Problems, path: str, rules: Mapping[str, FieldRule], constraints: Any
) -> None:
    """The core fields stay required and the core constraints stay on (:data:`CORE_FIELDS`,
    :data:`CORE_CONSTRAINTS`): ``rules`` are the fields a table sets itself (the defaults or
    one category's own), ``constraints`` the list it sets (None: it sets none)."""
    for field in CORE_FIELDS:
        rule = rules.get(field)
        if rule is not None and rule.presence != "required":
            p.add(
                f"{path}.fields.{field}",
                f"must be required in every category: {_CORE_FIELD_WHY[field]}",
                CORE_FIELD_CODE,
            )
    if isinstance(constraints, list) and all(isinstance(c, str) for c in constraints):
        for name in CORE_CONSTRAINTS:
            if name not in constraints:
                p.add(
                    f"{path}.constraints",
                    f"must include {name}: it holds for every asset (the database refuses "
                    "an asset that breaks it)",
                    CORE_CONSTRAINT_CODE,
                )


def _category(
    p: _Problems,
    path: str,
    code: str,
    raw: Any,
    defaults: Mapping[str, FieldRule],
    default_constraints: list[str],
    sources: ChoiceList,
) -> CategorySchema:
    choice = _choice(p, path, code, raw, _CATEGORY_KEYS)
    t = raw if isinstance(raw, Mapping) else {}
    kind = t.get("kind")
    if kind not in KINDS:
        p.add(f"{path}.kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    own = _rules(p, f"{path}.fields", t.get("fields"))
    _refuse_loose_core(p, path, own, t.get("constraints"))
    fields = {**defaults, **own}
    energy_sources = None
    if "energy_sources" in t:
        energy_sources = tuple(
            _code_list(p, f"{path}.energy_sources", t["energy_sources"], sources.codes)
        )
        if not energy_sources:
            p.add(f"{path}.energy_sources", "lists no source (leave it out to allow any)")
    default_source = t.get("default_energy_source")
    if default_source is not None:
        if default_source not in sources:
            p.add(f"{path}.default_energy_source", f"{default_source!r} is not an energy source")
        elif sources.choices[default_source].retired:
            p.add(f"{path}.default_energy_source", f"{default_source!r} is retired")
        elif energy_sources is not None and default_source not in energy_sources:
            p.add(f"{path}.default_energy_source", "is not one of the category's energy sources")
    energy_rule = fields.get("energy_source")
    if (
        energy_rule is not None
        and energy_rule.presence == "forbidden"
        and (energy_sources is not None or default_source is not None)
    ):
        p.add(
            f"{path}.energy_sources",
            "the energy source is forbidden, so the category lists no sources or default",
        )
    constraints = default_constraints
    if "constraints" in t:
        constraints = _code_list(p, f"{path}.constraints", t["constraints"], CONSTRAINTS)
    export_rule = fields.get("capacity.export_kw")
    if (
        "v2g_needs_export" in constraints
        and export_rule is not None
        and export_rule.presence == "forbidden"
    ):
        p.add(f"{path}.constraints", "v2g_needs_export needs capacity.export_kw allowed")
    ordered = {f: fields[f] for f in RULE_FIELDS if f in fields}
    return CategorySchema(
        code=code,
        label=choice.label,
        hint=choice.hint,
        retired=choice.retired,
        kind=kind if kind in KINDS else "other",
        fields=MappingProxyType(ordered),
        energy_sources=energy_sources,
        default_energy_source=default_source if isinstance(default_source, str) else None,
        constraints=frozenset(constraints),
        required_rules=tuple((f, r) for f, r in ordered.items() if r.presence == "required"),
        forbidden_rules=tuple((f, r) for f, r in ordered.items() if r.presence == "forbidden"),
    )


def _merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _checksum(raw: Mapping[str, Any]) -> str:
    canonical = json.dumps(
        raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def compile_catalogue(
    raw: Mapping[str, Any], overlays: Iterable[Mapping[str, Any]] = ()
) -> Catalogue:
    """Validate a parsed catalogue, with the operator's overlays merged over it in order.

    An overlay is a table of the same shape as the file (e.g. ``{"lists": {"energy_sources":
    {"TIDAL": {"label": "Tidal"}}}}`` adds a value, ``{"categories": {"CHP": {"retired":
    true}}}`` retires one). Overlays only add or replace settings: nothing is ever removed.
    """
    for overlay in overlays:
        raw = _merge(raw, overlay)
    p = _Problems()
    _unknown_keys(p, "catalogue", raw, _TOP_KEYS)
    if raw.get("schema") != SCHEMA:
        p.add("schema", f"must be {SCHEMA}")
    name = _text(p, "name", raw.get("name"), required=True, limit=200)
    revision = _text(p, "revision", raw.get("revision"), required=True, limit=100)
    limits = _limits(p, raw.get("limits"))

    lists_raw = _table(p, "lists", raw.get("lists"))
    _unknown_keys(p, "lists", lists_raw, LIST_NAMES)
    lists = {
        name: ChoiceList.of(
            name,
            _choice_list(
                p,
                f"lists.{name}",
                lists_raw.get(name),
                _STATUS_KEYS if name == "connection_statuses" else _CHOICE_KEYS,
            ),
        )
        for name in LIST_NAMES
    }

    schemes_raw = _table(p, "external_id_schemes", raw.get("external_id_schemes"))
    schemes = {
        code: _scheme(p, f"external_id_schemes.{code}", code, value)
        for code, value in schemes_raw.items()
    }
    if isinstance(raw.get("external_id_schemes"), Mapping) and not schemes:
        p.add("external_id_schemes", "must list at least one scheme")

    defaults_raw = _table(p, "defaults", raw.get("defaults"))
    _unknown_keys(p, "defaults", defaults_raw, {"fields", "constraints"})
    defaults = _rules(p, "defaults.fields", defaults_raw.get("fields"))
    for field in RULE_FIELDS:
        if field not in defaults and isinstance(defaults_raw.get("fields"), Mapping):
            p.add(
                f"defaults.fields.{field}",
                "is missing: say whether the field is required, optional or forbidden",
            )
    default_constraints = _code_list(
        p, "defaults.constraints", defaults_raw.get("constraints", []), CONSTRAINTS
    )
    _refuse_loose_core(p, "defaults", defaults, defaults_raw.get("constraints", []))

    categories_raw = _table(p, "categories", raw.get("categories"))
    categories = {
        code: _category(
            p,
            f"categories.{code}",
            code,
            value,
            defaults,
            default_constraints,
            lists["energy_sources"],
        )
        for code, value in categories_raw.items()
    }
    category_choices = [Choice(c.code, c.label, c.hint, c.retired) for c in categories.values()]
    if isinstance(raw.get("categories"), Mapping):
        _check_codes_distinct(p, "categories", category_choices)
        if not any(not c.retired for c in category_choices):
            p.add("categories", "at least one category must be in use")
    scheme_choices = [Choice(s.code, s.label, s.hint, s.retired) for s in schemes.values()]
    _check_codes_distinct(p, "external_id_schemes", scheme_choices)

    if p.items:
        raise CatalogueInvalid(p.items, p.codes)
    return Catalogue(
        name=name,
        revision=revision,
        checksum=_checksum(raw),
        limits=limits,
        lists=MappingProxyType(lists),
        categories=MappingProxyType(categories),
        category_list=ChoiceList.of("categories", category_choices),
        external_id_schemes=MappingProxyType(schemes),
        scheme_list=ChoiceList.of("external_id_schemes", scheme_choices),
    )


def _check_codes_distinct(p: _Problems, path: str, choices: list[Choice]) -> None:
    seen: dict[str, str] = {}
    for choice in choices:
        if not _CODE.fullmatch(choice.code):
            continue  # already reported
        key = choice_key(choice.code)
        if key in seen:
            p.add(f"{path}.{choice.code}", f"is the same code as {seen[key]!r} (ignoring case)")
        seen[key] = choice.code


def parse(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueInvalid([f"catalogue: not valid TOML ({exc})"]) from exc


def load_file(
    path: Path | str = DEFAULT_FILE, overlays: Iterable[Mapping[str, Any]] = ()
) -> Catalogue:
    """Parse and compile a catalogue file, with overlays."""
    return compile_catalogue(parse(Path(path).read_text(encoding="utf-8")), overlays)


@lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    """The catalogue of ``categories.toml`` alone (no operator overlays), compiled once."""
    return load_file(DEFAULT_FILE)
