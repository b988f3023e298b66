"""Node's certified ``oidc-provider`` as a local OpenID Connect provider (``provider.mjs``)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("provider.mjs")
REPO = Path(__file__).resolve().parents[4]


@dataclass
class NodeProvider:
    process: subprocess.Popen[str]
    issuer: str
    client_id: str
    client_secret: str

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _forward(stream: Any) -> None:
    for line in stream:
        sys.stderr.write(f"oidc-provider: {line}")


def available() -> bool:
    return shutil.which("node") is not None and (REPO / "node_modules" / "oidc-provider").exists()


DEV_CLIENT_SECRET = "dev-secret"  # a throw-away client of a local test provider


def start(
    redirect_uri: str, *, client_id: str = "flexreg-dev", client_secret: str = DEV_CLIENT_SECRET
) -> NodeProvider:
    """Start ``provider.mjs`` on a free localhost port; returns once it is listening."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    node = shutil.which("node") or "node"
    process = subprocess.Popen(  # noqa: S603 (fixed arguments)
        [
            node,
            str(SCRIPT),
            "--port",
            str(port),
            "--redirect-uri",
            redirect_uri,
            "--client-id",
            client_id,
            "--client-secret",
            client_secret,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    while True:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"oidc-provider exited with {process.wait()}")
        if line.startswith("ready "):
            # Keep reading its output so a full pipe never blocks it.
            threading.Thread(target=_forward, args=(process.stdout,), daemon=True).start()
            return NodeProvider(process, line.split()[1], client_id, client_secret)
