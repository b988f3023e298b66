"""The asset services stand-in itself: its switches over HTTP, its matching rules, and the
signed revocation notice it sends (checked by the endpoint's verifier)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from flexreg.assets import api_consent
from flexreg.assets.tests import helpers_authenticity
from flexreg.devtools.asset_services_stub import PREFIXES, SERVICES, StubServer

# Fixtures shared by the authenticity tests.
asset_stub = helpers_authenticity.asset_stub


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _post(url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body or {}).encode()
    request = urllib.request.Request(url, data=data, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def stub(asset_stub: StubServer) -> StubServer:
    asset_stub.reset()
    return asset_stub


def test_every_service_has_a_base_url_and_a_setting(stub: StubServer) -> None:
    assert set(stub.urls) == set(SERVICES)
    assert stub.settings["ASSET_MCS_URL"] == f"{stub.url}/{PREFIXES['mcs']}"
    status, state = _get(f"{stub.url}/_stub")
    assert status == 200 and state["modes"] == dict.fromkeys(SERVICES, "up")


def test_switches_over_http(stub: StubServer) -> None:
    meter = f"{stub.urls['meter_point']}/meter-points/1012345678903"
    assert _get(meter)[0] == 200
    assert _post(f"{stub.url}/_stub/modes/meter_point/down")[0] == 200
    status, body = _get(meter)
    assert (status, body["error"]) == (503, "unavailable")
    assert _post(f"{stub.url}/_stub/modes/meter_point/not_found")[0] == 200
    assert _get(meter) == (404, {"error": "not_found", "detail": "No such record."})
    assert _post(f"{stub.url}/_stub/modes/meter_point/sideways")[0] == 400
    stub.reset()
    assert _get(meter)[0] == 200


def test_devices_match_ignoring_case_spaces_dashes_and_legal_forms(stub: StubServer) -> None:
    base = stub.urls["manufacturer"]
    status, device = _get(
        f"{base}/devices?manufacturer=ACME+ENERGY+LIMITED&serial_number=pc+000+042"
    )
    assert status == 200
    assert device["model"] == "PowerCube 13" and device["serial_number"] == "pc 000 042"
    status, stolen = _get(f"{base}/devices?manufacturer=acme+energy&serial_number=PC.999999")
    assert (status, stolen["status"]) == (200, "reported_stolen")
    assert _get(f"{base}/devices?manufacturer=Acme&serial_number=PC-000042")[0] == 404
    assert _get(f"{base}/devices?manufacturer=Acme+Energy")[0] == 400


def test_mcs_lists_certificates_for_the_postcode_and_technology(stub: StubServer) -> None:
    base = stub.urls["mcs"]
    status, found = _get(f"{base}/installations?postcode=n19gu&technology=heat_pump")
    assert status == 200 and found["total"] == 1
    assert found["items"][0]["certificate_number"] == "MCS-00200001"
    status, none = _get(f"{base}/installations?postcode=N1+9GU&technology=wind_turbine")
    assert (status, none) == (200, {"items": [], "total": 0})


def test_the_stand_in_sends_a_signed_revocation_notice(stub: StubServer) -> None:
    received: dict[str, Any] = {}

    class Receiver(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received["body"] = self.rfile.read(length)
            received["signature"] = self.headers[api_consent.SIGNATURE_HEADER]
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    try:
        status, answer = _post(
            f"{stub.url}/_stub/consents/cns-7f3k-92qx/revoke",
            {"notify_url": f"http://127.0.0.1:{server.server_address[1]}/", "secret": "s3"},
        )
        thread.join(5)
    finally:
        server.server_close()
    assert status == 200
    assert answer["notice_status"] == 202
    assert answer["consent"]["status"] == "revoked"
    api_consent.verify(received["signature"], received["body"], ["s3"])
    notice = json.loads(received["body"])
    assert notice["consent_reference"] == "CNS-7F3K-92QX"
    assert notice["revoked_at"] == answer["consent"]["revoked_at"]
