"""An upload handler that stops storing a file part as soon as it passes the size limit.

Django writes uploads bigger than ``FILE_UPLOAD_MAX_MEMORY_SIZE`` to a temporary file before
any view runs, whatever their size. Listed first in ``FILE_UPLOAD_HANDLERS``, this handler
drops a file part once it is over ``UPLOAD_MAX_BYTES``: the rest of it is read from the
connection and thrown away, never buffered nor written to disk. The request is marked
(:func:`was_too_large`) so the view can answer ``document.too_large`` rather than "missing".
(A proxy's body limit in front of FlexReg, e.g. nginx ``client_max_body_size``, stops such a
request even earlier.)
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest

_FLAG = "_flexreg_upload_too_large"


class SizeLimitUploadHandler(FileUploadHandler):
    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.received = 0

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > int(settings.UPLOAD_MAX_BYTES):
            if self.request is not None:
                setattr(self.request, _FLAG, True)
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler (memory or temporary file) builds the file


def was_too_large(request: HttpRequest) -> bool:
    """True when a file part of this request was dropped for being over the size limit."""
    return bool(getattr(request, _FLAG, False))
