"""Portal: download an uploaded document (participants' members and the central operator).

The same rules as the API (``GET /api/v1/entry/documents/{id}/content``): members of the
owning participant with ``entry:read``, the central operator with ``entry:review``; anyone else
gets "Page not found"; the content is handed out only once the malware scan found it clean.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_GET

from flexreg.accounts.portal_auth import portal_requires
from flexreg.core import permissions
from flexreg.core.acting import acting_of
from flexreg.core.errors import Conflict
from flexreg.entry import http_documents
from flexreg.entry import services_documents as services


# Any signed-in user reaches the view; entry:read (own participant) or entry:review (operator)
# and the object scope are checked by selectors_documents, as for the API.
@portal_requires(permissions.REGISTER)
@require_GET
def download(request: HttpRequest, document_id: str) -> HttpResponseBase:
    try:
        doc, handle = services.open_content(acting_of(request), document_id)
    except Conflict as exc:
        return render(
            request,
            "entry/documents/unavailable.html",
            {"code": exc.code, "detail": exc.detail},
            status=409,
        )
    return http_documents.content_response(doc, handle)
