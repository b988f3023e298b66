"""Reads of bulk registrations, scoped to what the acting membership may see.

An import is seen by the members of the participant that started it (holding ``assets:read``
or ``assets:register``) and by oversight (``assets:read_all``); any other caller gets 404.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from flexreg.assets import conformance, imports, role_rules
from flexreg.assets.catalogue import Catalogue
from flexreg.assets.catalogue_store import current_catalogue
from flexreg.assets.models import AssetImport, AssetImportRow, AssetStatus
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


@dataclass(frozen=True)
class Validation:
    """How an import's registered assets (rows ``accepted`` or ``flagged``) stand after their
    authenticity checks; ``concluded_at``: when every check had concluded and the importer was
    told (None until then)."""

    pending_validation: int
    verified: int
    query: int
    rejected: int
    decommissioned: int
    concluded_at: dt.datetime | None


def validation(batch: AssetImport) -> Validation:
    """The import's :class:`Validation`: one grouped query on ``Asset.import_batch`` (and, once
    none is pending, one look-up of the import's ``asset_import.validated`` audit event)."""
    from flexreg.assets import authenticity

    counts = authenticity.batch_outcome(batch.pk)
    pending = counts.get(AssetStatus.PENDING_VALIDATION, 0)
    concluded_at = (
        authenticity.import_validated_at(str(batch.public_id))
        if counts and not pending and batch.status == AssetImport.Status.DONE
        else None
    )
    return Validation(
        pending_validation=pending,
        verified=counts.get(AssetStatus.VERIFIED, 0),
        query=counts.get(AssetStatus.QUERY, 0),
        rejected=counts.get(AssetStatus.REJECTED, 0),
        decommissioned=counts.get(AssetStatus.DECOMMISSIONED, 0),
        concluded_at=concluded_at,
    )


def result_rows(batch: AssetImport) -> Iterator[tuple[int, str, str, list[dict[str, Any]]]]:
    """(row, outcome, asset_id, errors) of every row done so far, in row order (streamed)."""
    return (
        AssetImportRow.objects.filter(batch=batch)
        .order_by("row_number")
        .values_list("row_number", "outcome", "asset_id", "errors")
        .iterator(chunk_size=5_000)
    )


def template_columns(
    category: str, catalogue: Catalogue | None = None, role: str | None = None
) -> tuple[str, tuple[str, ...]]:
    """(category code, the columns of its CSV template); 404 for a category not in use. For a
    ``role``, its own columns (``role_details.<name>``, its asset rules) come last, and a
    category the role may not register is not found."""
    catalogue = catalogue or current_catalogue()
    choice = catalogue.category_list.lookup(category.strip()) if category.strip() else None
    if choice is None or choice.retired:
        raise NotFound(f"No asset category {category[:40]!r} in use.")
    extra: tuple[str, ...] = ()
    if role:
        rules = role_rules.rules_for(role)
        if not rules.allows(choice.code):
            raise NotFound(f"The {role[:30]} role may not register {choice.code} assets.")
        extra = rules.columns
    return choice.code, (
        *conformance.csv_columns(choice.code, catalogue),
        imports.CONTRACT_REFERENCE,
        *extra,
    )
