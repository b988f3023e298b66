"""What every authenticity validator shares: the facts it is given, the verdict it returns,
and a small strict HTTP client for the outside service it asks.

A validator is an adapter over one outside service (meter point registry, DNO connection
data, manufacturer registry, installer certification, consumer consent). It is given an
:class:`AssetFacts` (plain values, no database) and a :class:`ServiceClient` for its service
and returns a :class:`Verdict`: ``passed``, ``failed`` or ``not_found``, with reasons (stable
codes) and the evidence the service gave. When the service cannot answer it raises
:class:`ServiceUnavailable`; the pipeline (``assets.authenticity``) records ``error`` and
retries with backoff.

HTTP contract shared by every service (each module documents its own paths and bodies):

* ``GET`` only, ``Accept: application/json``, ``User-Agent: FlexReg/0.1 (+<validator>)``;
  ``Authorization: Bearer <key>`` when an API key is configured for the service.
* Explicit connect/read/write/pool timeouts (``ASSET_SERVICES_TIMEOUT`` seconds, default 5).
  No retries inside a call: the pipeline's retry schedule does that, so a worker is never
  held for long by a service that is down.
* ``200`` with a JSON body, validated with pydantic (unknown fields ignored) before it is
  trusted; anything that does not validate is ``service.invalid_response`` (retried).
* ``404`` with the JSON body ``{"error": "not_found", ...}`` means "no such record" (the
  verdict ``not_found``). A 404 *without* that body means the URL is wrong
  (``service.bad_endpoint``, retried until someone fixes the configuration).
* ``429`` and ``5xx`` (``service.unavailable``), timeouts (``service.timeout``), refused or
  dropped connections (``service.unreachable``), ``401``/``403`` (``service.refused``: our
  key) and any other status (``service.unexpected_status``) raise :class:`ServiceUnavailable`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import TracebackType
from typing import Any, Final, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

PASSED: Final = "passed"
FAILED: Final = "failed"
NOT_FOUND: Final = "not_found"

#: Error codes of :class:`ServiceUnavailable` (stable: add, never rename).
UNAVAILABLE_CODES: Final = (
    "service.unavailable",
    "service.timeout",
    "service.unreachable",
    "service.refused",
    "service.bad_endpoint",
    "service.unexpected_status",
    "service.invalid_response",
)
#: Codes meaning the service itself is down: the rest of a retry sweep does not call it again.
DOWN_CODES: Final = frozenset({"service.unavailable", "service.timeout", "service.unreachable"})

M = TypeVar("M", bound=BaseModel)


# --- what a validator is given ------------------------------------------------------------


@dataclass(frozen=True)
class AssetFacts:
    """The facts of an asset a validator checks (plain values, built by the pipeline)."""

    asset_id: str
    category: str
    domestic: bool
    installed_kw: Decimal
    export_kw: Decimal | None
    import_kw: Decimal | None
    storage_kwh: Decimal | None
    import_mpan: str | None
    export_mpan: str | None
    postcode: str
    dno_licence_area: str
    connection_status: str
    connection_type: str
    connection_reference: str
    manufacturer: str
    model: str
    serial_number: str
    consent_reference: str
    #: Participant IDs of every participant currently linked to the asset (any relationship).
    linked_participant_ids: tuple[str, ...] = ()

    @property
    def mpans(self) -> tuple[str, ...]:
        return tuple(m for m in (self.import_mpan, self.export_mpan) if m)


# --- what a validator returns -------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class Verdict:
    status: str  # PASSED | FAILED | NOT_FOUND
    detail: str
    reasons: tuple[Reason, ...] = ()
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def outcome(self) -> dict[str, Any]:
        return {
            "detail": self.detail,
            "reasons": [r.as_dict() for r in self.reasons],
            "evidence": dict(self.evidence),
        }


def passed(detail: str, evidence: Mapping[str, Any]) -> Verdict:
    return Verdict(PASSED, detail, (), evidence)


def judged(
    ok_detail: str,
    failures: list[Reason],
    evidence: Mapping[str, Any],
    *,
    missing: list[Reason] | None = None,
) -> Verdict:
    """``not_found`` if any record was missing, else ``failed`` if any rule failed, else
    ``passed``; every reason is kept."""
    missing = missing or []
    reasons = (*missing, *failures)
    if missing:
        return Verdict(NOT_FOUND, " ".join(r.message for r in reasons), reasons, evidence)
    if failures:
        return Verdict(FAILED, " ".join(r.message for r in reasons), reasons, evidence)
    return passed(ok_detail, evidence)


class ServiceUnavailable(Exception):
    """The service could not give an answer we can trust; ``code`` is one of
    :data:`UNAVAILABLE_CODES`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ValidatorSpec:
    """One pluggable validator: its name (the ``AssetCheck.validator`` value), a label for
    people, the setting holding its service's base URL, and its two functions."""

    name: str
    label: str
    url_setting: str
    #: None when the check applies to the asset, else why it does not (recorded "skipped").
    not_applicable: Callable[[AssetFacts], str | None]
    check: Callable[[AssetFacts, ServiceClient, dt.datetime], Verdict]

    @property
    def key_setting(self) -> str:
        return self.url_setting.removesuffix("_URL") + "_API_KEY"


# --- the HTTP client ----------------------------------------------------------------------


class ServiceClient:
    """A strict JSON-over-HTTP client for one service (see the module docstring)."""

    def __init__(
        self,
        name: str,
        label: str,
        base_url: str,
        *,
        timeout: float = 5.0,
        api_key: str = "",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        self.name = name
        self.label = label
        headers = {"Accept": "application/json", "User-Agent": f"FlexReg/0.1 (+{name})"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(connect=timeout, read=timeout, write=timeout, pool=timeout),
            headers=headers,
            follow_redirects=False,
            transport=transport,
        )

    def __repr__(self) -> str:  # never show the key
        return f"<ServiceClient {self.name} {self._http.base_url}>"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def get(self, path: str, model: type[M], params: Mapping[str, str] | None = None) -> M | None:
        """GET ``path`` and validate the body as ``model``; None when the service answers
        "not found" (404 with ``{"error": "not_found"}``)."""
        what = f"{self.label} ({path})"
        try:
            response = self._http.get(path, params=dict(params or {}))
        except httpx.TimeoutException as exc:
            raise ServiceUnavailable(
                "service.timeout", f"The {self.label} did not answer in time."
            ) from exc
        except httpx.TransportError as exc:
            raise ServiceUnavailable(
                "service.unreachable",
                f"The {self.label} could not be reached ({type(exc).__name__}).",
            ) from exc
        status = response.status_code
        if status == 200:
            payload = _json(response, what)
            try:
                return model.model_validate(payload)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "the top"
                raise ServiceUnavailable(
                    "service.invalid_response",
                    f"The {self.label}'s answer does not follow its contract "
                    f"({exc.error_count()} error(s), first at {where}: {first['msg']}).",
                ) from exc
        if status == 404:
            body = _json_or_none(response)
            if isinstance(body, dict) and body.get("error") == "not_found":
                return None
            raise ServiceUnavailable(
                "service.bad_endpoint",
                f"The {self.label} answered 404 without a 'not_found' body: check its URL.",
            )
        if status == 429 or 500 <= status <= 599:
            raise ServiceUnavailable(
                "service.unavailable", f"The {self.label} is unavailable (HTTP {status})."
            )
        if status in (401, 403):
            raise ServiceUnavailable(
                "service.refused",
                f"The {self.label} refused FlexReg's request (HTTP {status}): check the API key.",
            )
        raise ServiceUnavailable(
            "service.unexpected_status", f"The {self.label} answered HTTP {status}."
        )


def _json(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise ServiceUnavailable(
            "service.invalid_response", f"The answer of the {what} is not JSON."
        ) from exc


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class Schema(BaseModel):
    """Base of the response schemas: unknown fields ignored, values frozen."""

    model_config = ConfigDict(extra="ignore", frozen=True)


# --- small helpers shared by the validators -----------------------------------------------


def segment(value: str) -> str:
    """A value as one URL path segment (everything escaped, ``/`` included)."""
    return quote(value, safe="")


def compact_postcode(value: str | None) -> str:
    return "".join((value or "").split()).upper()


def same_postcode(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and compact_postcode(a) == compact_postcode(b)


def plain(value: Decimal | None) -> str | None:
    """A decimal as evidence (JSON has no decimals; strings keep every digit)."""
    return None if value is None else f"{value:f}"
