"""API schemas for uploaded documents."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ninja import Schema

from flexreg.entry.models import Document


class DocumentOut(Schema):
    document_id: str
    participant_id: str
    name: str  # the uploaded file's name, made safe (entry.uploads.safe_name)
    content_type: str  # found from the content, never from the name
    size: int
    sha256: str
    # content is served only once "clean"; "failed" scans are retried
    scan_status: Literal["pending", "clean", "infected", "failed"]
    uploaded_at: dt.datetime
    scanned_at: dt.datetime | None


def document_out(doc: Document) -> DocumentOut:
    return DocumentOut(
        document_id=str(doc.public_id),
        participant_id=doc.participant.participant_id,
        name=doc.original_name,
        content_type=doc.content_type,
        size=doc.size,
        sha256=doc.sha256,
        scan_status=doc.scan_status,  # type: ignore[arg-type]
        uploaded_at=doc.uploaded_at,
        scanned_at=doc.scanned_at,
    )
