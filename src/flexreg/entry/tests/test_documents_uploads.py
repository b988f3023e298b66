"""The pure upload helpers: content sniffing, safe names, download names and headers, hashing."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flexreg.entry import uploads


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"%PDF-1.4\n", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
        (b"\xff\xd8\xff\xe1", "image/jpeg"),
        (b"<html>", None),
        (b"%PDF", None),  # too short for the signature
        (b"\x89PNG\r\n", None),
        (b"", None),
        (b"GIF89a", None),
        (b"PK\x03\x04", None),  # zip / docx
    ],
)
def test_sniff(head: bytes, expected: str | None) -> None:
    assert uploads.sniff(head) == expected


def test_describe() -> None:
    assert uploads.describe(["application/pdf"]) == "PDF"
    assert uploads.describe(uploads.ALLOWED_TYPES) == "PDF, PNG or JPEG"


def test_a_long_name_is_cut_to_255_keeping_its_extension() -> None:
    name = uploads.safe_name("a" * 300 + ".pdf")
    assert len(name) == 255 and name.endswith("a.pdf")
    odd = uploads.safe_name("b" * 300 + "." + "c" * 40)  # an "extension" too long to keep
    assert len(odd) == 255


@given(st.text(max_size=600))
def test_safe_names_are_always_safe(raw: str) -> None:
    name = uploads.safe_name(raw)
    assert 0 < len(name) <= 255
    assert "/" not in name and "\\" not in name
    assert not name.startswith(".") and name == name.strip()
    assert all(ch.isprintable() or ch == " " for ch in name)
    assert uploads.safe_name(name) == name  # idempotent


@pytest.mark.parametrize(
    ("original", "content_type", "expected"),
    [
        ("cert.pdf", "application/pdf", "cert.pdf"),
        ("CERT.PDF", "application/pdf", "CERT.PDF"),
        ("x.exe", "application/pdf", "x.exe.pdf"),  # never saved as a program
        ("photo", "image/png", "photo.png"),
        ("scan.jpeg", "image/jpeg", "scan.jpeg"),
        ("scan.html", "image/jpeg", "scan.html.jpg"),
    ],
)
def test_download_names_end_with_the_detected_type(
    original: str, content_type: str, expected: str
) -> None:
    assert uploads.download_name(original, content_type) == expected


def test_a_long_download_name_still_fits() -> None:
    name = uploads.download_name("a" * 255, "application/pdf")
    assert len(name) <= 255 and name.endswith(".pdf")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("cert.pdf", "attachment; filename=\"cert.pdf\"; filename*=UTF-8''cert.pdf"),
        (
            "Brontë report.pdf",
            "attachment; filename=\"Bronte report.pdf\"; filename*=UTF-8''Bront%C3%AB%20report.pdf",
        ),
        (
            'say "hi"; x=1 \\ 100%.pdf',
            'attachment; filename="say _hi__ x=1 _ 100_.pdf"; '
            "filename*=UTF-8''say%20%22hi%22%3B%20x%3D1%20%5C%20100%25.pdf",
        ),
        (
            "日本語.pdf",
            'attachment; filename="document.pdf"; '
            "filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.pdf",
        ),
    ],
)
def test_content_disposition(name: str, expected: str) -> None:
    assert uploads.content_disposition(name) == expected


def test_digest_streams_and_stops_at_the_limit() -> None:
    chunks = [b"a" * 10, b"b" * 10]
    assert uploads.digest(chunks, 20) == uploads.Digest(
        hashlib.sha256(b"a" * 10 + b"b" * 10).hexdigest(), 20
    )

    def endless() -> object:
        while True:
            yield b"x" * 1000

    with pytest.raises(uploads.TooLarge):
        uploads.digest(endless(), 10_000)  # type: ignore[arg-type]


def test_the_upload_handler_skips_a_file_part_once_over_the_limit(settings: Any) -> None:
    from django.core.files.uploadhandler import SkipFile
    from django.test import RequestFactory

    from flexreg.entry.upload_handlers import SizeLimitUploadHandler, was_too_large

    settings.UPLOAD_MAX_BYTES = 10
    request = RequestFactory().post("/")
    handler = SizeLimitUploadHandler(request)
    handler.new_file("file", "a.pdf", "application/pdf", None)
    assert handler.receive_data_chunk(b"12345", 0) == b"12345"
    assert handler.receive_data_chunk(b"67890", 5) == b"67890"
    assert not was_too_large(request)
    with pytest.raises(SkipFile):
        handler.receive_data_chunk(b"1", 10)
    assert was_too_large(request)
    handler.new_file("other", "b.pdf", "application/pdf", None)  # counts start again
    assert handler.receive_data_chunk(b"1234567890", 0) == b"1234567890"
