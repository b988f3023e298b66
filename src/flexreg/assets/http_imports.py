"""HTTP pieces of bulk registration: the upload size limit of an import file, and the CSV
responses (results, templates).

Import files are larger than documents (100,000 rows), so the import upload swaps the
request's upload handlers for its own limit (``ASSET_IMPORT_MAX_BYTES``) before the body is
read: a part over it is dropped as it streams in, never stored whole.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import (
    FileUploadHandler,
    MemoryFileUploadHandler,
    SkipFile,
    TemporaryFileUploadHandler,
)
from django.http import HttpRequest, StreamingHttpResponse

from flexreg.assets import services_imports
from flexreg.core.errors import FieldError, ValidationFailed

_FLAG = "_flexreg_import_too_large"
# A cell starting with one of these is a formula to a spreadsheet: quoted as text.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


class ImportSizeLimitHandler(FileUploadHandler):
    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.received = 0

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > services_imports.max_bytes():
            if self.request is not None:
                setattr(self.request, _FLAG, True)
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def uploaded_file(request: HttpRequest) -> UploadedFile:
    """The multipart field ``file`` of an import upload (422 if missing or too large)."""
    if not hasattr(request, "_files"):
        request.upload_handlers = [
            ImportSizeLimitHandler(request),
            MemoryFileUploadHandler(request),
            TemporaryFileUploadHandler(request),
        ]
    found = request.FILES.get("file")
    if found is None and (getattr(request, _FLAG, False) or _dropped_by_default(request)):
        raise services_imports.too_large()
    if found is None:
        raise ValidationFailed(
            [
                FieldError(
                    "file",
                    "required",
                    "Send the CSV or JSON Lines file as multipart/form-data field 'file'.",
                )
            ]
        )
    return found


def _dropped_by_default(request: HttpRequest) -> bool:
    # The site-wide limit (entry.upload_handlers), had the body been read before this view.
    return bool(getattr(request, "_flexreg_upload_too_large", False))


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_response(
    header: Iterable[str], rows: Iterable[Iterable[Any]], filename: str
) -> StreamingHttpResponse:
    """A streamed CSV download (UTF-8, formula-like cells quoted as text)."""
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(list(header))
        for row in rows:
            yield writer.writerow([_cell(v) for v in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


def error_text(errors: list[dict[str, Any]]) -> str:
    """A row's errors in one cell: ``field [code] message``, separated by `` | ``."""
    parts = []
    for e in errors:
        where = f"{e.get('field')} " if e.get("field") else ""
        parts.append(f"{where}[{e.get('code', '')}] {e.get('message', '')}")
    return " | ".join(parts)
