"""Uploading documents: checked by content, hashed, stored under a random name outside static
files, audited, then scanned for malware (clean, quarantined, failed and retried)."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from conftest import organisation_payload
from flexreg.accounts.acting import acting_for
from flexreg.core import scheduler
from flexreg.core.acting import Acting
from flexreg.core.errors import PermissionDenied, ValidationFailed
from flexreg.core.models import AuditEvent
from flexreg.devtools.clamd_stub import EICAR, StubServer, start_stub
from flexreg.entry import scanning, services_documents, tasks_documents
from flexreg.entry.models import Document
from flexreg.entry.services_documents import UploadRejected
from flexreg.participants.models import Membership

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20 + b"\xff\xd9"
HTML = b"<!doctype html><html><script>alert(document.cookie)</script></html>"
INFECTED_PDF = PDF + EICAR + b"\n"
IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
BRIGHTWATT = "99000001"
SOLAR_COMMONS = {
    "company_number": "OC990004",
    "legal_name": "Solar Commons LLP (Sample)",
    "organisation_type": "llp",
    "declaration": {
        "declarant_name": "Amira Khan",
        "declarant_is_applicant": True,
        "statement_accepted": True,
    },
}


# --- fixtures and helpers (also used by test_documents_api.py) -------------------------------


@pytest.fixture(scope="session")
def clamd() -> Iterator[StubServer]:
    server = start_stub(slow_seconds=2)
    yield server
    server.stop()


@pytest.fixture
def scanner(settings: Any, clamd: StubServer) -> StubServer:
    """clamd (the local stand-in) configured; scans queued after commit run at once."""
    clamd.reset()
    settings.CLAMAV_ADDRESS = clamd.address
    settings.CLAMAV_TIMEOUT = 2.0
    settings.TASKS = IMMEDIATE
    return clamd


@pytest.fixture
def no_scanner(settings: Any) -> None:
    settings.CLAMAV_ADDRESS = ""
    settings.TASKS = IMMEDIATE


def as_member(user: Any, participant_id: str, role: str = "FSP") -> Acting:
    membership = Membership.objects.select_related("participant_role__participant").get(
        user=user,
        participant_role__participant__participant_id=participant_id,
        participant_role__role=role,
    )
    return acting_for(user, membership, via="session")


def pdf(
    name: str = "certificate.pdf", body: bytes = PDF, content_type: str = "application/pdf"
) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, body, content_type=content_type)


def upload_clean(acting: Acting, body: bytes = PDF, name: str = "certificate.pdf") -> Document:
    """Upload and conclude the scan with no scanner configured (the caller sets that)."""
    doc = services_documents.upload(acting, pdf(name, body))
    services_documents.scan(doc.pk)
    doc.refresh_from_db()
    return doc


@pytest.fixture
def brightwatt(registered: Any) -> tuple[Any, str, Acting]:
    """A verified participant (99000001) and its Authorised Person acting for its FSP role."""
    user, body, _ = registered(organisation_payload(company_number=BRIGHTWATT))
    return user, body["participant_id"], as_member(user, body["participant_id"])


@pytest.fixture
def solar_commons(registered: Any) -> tuple[Any, str, Acting]:
    user, body, _ = registered(organisation_payload(**SOLAR_COMMONS))
    return user, body["participant_id"], as_member(user, body["participant_id"])


def events(action: str, document: Document) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            action=action, object_type="document", object_id=str(document.public_id)
        ).order_by("seq")
    )


def _stored_path(doc: Document) -> Path:
    return Path(django_settings.MEDIA_ROOT) / str(doc.file.name)


# --- upload ------------------------------------------------------------------------------------


def test_an_upload_records_type_size_and_sha256_and_is_stored_under_a_random_name(
    no_scanner: None, brightwatt: tuple[Any, str, Acting]
) -> None:
    user, pid, acting = brightwatt
    doc = services_documents.upload(acting, pdf("Insurance certificate 2025.pdf"))
    doc.refresh_from_db()
    assert doc.participant.participant_id == pid
    assert doc.uploaded_by_id == user.pk
    assert doc.original_name == "Insurance certificate 2025.pdf"
    assert doc.content_type == "application/pdf"
    assert doc.size == len(PDF)
    assert doc.sha256 == hashlib.sha256(PDF).hexdigest()
    assert doc.scan_status == Document.Scan.PENDING  # scanned after the commit
    # stored through the storage API under a random name, never the client's
    today = timezone.now()
    name = str(doc.file.name)
    assert name.startswith(f"entry/{today:%Y}/{today:%m}/")
    stored = os.path.basename(name)
    assert len(stored) == len("0" * 32 + ".pdf") and stored.endswith(".pdf")
    assert "Insurance" not in name
    assert _stored_path(doc).read_bytes() == PDF


def test_uploads_are_stored_outside_static_files_and_never_served_directly(
    no_scanner: None, brightwatt: tuple[Any, str, Acting], client: Client
) -> None:
    doc = services_documents.upload(brightwatt[2], pdf())
    path = _stored_path(doc).resolve()
    assert path.is_relative_to(Path(django_settings.MEDIA_ROOT).resolve())
    static_roots = [Path(django_settings.STATIC_ROOT), *map(Path, django_settings.STATICFILES_DIRS)]
    for root in static_roots:
        assert not path.is_relative_to(root.resolve())
    package = Path(__file__).resolve().parents[2]  # src/flexreg
    assert not path.is_relative_to(package)
    # no URL serves the storage: not MEDIA_URL, not static
    for url in (f"{django_settings.MEDIA_URL}{doc.file.name}", f"/static/{doc.file.name}"):
        assert client.get(url).status_code == 404


def test_the_size_limit(
    settings: Any, no_scanner: None, brightwatt: tuple[Any, str, Acting]
) -> None:
    settings.UPLOAD_MAX_BYTES = 1024
    acting = brightwatt[2]
    at_limit = PDF + b"x" * (1024 - len(PDF))
    assert services_documents.upload(acting, pdf(body=at_limit)).size == 1024
    with pytest.raises(UploadRejected) as caught:
        services_documents.upload(acting, pdf(body=at_limit + b"x"))
    error = caught.value
    assert isinstance(error, ValidationFailed) and error.status == 422
    assert error.code == "document.too_large"
    assert [(e.field, e.code) for e in error.errors] == [("file", "document.too_large")]
    assert "smaller than 1 KB" in error.errors[0].message


def test_the_size_limit_holds_even_if_the_declared_size_lies(
    settings: Any, no_scanner: None, brightwatt: tuple[Any, str, Acting]
) -> None:
    settings.UPLOAD_MAX_BYTES = 1024
    lying = pdf(body=PDF + b"x" * 2000)
    lying.size = 10
    with pytest.raises(UploadRejected, match="too_large"):
        services_documents.upload(brightwatt[2], lying)
    assert Document.objects.count() == 0


def test_an_empty_file_is_refused(no_scanner: None, brightwatt: tuple[Any, str, Acting]) -> None:
    with pytest.raises(UploadRejected) as caught:
        services_documents.upload(brightwatt[2], pdf(body=b""))
    assert [(e.field, e.code) for e in caught.value.errors] == [("file", "document.empty")]


@pytest.mark.parametrize(
    ("name", "body", "client_type"),
    [
        ("x.pdf", HTML, "application/pdf"),  # HTML dressed up as a PDF
        ("report.pdf", b"MZ\x90\x00" + b"\x00" * 60, "application/pdf"),  # a Windows program
        ("scan.png", b"GIF89a" + b"\x00" * 20, "image/png"),  # GIF: not on the list
        ("notes.pdf", b"  %PDF-1.7 not at the start", "application/pdf"),
    ],
)
def test_the_type_is_checked_on_the_content_not_the_name(
    no_scanner: None, brightwatt: tuple[Any, str, Acting], name: str, body: bytes, client_type: str
) -> None:
    with pytest.raises(UploadRejected) as caught:
        services_documents.upload(brightwatt[2], pdf(name, body, client_type))
    assert caught.value.code == "document.type_not_allowed"
    assert caught.value.errors[0].field == "file"
    assert caught.value.errors[0].message == "The selected file must be a PDF, PNG or JPEG."
    assert Document.objects.count() == 0


@pytest.mark.parametrize(
    ("name", "body", "client_type", "detected", "extension"),
    [
        ("x.exe", PDF, "application/x-msdownload", "application/pdf", ".pdf"),
        ("photo", PNG, "application/octet-stream", "image/png", ".png"),
        ("scan.pdf", JPEG, "application/pdf", "image/jpeg", ".jpg"),
    ],
)
def test_the_detected_type_is_recorded_whatever_the_name_says(
    no_scanner: None,
    brightwatt: tuple[Any, str, Acting],
    name: str,
    body: bytes,
    client_type: str,
    detected: str,
    extension: str,
) -> None:
    doc = services_documents.upload(brightwatt[2], pdf(name, body, client_type))
    assert doc.content_type == detected
    assert doc.original_name == name
    assert str(doc.file.name).endswith(extension)  # the stored name follows the content


def test_accept_narrows_the_allowed_types(
    no_scanner: None, brightwatt: tuple[Any, str, Acting]
) -> None:
    acting = brightwatt[2]
    with pytest.raises(UploadRejected) as caught:
        services_documents.upload(
            acting, pdf("p.png", PNG, "image/png"), accept=["application/pdf"]
        )
    assert caught.value.errors[0].message == "The selected file must be a PDF."
    doc = services_documents.upload(acting, pdf(), accept=["application/pdf", "image/png"])
    assert doc.content_type == "application/pdf"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\jane\\Desktop\\cert.pdf", "cert.pdf"),
        ("/tmp/evil\x00.pdf", "evil.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),  # a right-to-left override, removed
        ("line\r\nbreak\t.pdf", "line break .pdf"),
        ('a<b>c:"d"|e?f*.pdf', "a_b_c__d__e_f_.pdf"),
        ("...hidden.pdf", "hidden.pdf"),
        ("", "document"),
        ("..", "document"),
        ("Brontë certificate.pdf", "Brontë certificate.pdf"),
    ],
)
def test_the_original_name_is_sanitised(
    no_scanner: None, brightwatt: tuple[Any, str, Acting], given: str, kept: str
) -> None:
    upload = pdf()
    upload._name = given  # type: ignore[attr-defined]  # as sent, past Django's checks
    doc = services_documents.upload(brightwatt[2], upload)
    assert doc.original_name == kept
    assert os.path.basename(str(doc.file.name)) != kept


def test_a_long_name_keeps_its_extension_within_255_characters(
    no_scanner: None, brightwatt: tuple[Any, str, Acting]
) -> None:
    upload = pdf()
    upload.name = "é" * 400 + ".pdf"
    doc = services_documents.upload(brightwatt[2], upload)
    assert len(doc.original_name) == 255 and doc.original_name.endswith("é.pdf")


def test_uploading_needs_entry_answer(
    no_scanner: None, brightwatt: tuple[Any, str, Acting], make_user: Any
) -> None:
    acting = brightwatt[2]
    reader = make_user()
    held = Membership.objects.get(pk=int(acting.membership_id or 0)).participant_role
    membership = Membership.objects.create(
        user=reader, participant_role=held, permissions=["entry:read"]
    )
    with pytest.raises(PermissionDenied):
        services_documents.upload(acting_for(reader, membership, via="session"), pdf())
    assert Document.objects.count() == 0


def test_an_upload_is_audited_without_its_content(
    no_scanner: None, brightwatt: tuple[Any, str, Acting]
) -> None:
    _, pid, acting = brightwatt
    doc = services_documents.upload(acting, pdf("Jane Smith passport.pdf"))
    (event,) = events("document.uploaded", doc)
    assert event.subject_participant_id == pid
    assert event.actor_user_id == acting.user_id and event.acting_role == "FSP"
    after = event.changes["after"]
    assert after["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert after["size"] == len(PDF)
    assert after["content_type"] == "application/pdf"
    # the name may name a person: kept as an erasable personal value, not in the chain
    assert after["name"] == "__personal__"
    assert "name" not in str(event.changes).replace('"name"', "").replace("'name'", "")
    assert PDF.decode("latin-1")[:20] not in str(event.changes)


def test_the_scan_is_queued_after_the_commit(
    scanner: StubServer,
    brightwatt: tuple[Any, str, Acting],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        doc = services_documents.upload(brightwatt[2], pdf())
    assert len(callbacks) == 1 and scanner.log == []  # nothing scanned before the commit
    callbacks[0]()
    doc.refresh_from_db()
    assert doc.scan_status == Document.Scan.CLEAN


# --- scanning ------------------------------------------------------------------------------------


def _uploaded(acting: Acting, body: bytes, capture: Any) -> Document:
    with capture(execute=True):
        doc = services_documents.upload(acting, pdf(body=body))
    doc.refresh_from_db()
    return doc


def test_a_clean_file_is_marked_clean_by_clamd(
    scanner: StubServer,
    brightwatt: tuple[Any, str, Acting],
    django_capture_on_commit_callbacks: Any,
) -> None:
    doc = _uploaded(brightwatt[2], PDF, django_capture_on_commit_callbacks)
    assert doc.scan_status == Document.Scan.CLEAN
    assert doc.scan_detail == "ClamAV: OK"
    assert doc.scanned_at is not None
    assert scanner.log == [("INSTREAM", len(PDF), "stream: OK")]
    (event,) = events("document.scanned", doc)
    assert event.actor_label == "system:malware-scan"
    assert event.changes["after"]["scan_status"] == "clean"


def test_an_infected_file_is_quarantined_row_and_hash_kept(
    scanner: StubServer,
    brightwatt: tuple[Any, str, Acting],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        doc = services_documents.upload(brightwatt[2], pdf(body=INFECTED_PDF))
    path = _stored_path(doc)
    assert path.exists()
    for callback in callbacks:
        callback()
    doc.refresh_from_db()
    assert doc.scan_status == Document.Scan.INFECTED
    assert doc.scan_detail == "Eicar-Test-Signature FOUND"
    assert not path.exists()  # deleted from storage
    assert doc.file.name == ""
    assert doc.sha256 == hashlib.sha256(INFECTED_PDF).hexdigest()  # the row and hash stay
    (event,) = events("document.quarantined", doc)
    assert event.changes["after"]["signature"] == "Eicar-Test-Signature"
    assert event.changes["after"]["sha256"] == doc.sha256
    # a second scan changes nothing
    assert services_documents.scan(doc.pk) == "infected"
    assert len(scanner.log) == 1


def test_scanner_down_then_retried_clean_by_the_periodic_job(
    scanner: StubServer,
    brightwatt: tuple[Any, str, Acting],
    django_capture_on_commit_callbacks: Any,
) -> None:
    scanner.set_mode("refuse")
    doc = _uploaded(brightwatt[2], PDF, django_capture_on_commit_callbacks)
    assert doc.scan_status == Document.Scan.FAILED
    assert doc.scan_detail.startswith("scanner unavailable")
    failed_at = doc.scanned_at
    assert failed_at is not None

    # the job is registered under its name; it leaves a failure younger than a minute alone
    assert scheduler.JOBS["entry.rescan_documents"].every == dt.timedelta(minutes=5)
    assert tasks_documents.rescan_documents(failed_at + dt.timedelta(seconds=30)) == {}

    scanner.set_mode("ok")
    later = failed_at + dt.timedelta(minutes=6)
    results = scheduler.run_due(now=later, only={"entry.rescan_documents"})
    assert results == {"entry.rescan_documents": {"clean": 1}}
    doc.refresh_from_db()
    assert doc.scan_status == Document.Scan.CLEAN
    assert doc.scanned_at == later
    transitions = [
        (e.changes["after"]["scan_status_before"], e.changes["after"]["scan_status"])
        for e in events("document.scanned", doc)
    ]
    assert transitions == [("pending", "failed"), ("failed", "clean")]


def test_a_retry_that_fails_again_is_not_a_new_audit_event(
    scanner: StubServer,
    brightwatt: tuple[Any, str, Acting],
    django_capture_on_commit_callbacks: Any,
) -> None:
    scanner.set_mode("error")
    doc = _uploaded(brightwatt[2], PDF, django_capture_on_commit_callbacks)
    assert doc.scan_status == Document.Scan.FAILED
    assert doc.scan_detail.startswith("scan failed: clamd: stream: Can't allocate memory ERROR")
    later = timezone.now() + dt.timedelta(minutes=10)
    assert tasks_documents.rescan_documents(later) == {"failed": 1}
    doc.refresh_from_db()
    assert doc.scanned_at == later
    assert len(events("document.scanned", doc)) == 1


def test_nothing_listening_fails_and_the_job_stops_at_the_first_unavailable(
    settings: Any,
    no_scanner: None,
    brightwatt: tuple[Any, str, Acting],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free_port = s.getsockname()[1]
    settings.CLAMAV_ADDRESS = f"127.0.0.1:{free_port}"
    first = _uploaded(brightwatt[2], PDF, django_capture_on_commit_callbacks)
    second = _uploaded(brightwatt[2], PDF + b"2", django_capture_on_commit_callbacks)
    assert first.scan_status == second.scan_status == Document.Scan.FAILED
    later = timezone.now() + dt.timedelta(minutes=10)
    assert tasks_documents.rescan_documents(later) == {"failed": 1}  # stopped after the first
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.scanned_at == later and second.scanned_at != later


def test_a_lost_scan_task_is_made_up_by_the_periodic_job(
    no_scanner: None, brightwatt: tuple[Any, str, Acting]
) -> None:
    doc = services_documents.upload(brightwatt[2], pdf())  # its task never ran
    assert tasks_documents.rescan_documents(timezone.now()) == {}  # younger than a minute
    assert tasks_documents.rescan_documents(timezone.now() + dt.timedelta(minutes=2)) == {
        "clean": 1
    }
    doc.refresh_from_db()
    assert doc.scan_status == Document.Scan.CLEAN


def test_without_a_scanner_documents_are_marked_clean_with_one_warning(
    no_scanner: None,
    brightwatt: tuple[Any, str, Acting],
    django_capture_on_commit_callbacks: Any,
) -> None:
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect(level=logging.WARNING)
    scanning.logger.addHandler(handler)
    scanning._warned.clear()
    try:
        one = _uploaded(brightwatt[2], PDF, django_capture_on_commit_callbacks)
        two = _uploaded(brightwatt[2], PDF + b"2", django_capture_on_commit_callbacks)
    finally:
        scanning.logger.removeHandler(handler)
    for doc in (one, two):
        assert doc.scan_status == Document.Scan.CLEAN
        assert doc.scan_detail == "no scanner configured"
        (event,) = events("document.scanned", doc)
        assert event.changes["after"]["detail"] == "no scanner configured"
    warnings = [r for r in records if "No malware scanner configured" in r.getMessage()]
    assert len(warnings) == 1


def test_the_task_scans_by_primary_key(
    scanner: StubServer, brightwatt: tuple[Any, str, Acting]
) -> None:
    doc = services_documents.upload(brightwatt[2], pdf(body=INFECTED_PDF))
    assert tasks_documents.scan_document.call(doc.pk) == "infected"
    assert tasks_documents.scan_document.call(10**9) == "missing"
