"""A client for ClamAV's scanning daemon (clamd), speaking its own protocol over TCP or a
Unix socket (docs/decisions/0012-malware-scanning.md).

The stream is sent with ``zINSTREAM``: the NUL-terminated command, then chunks each prefixed
with its length as a 4-byte big-endian unsigned integer, then a zero-length chunk. clamd
answers one NUL-terminated line::

    stream: OK
    stream: Eicar-Test-Signature FOUND
    INSTREAM size limit exceeded. ERROR

Every socket operation has a timeout. Connection problems raise :class:`ScannerUnavailable`
(the scan is retried later); an ``ERROR`` reply or a reply that makes no sense raises
:class:`ScannerError` (also retried: the file was not judged).

``FLEXREG_CLAMAV_ADDRESS`` is ``host:port`` (``[::1]:3310`` for IPv6, ``tcp://`` allowed) or a
Unix socket path (``/run/clamav/clamd.ctl`` or ``unix:/run/...``). Unset: no scanner, see
:func:`client_from_settings`.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Final

from django.conf import settings

logger = logging.getLogger(__name__)

DEFAULT_PORT: Final = 3310
CHUNK_SIZE: Final = 64 * 1024
MAX_REPLY: Final = 4096
DEFAULT_CONNECT_TIMEOUT: Final = 5.0
DEFAULT_TIMEOUT: Final = 60.0  # a large PDF can take clamd a while


class ScannerError(Exception):
    """clamd answered, but did not judge the file (``ERROR`` or a reply we cannot read)."""


class ScannerUnavailable(ScannerError):
    """clamd could not be reached, or stopped answering within the timeout."""


@dataclass(frozen=True)
class Verdict:
    infected: bool
    signature: str = ""  # e.g. "Eicar-Test-Signature" when infected
    reply: str = ""  # clamd's reply line, as received

    @property
    def detail(self) -> str:
        return f"{self.signature} FOUND" if self.infected else "OK"


@dataclass(frozen=True)
class Address:
    family: int  # socket.AF_INET / AF_INET6 (resolved at connect) or AF_UNIX
    host: str = ""
    port: int = 0
    path: str = ""

    def __str__(self) -> str:
        if self.path:
            return f"unix:{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_address(raw: str) -> Address:
    """``host:port``, ``[v6]:port``, ``tcp://host:port``, ``host`` (port 3310), ``/path`` or
    ``unix:/path``."""
    text = raw.strip()
    if not text:
        raise ValueError("empty clamd address")
    if text.startswith("unix:"):
        text = text[len("unix:") :]
        if text.startswith("//"):
            text = text[2:]
        if not text:
            raise ValueError("empty Unix socket path")
        return Address(socket.AF_UNIX, path=text)
    if text.startswith(("/", "./")):
        return Address(socket.AF_UNIX, path=text)
    if text.startswith("tcp://"):
        text = text[len("tcp://") :].rstrip("/")
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"bad clamd address {raw!r}")
        port_text = rest[1:] if rest else ""
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    elif ":" in text:  # a bare IPv6 address
        host, port_text = text, ""
    else:
        host, port_text = text, ""
    if not host:
        raise ValueError(f"bad clamd address {raw!r}")
    try:
        port = int(port_text) if port_text else DEFAULT_PORT
    except ValueError as exc:
        raise ValueError(f"bad clamd port in {raw!r}") from exc
    if not 0 < port < 65536:
        raise ValueError(f"bad clamd port in {raw!r}")
    return Address(socket.AF_INET, host=host, port=port)


def parse_reply(reply: str) -> Verdict:
    """Read clamd's answer to ``INSTREAM``."""
    text = reply.strip("\x00").strip()
    if text.endswith("ERROR"):
        raise ScannerError(f"clamd: {text[:200]}")
    # With IDSESSION a reply starts "<id>: "; plain INSTREAM answers "stream: ...".
    body = text.rsplit(": ", 1)[1] if ": " in text else text
    if body.endswith(" FOUND"):
        signature = body[: -len(" FOUND")].strip()
        return Verdict(infected=True, signature=signature or "unknown", reply=text)
    if body == "OK":
        return Verdict(infected=False, reply=text)
    raise ScannerError(f"unexpected clamd reply {text[:200]!r}")


class ClamdClient:
    """One connection per command (clamd closes the connection after each ``z`` command)."""

    def __init__(
        self,
        address: str | Address,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        timeout: float = DEFAULT_TIMEOUT,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self.address = parse_address(address) if isinstance(address, str) else address
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.chunk_size = chunk_size

    # -- connection -------------------------------------------------------------------------
    def _connect(self) -> socket.socket:
        a = self.address
        try:
            if a.family == socket.AF_UNIX:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self.connect_timeout)
                try:
                    sock.connect(a.path)
                except BaseException:
                    sock.close()
                    raise
            else:
                sock = socket.create_connection((a.host, a.port), timeout=self.connect_timeout)
        except OSError as exc:
            raise ScannerUnavailable(f"cannot reach clamd at {a}: {exc}") from exc
        sock.settimeout(self.timeout)
        return sock

    @staticmethod
    def _read_reply(sock: socket.socket) -> str:
        data = bytearray()
        while b"\x00" not in data and len(data) < MAX_REPLY:
            piece = sock.recv(MAX_REPLY)
            if not piece:
                break
            data += piece
        if not data:
            raise ScannerUnavailable("clamd closed the connection without answering")
        return bytes(data).split(b"\x00", 1)[0].decode("utf-8", "replace")

    def _command(self, command: bytes) -> str:
        with self._connect() as sock:
            try:
                sock.sendall(b"z" + command + b"\x00")
                return self._read_reply(sock)
            except OSError as exc:
                raise ScannerUnavailable(f"clamd at {self.address}: {exc}") from exc

    # -- commands ---------------------------------------------------------------------------
    def ping(self) -> bool:
        """True when clamd answers ``PONG``."""
        try:
            return self._command(b"PING").strip() == "PONG"
        except ScannerError:
            return False

    def version(self) -> str:
        return self._command(b"VERSION").strip()

    def scan_stream(self, stream: IO[bytes] | Iterable[bytes]) -> Verdict:
        """Send the stream with ``zINSTREAM`` and read the verdict."""
        with self._connect() as sock:
            try:
                sock.sendall(b"zINSTREAM\x00")
                for chunk in self._chunks(stream):
                    sock.sendall(struct.pack("!L", len(chunk)) + chunk)
                sock.sendall(struct.pack("!L", 0))
            except (BrokenPipeError, ConnectionResetError) as exc:
                # clamd stops reading and answers at once when a limit is exceeded
                # ("INSTREAM size limit exceeded. ERROR"): read that answer if it is there.
                try:
                    reply = self._read_reply(sock)
                except (OSError, ScannerError):
                    raise ScannerUnavailable(f"clamd at {self.address}: {exc}") from exc
                return parse_reply(reply)
            except OSError as exc:
                raise ScannerUnavailable(f"clamd at {self.address}: {exc}") from exc
            try:
                reply = self._read_reply(sock)
            except OSError as exc:
                raise ScannerUnavailable(f"clamd at {self.address}: {exc}") from exc
        return parse_reply(reply)

    def _chunks(self, stream: IO[bytes] | Iterable[bytes]) -> Iterator[bytes]:
        read = getattr(stream, "read", None)
        if read is None:
            for piece in stream:
                for start in range(0, len(piece), self.chunk_size):
                    if piece[start : start + self.chunk_size]:
                        yield piece[start : start + self.chunk_size]
            return
        while True:
            chunk = read(self.chunk_size)
            if not chunk:
                return
            yield chunk


# -- configuration --------------------------------------------------------------------------
NO_SCANNER_DETAIL: Final = "no scanner configured"
_warned = threading.Event()


def client_from_settings() -> ClamdClient | None:
    """The configured clamd client, or None when ``CLAMAV_ADDRESS`` is empty."""
    raw = str(getattr(settings, "CLAMAV_ADDRESS", "") or "").strip()
    if not raw:
        return None
    return ClamdClient(
        raw,
        connect_timeout=float(getattr(settings, "CLAMAV_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT)),
        timeout=float(getattr(settings, "CLAMAV_TIMEOUT", DEFAULT_TIMEOUT)),
    )


def warn_no_scanner_once() -> None:
    """Log (once per process) that documents are marked clean without a scan."""
    if not _warned.is_set():
        _warned.set()
        logger.warning(
            "No malware scanner configured (FLEXREG_CLAMAV_ADDRESS is empty): uploaded "
            "documents are marked clean without a scan. See "
            "docs/decisions/0012-malware-scanning.md."
        )
