"""Reads of bulk registrations, scoped to what the acting membership may see.

An import is seen by the members of the participant that started it (holding ``assets:read``
or ``assets:register``) and by oversight (``assets:read_all``); any other caller gets 404.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, Final

from flexreg.assets import conformance, imports
from flexreg.assets.catalogue import Catalogue, default_catalogue
from flexreg.assets.models import AssetImport, AssetImportRow
from flexreg.core.acting import Acting
from flexreg.core.errors import NotFound

READ: Final = "assets:read"
READ_ALL: Final = "assets:read_all"
REGISTER: Final = imports.REGISTER


def may_read(acting: Acting) -> bool:
    return acting.is_authenticated and any(acting.has(p) for p in (READ, READ_ALL, REGISTER))


def import_for(acting: Acting, import_id: str) -> AssetImport:
    """One import the caller may see; 404 otherwise (also for a malformed ID)."""
    try:
        public_id = uuid.UUID(str(import_id).strip())
    except ValueError:
        raise NotFound(f"No asset import {import_id} that you may see.") from None
    qs = AssetImport.objects.select_related("participant").filter(public_id=public_id)
    if not (acting.is_authenticated and acting.has(READ_ALL)):
        if not may_read(acting) or acting.participant_pk is None:
            qs = qs.none()
        else:
            qs = qs.filter(participant_id=acting.participant_pk)
    found = qs.first()
    if found is None:
        raise NotFound(f"No asset import {import_id} that you may see.")
    return found


def result_rows(batch: AssetImport) -> Iterator[tuple[int, str, str, list[dict[str, Any]]]]:
    """(row, outcome, asset_id, errors) of every row done so far, in row order (streamed)."""
    return (
        AssetImportRow.objects.filter(batch=batch)
        .order_by("row_number")
        .values_list("row_number", "outcome", "asset_id", "errors")
        .iterator(chunk_size=5_000)
    )


def template_columns(
    category: str, catalogue: Catalogue | None = None
) -> tuple[str, tuple[str, ...]]:
    """(category code, the columns of its CSV template); 404 for a category not in use."""
    catalogue = catalogue or default_catalogue()
    choice = catalogue.category_list.lookup(category.strip()) if category.strip() else None
    if choice is None or choice.retired:
        raise NotFound(f"No asset category {category[:40]!r} in use.")
    return choice.code, (
        *conformance.csv_columns(choice.code, catalogue),
        imports.CONTRACT_REFERENCE,
    )
