"""One local stand-in for every outside service the asset authenticity checks call (SAMPLE
data only): the meter point registry, DNO connection data, the manufacturer registry, the MCS
installation database and the consumer consent service.

It speaks the contracts documented in ``flexreg.assets.validators.*`` so the real adapters
run against it in tests and in ``make demo``. Standard library only
(``http.server.ThreadingHTTPServer``), one process, one port, a path prefix per service:

=================  ==============================  =====================================
service            base URL (setting)              paths
=================  ==============================  =====================================
meter_point        {url}/meter-point               GET /meter-points/{mpan_core}
                   (ASSET_METER_POINT_URL)
dno_connection     {url}/dno-connection            GET /connections/{reference}
                   (ASSET_DNO_CONNECTION_URL)
manufacturer       {url}/manufacturer-registry     GET /devices?manufacturer=&serial_number=
                   (ASSET_MANUFACTURER_REGISTRY_URL)
mcs                {url}/mcs                       GET /installations?postcode=&technology=
                   (ASSET_MCS_URL)
consent            {url}/consent                   GET /consents/{reference}
                   (ASSET_CONSENT_URL)
=================  ==============================  =====================================

Run it::

    python -m flexreg.devtools.asset_services_stub --port 8002

and point FlexReg at it (it prints the settings), e.g.
``FLEXREG_METER_POINT_URL=http://127.0.0.1:8002/meter-point``.

Switches, per service (``StubServer.set_mode(service, mode)`` or
``POST /_stub/modes/{service}/{mode}``; ``GET /_stub`` shows them):

``up``         answers from the fixtures (the default);
``down``       ``503 {"error": "unavailable"}`` with ``Retry-After: 30``;
``refuse``     drops the connection without answering (a refused or reset connection);
``slow``       waits ``slow_seconds`` (``--slow-seconds``, default 10) before answering
               normally, so a client with a shorter timeout gives up;
``not_found``  ``404 {"error": "not_found"}`` for every lookup.

Fixtures (``asset_services_fixtures.json`` beside this module; ``--fixtures`` for another):

* meter points ``1012345678903`` (import) and ``1098765432106`` (export), energised, at
  ``CB1 2AB``; ``1234567890126`` energised at ``N1 9GU`` (a household); ``1200000000173``
  de-energised at ``SE1 7PB``; ``2355555555551`` disconnected at ``LS1 4AP``;
  ``1456789012342`` energised at ``B1 1BB``;
* connections ``EPN-CON-000123`` (EELC, both CB1 2AB MPANs, 10 kW export/import, FIRM),
  ``EPN-CON-000200`` (export limited to 3.68 kW, NON_FIRM), ``EPN-CON-000999`` (terminated),
  ``LPN-CON-004512`` (the N1 9GU household, accepted), ``WMID-CON-7781`` (only offered);
* devices: every ``Acme Energy Ltd`` ``PowerCube 13`` serial ``PC-`` + six digits is known
  (5 kW, 13.5 kWh) except ``PC-999999`` (reported stolen); ``PC-888888`` is a PowerCube 20;
  ``SunBright Inverters SB-4000 SB4K-0000123``; ``Heatwell Ltd Aira 7 HW-7-000451``;
  ``Voltpoint Charging VP-22 Duo VP22-00017`` (recalled). Names and serials match ignoring
  case, spaces, dashes and dots (and a trailing Ltd/Limited/PLC/Inc);
* MCS certificates at ``N1 9GU`` (4 kW solar PV, 5 kW battery, 7 kW heat pump), at
  ``CB1 2AB`` (5 kW battery) and at ``SE1 7PB`` (3.5 kW solar PV by an uncertified installer);
* consents ``CNS-7F3K-92QX`` (active, N1 9GU), ``CNS-CB12-0001`` (active, CB1 2AB),
  ``CNS-REVOKED-0001`` (revoked), ``CNS-EXPIRED-0001`` (expired).

Tests add records with :meth:`StubServer.add` and revoke consents with
:meth:`StubServer.revoke_consent`. ``POST /_stub/consents/{reference}/revoke`` (JSON body
``{"notify_url": ..., "secret": ...}``, both optional) revokes one and, given a URL and a
secret, sends FlexReg the signed revocation notice (:func:`signed_notice`), as the real
service would.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import sys
import threading
import time
import unicodedata
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

from flexreg.devtools.stub_runner import RunningStub, serve_in_thread

__all__ = [
    "MODES",
    "PREFIXES",
    "SERVICES",
    "SETTINGS",
    "StubServer",
    "load_fixtures",
    "main",
    "signed_notice",
    "start_stub",
]

logger = logging.getLogger(__name__)

FIXTURES_FILE: Final = "asset_services_fixtures.json"
SERVICES: Final = ("meter_point", "dno_connection", "manufacturer", "mcs", "consent")
PREFIXES: Final = {
    "meter_point": "meter-point",
    "dno_connection": "dno-connection",
    "manufacturer": "manufacturer-registry",
    "mcs": "mcs",
    "consent": "consent",
}
#: The FlexReg setting holding each service's base URL.
SETTINGS: Final = {
    "meter_point": "ASSET_METER_POINT_URL",
    "dno_connection": "ASSET_DNO_CONNECTION_URL",
    "manufacturer": "ASSET_MANUFACTURER_REGISTRY_URL",
    "mcs": "ASSET_MCS_URL",
    "consent": "ASSET_CONSENT_URL",
}
MODES: Final = ("up", "down", "refuse", "slow", "not_found")
DEFAULT_SLOW_SECONDS: Final = 10.0
#: Collections of the fixtures file, and the service each belongs to.
COLLECTIONS: Final = {
    "meter_points": "meter_point",
    "connections": "dno_connection",
    "devices": "manufacturer",
    "device_ranges": "manufacturer",
    "installations": "mcs",
    "consents": "consent",
}
SIGNATURE_HEADER: Final = "X-Consent-Signature"

_NOT_FOUND: Final = {"error": "not_found", "detail": "No such record."}
_NON_ALNUM = re.compile(r"[^0-9A-Z]+")
_SERIAL_DROP = re.compile(r"[\s\-._]+")
_LEGAL_FORMS: Final = frozenset({"LTD", "LIMITED", "PLC", "INC", "LLC", "GMBH", "AG", "SA", "BV"})


def load_fixtures(path: Path | None = None) -> dict[str, Any]:
    """The fixtures file shipped beside this module (or ``path``)."""
    if path is None:
        text = resources.files(__package__ or "flexreg.devtools").joinpath(FIXTURES_FILE)
        data = json.loads(text.read_text(encoding="utf-8"))
    else:
        data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("Asset services fixtures must be a JSON object.")
    return {
        "meter_points": dict(data.get("meter_points", {})),
        "connections": {str(k).upper(): v for k, v in dict(data.get("connections", {})).items()},
        "devices": list(data.get("devices", [])),
        "device_ranges": list(data.get("device_ranges", [])),
        "installations": list(data.get("installations", [])),
        "consents": {str(k).upper(): v for k, v in dict(data.get("consents", {})).items()},
    }


def _manufacturer_key(name: str) -> str:
    words = _NON_ALNUM.sub(" ", unicodedata.normalize("NFKC", name).upper()).split()
    while len(words) > 1 and words[-1] in _LEGAL_FORMS:
        words.pop()
    return "".join(words)


def _serial_key(serial: str) -> str:
    return _SERIAL_DROP.sub("", unicodedata.normalize("NFKC", serial)).upper()


def _compact(postcode: str) -> str:
    return "".join(postcode.split()).upper()


# --- the consent service's signed revocation notice ----------------------------------------


def signed_notice(
    secret: str,
    consent_reference: str,
    revoked_at: dt.datetime | None = None,
    *,
    notice_id: str | None = None,
    timestamp: int | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a revocation notice, signed as the consent service signs it::

    X-Consent-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>
    """
    revoked_at = revoked_at or dt.datetime.now(dt.UTC)
    body = json.dumps(
        {
            "notice_id": notice_id or str(uuid.uuid4()),
            "consent_reference": consent_reference,
            "revoked_at": revoked_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        },
        separators=(",", ":"),
    ).encode()
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: f"t={stamp},v1={digest}",
    }


# --- server state ---------------------------------------------------------------------------


@dataclass
class _State:
    fixtures: dict[str, Any]
    pristine: dict[str, Any]
    slow_seconds: float
    modes: dict[str, str] = field(default_factory=lambda: dict.fromkeys(SERVICES, "up"))
    request_log: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)

    def log(self, target: str) -> None:
        with self.lock:
            self.request_log.append(target)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for a deliberately slow handler

    def __init__(self, address: tuple[str, int], state: _State) -> None:
        self.state = state
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "FlexRegAssetServicesStub/1.0"
    timeout = 30
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("asset-services-stub: " + format, *args)

    def _json(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts)
            self.close_connection = True

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return None

    # -- verbs --
    def do_GET(self) -> None:
        state = self.server.state
        state.log(f"GET {self.path}")
        split = urlsplit(self.path)
        parts = [unquote(p) for p in split.path.split("/") if p]
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        if parts == ["_stub"]:
            with state.lock:
                modes = dict(state.modes)
            self._json(HTTPStatus.OK, {"modes": modes, "prefixes": PREFIXES})
            return
        service = next((s for s, p in PREFIXES.items() if parts[:1] == [p]), None)
        if service is None:
            self._json(HTTPStatus.NOT_FOUND, {"error": "no_such_path"})
            return
        if self._misbehave(service):
            return
        found = self._lookup(service, parts[1:], query)
        if found is _BAD:
            self._json(HTTPStatus.BAD_REQUEST, {"error": "bad_request"})
        elif found is None:
            self._json(HTTPStatus.NOT_FOUND, _NOT_FOUND)
        else:
            self._json(HTTPStatus.OK, found)

    def do_POST(self) -> None:
        state = self.server.state
        state.log(f"POST {self.path}")
        parts = [unquote(p) for p in urlsplit(self.path).path.split("/") if p]
        body = self._body()
        if len(parts) == 4 and parts[:2] == ["_stub", "modes"]:
            service, mode = parts[2], parts[3]
            if service not in SERVICES or mode not in MODES:
                self._json(HTTPStatus.BAD_REQUEST, {"error": "unknown service or mode"})
                return
            with state.lock:
                state.modes[service] = mode
            self._json(HTTPStatus.OK, {"service": service, "mode": mode})
            return
        if len(parts) == 4 and parts[:2] == ["_stub", "consents"] and parts[3] == "revoke":
            options = body if isinstance(body, dict) else {}
            record = _revoke(state, parts[2])
            if record is None:
                self._json(HTTPStatus.NOT_FOUND, _NOT_FOUND)
                return
            sent = None
            if options.get("notify_url") and options.get("secret"):
                sent = _send_notice(str(options["notify_url"]), str(options["secret"]), record)
            self._json(HTTPStatus.OK, {"consent": record, "notice_status": sent})
            return
        self._json(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "method_not_allowed"})

    # -- switches --
    def _misbehave(self, service: str) -> bool:
        state = self.server.state
        with state.lock:
            mode = state.modes.get(service, "up")
        if mode == "down":
            self._json(
                HTTPStatus.SERVICE_UNAVAILABLE,
                {"error": "unavailable", "detail": "Down for maintenance (stub)."},
                headers={"Retry-After": "30"},
            )
            return True
        if mode == "refuse":
            self.close_connection = True  # no response at all: the client sees a reset
            return True
        if mode == "not_found":
            self._json(HTTPStatus.NOT_FOUND, _NOT_FOUND)
            return True
        if mode == "slow":
            state.stopping.wait(state.slow_seconds)  # returns early when the stub stops
        return False

    # -- lookups --
    def _lookup(self, service: str, rest: Sequence[str], query: Mapping[str, str]) -> Any:
        fixtures = self.server.state.fixtures
        with self.server.state.lock:
            if service == "meter_point" and len(rest) == 2 and rest[0] == "meter-points":
                return copy.deepcopy(fixtures["meter_points"].get(rest[1]))
            if service == "dno_connection" and len(rest) == 2 and rest[0] == "connections":
                return copy.deepcopy(fixtures["connections"].get(rest[1].strip().upper()))
            if service == "consent" and len(rest) == 2 and rest[0] == "consents":
                return copy.deepcopy(fixtures["consents"].get(rest[1].strip().upper()))
            if service == "manufacturer" and list(rest) == ["devices"]:
                if not query.get("manufacturer") or not query.get("serial_number"):
                    return _BAD
                return _device(fixtures, query["manufacturer"], query["serial_number"])
            if service == "mcs" and list(rest) == ["installations"]:
                if not query.get("postcode") or not query.get("technology"):
                    return _BAD
                wanted = _compact(query["postcode"])
                items = [
                    copy.deepcopy(i)
                    for i in fixtures["installations"]
                    if _compact(str(i.get("postcode", ""))) == wanted
                    and i.get("technology") == query["technology"]
                ]
                return {"items": items, "total": len(items)}
        return _BAD


_BAD: Final = object()


def _device(fixtures: Mapping[str, Any], manufacturer: str, serial: str) -> Any:
    maker, key = _manufacturer_key(manufacturer), _serial_key(serial)
    for device in fixtures["devices"]:
        if (
            _manufacturer_key(str(device["manufacturer"])) == maker
            and _serial_key(str(device["serial_number"])) == key
        ):
            return copy.deepcopy(device)
    for family in fixtures["device_ranges"]:
        if _manufacturer_key(str(family["manufacturer"])) == maker and re.fullmatch(
            str(family["serial_pattern"]), key
        ):
            device = {k: v for k, v in family.items() if k != "serial_pattern"}
            device["serial_number"] = serial.strip()
            return device
    return None


def _revoke(state: _State, reference: str, at: dt.datetime | None = None) -> Any:
    at = at or dt.datetime.now(dt.UTC)
    with state.lock:
        record = state.fixtures["consents"].get(reference.strip().upper())
        if record is None:
            return None
        record["status"] = "revoked"
        record["revoked_at"] = at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        return copy.deepcopy(record)


def _send_notice(url: str, secret: str, record: Mapping[str, Any]) -> int | str:
    revoked_at = dt.datetime.fromisoformat(str(record["revoked_at"]).replace("Z", "+00:00"))
    body, headers = signed_notice(secret, str(record["consent_reference"]), revoked_at)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError as exc:
        return f"not delivered: {exc}"


# --- running it ---------------------------------------------------------------------------


class StubServer(RunningStub):
    """A running stand-in; stop it with :meth:`stop` or use it as a context manager."""

    def __init__(self, httpd: _Server, thread: threading.Thread) -> None:
        super().__init__(httpd, thread, httpd.state.stopping)
        self._httpd = httpd
        host, port = httpd.server_address[:2]
        self.host: str = str(host)
        self.port: int = int(port)
        self.url: str = f"http://{self.host}:{self.port}"

    @property
    def urls(self) -> dict[str, str]:
        """Each service's base URL."""
        return {service: f"{self.url}/{prefix}" for service, prefix in PREFIXES.items()}

    @property
    def settings(self) -> dict[str, str]:
        """FlexReg settings pointing every validator at this stand-in."""
        return {SETTINGS[service]: url for service, url in self.urls.items()}

    @property
    def request_log(self) -> list[str]:
        """``METHOD target`` of every request, in arrival order."""
        with self._httpd.state.lock:
            return list(self._httpd.state.request_log)

    def set_mode(self, service: str, mode: str) -> None:
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        state = self._httpd.state
        with state.lock:
            state.modes[service] = mode

    def add(self, collection: str, record: Mapping[str, Any]) -> None:
        """Add (or replace) a record: ``meter_points`` (keyed by ``mpan_core``),
        ``connections`` (``connection_reference``), ``consents`` (``consent_reference``),
        ``devices``, ``device_ranges`` or ``installations`` (appended)."""
        state = self._httpd.state
        record = copy.deepcopy(dict(record))
        with state.lock:
            if collection == "meter_points":
                state.fixtures[collection][str(record["mpan_core"])] = record
            elif collection == "connections":
                key = str(record["connection_reference"]).upper()
                state.fixtures[collection][key] = record
            elif collection == "consents":
                state.fixtures[collection][str(record["consent_reference"]).upper()] = record
            elif collection in ("devices", "device_ranges", "installations"):
                state.fixtures[collection].insert(0, record)
            else:
                raise ValueError(f"unknown collection {collection!r}")

    def revoke_consent(self, reference: str, at: dt.datetime | None = None) -> dict[str, Any]:
        """Mark a consent revoked (as the consumer would); returns its record."""
        record = _revoke(self._httpd.state, reference, at)
        if record is None:
            raise KeyError(reference)
        return dict(record)

    def reset(self) -> None:
        """Every service up, the fixtures as loaded, the request log empty."""
        state = self._httpd.state
        with state.lock:
            state.modes = dict.fromkeys(SERVICES, "up")
            state.fixtures = copy.deepcopy(state.pristine)
            state.request_log.clear()


def start_stub(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    fixtures: Mapping[str, Any] | None = None,
    slow_seconds: float = DEFAULT_SLOW_SECONDS,
) -> StubServer:
    """Start the stand-in in a daemon thread; ``port=0`` picks a free port (see ``.url``)."""
    data = copy.deepcopy(dict(fixtures)) if fixtures is not None else load_fixtures()
    state = _State(fixtures=copy.deepcopy(data), pristine=data, slow_seconds=slow_seconds)
    httpd = _Server((host, port), state)
    thread = serve_in_thread(httpd, f"asset-services-stub:{httpd.server_address[1]}")
    return StubServer(httpd, thread)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flexreg.devtools.asset_services_stub",
        description="Local stand-in for the asset authenticity services (SAMPLE data).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--fixtures", type=Path, help="another fixtures JSON file")
    parser.add_argument("--slow-seconds", type=float, default=DEFAULT_SLOW_SECONDS)
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    server = start_stub(
        args.host,
        args.port,
        fixtures=load_fixtures(args.fixtures) if args.fixtures else None,
        slow_seconds=args.slow_seconds,
    )
    lines = [f"Asset services stand-in (SAMPLE data) on {server.url}. Ctrl-C stops it."]
    lines += [
        f"  FLEXREG_{name.removeprefix('ASSET_')}={url}" for name, url in server.settings.items()
    ]
    print("\n".join(lines), file=sys.stderr, flush=True)
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
