"""API schemas for bulk registration: the progress resource of an import."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from ninja import Schema

from flexreg.assets.models import AssetImport
from flexreg.assets.selectors_imports import Validation

ImportStatus = Literal["queued", "running", "done", "failed"]
assert set(ImportStatus.__args__) == set(AssetImport.Status.values)  # type: ignore[attr-defined]


class AssetImportLinks(Schema):
    self: str
    results: str


class AssetImportValidation(Schema):
    """The registered assets (rows ``accepted`` or ``flagged``) by status as their
    authenticity checks conclude: ``pending_validation`` (checks running), ``verified``,
    ``query`` (with the central operator: a check did not pass, or a possible duplicate),
    ``rejected`` (by the central operator since), ``decommissioned`` (since).
    ``concluded_at``: when the last check concluded and the importer was told (null until
    then)."""

    pending_validation: int
    verified: int
    query: int
    rejected: int
    decommissioned: int
    concluded_at: dt.datetime | None


class AssetImportOut(Schema):
    """An import's progress: ``percent`` of its rows done; every row ends ``accepted`` (with
    its Asset ID), ``rejected`` (with its errors) or ``flagged`` (registered, in ``query`` as a
    possible duplicate). ``results`` is the CSV of every row done so far. ``validation``: how
    the registered assets stand after their authenticity checks."""

    import_id: uuid.UUID
    status: ImportStatus
    file_name: str
    file_format: Literal["csv", "jsonl"]
    sha256: str
    total_rows: int
    processed_rows: int
    percent: int
    accepted: int
    rejected: int
    flagged: int
    validation: AssetImportValidation
    error: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    links: AssetImportLinks


def percent(batch: AssetImport) -> int:
    if batch.status == AssetImport.Status.DONE:
        return 100
    if not batch.total_rows:
        return 0
    return min(100, batch.processed_rows * 100 // batch.total_rows)


def import_out(batch: AssetImport, validation: Validation) -> AssetImportOut:
    base = f"/api/v1/asset-imports/{batch.public_id}"
    return AssetImportOut(
        import_id=batch.public_id,
        status=batch.status,  # type: ignore[arg-type]
        file_name=batch.file_name,
        file_format=batch.file_format,  # type: ignore[arg-type]
        sha256=batch.sha256,
        total_rows=batch.total_rows,
        processed_rows=batch.processed_rows,
        percent=percent(batch),
        accepted=batch.accepted,
        rejected=batch.rejected,
        flagged=batch.flagged,
        validation=AssetImportValidation(
            pending_validation=validation.pending_validation,
            verified=validation.verified,
            query=validation.query,
            rejected=validation.rejected,
            decommissioned=validation.decommissioned,
            concluded_at=validation.concluded_at,
        ),
        error=batch.error,
        created_at=batch.created_at,
        started_at=batch.started_at,
        finished_at=batch.finished_at,
        links=AssetImportLinks(self=base, results=f"{base}/results"),
    )
