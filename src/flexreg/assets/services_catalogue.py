"""The central operator's changes to the asset catalogue: add a value, relabel it, retire it,
restore it (controlled lists, external identifier schemes, categories).

Each change is one transaction under one advisory lock (changes are made one at a time), is
validated by compiling ``categories.toml`` with every stored change and this one
(``catalogue.compile_catalogue``: a problem becomes a 422 with a field path), stores the
value's table in ``CatalogueEntry`` (merged over the file's entry for that code) and writes an
audit event. Nothing is ever deleted: a retired value is refused for new registrations and
changes but stays readable on the assets that carry it, and can be restored.

What may not be retired: whatever the compiled catalogue needs (the last value of a list in
use, the last category in use, a category's default energy source). Checked here besides: no
change leaves a category in use that requires an energy source with none in use to name
(retiring its last source, adding or restoring such a category).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from django.db import connection, transaction

from flexreg.assets import catalogue_store
from flexreg.assets.catalogue import Catalogue, CatalogueInvalid, Choice, choice_key
from flexreg.assets.catalogue_store import choices_of
from flexreg.assets.models import Asset, AssetExternalId, CatalogueEntry
from flexreg.core import audit, permissions, validation
from flexreg.core.acting import Acting
from flexreg.core.errors import Conflict, DomainError, FieldError, ValidationFailed

__all__ = [
    "MANAGE",
    "SECTIONS",
    "add_value",
    "normalise_section",
    "restore_value",
    "retire_value",
    "update_value",
]

MANAGE: Final = "asset_catalogue:manage"
SECTIONS: Final = catalogue_store.SECTIONS
#: Serialises catalogue changes ("flcata").
LOCK: Final = 0x666C_6361_7461
#: The longest code of each section: the width of the asset column that stores it.
MAX_CODE_LENGTH: Final[Mapping[str, int]] = {
    "energy_sources": Asset._meta.get_field("energy_source").max_length or 20,
    "connection_statuses": Asset._meta.get_field("connection_status").max_length or 20,
    "connection_types": Asset._meta.get_field("connection_type").max_length or 20,
    "flexibility_directions": Asset._meta.get_field("flexibility_direction").max_length or 10,
    "voltage_levels": Asset._meta.get_field("voltage_level").max_length or 10,
    "external_id_schemes": AssetExternalId._meta.get_field("scheme").max_length or 30,
    "categories": Asset._meta.get_field("category").max_length or 30,
}
#: An external identifier is stored in a column this wide.
MAX_EXTERNAL_ID_LENGTH: Final = AssetExternalId._meta.get_field("value").max_length or 100
MAX_VALUE_BYTES: Final = 20_000
MAX_PATTERN_LENGTH: Final = 300
EDITABLE: Final = frozenset({"label", "hint"})
_CODE = re.compile(r"[A-Z0-9][A-Z0-9_]*")
# A repeated group holding a variable repetition ("(a+)+", "(x*){3}", "(b{1,5})*"): the kind
# of pattern that backtracks catastrophically. A heuristic, not a proof ("(?:-[0-9]{2}){7}" is
# fine: its inner repetition is fixed).
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*(?:[+*]|\{\d*,\d*\})(?:[^()\\]|\\.)*\)\s*[+*{]")


@dataclass(frozen=True, slots=True)
class Change:
    """A stored change and the catalogue it makes."""

    entry: CatalogueEntry
    catalogue: Catalogue


# --- reading the catalogue ----------------------------------------------------------------------


def normalise_section(section: str) -> str:
    """The section's name (``energy-sources`` is ``energy_sources``); 404 for no section."""
    name = section.strip().lower().replace("-", "_")
    if name not in SECTIONS:
        raise DomainError(
            code="catalogue.unknown_section",
            detail=f"No catalogue section {section[:40]!r}: one of {', '.join(SECTIONS)}.",
            status=404,
            title="Not found",
        )
    return name


def _found(catalogue: Catalogue, section: str, code: str) -> Choice:
    choice = choices_of(catalogue, section).lookup(code.strip()) if code.strip() else None
    if choice is None:
        raise DomainError(
            code="catalogue.unknown_value",
            detail=f"The catalogue's {section} have no value {code[:40]!r}.",
            status=404,
            title="Not found",
        )
    return choice


def _shown(choice: Choice) -> dict[str, Any]:
    return {"label": choice.label, "hint": choice.hint, "retired": choice.retired}


# --- the change, validated ----------------------------------------------------------------------


def _locked_rows() -> list[tuple[str, str, dict[str, Any]]]:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK])
    return catalogue_store.entries()


def _stamp() -> Any:
    """Now by the database's clock, and later than every stored change: the generation
    ``catalogue_store`` keys its cache on always moves on, whatever the servers' clocks."""
    table = CatalogueEntry._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            "SELECT greatest(clock_timestamp(), "  # noqa: S608
            f"(SELECT max(updated_at) FROM \"{table}\") + interval '1 microsecond')"
        )
        return cur.fetchone()[0]


def _problems(rows: list[tuple[str, str, dict[str, Any]]]) -> tuple[Catalogue | None, list[str]]:
    catalogue, problems, _ = _problems_and_codes(rows)
    return catalogue, problems


def _problems_and_codes(
    rows: list[tuple[str, str, dict[str, Any]]],
) -> tuple[Catalogue | None, list[str], Mapping[str, str]]:
    """The compiled catalogue, or the problems and the stable codes some of them have (a
    core field made optional, a core constraint left out: ``catalogue.CORE_FIELDS``)."""
    try:
        return catalogue_store.compile_with(rows), [], {}
    except CatalogueInvalid as exc:
        return None, exc.problems, exc.codes


def _compiled(
    rows: list[tuple[str, str, dict[str, Any]]],
    section: str,
    code: str,
    value: dict[str, Any],
    field_of: Callable[[str], str | None],
    other: tuple[str, str],
) -> Catalogue:
    """The catalogue with ``value`` stored for ``code``, or ValidationFailed.

    A problem inside the value's own table goes to the request field ``field_of`` names;
    any other (the change breaks another part of the catalogue) to ``other`` (field, code).
    Problems the stored changes had already are not the change's fault and are not reported.
    """
    changed = [r for r in rows if (r[0], r[1]) != (section, code)] + [(section, code, value)]
    catalogue, problems, codes = _problems_and_codes(changed)
    before_catalogue, before = _problems(rows)
    if catalogue is not None:
        _refuse_unusable(catalogue, before_catalogue, section, code, field_of, other)
        return catalogue
    new = [p for p in problems if p not in before]
    if not new:
        # The stored changes were broken already; this change does not make them worse (it
        # may be the fix): keep the last good catalogue in force for the answer.
        return catalogue_store.current_catalogue()
    prefix = ".".join((*catalogue_store.overlay_path(section), code))
    errors = []
    for problem in new:
        path, _, message = problem.partition(": ")
        own = None
        if path == prefix:
            own = field_of("")
        elif path.startswith(prefix + "."):
            own = field_of(path[len(prefix) + 1 :])
        if own is not None:
            errors.append(
                FieldError(own, codes.get(problem, "catalogue.invalid"), message or problem)
            )
        else:
            errors.append(FieldError(other[0], other[1], f"{path}: {message}"))
    raise ValidationFailed(errors, detail="The catalogue would not be valid: " + "; ".join(new))


def _unusable(catalogue: Catalogue | None) -> dict[str, str]:
    """Categories in use that could not be registered: they require an energy source and
    may name none in use (category code -> why)."""
    if catalogue is None:
        return {}
    found = {}
    sources = catalogue.energy_sources
    for schema in catalogue.categories.values():
        if schema.retired or schema.fields["energy_source"].presence != "required":
            continue
        allowed = schema.energy_sources if schema.energy_sources is not None else sources.codes
        if not any(code in sources and not sources.choices[code].retired for code in allowed):
            found[schema.code] = (
                f"categories.{schema.code}: requires an energy source, and would have none in "
                f"use (it may name {', '.join(allowed)})"
            )
    return found


def _refuse_unusable(
    catalogue: Catalogue,
    before: Catalogue | None,
    section: str,
    code: str,
    field_of: Callable[[str], str | None],
    other: tuple[str, str],
) -> None:
    """Beyond what the compiler checks: the change leaves no category in use that cannot be
    registered for want of an energy source."""
    was = _unusable(before)
    errors = []
    for category, why in _unusable(catalogue).items():
        if category in was:
            continue
        own = field_of("energy_sources") if (section, code) == ("categories", category) else None
        if own is not None:
            errors.append(FieldError(own, "catalogue.invalid", why.partition(": ")[2]))
        else:
            errors.append(FieldError(other[0], other[1], why))
    if errors:
        raise ValidationFailed(
            errors,
            detail="A category in use would have no energy source it may name: "
            + "; ".join(e.message for e in errors),
        )


def _entry_value(
    rows: list[tuple[str, str, dict[str, Any]]], section: str, code: str
) -> dict[str, Any]:
    for s, c, v in rows:
        if (s, c) == (section, code):
            return dict(v)
    return {}


def _store(acting: Acting, section: str, code: str, value: dict[str, Any]) -> CatalogueEntry:
    stamp = _stamp()
    entry, created = CatalogueEntry.objects.get_or_create(
        section=section,
        code=code,
        defaults={
            "value": value,
            "created_by_id": acting.user_id,
            "updated_by_id": acting.user_id,
            "created_at": stamp,
            "updated_at": stamp,
        },
    )
    if not created:
        entry.value = value
        entry.updated_by_id = acting.user_id
        entry.updated_at = stamp
        entry.save(update_fields=["value", "updated_by", "updated_at"])
    return entry


def _reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise ValidationFailed(
            [FieldError("reason", "catalogue.reason_required", "Give the reason for the change.")]
        )
    _refuse_control_characters(text, "reason")
    return text[:2000]


def _refuse_control_characters(value: Any, path: str) -> None:
    """Labels, hints and reasons are shown to everyone: text only (a NUL cannot be stored)."""
    errors = validation.control_character_errors(value, path)
    if errors:
        raise ValidationFailed(errors)


def _record(
    acting: Acting,
    action: str,
    section: str,
    code: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
) -> None:
    audit.record(
        acting,
        f"asset_catalogue.{action}",
        object_type="asset_catalogue_value",
        object_id=f"{section}.{code}",
        before=before,
        after=after,
        only_changed=action == "value_updated",
    )


# --- the use cases ------------------------------------------------------------------------------


def _new_code(section: str, code: Any) -> str:
    if not isinstance(code, str) or not code.strip():
        raise ValidationFailed([FieldError("code", "required", "Give the new value's code.")])
    key = choice_key(code)
    longest = MAX_CODE_LENGTH[section]
    if not _CODE.fullmatch(key) or len(key) > longest:
        raise ValidationFailed(
            [
                FieldError(
                    "code",
                    "catalogue.code_invalid",
                    f"A code is 1 to {longest} letters, digits and underscores, starting with a "
                    "letter or digit (spaces and dashes become underscores).",
                )
            ]
        )
    return key


def _check_new_value(section: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationFailed([FieldError("value", "type_error", "The value is a JSON object.")])
    value = dict(value)
    errors = validation.control_character_errors(value, "value")
    if len(json.dumps(value, default=str)) > MAX_VALUE_BYTES:
        errors.append(
            FieldError("value", "catalogue.too_large", f"Keep it under {MAX_VALUE_BYTES} bytes.")
        )
    if value.get("retired") is not None and value.get("retired") is not False:
        errors.append(
            FieldError(
                "value.retired",
                "catalogue.invalid",
                "A new value is added in use: retire it afterwards if need be.",
            )
        )
    if section == "external_id_schemes":
        longest = value.get("max_length")
        if isinstance(longest, int) and longest > MAX_EXTERNAL_ID_LENGTH:
            errors.append(
                FieldError(
                    "value.max_length",
                    "catalogue.invalid",
                    f"Identifiers are stored up to {MAX_EXTERNAL_ID_LENGTH} characters.",
                )
            )
        pattern = value.get("pattern")
        if isinstance(pattern, str) and (
            len(pattern) > MAX_PATTERN_LENGTH or _NESTED_QUANTIFIER.search(pattern)
        ):
            errors.append(
                FieldError(
                    "value.pattern",
                    "catalogue.invalid",
                    f"Keep the pattern under {MAX_PATTERN_LENGTH} characters, with no "
                    "repeated group that itself repeats (such as (a+)+): it is run on "
                    "every registration.",
                )
            )
    if errors:
        raise ValidationFailed(errors)
    return value


@transaction.atomic
def add_value(acting: Acting, section: str, code: Any, value: Any) -> Change:
    """Add a value to a section: a list value needs a ``label`` (``hint`` optional; a
    connection status also ``commissioned``), a scheme its format (``max_length``, ``unique``,
    optionally ``prefixes``, ``pattern``, ``case``), a category its schema (``label``,
    ``kind``, ``fields`` over the defaults, ``energy_sources``, ``default_energy_source``,
    ``constraints``). The code is normalised (upper case, spaces and dashes as ``_``)."""
    permissions.require(acting, MANAGE)
    section = normalise_section(section)
    key = _new_code(section, code)
    table = _check_new_value(section, value)
    rows = _locked_rows()
    current, _ = _problems(rows)
    existing = choices_of(current or catalogue_store.current_catalogue(), section).lookup(key)
    if existing is not None:
        state = " (retired: restore it instead)" if existing.retired else ""
        raise ValidationFailed(
            [
                FieldError(
                    "code",
                    "catalogue.code_exists",
                    f"The {section} already have the code {existing.code}{state}.",
                )
            ]
        )
    catalogue = _compiled(
        rows,
        section,
        key,
        table,
        lambda rest: f"value.{rest}" if rest else "value",
        ("value", "catalogue.invalid"),
    )
    entry = _store(acting, section, key, table)
    _record(acting, "value_added", section, key, None, {"section": section, "code": key, **table})
    return Change(entry, catalogue)


@transaction.atomic
def update_value(acting: Acting, section: str, code: str, changes: Mapping[str, Any]) -> Change:
    """Relabel a value (``label``, ``hint``; a blank hint clears it)."""
    permissions.require(acting, MANAGE)
    section = normalise_section(section)
    unknown = sorted(set(changes) - EDITABLE)
    if unknown or not changes:
        raise ValidationFailed(
            [
                FieldError(k or "", "catalogue.not_editable", "Only the label and the hint change.")
                for k in unknown or [""]
            ]
        )
    _refuse_control_characters(dict(changes), "")
    rows = _locked_rows()
    before_catalogue = _problems(rows)[0] or catalogue_store.current_catalogue()
    choice = _found(before_catalogue, section, code)
    edits = {k: ("" if v is None else v) for k, v in changes.items()}
    table = {**_entry_value(rows, section, choice.code), **edits}
    catalogue = _compiled(
        rows,
        section,
        choice.code,
        table,
        lambda rest: rest if rest in EDITABLE else None,
        ("code", "catalogue.invalid"),
    )
    after = _found(catalogue, section, choice.code)
    entry = _store(acting, section, choice.code, table)
    _record(acting, "value_updated", section, choice.code, _shown(choice), _shown(after))
    return Change(entry, catalogue)


def _set_retired(acting: Acting, section: str, code: str, reason: str, retired: bool) -> Change:
    permissions.require(acting, MANAGE)
    section = normalise_section(section)
    why = _reason(reason)
    rows = _locked_rows()
    before_catalogue = _problems(rows)[0] or catalogue_store.current_catalogue()
    choice = _found(before_catalogue, section, code)
    if choice.retired == retired:
        if retired:
            raise Conflict("catalogue.already_retired", f"{choice.code} is retired already.")
        raise Conflict("catalogue.not_retired", f"{choice.code} is in use: nothing to restore.")
    table = {**_entry_value(rows, section, choice.code), "retired": retired}
    catalogue = _compiled(
        rows,
        section,
        choice.code,
        table,
        lambda rest: "code",
        ("code", "catalogue.still_needed"),
    )
    entry = _store(acting, section, choice.code, table)
    _record(
        acting,
        "value_retired" if retired else "value_restored",
        section,
        choice.code,
        {"retired": choice.retired},
        {"retired": retired, "reason": why},
    )
    return Change(entry, catalogue)


@transaction.atomic
def retire_value(acting: Acting, section: str, code: str, reason: str) -> Change:
    """Retire a value: refused for new registrations and changes from now on, still shown on
    the assets that carry it. Refused (422 ``catalogue.still_needed``) when the catalogue
    needs it."""
    return _set_retired(acting, section, code, reason, True)


@transaction.atomic
def restore_value(acting: Acting, section: str, code: str, reason: str) -> Change:
    """Bring a retired value back into use."""
    return _set_retired(acting, section, code, reason, False)
