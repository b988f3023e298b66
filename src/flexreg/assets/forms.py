"""The portal's asset registration form, adapted to the category from the catalogue.

No Django ``Form``: the service's conformance validation is the one source of truth (every
error at once, with dotted field paths). This module only says which fields a category's form
shows (the category schema: required, optional, forbidden), groups them in fieldsets, turns a
POST into the API's record shape and maps the service's ``FieldError`` paths back to the form's
fields for the GOV.UK error summary.

Field names in the HTML are the record's dotted paths (``capacity.installed_kw``), so a POST is
flattened like a row of a bulk CSV file (``conformance.flatten_csv_row``: blank cells left
out, yes/no read as booleans, ``external_ids`` as ``SCHEME:VALUE`` pairs). Dates are GOV.UK
date inputs (``<path>-day``, ``-month``, ``-year``) joined to ``YYYY-MM-DD`` before that.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from flexreg.assets import conformance
from flexreg.assets.catalogue import Catalogue, CategorySchema, Choice
from flexreg.core.errors import FieldError

GROUPS: Final[tuple[tuple[str, str], ...]] = (
    ("identity", "About the asset"),
    ("capacity", "Capacity"),
    ("metering", "Metering"),
    ("site", "Site"),
    ("network", "Network connection"),
    ("dates", "Dates"),
    ("contract", "Your contract"),
    ("role", "What your role must tell us"),
)


@dataclass(frozen=True)
class Spec:
    """How the form shows one field of the record."""

    path: str
    label: str
    group: str
    kind: str = "text"  # text | textarea | radios | yesno | date | confirm
    hint: str = ""
    width: str = ""
    inputmode: str = ""
    autocomplete: str = ""
    choices_from: str = ""  # a controlled list (or "energy_sources" of the category)
    options: tuple[str, ...] = ()  # a role field's own choices (a select field)


_KW = "govuk-input--width-10"
SPECS: Final[tuple[Spec, ...]] = (
    Spec("name", "Name of the asset", "identity", hint="A name you will recognise it by."),
    Spec("description", "Description", "identity", kind="textarea"),
    Spec("manufacturer", "Manufacturer", "identity"),
    Spec("model", "Model", "identity"),
    Spec("serial_number", "Serial number", "identity", width="govuk-input--width-20"),
    Spec(
        "eic",
        "Energy Identification Code (EIC)",
        "identity",
        hint="A resource code (W type) of 16 characters, for example 48W000000ABCDE1F.",
        width="govuk-input--width-20",
    ),
    Spec(
        "external_ids",
        "Other identifiers",
        "identity",
        hint="Scheme and value, separated by semicolons, for example "
        "BM_UNIT:E_ABCD-1; OCPP_CHARGE_POINT:CP-0001.",
    ),
    Spec("energy_source", "Energy source", "identity", kind="radios", choices_from="energy"),
    Spec(
        "flexibility_direction",
        "Direction of flexibility",
        "identity",
        kind="radios",
        choices_from="flexibility_directions",
    ),
    Spec(
        "v2g",
        "Is the charger vehicle-to-grid (V2G)?",
        "identity",
        kind="yesno",
    ),
    Spec(
        "capacity.installed_kw",
        "Installed capacity in kW",
        "capacity",
        width=_KW,
        inputmode="decimal",
    ),
    Spec("capacity.export_kw", "Export capacity in kW", "capacity", width=_KW, inputmode="decimal"),
    Spec("capacity.import_kw", "Import capacity in kW", "capacity", width=_KW, inputmode="decimal"),
    Spec(
        "capacity.storage_kwh",
        "Storage energy in kWh",
        "capacity",
        width=_KW,
        inputmode="decimal",
    ),
    Spec(
        "metering.import_mpan",
        "Import MPAN",
        "metering",
        hint="The 13-digit MPAN core of the meter the asset imports through.",
        width="govuk-input--width-20",
        inputmode="numeric",
    ),
    Spec(
        "metering.export_mpan",
        "Export MPAN",
        "metering",
        hint="The 13-digit MPAN core of the export meter.",
        width="govuk-input--width-20",
        inputmode="numeric",
    ),
    Spec("site.address_line1", "Address line 1", "site", autocomplete="address-line1"),
    Spec("site.address_line2", "Address line 2", "site", autocomplete="address-line2"),
    Spec(
        "site.town",
        "Town or city",
        "site",
        width="govuk-!-width-two-thirds",
        autocomplete="address-level2",
    ),
    Spec(
        "site.postcode",
        "Postcode",
        "site",
        width="govuk-input--width-10",
        autocomplete="postal-code",
    ),
    Spec("site.latitude", "Latitude", "site", width=_KW, inputmode="decimal"),
    Spec("site.longitude", "Longitude", "site", width=_KW, inputmode="decimal"),
    Spec("site.domestic", "Is the site a home?", "site", kind="yesno"),
    Spec(
        "site.consumer_consent_reference",
        "Consumer's consent reference",
        "site",
        hint="Needed for a home: the reference of the householder's consent.",
    ),
    Spec(
        "network.dno",
        "Distribution network operator (DNO)",
        "network",
        hint="Its name or its 2-digit distributor ID, for example 10.",
    ),
    Spec("network.gsp_group", "GSP group", "network", hint="For example, _A.", width=_KW),
    Spec(
        "network.voltage_level",
        "Voltage level",
        "network",
        kind="radios",
        choices_from="voltage_levels",
    ),
    Spec(
        "network.connection_status",
        "Connection status",
        "network",
        kind="radios",
        choices_from="connection_statuses",
    ),
    Spec(
        "network.connection_type",
        "Connection type",
        "network",
        kind="radios",
        choices_from="connection_types",
    ),
    Spec("network.connection_reference", "DNO connection reference", "network"),
    Spec(
        "commissioning_date",
        "Commissioning date",
        "dates",
        kind="date",
        hint="For example, 15 1 2024.",
    ),
    Spec(
        "effective_from",
        "Registration takes effect from",
        "dates",
        kind="date",
        hint="Leave blank for today. For example, 1 4 2026.",
    ),
    Spec(
        "contract_reference",
        "Contract reference",
        "contract",
        hint="Your contract with the asset's owner, if you control it for them.",
    ),
)
BY_PATH: Final[Mapping[str, Spec]] = {s.path: s for s in SPECS}
#: Always on the form whatever the category (fixed fields and the registrant's link).
ALWAYS: Final = frozenset(
    {"name", "site.domestic", "site.consumer_consent_reference", "contract_reference"}
)
ALWAYS_REQUIRED: Final = frozenset({"name"})
YES_NO: Final = (("yes", "Yes"), ("no", "No"))


def html_id(path: str) -> str:
    return path.replace(".", "-")


#: How a role's extra field (a rule set field spec) is shown, by its type.
_ROLE_KINDS: Final[Mapping[str, str]] = {"date": "date", "select": "radios", "confirm": "confirm"}
_ROLE_INPUTMODES: Final[Mapping[str, str]] = {
    "number": "decimal",
    "phone": "tel",
    "email": "email",
    "url": "url",
}


def role_spec(field_spec: Mapping[str, Any]) -> Spec:
    """The form's view of one of the acting role's extra fields (``role_details.<name>``)."""
    ftype = str(field_spec.get("type", "text"))
    return Spec(
        f"role_details.{field_spec['name']}",
        str(field_spec["label"]),
        "role",
        kind=_ROLE_KINDS.get(ftype, "text"),
        hint=str(field_spec.get("hint") or ""),
        inputmode=_ROLE_INPUTMODES.get(ftype, ""),
        options=tuple(field_spec.get("options") or ()),
    )


@dataclass
class BoundField:
    spec: Spec
    required: bool
    value: Any = ""
    errors: list[str] = field(default_factory=list)
    choices: list[tuple[str, str, str]] = field(default_factory=list)  # value, label, hint

    @property
    def id(self) -> str:
        return html_id(self.spec.path)

    @property
    def anchor(self) -> str:
        """Where an error summary link points (the first input of the field)."""
        return f"{self.id}-day" if self.spec.kind == "date" else self.id

    @property
    def label(self) -> str:
        return self.spec.label if self.required else f"{self.spec.label} (optional)"

    @property
    def error(self) -> str:
        return self.errors[0] if self.errors else ""

    @property
    def described_by(self) -> str:
        ids = []
        if self.spec.hint:
            ids.append(f"{self.id}-hint")
        if self.errors:
            ids.append(f"{self.id}-error")
        return " ".join(ids)


@dataclass
class Group:
    key: str
    title: str
    fields: list[BoundField]


def _presence(schema: CategorySchema, path: str) -> str:
    if path in ALWAYS:
        return "required" if path in ALWAYS_REQUIRED else "optional"
    rule = schema.fields.get(path)
    return rule.presence if rule is not None else "forbidden"


def _choices(
    spec: Spec, schema: CategorySchema, catalogue: Catalogue
) -> list[tuple[str, str, str]]:
    if spec.kind == "yesno":
        return [(v, label, "") for v, label in YES_NO]
    if spec.options:
        return [(o, o, "") for o in spec.options]
    if not spec.choices_from:
        return []
    if spec.choices_from == "energy":
        active: Iterable[Choice] = catalogue.energy_sources.active
        if schema.energy_sources is not None:
            active = [c for c in active if c.code in schema.energy_sources]
    else:
        active = catalogue.lists[spec.choices_from].active
    return [(c.code, c.label, c.hint) for c in active]


class AssetForm:
    """The registration form of one category, bound to a POST (or to defaults), with the
    acting role's extra fields (``role_fields``: its asset rules' field specs) last."""

    def __init__(
        self,
        catalogue: Catalogue,
        category: str,
        data: Mapping[str, Any] | None = None,
        role_fields: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self.catalogue = catalogue
        self.category = category
        self.schema = catalogue.categories[category]
        self.data = data
        self.fields: list[BoundField] = []
        for spec in SPECS:
            presence = _presence(self.schema, spec.path)
            if presence == "forbidden":
                continue
            bound = BoundField(
                spec, presence == "required", choices=_choices(spec, self.schema, catalogue)
            )
            bound.value = self._value(spec, data)
            self.fields.append(bound)
        for field_spec in role_fields:
            spec = role_spec(field_spec)
            required = bool(field_spec.get("required", True)) or spec.kind == "confirm"
            bound = BoundField(spec, required, choices=_choices(spec, self.schema, catalogue))
            bound.value = self._value(spec, data)
            self.fields.append(bound)
        self.by_path = {f.spec.path: f for f in self.fields}
        self.summary: list[dict[str, str]] = []

    def _value(self, spec: Spec, data: Mapping[str, Any] | None) -> Any:
        if spec.kind == "date":
            parts = ("day", "month", "year")
            if data is None:
                return dict.fromkeys(parts, "")
            return {p: str(data.get(f"{spec.path}-{p}", "")).strip() for p in parts}
        if data is None:
            if spec.path == "energy_source" and self.schema.default_energy_source:
                return self.schema.default_energy_source
            return ""
        return str(data.get(spec.path, ""))

    @property
    def groups(self) -> list[Group]:
        return [
            Group(key, title, [f for f in self.fields if f.spec.group == key])
            for key, title in GROUPS
            if any(f.spec.group == key for f in self.fields)
        ]

    def record(self) -> dict[str, Any]:
        """The POST as the API's record (the category from the URL)."""
        cells: dict[str, Any] = {}
        for bound in self.fields:
            if bound.spec.kind == "date":
                day, month, year = (bound.value[p] for p in ("day", "month", "year"))
                if day or month or year:
                    cells[bound.spec.path] = f"{year.zfill(4)}-{month.zfill(2)}-{day.zfill(2)}"
            else:
                cells[bound.spec.path] = bound.value
        record = conformance.flatten_csv_row(cells)
        record["category"] = self.category
        return record

    def field_for(self, path: str) -> BoundField | None:
        """The form field an error path points at: itself, a field inside it (``metering``:
        the import MPAN) or the field it is inside (``external_ids.0.value``)."""
        if path in self.by_path:
            return self.by_path[path]
        for bound in self.fields:
            if bound.spec.path.startswith(f"{path}.") or path.startswith(f"{bound.spec.path}."):
                return bound
        return None

    def add_errors(self, errors: Iterable[FieldError]) -> None:
        """Every error into the summary, in form order; the first of each on its field."""
        order = {f.spec.path: i for i, f in enumerate(self.fields)}
        placed: list[tuple[int, dict[str, str]]] = []
        for error in errors:
            bound = self.field_for(error.field)
            if bound is not None:
                bound.errors.append(error.message)
                position = order[bound.spec.path]
                href = f"#{bound.anchor}"
            else:
                position = -1
                href = f"#{self.fields[0].anchor}" if self.fields else "#main-content"
            placed.append((position, {"href": href, "text": error.message, "code": error.code}))
        self.summary += [item for _, item in sorted(placed, key=lambda p: p[0])]

    def add_summary(self, text: str, href: str | None = None) -> None:
        first = f"#{self.fields[0].anchor}" if self.fields else "#main-content"
        self.summary.insert(0, {"href": href or first, "text": text, "code": ""})


def form_data(
    record: Mapping[str, Any], role_fields: Iterable[Mapping[str, Any]] = ()
) -> dict[str, str]:
    """A record (a saved draft's) as the form's POST data, to show it again: the inverse of
    :meth:`AssetForm.record` for the fields the form has (others are kept in the draft only),
    the acting role's extra fields (``role_fields``) included."""
    data: dict[str, str] = {}
    for spec in (*SPECS, *(role_spec(f) for f in role_fields)):
        value: Any = record
        for part in spec.path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is None:
            continue
        if spec.kind == "date":
            year, _, rest = str(value).partition("-")
            month, _, day = rest.partition("-")
            data.update(
                {f"{spec.path}-year": year, f"{spec.path}-month": month, f"{spec.path}-day": day}
            )
        elif isinstance(value, bool):
            data[spec.path] = "yes" if value else "no"
        elif spec.path == "external_ids" and isinstance(value, list):
            data[spec.path] = "; ".join(
                f"{item.get('scheme', '')}:{item.get('value', '')}"
                for item in value
                if isinstance(item, Mapping)
            )
        else:
            data[spec.path] = str(value)
    return data
