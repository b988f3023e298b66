"""API: market-entry documents: upload (multipart), metadata, content.

Translate only: parse, call a selector or a service, return a schema or the file.
(No ``from __future__ import annotations``: Ninja reads the parameter annotations at import.)
"""

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.http import FileResponse, HttpRequest
from ninja import File, Router, Status, UploadedFile

from flexreg.accounts.api_auth import requires
from flexreg.core import permissions
from flexreg.core.acting import acting_of
from flexreg.core.errors import FieldError, ValidationFailed
from flexreg.entry import http_documents, upload_handlers, uploads
from flexreg.entry import selectors_documents as selectors
from flexreg.entry import services_documents as services
from flexreg.entry.schemas_documents import DocumentOut, document_out

router = Router(tags=["Market entry documents"])

F = TypeVar("F", bound=Callable[..., Any])


def requires_read_or_review(view: F) -> F:
    """Declares ``entry:read`` (members of the owning participant); the central operator's
    ``entry:review`` also lets a caller in. Object scope: ``selectors_documents``."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        acting = acting_of(request)
        if not (acting.is_authenticated and acting.has(selectors.REVIEW)):
            permissions.require(acting, selectors.READ)
        return view(request, *args, **kwargs)

    wrapper.required_permission = selectors.READ  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


_CONTENT = {
    "description": "The file, as an attachment, once its malware scan found it clean.",
    "content": {
        t: {"schema": {"type": "string", "format": "binary"}} for t in uploads.ALLOWED_TYPES
    },
}


@router.post(
    "",
    response={201: DocumentOut},
    summary="Upload a document (multipart/form-data, field 'file'): PDF, PNG or JPEG",
)
@requires(services.ANSWER)
def upload_document(
    request: HttpRequest,
    file: UploadedFile | None = File(None),  # noqa: B008
) -> Status[DocumentOut]:
    if file is None and upload_handlers.was_too_large(request):
        raise services.too_large()
    if file is None:
        raise ValidationFailed(
            [FieldError("file", "required", "Send the file as multipart/form-data field 'file'.")]
        )
    doc = services.upload(acting_of(request), file)
    return Status(201, document_out(doc))


@router.get("/{document_id}", response=DocumentOut, summary="A document's details")
@requires_read_or_review
def get_document(request: HttpRequest, document_id: str) -> DocumentOut:
    return document_out(selectors.document_for(acting_of(request), document_id))


@router.get(
    "/{document_id}/content",
    summary="A document's content (only once scanned clean)",
    openapi_extra={"responses": {"200": _CONTENT}},
)
@requires_read_or_review
def get_document_content(request: HttpRequest, document_id: str) -> FileResponse:
    doc, handle = services.open_content(acting_of(request), document_id)
    return http_documents.content_response(doc, handle)
