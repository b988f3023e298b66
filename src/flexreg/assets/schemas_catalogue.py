"""API schemas for the asset catalogue: what integrators build their forms from (the lists,
the categories with their required, optional and forbidden fields, the identifier schemes), and
the central operator's changes to it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from ninja import Schema
from pydantic import Field

from flexreg.assets.catalogue import LIST_NAMES, Catalogue, Choice
from flexreg.assets.catalogue_store import choices_of
from flexreg.assets.models import CatalogueEntry


class StrictSchema(Schema):
    model_config = {"extra": "forbid", "str_strip_whitespace": True}


# --- the catalogue, for everyone ------------------------------------------------------------


class ChoiceOut(Schema):
    code: str
    label: str
    hint: str
    #: A retired value is refused for new registrations; assets registered with it keep it.
    retired: bool
    #: Connection statuses only: the asset is (or was) in service, so its commissioning date
    #: is required and not in the future.
    commissioned: bool | None = None


class CategoryOut(Schema):
    code: str
    label: str
    hint: str
    retired: bool
    kind: str
    required: list[str]
    optional: list[str]
    forbidden: list[str]
    #: The energy sources the category may name; null: any on the list.
    energy_sources: list[str] | None
    default_energy_source: str | None
    constraints: list[str]


class SchemeOut(Schema):
    code: str
    label: str
    hint: str
    retired: bool
    prefixes: list[str]
    pattern: str | None
    max_length: int
    case: str
    unique: bool


class CatalogueOut(Schema):
    name: str
    revision: str
    checksum: str
    lists: dict[str, list[ChoiceOut]]
    categories: list[CategoryOut]
    external_id_schemes: list[SchemeOut]


def _choice(c: Choice) -> ChoiceOut:
    return ChoiceOut(
        code=c.code, label=c.label, hint=c.hint, retired=c.retired, commissioned=c.commissioned
    )


def catalogue_out(catalogue: Catalogue) -> CatalogueOut:
    return CatalogueOut(
        name=catalogue.name,
        revision=catalogue.revision,
        checksum=catalogue.checksum,
        lists={name: [_choice(c) for c in catalogue.lists[name]] for name in LIST_NAMES},
        categories=[
            CategoryOut(
                code=s.code,
                label=s.label,
                hint=s.hint,
                retired=s.retired,
                kind=s.kind,
                required=[f for f, r in s.fields.items() if r.presence == "required"],
                optional=[f for f, r in s.fields.items() if r.presence == "optional"],
                forbidden=[f for f, r in s.fields.items() if r.presence == "forbidden"],
                energy_sources=list(s.energy_sources) if s.energy_sources is not None else None,
                default_energy_source=s.default_energy_source,
                constraints=sorted(s.constraints),
            )
            for s in catalogue.categories.values()
        ],
        external_id_schemes=[
            SchemeOut(
                code=x.code,
                label=x.label,
                hint=x.hint,
                retired=x.retired,
                prefixes=list(x.prefixes),
                pattern=x.pattern.pattern if x.pattern is not None else None,
                max_length=x.max_length,
                case=x.case,
                unique=x.unique,
            )
            for x in catalogue.external_id_schemes.values()
        ],
    )


# --- the operator's changes -----------------------------------------------------------------


class ValueIn(StrictSchema):
    """A new value: its code and its table (a list value: ``label``, optional ``hint``, and
    ``commissioned`` for a connection status; a scheme: ``label``, ``max_length``, ``unique``,
    optional ``prefixes``, ``pattern``, ``case``; a category: ``label``, ``kind``, ``fields``,
    optional ``energy_sources``, ``default_energy_source``, ``constraints``, ``hint``)."""

    code: Annotated[str, Field(min_length=1, max_length=40)]
    value: dict[str, Any]


class ValueChangeIn(StrictSchema):
    """A new label or hint (a blank or null hint clears it)."""

    label: Annotated[str | None, Field(max_length=200)] = None
    hint: Annotated[str | None, Field(max_length=500)] = None


class ReasonIn(StrictSchema):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class EntryOut(Schema):
    """A value the central operator added or changed: how it reads now, and the table stored
    over the catalogue file's entry for its code (``added``: the file has no such code)."""

    section: str
    code: str
    label: str
    hint: str
    retired: bool
    added: bool
    stored: dict[str, Any]
    created_at: dt.datetime
    created_by: str
    updated_at: dt.datetime
    updated_by: str


def _who(user: Any) -> str:
    if user is None:
        return ""
    return str(user.full_name or user.email)


def entry_out(entry: CatalogueEntry, now: Catalogue, file: Catalogue) -> EntryOut:
    choice = choices_of(now, entry.section).lookup(entry.code)
    return EntryOut(
        section=entry.section,
        code=entry.code,
        label=choice.label if choice is not None else "",
        hint=choice.hint if choice is not None else "",
        retired=choice.retired if choice is not None else False,
        added=entry.code not in choices_of(file, entry.section),
        stored=entry.value,
        created_at=entry.created_at,
        created_by=_who(entry.created_by),
        updated_at=entry.updated_at,
        updated_by=_who(entry.updated_by),
    )
