"""The HTTP response that hands out a document's content (API and portal alike)."""

from __future__ import annotations

from django.core.files import File
from django.http import FileResponse

from flexreg.entry import uploads
from flexreg.entry.models import Document

# Nothing in the file may run, even if a browser were made to render it.
SANDBOX_CSP = "sandbox; default-src 'none'; frame-ancestors 'none'"


def content_response(doc: Document, handle: File) -> FileResponse:
    """The file as an attachment, with its detected type and headers that stop a browser from
    sniffing, rendering, caching or framing it."""
    response = FileResponse(handle, content_type=doc.content_type)
    response["Content-Disposition"] = uploads.content_disposition(
        uploads.download_name(doc.original_name, doc.content_type)
    )
    response["Content-Type"] = doc.content_type
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = SANDBOX_CSP
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
