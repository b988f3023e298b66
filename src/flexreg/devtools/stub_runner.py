"""What the local stand-in servers (Companies House, clamd, asset services) share: running a
``socketserver`` in a daemon thread and stopping it once, also as a context manager."""

from __future__ import annotations

import socketserver
import threading
from types import TracebackType
from typing import Self


def serve_in_thread(server: socketserver.BaseServer, name: str) -> threading.Thread:
    """Start ``server.serve_forever`` in a daemon thread named ``name``."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name=name, daemon=True
    )
    thread.start()
    return thread


class RunningStub:
    """A running stand-in; stop it with :meth:`stop` or use it as a context manager.
    ``stopping`` is the event its handlers wait on (set first, so slow answers end early)."""

    def __init__(
        self, server: socketserver.BaseServer, thread: threading.Thread, stopping: threading.Event
    ) -> None:
        self._server = server
        self._thread = thread
        self._stopping = stopping

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._after_stop()

    def _after_stop(self) -> None:
        """What a stand-in cleans up once stopped (nothing by default)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
