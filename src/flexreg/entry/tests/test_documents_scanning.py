"""The clamd client speaks ClamAV's protocol: run against the local stand-in over TCP and a
Unix socket, including a scanner that errors, refuses, stalls or is not there at all."""

from __future__ import annotations

import io
import socket
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from flexreg.devtools.clamd_stub import EICAR, StubServer, start_stub
from flexreg.entry import scanning
from flexreg.entry.scanning import (
    ClamdClient,
    ScannerError,
    ScannerUnavailable,
    parse_address,
    parse_reply,
)

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture(scope="module")
def stub() -> Iterator[StubServer]:
    server = start_stub(slow_seconds=2)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fresh(stub: StubServer) -> None:
    stub.reset()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_clean_stream_is_ok(stub: StubServer) -> None:
    verdict = ClamdClient(stub.address).scan_stream(io.BytesIO(PDF))
    assert not verdict.infected and verdict.detail == "OK"
    assert verdict.reply == "stream: OK"
    assert stub.log == [("INSTREAM", len(PDF), "stream: OK")]


def test_eicar_is_found_even_across_chunk_boundaries(stub: StubServer) -> None:
    body = PDF + b"x" * 10 + EICAR + b"\n%%EOF\n"
    # chunks of 7 bytes: the signature is split over many chunks
    verdict = ClamdClient(stub.address, chunk_size=7).scan_stream(io.BytesIO(body))
    assert verdict.infected
    assert verdict.signature == "Eicar-Test-Signature"
    assert verdict.detail == "Eicar-Test-Signature FOUND"
    assert stub.log[-1] == ("INSTREAM", len(body), "stream: Eicar-Test-Signature FOUND")


def test_iterables_of_bytes_are_streamed_too(stub: StubServer) -> None:
    verdict = ClamdClient(stub.address, chunk_size=4).scan_stream([PDF[:10], b"", PDF[10:]])
    assert not verdict.infected
    assert stub.log[-1][1] == len(PDF)


def test_the_wire_format_is_clamds(stub: StubServer) -> None:
    """Speak to the stub by hand, as clamd documents it, to pin the protocol both ways."""
    with socket.create_connection((stub.host, stub.port), timeout=5) as sock:
        sock.sendall(b"zINSTREAM\0" + struct.pack("!L", 3) + b"abc" + struct.pack("!L", 0))
        assert sock.recv(100) == b"stream: OK\0"
    with socket.create_connection((stub.host, stub.port), timeout=5) as sock:
        sock.sendall(b"nPING\n")
        assert sock.recv(100) == b"PONG\n"


def test_ping_and_version(stub: StubServer) -> None:
    client = ClamdClient(stub.address)
    assert client.ping() is True
    assert client.version().startswith("ClamAV")


def test_an_error_reply_is_a_scanner_error(stub: StubServer) -> None:
    stub.set_mode("error")
    with pytest.raises(ScannerError, match="ERROR") as caught:
        ClamdClient(stub.address).scan_stream(io.BytesIO(PDF))
    assert not isinstance(caught.value, ScannerUnavailable)


def test_a_refused_connection_is_unavailable(stub: StubServer) -> None:
    stub.set_mode("refuse")
    with pytest.raises(ScannerUnavailable):
        ClamdClient(stub.address).scan_stream(io.BytesIO(PDF))
    assert ClamdClient(stub.address).ping() is False


def test_nothing_listening_is_unavailable() -> None:
    with pytest.raises(ScannerUnavailable, match="cannot reach clamd"):
        ClamdClient(f"127.0.0.1:{_free_port()}", connect_timeout=1).scan_stream(io.BytesIO(PDF))


def test_a_stalled_scanner_times_out(stub: StubServer) -> None:
    stub.set_mode("slow", slow_seconds=3)
    with pytest.raises(ScannerUnavailable, match="timed out"):
        ClamdClient(stub.address, timeout=0.3).scan_stream(io.BytesIO(PDF))


def test_the_size_limit_reply_is_read_even_when_clamd_stops_reading() -> None:
    with start_stub(max_stream=1024) as small, pytest.raises(ScannerError, match="size limit"):
        ClamdClient(small.address, chunk_size=512).scan_stream(io.BytesIO(b"%PDF-" + b"x" * 4000))


def test_over_a_unix_socket() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "clamd.sock")
        with start_stub(unix_path=path) as unix:
            assert unix.address == f"unix:{path}"
            for address in (path, f"unix:{path}"):
                client = ClamdClient(address)
                assert client.scan_stream(io.BytesIO(PDF)).infected is False
                assert client.scan_stream(io.BytesIO(EICAR)).infected is True
        with pytest.raises(ScannerUnavailable):
            ClamdClient(path, connect_timeout=1).scan_stream(io.BytesIO(PDF))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("127.0.0.1:3310", "127.0.0.1:3310"),
        ("clamav", "clamav:3310"),
        ("tcp://clamav.internal:3311/", "clamav.internal:3311"),
        ("[::1]:3310", "[::1]:3310"),
        ("::1", "[::1]:3310"),
        ("/run/clamav/clamd.ctl", "unix:/run/clamav/clamd.ctl"),
        ("unix:///run/clamd.sock", "unix:/run/clamd.sock"),
    ],
)
def test_addresses(raw: str, expected: str) -> None:
    assert str(parse_address(raw)) == expected


@pytest.mark.parametrize("raw", ["", "host:port", "host:0", "host:70000", ":3310", "[::1"])
def test_bad_addresses(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_address(raw)


def test_replies() -> None:
    assert parse_reply("stream: OK\0") == scanning.Verdict(False, "", "stream: OK")
    assert parse_reply("1: stream: Win.Test.EICAR_HDB-1 FOUND").signature == "Win.Test.EICAR_HDB-1"
    with pytest.raises(ScannerError):
        parse_reply("INSTREAM size limit exceeded. ERROR")
    with pytest.raises(ScannerError, match="unexpected"):
        parse_reply("something else")


def test_client_from_settings(settings: object) -> None:
    settings.CLAMAV_ADDRESS = ""  # type: ignore[attr-defined]
    assert scanning.client_from_settings() is None
    settings.CLAMAV_ADDRESS = "127.0.0.1:3999"  # type: ignore[attr-defined]
    client = scanning.client_from_settings()
    assert client is not None and str(client.address) == "127.0.0.1:3999"
