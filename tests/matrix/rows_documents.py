"""Authorisation matrix rows for market-entry documents (entry/api_documents.py).

The matrix client sends JSON only, so the upload row carries no file: callers allowed to
upload get the coded 422 for the missing ``file`` field, after the permission check.
"""

from __future__ import annotations

from typing import Any

from tests.matrix.base import Scenario, World, _expect

B = "/entry/documents"


def _document(w: World) -> str:
    """A clean PDF uploaded by participant A, made once per world."""
    cached = w.__dict__.get("_document")
    if cached is not None:
        return str(cached)
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import override_settings

    from flexreg.core.acting import Acting
    from flexreg.entry import services_documents

    uploader = Acting(
        user_id=None,
        user_label="system:matrix",
        via="system",
        participant_pk=w.a.pk,
        participant_id=w.a.participant_id,
        role="FSP",
        permissions=frozenset({"entry:answer"}),
    )
    upload = SimpleUploadedFile("matrix.pdf", b"%PDF-1.7\n%%EOF\n", "application/pdf")
    doc = services_documents.upload(uploader, upload)
    with override_settings(CLAMAV_ADDRESS=""):  # no scanner: marked clean (ADR 0012)
        services_documents.scan(doc.pk)
    w.__dict__["_document"] = str(doc.public_id)
    return str(doc.public_id)


def _no_file(w: World) -> tuple[str, Any]:
    return B, {"file": "not a file"}


SCENARIOS = [
    Scenario(
        "POST /api/v1/entry/documents",
        _no_file,
        # "other" (B) and "with" may upload: 422 for the missing multipart file; operators and
        # members without entry:answer may not
        _expect(401, 422, 403, 422, 403),
    ),
    Scenario(
        "GET /api/v1/entry/documents/{document_id}",
        lambda w: (f"{B}/{_document(w)}", None),
        _expect(401, 404, 403, 200, 200),
    ),
    Scenario(
        "GET /api/v1/entry/documents/{document_id}/content",
        lambda w: (f"{B}/{_document(w)}/content", None),
        _expect(401, 404, 403, 200, 200),
    ),
]
