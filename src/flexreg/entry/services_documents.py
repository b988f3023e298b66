"""Uploaded documents: accept a file, scan it for malware, hand it out to those allowed.

``upload`` checks a file by its content (size, type by magic bytes), hashes it, stores it
through Django's storage API under a random name and queues its malware scan for after the
commit. ``scan`` asks clamd (``entry.scanning``) and records the verdict: clean, infected (the
stored file is deleted at once; the row and its SHA-256 stay, for the record) or failed (the
scanner could not judge it; ``rescan_due`` retries). ``open_content`` hands a clean file to a
permitted reader and audits the read. Decision: docs/decisions/0012-malware-scanning.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from flexreg.core import audit, permissions
from flexreg.core.acting import Acting
from flexreg.core.errors import Conflict, DomainError, FieldError, ValidationFailed
from flexreg.entry import scanning, uploads
from flexreg.entry import selectors_documents as selectors
from flexreg.entry.models import Document

logger = logging.getLogger(__name__)

ANSWER = "entry:answer"
OBJECT_TYPE = "document"
FINAL = (Document.Scan.CLEAN, Document.Scan.INFECTED)
RESCAN_AFTER = dt.timedelta(minutes=1)
RESCAN_BATCH = 200


class UploadRejected(ValidationFailed):
    """A file refused by ``upload``: one error on the field ``file`` with a stable code
    (``document.too_large``, ``document.empty``, ``document.type_not_allowed``), also the
    problem's own ``code``. A ``ValidationFailed``, so forms show it like any field error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__([FieldError("file", code, message)], detail=message)
        self.code = code


def too_large() -> UploadRejected:
    """The error for a file over ``UPLOAD_MAX_BYTES`` (also for views whose upload handler
    dropped the file part: ``entry.upload_handlers.was_too_large``)."""
    limit = int(settings.UPLOAD_MAX_BYTES)
    return UploadRejected(
        "document.too_large", f"The selected file must be smaller than {_megabytes(limit)}."
    )


def _megabytes(n: int) -> str:
    mb = n / (1024 * 1024)
    return f"{mb:.0f} MB" if mb >= 1 else f"{max(n // 1024, 1)} KB"


def _stored_name(doc: Document) -> str:
    return str(doc.file.name or "")


def _scanner() -> Acting:
    return Acting.system("malware-scan")


def _audit_document(
    acting: Acting, action: str, doc: Document, after: dict[str, Any], personal: Sequence[str] = ()
) -> None:
    audit.record(
        acting,
        action,
        object_type=OBJECT_TYPE,
        object_id=str(doc.public_id),
        subject_participant_id=doc.participant.participant_id,
        after=after,
        personal=personal,
        only_changed=False,
    )


# --- upload --------------------------------------------------------------------------------


@transaction.atomic
def upload(
    acting: Acting, uploaded_file: UploadedFile, *, accept: list[str] | None = None
) -> Document:
    """Store a file uploaded by (a member of) the acting participant, and queue its scan.

    ``accept`` narrows the allowed content types (e.g. a rule step's ``accept``); the type is
    always found from the content. Raises :class:`UploadRejected` (422) for a file that is
    too large, empty or of a type not allowed.
    """
    permissions.require(acting, ANSWER)
    if acting.participant_pk is None:
        raise Conflict("document.no_participant", "Act for a participant to upload documents.")
    limit = int(settings.UPLOAD_MAX_BYTES)
    declared = getattr(uploaded_file, "size", None)
    if declared is not None and declared > limit:
        raise too_large()
    try:
        digest = uploads.digest(uploaded_file.chunks(), limit)
    except uploads.TooLarge:
        raise too_large() from None
    if digest.size == 0:
        raise UploadRejected("document.empty", "The selected file is empty.")
    allowed = [t for t in (accept or uploads.ALLOWED_TYPES) if t in uploads.ALLOWED_TYPES]
    uploaded_file.seek(0)
    detected = uploads.sniff(uploaded_file.read(uploads.HEAD_BYTES))
    if detected is None or detected not in allowed:
        raise UploadRejected(
            "document.type_not_allowed",
            f"The selected file must be a {uploads.describe(allowed)}.",
        )

    doc = Document(
        participant_id=acting.participant_pk,
        original_name=uploads.safe_name(uploaded_file.name),
        content_type=detected,
        size=digest.size,
        sha256=digest.sha256,
        scan_status=Document.Scan.PENDING,
        uploaded_by_id=acting.user_id,
        uploaded_at=timezone.now(),
    )
    uploaded_file.seek(0)
    # A random name: the client's name never reaches the file system.
    doc.file.save(f"{uuid.uuid4().hex}{uploads.extension_for(detected)}", uploaded_file, save=False)
    try:
        doc.save()
        doc = Document.objects.select_related("participant").get(pk=doc.pk)
        _audit_document(
            acting,
            "document.uploaded",
            doc,
            after={
                "name": doc.original_name,
                "content_type": doc.content_type,
                "size": doc.size,
                "sha256": doc.sha256,
            },
            personal=["name"],  # a file name can name a person; erasable (core.audit)
        )
    except BaseException:
        doc.file.storage.delete(_stored_name(doc))
        raise
    pk = doc.pk
    transaction.on_commit(lambda: _queue_scan(pk), robust=True)
    return doc


def _queue_scan(document_pk: int) -> None:
    from flexreg.entry import tasks_documents

    tasks_documents.scan_document.enqueue(document_pk)


# --- scanning ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanOutcome:
    status: str
    scanner_unavailable: bool = False


def scan(document_pk: int, *, now: dt.datetime | None = None) -> str:
    """Scan one document and record the verdict; returns its scan status. Idempotent: a
    document already clean or infected is left alone."""
    return _scan(document_pk, now).status


def _scan(document_pk: int, now: dt.datetime | None) -> ScanOutcome:
    doc = Document.objects.filter(pk=document_pk).first()
    if doc is None:
        return ScanOutcome("missing")
    if doc.scan_status in FINAL:
        return ScanOutcome(str(doc.scan_status))
    client = scanning.client_from_settings()
    if client is None:
        scanning.warn_no_scanner_once()
        return ScanOutcome(_conclude(doc.pk, Document.Scan.CLEAN, scanning.NO_SCANNER_DETAIL, now))
    try:
        handle = doc.file.storage.open(_stored_name(doc), "rb")
    except OSError as exc:
        logger.error("document %s: stored file cannot be opened: %s", doc.public_id, exc)
        return ScanOutcome(_conclude(doc.pk, Document.Scan.FAILED, "stored file unreadable", now))
    try:
        with handle:
            verdict = client.scan_stream(handle)
    except scanning.ScannerUnavailable as exc:
        logger.warning("document %s: malware scanner unavailable: %s", doc.public_id, exc)
        status = _conclude(doc.pk, Document.Scan.FAILED, f"scanner unavailable: {exc}", now)
        return ScanOutcome(status, scanner_unavailable=True)
    except scanning.ScannerError as exc:
        logger.warning("document %s: malware scan failed: %s", doc.public_id, exc)
        return ScanOutcome(_conclude(doc.pk, Document.Scan.FAILED, f"scan failed: {exc}", now))
    if verdict.infected:
        return ScanOutcome(_quarantine(doc.pk, verdict, now))
    return ScanOutcome(_conclude(doc.pk, Document.Scan.CLEAN, "ClamAV: OK", now))


def _locked(document_pk: int) -> Document:
    return Document.objects.select_for_update().select_related("participant").get(pk=document_pk)


@transaction.atomic
def _conclude(document_pk: int, status: str, detail: str, now: dt.datetime | None) -> str:
    doc = _locked(document_pk)
    if doc.scan_status in FINAL:  # another worker got there first
        return str(doc.scan_status)
    before = str(doc.scan_status)
    doc.scan_status = status
    doc.scan_detail = detail[:300]
    doc.scanned_at = now or timezone.now()
    doc.save(update_fields=["scan_status", "scan_detail", "scanned_at"])
    if status != before:  # a retry that fails again is not a new event
        _audit_document(
            _scanner(),
            "document.scanned",
            doc,
            after={"scan_status_before": before, "scan_status": status, "detail": doc.scan_detail},
        )
    return status


@transaction.atomic
def _quarantine(document_pk: int, verdict: scanning.Verdict, now: dt.datetime | None) -> str:
    doc = _locked(document_pk)
    if doc.scan_status in FINAL:
        return str(doc.scan_status)
    before = str(doc.scan_status)
    stored = _stored_name(doc)
    doc.scan_status = Document.Scan.INFECTED
    doc.scan_detail = verdict.detail[:300]
    doc.scanned_at = now or timezone.now()
    doc.file.name = ""  # the row and its SHA-256 stay; the content goes
    doc.save(update_fields=["scan_status", "scan_detail", "scanned_at", "file"])
    _audit_document(
        _scanner(),
        "document.quarantined",
        doc,
        after={
            "scan_status_before": before,
            "scan_status": Document.Scan.INFECTED,
            "signature": verdict.signature,
            "sha256": doc.sha256,
            "deleted_file": stored,
        },
    )
    # Deleted now, not after the commit: infected content must not outlive the verdict. If
    # the commit then failed, the row would stay without a verdict and the next scan would
    # report the file unreadable (failed), never clean.
    doc.file.storage.delete(stored)
    logger.warning(
        "document %s quarantined: %s (sha256 %s)", doc.public_id, verdict.detail, doc.sha256
    )
    return str(Document.Scan.INFECTED)


def rescan_due(now: dt.datetime) -> dict[str, int]:
    """Scan documents still without a verdict (the periodic job ``entry.rescan_documents``):
    pending ones whose queued task should have run by now, and failed ones. Stops at the first
    "scanner unavailable" so a scanner that is down is not hammered; the next run retries."""
    counts: dict[str, int] = {}
    for pk in selectors.due_for_rescan(now, older_than=RESCAN_AFTER, limit=RESCAN_BATCH):
        outcome = _scan(pk, now)
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
        if outcome.scanner_unavailable:
            break
    return counts


# --- download ------------------------------------------------------------------------------


@transaction.atomic
def open_content(acting: Acting, document_id: object) -> tuple[Document, File]:
    """A clean document's content for a permitted reader; the read is audited. 404 for a
    document the caller may not see; 409 ``document.not_scanned`` / ``document.infected``
    before it is clean."""
    doc = selectors.document_for(acting, document_id)
    if doc.scan_status == Document.Scan.INFECTED:
        raise Conflict(
            "document.infected",
            "This file failed the malware scan and was removed. Ask for a clean copy.",
        )
    if doc.scan_status != Document.Scan.CLEAN:
        raise Conflict(
            "document.not_scanned",
            "This file is waiting for its malware scan. Try again in a few minutes.",
        )
    try:
        handle = doc.file.storage.open(_stored_name(doc), "rb")
    except OSError as exc:
        logger.error("document %s: stored file cannot be opened: %s", doc.public_id, exc)
        raise DomainError(
            code="document.unavailable",
            detail="The file cannot be read just now. Try again later.",
            status=503,
            title="Service unavailable",
        ) from None
    _audit_document(
        acting,
        "document.downloaded",
        doc,
        after={"sha256": doc.sha256, "size": doc.size, "content_type": doc.content_type},
    )
    return doc, handle


def answer_with_upload(acting: Acting, request: Any, uploaded_file: UploadedFile) -> Any:
    """Store a file and answer a document step with it, in one transaction: an answer that is
    refused keeps no document (its row rolls back and the stored file is deleted)."""
    from flexreg.entry import rules
    from flexreg.entry import services as entry_services

    rules.request_answerable(request.status)  # before storing a file for nothing
    document: Document | None = None
    try:
        with transaction.atomic():
            document = upload(acting, uploaded_file, accept=request.definition.get("accept"))
            return entry_services.answer(acting, request, document=document)
    except DomainError:
        if document is not None:
            document.file.storage.delete(document.file.name)  # type: ignore[arg-type]
        raise
