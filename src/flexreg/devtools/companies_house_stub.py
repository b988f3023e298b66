"""A local stand-in for the Companies House public data API (SAMPLE data only).

It speaks the documented JSON of the real service (same paths, field names, paging
fields and error bodies) so the real :class:`~flexreg.participants.companies_house.
CompaniesHouseClient` can run against it in tests and in ``make demo``. Standard library
only (``http.server.ThreadingHTTPServer``).

Run it::

    python -m flexreg.devtools.companies_house_stub --host 127.0.0.1 --port 8001

then point FlexReg at it with ``COMPANIES_HOUSE_API_URL=http://127.0.0.1:8001`` and
``COMPANIES_HOUSE_API_KEY=demo-key``. Requests need HTTP Basic auth with the API key as
user name and an empty password (``curl -u demo-key: http://127.0.0.1:8001/company/99000001``),
exactly like the real API; anything else gets 401. ``--any-key`` accepts any non-empty
user name.

Paths served (GET only)::

    /company/{number}                                     profile, or 404
                                                          {"errors":[{"error":"company-profile-not-found","type":"ch:service"}]}
    /company/{number}/officers?items_per_page=&start_index=
                                                          paged (default 35, max 100, or
                                                          start_stub(max_items_per_page=))
    /company/{number}/persons-with-significant-control    an empty list
    /search/companies?q=&items_per_page=&start_index=     substring search (default 20)

Sample companies (all invented; names end with "(SAMPLE)")
-----------------------------------------------------------

========  ==============================================  =====================================
number    name                                            what it shows
========  ==============================================  =====================================
99000001  BRIGHTWATT FLEX LIMITED (SAMPLE)                active ltd; current director
                                                          ``SMITH, Jane Elizabeth`` (happy path),
                                                          a secretary ``GREEN, Oliver`` and a
                                                          resigned director ``TAYLOR, Mark``
99000002  OLDGRID STORAGE LIMITED (SAMPLE)                dissolved (``company.not_active``)
99000003  HANDOVER HEAT PUMPS LIMITED (SAMPLE)            active, but ``SMITH, Jane Elizabeth``
                                                          resigned (``declarant.resigned``);
                                                          current director ``PATEL, Arjun``
OC990004  SOLAR COMMONS LLP (SAMPLE)                      LLP; ``llp-designated-member`` s
                                                          ``KHAN, Amira`` and ``WILLIAMS, Owen
                                                          Rhys``, ``llp-member`` ``EVANS,
                                                          Carys``, a corporate designated member
99000005  GRIDSCALE AGGREGATION PLC (SAMPLE)              65 officers (2 pages of 35, or 1 of
                                                          100); the last one, ``ZEPHANIAH, Ruth
                                                          Abigail``, is a current director
99000006  BRONTË HEAT CO-OPERATIVE LIMITED (SAMPLE)       accents and punctuation: ``BRONTË,
                                                          Anne``, ``O'NEILL, Seán``,
                                                          ``JONES-DAVIES, Mary`` (directors),
                                                          ``ØSTERGÅRD, Søren`` (secretary)
99000007  HOLDCO OWNED FLEX LIMITED (SAMPLE)              only a ``corporate-director``; the
                                                          person ``BROWN, Peter James`` is the
                                                          secretary (``declarant.role_cannot_bind``)
99000008  WOUND DOWN BATTERIES LIMITED (SAMPLE)           in liquidation; director ``CLARKE, Susan``
99000009  TWIN SMITHS DEMAND RESPONSE LIMITED (SAMPLE)    directors ``SMITH, John`` and ``SMITH,
                                                          John Michael``: "John Smith" and even
                                                          "John Michael Smith" are
                                                          ``declarant.ambiguous``
========  ==============================================  =====================================

Magic numbers (the ``"behaviours"`` key of the fixtures file):

========  ===========================================================================
99000429  429 with ``Retry-After: 1`` on its first 2 requests (a counter per stub, across
          all paths of that company), then served normally as PATIENT RETRY ENERGY
          LIMITED (SAMPLE) with director ``LEE, Grace``
99000500  always 500
99000504  waits 10 s (``start_stub(slow_seconds=...)`` changes it) then answers 504
99000520  200 with a truncated JSON body
99000521  200 with JSON that lacks required fields
========  ===========================================================================

Any other number answers 404.

For the demo:

* use this to see verification pass: company **99000001**, declarant **Jane Smith**
  (or ``Jane E. Smith``, ``JANE ELIZABETH SMITH``);
* use this to see it go to operator review: company **99000001**, declarant **J Smith**
  (``declarant.partial_match``), or company **99000003**, declarant **Jane Smith**
  (``declarant.resigned``), or company **99000002** (``company.not_active``).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import copy
import hashlib
import hmac
import json
import logging
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

from flexreg.devtools.stub_runner import RunningStub, serve_in_thread

__all__ = ["DEFAULT_API_KEY", "StubServer", "load_fixtures", "main", "start_stub"]

logger = logging.getLogger(__name__)

DEFAULT_API_KEY: Final = "demo-key"
FIXTURES_FILE: Final = "companies_house_fixtures.json"
OFFICERS_DEFAULT_PAGE: Final = 35
SEARCH_DEFAULT_PAGE: Final = 20
MAX_PAGE: Final = 100
DEFAULT_SLOW_SECONDS: Final = 10.0

_NOT_FOUND_PROFILE: Final = {
    "errors": [{"error": "company-profile-not-found", "type": "ch:service"}]
}
_NOT_FOUND: Final = {"errors": [{"error": "not-found", "type": "ch:service"}]}
_UNAUTHORISED: Final = {"error": "Invalid Authorization", "type": "ch:service"}


def load_fixtures(path: Path | None = None) -> dict[str, Any]:
    """The fixtures file shipped beside this module (or ``path``)."""
    if path is None:
        text = resources.files(__package__ or "flexreg.devtools").joinpath(FIXTURES_FILE)
        data = json.loads(text.read_text(encoding="utf-8"))
    else:
        data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("companies"), dict):
        raise ValueError("Companies House fixtures need a 'companies' object.")
    if not isinstance(data.get("behaviours", {}), dict):
        raise ValueError("The fixtures' 'behaviours' must be an object.")
    return data


@dataclass
class _State:
    companies: dict[str, Any]
    behaviours: dict[str, Any]
    api_key: str | None
    slow_seconds: float | None
    max_page: int = MAX_PAGE
    request_log: list[str] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)

    def log(self, target: str) -> None:
        with self.lock:
            self.request_log.append(target)

    def bump(self, number: str) -> int:
        """Count a request for ``number``; returns how many came before it."""
        with self.lock:
            seen = self.counters.get(number, 0)
            self.counters[number] = seen + 1
            return seen


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for a deliberately slow handler

    def __init__(self, address: tuple[str, int], state: _State) -> None:
        self.state = state
        super().__init__(address, _Handler)


def _opaque_id(*parts: str) -> str:
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode().rstrip("=")


def _int_param(query: Mapping[str, list[str]], name: str, default: int) -> int:
    try:
        return int(query.get(name, [str(default)])[0])
    except ValueError:
        return default


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "FlexRegCompaniesHouseStub/1.0"
    timeout = 30  # idle keep-alive connections are dropped after this
    disable_nagle_algorithm = True  # headers and body go out in two writes

    # -- plumbing --
    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("companies-house-stub: " + format, *args)

    def _send(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Ratelimit-Limit", "600")
            self.send_header("X-Ratelimit-Window", "5m")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts)
            self.close_connection = True

    def _json(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload, ensure_ascii=False).encode(), headers=headers)

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        if not sep or password:  # documented: key as user name, *empty* password
            return False
        expected = self.server.state.api_key
        if expected is None:
            return bool(user)
        return hmac.compare_digest(user.encode(), expected.encode())

    # -- HTTP verbs --
    def do_GET(self) -> None:
        state = self.server.state
        state.log(self.path)
        if not self._authorised():
            self._json(
                HTTPStatus.UNAUTHORIZED,
                _UNAUTHORISED,
                headers={"WWW-Authenticate": 'Basic realm="Companies House (stub)"'},
            )
            return
        split = urlsplit(self.path)
        parts = [unquote(part) for part in split.path.split("/") if part]
        query = parse_qs(split.query)
        if parts == ["search", "companies"]:
            self._search(query)
        elif len(parts) >= 2 and parts[0] == "company":
            self._company(parts[1].upper(), parts[2:], query)
        else:
            self._json(HTTPStatus.NOT_FOUND, _NOT_FOUND)

    def _method_not_allowed(self) -> None:
        self.server.state.log(self.path)
        self._json(HTTPStatus.METHOD_NOT_ALLOWED, {"errors": [{"error": "method-not-allowed"}]})

    do_POST = do_PUT = do_PATCH = do_DELETE = _method_not_allowed

    # -- routes --
    def _company(self, number: str, rest: Sequence[str], query: Mapping[str, list[str]]) -> None:
        state = self.server.state
        behaviour = state.behaviours.get(number)
        if behaviour is not None and self._misbehave(number, behaviour):
            return
        company = state.companies.get(number)
        if rest == []:
            if company is None:
                self._json(HTTPStatus.NOT_FOUND, _NOT_FOUND_PROFILE)
            else:
                self._json(HTTPStatus.OK, _profile(number, company))
        elif rest == ["officers"]:
            if company is None:
                self._json(HTTPStatus.NOT_FOUND, _NOT_FOUND)
            else:
                self._json(HTTPStatus.OK, _officers_page(number, company, query, state.max_page))
        elif rest == ["persons-with-significant-control"]:
            if company is None:
                self._json(HTTPStatus.NOT_FOUND, _NOT_FOUND)
            else:
                self._json(HTTPStatus.OK, _psc_list(number, company, query))
        else:
            self._json(HTTPStatus.NOT_FOUND, _NOT_FOUND)

    def _misbehave(self, number: str, behaviour: Mapping[str, Any]) -> bool:
        """Act out a magic number's behaviour; False means "answer normally"."""
        state = self.server.state
        kind = behaviour.get("behaviour")
        if kind == "rate_limit":
            if state.bump(number) >= int(behaviour.get("times", 1)):
                return False
            self._json(
                HTTPStatus.TOO_MANY_REQUESTS,
                {"errors": [{"error": "rate-limit-exceeded", "type": "ch:service"}]},
                headers={"Retry-After": str(behaviour.get("retry_after", "1"))},
            )
        elif kind == "server_error":
            state.bump(number)
            self._json(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                {"errors": [{"error": "internal-server-error", "type": "ch:service"}]},
            )
        elif kind == "slow":
            state.bump(number)
            seconds = state.slow_seconds
            if seconds is None:
                seconds = float(behaviour.get("seconds", DEFAULT_SLOW_SECONDS))
            state.stopping.wait(seconds)  # returns early when the stub stops
            self._json(
                HTTPStatus.GATEWAY_TIMEOUT,
                {"errors": [{"error": "gateway-timeout", "type": "ch:service"}]},
            )
        elif kind == "malformed":
            state.bump(number)
            self._send(
                HTTPStatus.OK,
                str(behaviour.get("body", "")).encode(),
                content_type=str(behaviour.get("content_type", "application/json")),
            )
        else:
            return False
        return True

    def _search(self, query: Mapping[str, list[str]]) -> None:
        needle = query.get("q", [""])[0].strip().casefold()
        if not needle:
            self._json(
                HTTPStatus.BAD_REQUEST,
                {"errors": [{"error": "query-parameter-missing", "type": "ch:service"}]},
            )
            return
        hits = [
            _search_item(number, company)
            for number, company in sorted(self.server.state.companies.items())
            if needle in str(company["profile"].get("company_name", "")).casefold()
            or needle in number.casefold()
        ]
        per_page = min(max(_int_param(query, "items_per_page", SEARCH_DEFAULT_PAGE), 1), MAX_PAGE)
        start = max(_int_param(query, "start_index", 0), 0)
        self._json(
            HTTPStatus.OK,
            {
                "kind": "search#companies",
                "items": hits[start : start + per_page],
                "items_per_page": per_page,
                "start_index": start,
                "page_number": start // per_page + 1,
                "total_results": len(hits),
            },
        )


# -- response builders (documented shapes) ----------------------------------------------
def _profile(number: str, company: Mapping[str, Any]) -> dict[str, Any]:
    profile: dict[str, Any] = copy.deepcopy(dict(company["profile"]))
    profile.setdefault(
        "links",
        {
            "self": f"/company/{number}",
            "filing_history": f"/company/{number}/filing-history",
            "officers": f"/company/{number}/officers",
            "persons_with_significant_control": (
                f"/company/{number}/persons-with-significant-control"
            ),
        },
    )
    return profile


def _officer_item(number: str, officer: Mapping[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = copy.deepcopy(dict(officer))
    officer_id = _opaque_id("officer", str(officer.get("name")))
    appointment_id = _opaque_id("appointment", number, str(officer.get("name")))
    item.setdefault(
        "links",
        {
            "self": f"/company/{number}/appointments/{appointment_id}",
            "officer": {"appointments": f"/officers/{officer_id}/appointments"},
        },
    )
    return item


def _officers_page(
    number: str, company: Mapping[str, Any], query: Mapping[str, list[str]], max_page: int
) -> dict[str, Any]:
    officers: list[Mapping[str, Any]] = list(company.get("officers", []))
    per_page = min(max(_int_param(query, "items_per_page", OFFICERS_DEFAULT_PAGE), 1), max_page)
    start = max(_int_param(query, "start_index", 0), 0)
    resigned = sum(1 for officer in officers if officer.get("resigned_on"))
    return {
        "kind": "officer-list",
        "etag": _opaque_id("officers", number, str(len(officers))),
        "links": {"self": f"/company/{number}/officers"},
        "items_per_page": per_page,
        "start_index": start,
        "total_results": len(officers),
        "active_count": len(officers) - resigned,
        "resigned_count": resigned,
        "inactive_count": 0,
        "items": [_officer_item(number, officer) for officer in officers[start : start + per_page]],
    }


def _psc_list(
    number: str, company: Mapping[str, Any], query: Mapping[str, list[str]]
) -> dict[str, Any]:
    pscs: list[Any] = list(company.get("persons_with_significant_control", []))
    per_page = min(max(_int_param(query, "items_per_page", 25), 1), MAX_PAGE)
    start = max(_int_param(query, "start_index", 0), 0)
    ceased = sum(1 for psc in pscs if isinstance(psc, Mapping) and psc.get("ceased_on"))
    return {
        "items": pscs[start : start + per_page],
        "items_per_page": per_page,
        "start_index": start,
        "total_results": len(pscs),
        "active_count": len(pscs) - ceased,
        "ceased_count": ceased,
        "links": {"self": f"/company/{number}/persons-with-significant-control"},
    }


def _search_item(number: str, company: Mapping[str, Any]) -> dict[str, Any]:
    profile: Mapping[str, Any] = company["profile"]
    address: Mapping[str, Any] = profile.get("registered_office_address") or {}
    snippet = ", ".join(
        str(address[key])
        for key in ("premises", "address_line_1", "address_line_2", "locality", "postal_code")
        if address.get(key)
    )
    created = profile.get("date_of_creation")
    description = number
    if created:
        day = date.fromisoformat(created)
        description += f" - Incorporated on {day.day} {day:%B %Y}"
    item: dict[str, Any] = {
        "kind": "searchresults#company",
        "title": profile.get("company_name"),
        "company_number": number,
        "company_status": profile.get("company_status"),
        "company_type": profile.get("type"),
        "date_of_creation": created,
        "address": dict(address),
        "address_snippet": snippet,
        "description": description,
        "links": {"self": f"/company/{number}"},
    }
    if profile.get("date_of_cessation"):
        item["date_of_cessation"] = profile["date_of_cessation"]
    return item


# -- running it ---------------------------------------------------------------------------
class StubServer(RunningStub):
    """A running stub; stop it with :meth:`stop` or use it as a context manager."""

    def __init__(self, httpd: _Server, thread: threading.Thread) -> None:
        super().__init__(httpd, thread, httpd.state.stopping)
        self._httpd = httpd
        host, port = httpd.server_address[:2]
        self.host: str = str(host)
        self.port: int = int(port)
        self.url: str = f"http://{self.host}:{self.port}"

    @property
    def request_log(self) -> list[str]:
        """Request targets (path and query) in arrival order, including refused ones."""
        return self._httpd.state.request_log

    def reset(self) -> None:
        """Forget logged requests and behaviour counters."""
        state = self._httpd.state
        with state.lock:
            state.request_log.clear()
            state.counters.clear()


def start_stub(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    api_key: str | None = DEFAULT_API_KEY,
    fixtures: Mapping[str, Any] | None = None,
    slow_seconds: float | None = None,
    max_items_per_page: int = MAX_PAGE,
) -> StubServer:
    """Start the stub in a daemon thread; ``port=0`` picks a free port (see ``.url``).

    ``api_key=None`` accepts any non-empty user name. ``slow_seconds`` overrides how long
    the "slow" magic number waits. ``max_items_per_page`` caps officer pages below the
    requested ``items_per_page`` (as the real API caps it), to exercise paging.
    """
    data = load_fixtures() if fixtures is None else fixtures
    state = _State(
        companies={str(k).upper(): v for k, v in dict(data.get("companies", {})).items()},
        behaviours={str(k).upper(): v for k, v in dict(data.get("behaviours", {})).items()},
        api_key=api_key,
        slow_seconds=slow_seconds,
        max_page=max(1, max_items_per_page),
    )
    httpd = _Server((host, port), state)
    thread = serve_in_thread(httpd, f"companies-house-stub:{httpd.server_address[1]}")
    return StubServer(httpd, thread)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flexreg.devtools.companies_house_stub",
        description="Local Companies House API stand-in serving SAMPLE data.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="expected Basic user name")
    parser.add_argument(
        "--any-key", action="store_true", help="accept any non-empty API key (user name)"
    )
    parser.add_argument("--fixtures", type=Path, help="another fixtures JSON file")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    server = start_stub(
        args.host,
        args.port,
        api_key=None if args.any_key else args.api_key,
        fixtures=load_fixtures(args.fixtures) if args.fixtures else None,
    )
    key = "any non-empty key" if args.any_key else f"API key {args.api_key!r}"
    print(
        f"Companies House stub (SAMPLE data) on {server.url} - {key}, empty password. "
        "Ctrl-C stops it.",
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
