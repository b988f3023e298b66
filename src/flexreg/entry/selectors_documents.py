"""Permission-scoped reads of uploaded documents.

Members of the participant that uploaded a document see it with ``entry:read``; the central
operator sees every document with ``entry:review``. Anyone else gets "not found", so document
ids cannot be probed.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.db.models import Q, QuerySet

from flexreg.core import permissions
from flexreg.core.acting import Acting
from flexreg.core.errors import NotFound
from flexreg.entry.models import Document

READ = "entry:read"
REVIEW = "entry:review"


def documents_for(acting: Acting) -> QuerySet[Document]:
    """The documents the acting membership may see (raises 401/403 without either permission)."""
    if acting.is_authenticated and acting.has(REVIEW):
        return Document.objects.select_related("participant")
    permissions.require(acting, READ)
    if acting.participant_pk is None:
        return Document.objects.none()
    return Document.objects.select_related("participant").filter(
        participant_id=acting.participant_pk
    )


def document_for(acting: Acting, document_id: object) -> Document:
    try:
        public_id = uuid.UUID(str(document_id))
    except (ValueError, TypeError, AttributeError):
        # still check the caller's permission first: 401/403 before 404
        documents_for(acting)
        raise NotFound("No such document.") from None
    found = documents_for(acting).filter(public_id=public_id).first()
    if found is None:
        raise NotFound("No such document.")
    return found


def due_for_rescan(now: dt.datetime, *, older_than: dt.timedelta, limit: int) -> list[int]:
    """Documents still waiting for a verdict: pending ones whose queued scan should have run
    by now, and failed ones whose last attempt is ``older_than`` ago. Oldest first."""
    cutoff = now - older_than
    return list(
        Document.objects.filter(
            Q(scan_status=Document.Scan.PENDING, uploaded_at__lte=cutoff)
            | (
                Q(scan_status=Document.Scan.FAILED)
                & (Q(scanned_at__isnull=True) | Q(scanned_at__lte=cutoff))
            )
        )
        .order_by("uploaded_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
