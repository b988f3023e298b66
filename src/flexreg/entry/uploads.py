"""Pure helpers for uploaded documents: type detection by content, safe names, hashing.

Nothing here trusts what the client says: the type comes from the file's first bytes (its
"magic number"), never from its name or the ``Content-Type`` the browser sent; the name is
reduced to something safe to store, show and hand back in a ``Content-Disposition`` header.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

# Content types an upload may have, each with the signature its content starts with and the
# extension a downloaded copy gets (entry.ruleset.DOCUMENT_TYPES lists the same three).
PDF: Final = "application/pdf"
PNG: Final = "image/png"
JPEG: Final = "image/jpeg"
SIGNATURES: Final[tuple[tuple[bytes, str], ...]] = (
    (b"%PDF-", PDF),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
)
ALLOWED_TYPES: Final[tuple[str, ...]] = (PDF, PNG, JPEG)
EXTENSIONS: Final[dict[str, tuple[str, ...]]] = {
    PDF: (".pdf",),
    PNG: (".png",),
    JPEG: (".jpg", ".jpeg"),
}
LABELS: Final[dict[str, str]] = {PDF: "PDF", PNG: "PNG", JPEG: "JPEG"}
HEAD_BYTES: Final = 16  # enough for every signature above
MAX_NAME: Final = 255
FALLBACK_NAME: Final = "document"
_WINDOWS_RESERVED: Final = set('<>:"/\\|?*')


def sniff(head: bytes) -> str | None:
    """The content type whose signature ``head`` starts with, or None."""
    for signature, content_type in SIGNATURES:
        if head.startswith(signature):
            return content_type
    return None


def extension_for(content_type: str) -> str:
    return EXTENSIONS.get(content_type, ("",))[0]


def describe(types: Iterable[str]) -> str:
    """``["application/pdf", "image/png"]`` -> ``"PDF or PNG"``."""
    labels = [LABELS.get(t, t) for t in types]
    if len(labels) <= 1:
        return "".join(labels)
    return f"{', '.join(labels[:-1])} or {labels[-1]}"


def _visible(ch: str) -> bool:
    # Cc: control characters; Cf: format characters (bidi overrides such as U+202E, which make
    # "invoice\u202efdp.exe" display as "invoiceexe.pdf"); Zl/Zp: line and paragraph separators.
    return unicodedata.category(ch) not in {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}


def safe_name(name: str | None) -> str:
    """The client's file name made safe to keep and show: no directories, no control or
    bidi-override characters, no characters Windows refuses, no leading dots, at most 255
    characters (the extension kept). Never empty."""
    raw = unicodedata.normalize("NFC", str(name or ""))
    base = raw.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(
        "_" if ch in _WINDOWS_RESERVED else (" " if ch.isspace() else ch)
        for ch in base
        if _visible(ch) or ch.isspace()
    )
    cleaned = " ".join(cleaned.split()).lstrip(". ").rstrip(". ")
    if not cleaned:
        return FALLBACK_NAME
    if len(cleaned) > MAX_NAME:
        stem, ext = os.path.splitext(cleaned)
        if len(ext) > 16 or not ext:
            stem, ext = cleaned, ""
        cleaned = stem[: MAX_NAME - len(ext)].rstrip(". ") + ext
    return cleaned


def download_name(original: str, content_type: str) -> str:
    """The name a downloaded copy gets: the stored (safe) name, with the extension of the type
    found in the content added when the name does not already end with it."""
    name = safe_name(original)
    extensions = EXTENSIONS.get(content_type, ())
    if extensions and not name.lower().endswith(extensions):
        name = safe_name(name[: MAX_NAME - len(extensions[0])] + extensions[0])
    return name


def _ascii_fallback(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_only = "".join(
        ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\;%' else "_"
        for ch in decomposed
        if not unicodedata.combining(ch)
    )
    stem, ext = os.path.splitext(ascii_only)
    if not stem.strip("_ ."):
        return FALLBACK_NAME + ext
    return ascii_only


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII ``filename`` and the exact UTF-8 ``filename*`` (RFC 6266,
    RFC 8187), so every browser saves the file rather than showing it."""
    return (
        f"attachment; filename=\"{_ascii_fallback(name)}\"; filename*=UTF-8''{quote(name, safe='')}"
    )


@dataclass(frozen=True)
class Digest:
    sha256: str
    size: int


class TooLarge(Exception):
    """More bytes than the limit: the hashing stopped there."""


def digest(chunks: Iterable[bytes], limit: int) -> Digest:
    """SHA-256 and size of a stream read chunk by chunk (never all in memory); raises
    :class:`TooLarge` as soon as more than ``limit`` bytes have been read."""
    h = hashlib.sha256()
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise TooLarge
        h.update(chunk)
    return Digest(h.hexdigest(), size)
