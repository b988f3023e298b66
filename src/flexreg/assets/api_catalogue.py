"""API: the asset catalogue — the controlled lists, categories and identifier schemes that
registrations are validated against (any signed-in caller), and the central operator's
changes to it (``asset_catalogue:manage``: add, relabel, retire, restore).

Translate only: parse, call a selector or a service, return a schema.
(No ``from __future__ import annotations``: Ninja reads the parameter annotations at import.)
"""

from django.http import HttpRequest
from ninja import Router, Status

from flexreg.accounts.api_auth import PUBLIC, requires
from flexreg.assets import selectors_catalogue, services_catalogue
from flexreg.assets.catalogue import default_catalogue
from flexreg.assets.schemas_catalogue import (
    CatalogueOut,
    EntryOut,
    ReasonIn,
    ValueChangeIn,
    ValueIn,
    catalogue_out,
    entry_out,
)
from flexreg.core.acting import acting_of

MANAGE = services_catalogue.MANAGE

router = Router(tags=["Asset catalogue"])
operator_router = Router(tags=["central operator: asset catalogue"])


def _out(change: services_catalogue.Change) -> EntryOut:
    return entry_out(change.entry, change.catalogue, default_catalogue())


@router.get(
    "",
    response=CatalogueOut,
    summary="The controlled lists, categories (with their fields) and identifier schemes",
)
@requires(PUBLIC)
def get_catalogue(request: HttpRequest) -> CatalogueOut:
    return catalogue_out(selectors_catalogue.catalogue())


# "/changes" first: its URL would otherwise be taken for a section.
@operator_router.get("/changes", response=list[EntryOut], summary="Values added or changed")
@requires(MANAGE)
def list_changes(request: HttpRequest, section: str | None = None) -> list[EntryOut]:
    if section:
        section = services_catalogue.normalise_section(section)
    now, file = selectors_catalogue.catalogue(), default_catalogue()
    return [
        entry_out(e, now, file) for e in selectors_catalogue.changes(acting_of(request), section)
    ]


@operator_router.post("/{section}", response={201: EntryOut}, summary="Add a value")
@requires(MANAGE)
def add_value(request: HttpRequest, section: str, body: ValueIn) -> Status[EntryOut]:
    change = services_catalogue.add_value(acting_of(request), section, body.code, body.value)
    return Status(201, _out(change))


@operator_router.patch("/{section}/{code}", response=EntryOut, summary="Relabel a value")
@requires(MANAGE)
def update_value(request: HttpRequest, section: str, code: str, body: ValueChangeIn) -> EntryOut:
    changes = body.model_dump(exclude_unset=True)
    return _out(services_catalogue.update_value(acting_of(request), section, code, changes))


@operator_router.post("/{section}/{code}/retire", response=EntryOut, summary="Retire a value")
@requires(MANAGE)
def retire_value(request: HttpRequest, section: str, code: str, body: ReasonIn) -> EntryOut:
    return _out(services_catalogue.retire_value(acting_of(request), section, code, body.reason))


@operator_router.post("/{section}/{code}/restore", response=EntryOut, summary="Restore a value")
@requires(MANAGE)
def restore_value(request: HttpRequest, section: str, code: str, body: ReasonIn) -> EntryOut:
    return _out(services_catalogue.restore_value(acting_of(request), section, code, body.reason))
