"""Uploading and downloading documents through the API and the portal: who may read what,
content only once scanned clean, safe response headers, every read audited."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from tests.signin.helpers import enrol_totp, verify_email
from tests.signin.helpers import sign_in as sign_in_with

from conftest import Api
from flexreg.core.acting import Acting
from flexreg.devtools.clamd_stub import StubServer
from flexreg.entry import services_documents
from flexreg.entry.models import Document
from flexreg.entry.tests.test_documents import (  # fixtures and helpers
    HTML,
    INFECTED_PDF,
    PDF,
    brightwatt,
    clamd,
    events,
    no_scanner,
    pdf,
    scanner,
    solar_commons,
    upload_clean,
)
from flexreg.participants.models import Membership

pytestmark = pytest.mark.django_db

__all__ = ["brightwatt", "clamd", "no_scanner", "scanner", "solar_commons"]  # fixtures

BASE = "/entry/documents"  # under /api/v1 (conftest.Api adds it)
World = tuple[Any, str, Acting]


def _membership(acting: Acting) -> Membership:
    return Membership.objects.get(pk=int(acting.membership_id or 0))


@pytest.fixture
def owner_api(brightwatt: World, api_for: Any) -> Api:
    return api_for(brightwatt[0], _membership(brightwatt[2]))


@pytest.fixture
def other_api(solar_commons: World, api_for: Any) -> Api:
    return api_for(solar_commons[0], _membership(solar_commons[2]))


def _post_file(api: Api, upload: Any) -> Any:
    data = {"file": upload} if upload is not None else {}
    return api.client.post(f"/api/v1{BASE}", data, headers={"Authorization": f"Bearer {api.token}"})


def _body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


# --- upload (API) ------------------------------------------------------------------------------


def test_upload_through_the_api(
    no_scanner: None, brightwatt: World, owner_api: Api, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = _post_file(owner_api, pdf("Framework agreement (signed).pdf"))
    assert response.status_code == 201, response.content
    body = response.json()
    doc = Document.objects.get(public_id=body["document_id"])
    assert body == {
        "document_id": str(doc.public_id),
        "participant_id": brightwatt[1],
        "name": "Framework agreement (signed).pdf",
        "content_type": "application/pdf",
        "size": len(PDF),
        "sha256": hashlib.sha256(PDF).hexdigest(),
        "scan_status": "pending",  # as it was when the upload answered
        "uploaded_at": body["uploaded_at"],
        "scanned_at": None,
    }
    doc.refresh_from_db()
    assert doc.scan_status == "clean"  # scanned once the upload committed


def test_api_upload_errors_are_problem_details_on_the_file_field(
    settings: Any, no_scanner: None, owner_api: Api
) -> None:
    response = _post_file(owner_api, SimpleUploadedFile("x.pdf", HTML, "application/pdf"))
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "document.type_not_allowed"
    assert problem["errors"] == [
        {
            "field": "file",
            "code": "document.type_not_allowed",
            "message": "The selected file must be a PDF, PNG or JPEG.",
        }
    ]
    settings.UPLOAD_MAX_BYTES = 100
    too_big = _post_file(owner_api, pdf(body=PDF + b"x" * 100))
    assert too_big.status_code == 422
    assert too_big.json()["errors"][0]["code"] == "document.too_large"
    missing = _post_file(owner_api, None)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "file"
    assert Document.objects.count() == 0


HANDLERS = [
    "flexreg.entry.upload_handlers.SizeLimitUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]


def test_the_upload_handler_drops_a_file_over_the_limit_while_it_arrives(
    settings: Any, no_scanner: None, owner_api: Api
) -> None:
    settings.FILE_UPLOAD_HANDLERS = HANDLERS
    settings.UPLOAD_MAX_BYTES = 64 * 1024
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # bigger parts would go to a temporary file
    too_big = _post_file(owner_api, pdf(body=PDF + b"x" * 200 * 1024))
    assert too_big.status_code == 422
    assert too_big.json()["code"] == "document.too_large"
    assert too_big.json()["errors"][0]["field"] == "file"
    fits = _post_file(owner_api, pdf(body=PDF + b"x" * 32 * 1024))
    assert fits.status_code == 201, fits.content
    assert fits.json()["size"] == len(PDF) + 32 * 1024
    assert Document.objects.count() == 1


def test_the_api_upload_needs_entry_answer(
    no_scanner: None, brightwatt: World, make_user: Any, api_for: Any, operator_api: Api
) -> None:
    reader = make_user()
    membership = Membership.objects.create(
        user=reader,
        participant_role=_membership(brightwatt[2]).participant_role,
        permissions=["entry:read"],
    )
    assert _post_file(api_for(reader, membership), pdf()).status_code == 403
    assert _post_file(operator_api, pdf()).status_code == 403  # operators upload nothing
    assert _post_file(Api(None), pdf()).status_code == 401


# --- download (API) ----------------------------------------------------------------------------


def test_the_owner_reads_metadata_and_content_with_safe_headers(
    no_scanner: None, brightwatt: World, owner_api: Api
) -> None:
    doc = upload_clean(brightwatt[2], name="Brontë certificate.pdf")
    meta = owner_api.get(f"{BASE}/{doc.public_id}")
    assert meta.status_code == 200
    assert meta.json()["scan_status"] == "clean"
    assert meta.json()["name"] == "Brontë certificate.pdf"
    response = owner_api.get(f"{BASE}/{doc.public_id}/content")
    assert response.status_code == 200
    assert _body(response) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        'attachment; filename="Bronte certificate.pdf"; '
        "filename*=UTF-8''Bront%C3%AB%20certificate.pdf"
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Security-Policy"].startswith("sandbox")
    assert response["Content-Length"] == str(len(PDF))


def test_a_program_uploaded_as_a_pdf_is_downloaded_as_a_pdf(
    no_scanner: None, brightwatt: World, owner_api: Api
) -> None:
    doc = upload_clean(brightwatt[2], name="setup.exe")
    response = owner_api.get(f"{BASE}/{doc.public_id}/content")
    assert response["Content-Type"] == "application/pdf"
    assert 'filename="setup.exe.pdf"' in response["Content-Disposition"]


def test_another_participant_gets_not_found(
    no_scanner: None, brightwatt: World, other_api: Api
) -> None:
    doc = upload_clean(brightwatt[2])
    for path in (f"{BASE}/{doc.public_id}", f"{BASE}/{doc.public_id}/content"):
        response = other_api.get(path)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert events("document.downloaded", doc) == []


def test_the_operator_reads_any_document_and_the_read_is_audited(
    no_scanner: None, brightwatt: World, operator_api: Api, operator: Any
) -> None:
    doc = upload_clean(brightwatt[2])
    assert operator_api.get(f"{BASE}/{doc.public_id}").status_code == 200
    response = operator_api.get(f"{BASE}/{doc.public_id}/content")
    assert response.status_code == 200 and _body(response) == PDF
    (event,) = events("document.downloaded", doc)
    assert event.actor_user_id == operator[0].pk
    assert event.acting_role == "MARKET_FACILITATOR"
    assert event.subject_participant_id == brightwatt[1]
    assert event.changes["after"]["sha256"] == doc.sha256


def test_reading_needs_entry_read(
    no_scanner: None, brightwatt: World, make_user: Any, api_for: Any
) -> None:
    doc = upload_clean(brightwatt[2])
    nobody = make_user()
    membership = Membership.objects.create(
        user=nobody, participant_role=_membership(brightwatt[2]).participant_role, permissions=[]
    )
    api = api_for(nobody, membership)
    assert api.get(f"{BASE}/{doc.public_id}").status_code == 403
    assert api.get(f"{BASE}/{doc.public_id}/content").status_code == 403
    assert Api(None).get(f"{BASE}/{doc.public_id}").status_code == 401


def test_metadata_reads_are_not_audited_but_content_reads_are(
    no_scanner: None, brightwatt: World, owner_api: Api
) -> None:
    doc = upload_clean(brightwatt[2])
    owner_api.get(f"{BASE}/{doc.public_id}")
    assert events("document.downloaded", doc) == []
    owner_api.get(f"{BASE}/{doc.public_id}/content")
    owner_api.get(f"{BASE}/{doc.public_id}/content")
    assert len(events("document.downloaded", doc)) == 2


@pytest.mark.parametrize("document_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_unknown_documents_are_not_found(
    no_scanner: None, owner_api: Api, document_id: str
) -> None:
    assert owner_api.get(f"{BASE}/{document_id}").status_code == 404
    assert owner_api.get(f"{BASE}/{document_id}/content").status_code == 404


def test_content_waits_for_the_scan(
    scanner: StubServer, brightwatt: World, owner_api: Api, operator_api: Api
) -> None:
    doc = services_documents.upload(brightwatt[2], pdf())  # scan not run yet
    for api in (owner_api, operator_api):
        assert api.get(f"{BASE}/{doc.public_id}").json()["scan_status"] == "pending"
        response = api.get(f"{BASE}/{doc.public_id}/content")
        assert response.status_code == 409
        assert response.json()["code"] == "document.not_scanned"
    scanner.set_mode("refuse")
    services_documents.scan(doc.pk)
    assert owner_api.get(f"{BASE}/{doc.public_id}/content").json()["code"] == (
        "document.not_scanned"
    )
    scanner.set_mode("ok")
    services_documents.scan(doc.pk)
    assert owner_api.get(f"{BASE}/{doc.public_id}/content").status_code == 200
    assert len(events("document.downloaded", doc)) == 1  # refused reads are not downloads


def test_an_infected_document_is_never_served(
    scanner: StubServer, brightwatt: World, owner_api: Api, operator_api: Api
) -> None:
    doc = services_documents.upload(brightwatt[2], pdf(body=INFECTED_PDF))
    services_documents.scan(doc.pk)
    meta = operator_api.get(f"{BASE}/{doc.public_id}")
    assert meta.status_code == 200 and meta.json()["scan_status"] == "infected"
    assert meta.json()["sha256"] == hashlib.sha256(INFECTED_PDF).hexdigest()
    for api in (owner_api, operator_api):
        response = api.get(f"{BASE}/{doc.public_id}/content")
        assert response.status_code == 409
        assert response.json()["code"] == "document.infected"


def test_the_openapi_document_describes_the_operations(client: Client) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    upload = spec["paths"][f"/api/v1{BASE}"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    content = spec["paths"][f"/api/v1{BASE}/{{document_id}}/content"]["get"]["responses"]["200"]
    assert "application/pdf" in content["content"]


# --- download (portal) -------------------------------------------------------------------------


PORTAL_PASSWORD = "documents-portal-password-42"


def _portal(user: Any) -> Client:
    """A portal session for ``user`` (with TOTP: Authorised Persons and operators need it)."""
    user.set_password(PORTAL_PASSWORD)
    user.save(update_fields=["password"])
    verify_email(user)
    client = Client()
    sign_in_with(client, user, PORTAL_PASSWORD, totp_secret=enrol_totp(user))
    return client


def test_the_portal_download_follows_the_same_rules(
    no_scanner: None, brightwatt: World, solar_commons: World, operator: Any
) -> None:
    doc = upload_clean(brightwatt[2], name="cert.pdf")
    url = f"/documents/{doc.public_id}/"

    owner = _portal(brightwatt[0])
    response = owner.get(url)
    assert response.status_code == 200
    assert _body(response) == PDF
    assert response["Content-Disposition"].startswith('attachment; filename="cert.pdf"')
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Security-Policy"].startswith("sandbox")
    assert owner.post(url).status_code == 405

    assert _portal(solar_commons[0]).get(url).status_code == 404
    assert owner.get("/documents/not-a-document/").status_code == 404

    operator_response = _portal(operator[0]).get(url)
    assert operator_response.status_code == 200 and _body(operator_response) == PDF
    downloads = events("document.downloaded", doc)
    assert [e.actor_user_id for e in downloads] == [brightwatt[0].pk, operator[0].pk]
    assert downloads[1].acting_role == "MARKET_FACILITATOR"

    assert Client().get(url)["Location"] == f"/sign-in/?next={url}"


def test_the_portal_explains_a_document_not_scanned_yet(
    scanner: StubServer, brightwatt: World
) -> None:
    doc = services_documents.upload(brightwatt[2], pdf())
    owner = _portal(brightwatt[0])
    response = owner.get(f"/documents/{doc.public_id}/")
    assert response.status_code == 409
    assert "not ready to download yet" in response.content.decode()
    infected = services_documents.upload(brightwatt[2], pdf(body=INFECTED_PDF))
    services_documents.scan(infected.pk)
    response = owner.get(f"/documents/{infected.public_id}/")
    assert response.status_code == 409
    assert "This file was removed" in response.content.decode()
