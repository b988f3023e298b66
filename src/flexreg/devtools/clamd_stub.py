"""A local stand-in for ClamAV's scanning daemon (clamd), for tests and ``make demo``.

It speaks clamd's own socket protocol, so the real :class:`~flexreg.entry.scanning.ClamdClient`
runs against it: commands prefixed with ``z`` (NUL-terminated, answers end with NUL) or ``n``
(newline-terminated, answers end with a newline), or bare and newline-terminated:

    PING       -> PONG
    VERSION    -> ClamAV 1.4.1/27000/FlexReg stub
    INSTREAM   <4-byte big-endian length><bytes>... <0,0,0,0>
               -> "stream: OK", or "stream: Eicar-Test-Signature FOUND" when the stream
                  contains the EICAR test string, or "INSTREAM size limit exceeded. ERROR"
                  beyond ``max_stream`` bytes (25 MiB, clamd's default StreamMaxLength)

It is not a virus scanner: it recognises the EICAR test file (anywhere in the stream) and
nothing else. Standard library only (``socketserver``), one thread per connection.

Modes, switched at run time with :meth:`StubServer.set_mode` (tests) or ``--mode``:

    ok       the normal answers above
    error    every INSTREAM answers "stream: Can't allocate memory ERROR" after reading it
    refuse   every connection is closed at once, unanswered (clamd down or restarting)
    slow     waits ``slow_seconds`` before answering (to exercise the client's timeouts)

Run it::

    python -m flexreg.devtools.clamd_stub --host 127.0.0.1 --port 3310
    python -m flexreg.devtools.clamd_stub --unix var/clamd.sock

then ``FLEXREG_CLAMAV_ADDRESS=127.0.0.1:3310`` (or ``FLEXREG_CLAMAV_ADDRESS=var/clamd.sock``).
Upload a PDF containing the EICAR string to see a document quarantined.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import socket
import socketserver
import struct
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, cast

from flexreg.devtools.stub_runner import RunningStub, serve_in_thread

__all__ = ["EICAR", "MODES", "StubServer", "main", "start_stub"]

logger = logging.getLogger(__name__)

# The EICAR anti-virus test file (https://www.eicar.org/download-anti-malware-testfile/), built
# from two halves so that this source file is not itself reported by a real scanner.
EICAR: Final = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SIGNATURE: Final = "Eicar-Test-Signature"
VERSION: Final = "ClamAV 1.4.1/27000/FlexReg stub"
DEFAULT_MAX_STREAM: Final = 25 * 1024 * 1024
MODES: Final = ("ok", "error", "refuse", "slow")
_MAX_COMMAND: Final = 64


@dataclass
class _State:
    mode: str = "ok"
    max_stream: int = DEFAULT_MAX_STREAM
    slow_seconds: float = 5.0
    # (command, bytes received, answer) per handled command, in arrival order
    log: list[tuple[str, int, str]] = field(default_factory=list)
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)

    def record(self, command: str, size: int, answer: str) -> None:
        with self.lock:
            self.log.append((command, size, answer))


class _Handler(socketserver.BaseRequestHandler):
    request: socket.socket

    @property
    def state(self) -> _State:
        return cast(_State, self.server.state)  # type: ignore[attr-defined]

    def handle(self) -> None:
        state = self.state
        with state.lock:
            state.connections += 1
            mode = state.mode
        if mode == "refuse":
            self._close_hard()
            return
        self.request.settimeout(30)
        try:
            self._serve(mode)
        except (OSError, ValueError) as exc:
            logger.debug("clamd-stub: connection ended: %s", exc)

    def _close_hard(self) -> None:
        # RST instead of FIN, as a crashed daemon's socket would.
        with contextlib.suppress(OSError):
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.request.close()

    # -- reading -------------------------------------------------------------------------
    def _read_exact(self, n: int) -> bytes:
        data = bytearray()
        while len(data) < n:
            piece = self.request.recv(n - len(data))
            if not piece:
                raise ValueError("connection closed mid-message")
            data += piece
        return bytes(data)

    def _read_command(self) -> tuple[str, bytes]:
        """The command name and the terminator its answer must end with."""
        first = self._read_exact(1)
        if first == b"z":
            end, reply_end = b"\x00", b"\x00"
            data = bytearray()
        elif first == b"n":
            end, reply_end = b"\n", b"\n"
            data = bytearray()
        else:
            end, reply_end = b"\n", b"\n"
            data = bytearray(first)
        while True:
            ch = self._read_exact(1)
            if ch == end:
                break
            data += ch
            if len(data) > _MAX_COMMAND:
                raise ValueError("command too long")
        return data.decode("ascii", "replace").strip(), reply_end

    def _answer(self, text: str, end: bytes) -> None:
        self.request.sendall(text.encode() + end)

    # -- commands ------------------------------------------------------------------------
    def _serve(self, mode: str) -> None:
        command, end = self._read_command()
        state = self.state
        if command == "PING":
            state.record(command, 0, "PONG")
            self._answer("PONG", end)
        elif command == "VERSION":
            state.record(command, 0, VERSION)
            self._answer(VERSION, end)
        elif command == "INSTREAM":
            self._instream(mode, end)
        else:
            state.record(command, 0, "UNKNOWN COMMAND")
            self._answer("UNKNOWN COMMAND", end)

    def _instream(self, mode: str, end: bytes) -> None:
        state = self.state
        received = 0
        found = False
        tail = b""  # the end of the previous chunk, so EICAR split across chunks is found
        while True:
            (length,) = struct.unpack("!L", self._read_exact(4))
            if length == 0:
                break
            if received + length > state.max_stream:
                answer = "INSTREAM size limit exceeded. ERROR"
                state.record("INSTREAM", received + length, answer)
                self._answer(answer, end)
                return
            chunk = self._read_exact(length)
            received += length
            window = tail + chunk
            found = found or EICAR in window
            tail = window[-(len(EICAR) - 1) :]
        if mode == "slow":
            state.stopping.wait(state.slow_seconds)
        if mode == "error":
            answer = "stream: Can't allocate memory ERROR"
        elif found:
            answer = f"stream: {SIGNATURE} FOUND"
        else:
            answer = "stream: OK"
        state.record("INSTREAM", received, answer)  # before answering: the log is then
        self._answer(answer, end)  # complete when the client has its answer


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], state: _State) -> None:
        self.state = state
        super().__init__(address, _Handler)


class _UnixServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, path: str, state: _State) -> None:
        self.state = state
        super().__init__(path, _Handler)


class StubServer(RunningStub):
    """A running stub; stop it with :meth:`stop` or use it as a context manager."""

    def __init__(self, server: socketserver.BaseServer, thread: threading.Thread) -> None:
        self._state: _State = server.state  # type: ignore[attr-defined]
        super().__init__(server, thread, self._state.stopping)
        if isinstance(server, _UnixServer):
            self.path: str = str(server.server_address)
            self.host, self.port = "", 0
            self.address: str = f"unix:{self.path}"
        else:
            host, port = cast(tuple[str, int], server.server_address)[:2]
            self.path = ""
            self.host, self.port = str(host), int(port)
            self.address = f"{self.host}:{self.port}"

    @property
    def mode(self) -> str:
        return self._state.mode

    def set_mode(self, mode: str, *, slow_seconds: float | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        with self._state.lock:
            self._state.mode = mode
            if slow_seconds is not None:
                self._state.slow_seconds = slow_seconds

    @property
    def log(self) -> list[tuple[str, int, str]]:
        """(command, bytes received, answer) for each command handled, in order."""
        with self._state.lock:
            return list(self._state.log)

    @property
    def connections(self) -> int:
        with self._state.lock:
            return self._state.connections

    def reset(self) -> None:
        """Back to mode "ok" with an empty log."""
        with self._state.lock:
            self._state.mode = "ok"
            self._state.log.clear()
            self._state.connections = 0

    def _after_stop(self) -> None:
        if self.path:
            with contextlib.suppress(OSError):
                os.unlink(self.path)


def start_stub(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    unix_path: str | None = None,
    mode: str = "ok",
    max_stream: int = DEFAULT_MAX_STREAM,
    slow_seconds: float = 5.0,
) -> StubServer:
    """Start the stub in a daemon thread: on TCP (``port=0`` picks a free port, see
    ``.address``) or, with ``unix_path``, on a Unix socket."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    state = _State(mode=mode, max_stream=max_stream, slow_seconds=slow_seconds)
    server: socketserver.BaseServer
    if unix_path is not None:
        if os.path.exists(unix_path):
            os.unlink(unix_path)
        server = _UnixServer(unix_path, state)
    else:
        server = _TCPServer((host, port), state)
    thread = serve_in_thread(server, f"clamd-stub:{unix_path or port}")
    return StubServer(server, thread)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flexreg.devtools.clamd_stub",
        description="Local clamd stand-in: reports the EICAR test file, nothing else.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3310)
    parser.add_argument("--unix", help="listen on this Unix socket path instead of TCP")
    parser.add_argument("--mode", choices=MODES, default="ok")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    server = start_stub(args.host, args.port, unix_path=args.unix, mode=args.mode)
    print(
        f"clamd stub on {server.address} (mode {server.mode}); set "
        f"FLEXREG_CLAMAV_ADDRESS={server.path or server.address}. Ctrl-C stops it.",
        file=sys.stderr,
        flush=True,
    )
    try:
        while server.thread.is_alive():
            server.thread.join(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
