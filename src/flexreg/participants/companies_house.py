"""Adapter for the Companies House public data API (read-only, synchronous, httpx).

Only the parts FlexReg needs for company verification are covered:

* ``GET /company/{number}`` -> :class:`CompanyProfile`
* ``GET /company/{number}/officers`` (all pages) -> ``list[Officer]``

Behaviour worth knowing:

* Authentication is exactly what Companies House documents: the API key is the HTTP
  Basic *user name* and the password is empty.
* Every request has explicit connect/read/write/pool timeouts.
* ``429`` and ``5xx`` answers, timeouts and transport errors are retried with exponential
  backoff and jitter, honouring ``Retry-After`` (seconds or an HTTP date) capped at
  ``max_backoff``. No other ``4xx`` is ever retried.
* Every response is validated (pydantic v2; unknown fields ignored) before it is
  trusted; anything that does not validate raises :class:`CompaniesHouseInvalidResponse`.
* Errors carry a stable ``code`` (part of our contract: add codes, never rename them).

Company numbers are normalised locally (upper-case, spaces removed, zero-padded to 8
characters). This module deliberately does not depend on ``flexreg.identifiers``.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date
from types import TracebackType
from typing import Any, Final, Self

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "ALL_COMPANY_STATUSES",
    "DEFAULT_API_URL",
    "STATUS_ACTIVE",
    "STATUS_ADMINISTRATION",
    "STATUS_CLOSED",
    "STATUS_CONVERTED_CLOSED",
    "STATUS_DISSOLVED",
    "STATUS_INSOLVENCY_PROCEEDINGS",
    "STATUS_LIQUIDATION",
    "STATUS_OPEN",
    "STATUS_RECEIVERSHIP",
    "STATUS_REGISTERED",
    "STATUS_REMOVED",
    "STATUS_VOLUNTARY_ARRANGEMENT",
    "CompaniesHouseAuthError",
    "CompaniesHouseBadRequest",
    "CompaniesHouseClient",
    "CompaniesHouseError",
    "CompaniesHouseInvalidResponse",
    "CompaniesHouseUnavailable",
    "CompanyNotFound",
    "CompanyProfile",
    "InvalidCompanyNumber",
    "Officer",
    "RegisteredOfficeAddress",
    "client_from_settings",
]

logger = logging.getLogger(__name__)

DEFAULT_API_URL: Final = "https://api.company-information.service.gov.uk"

# --- company statuses (the API's ``company_status`` vocabulary) ------------------------
STATUS_ACTIVE: Final = "active"
STATUS_DISSOLVED: Final = "dissolved"
STATUS_LIQUIDATION: Final = "liquidation"
STATUS_RECEIVERSHIP: Final = "receivership"
STATUS_ADMINISTRATION: Final = "administration"
STATUS_VOLUNTARY_ARRANGEMENT: Final = "voluntary-arrangement"
STATUS_INSOLVENCY_PROCEEDINGS: Final = "insolvency-proceedings"
STATUS_CONVERTED_CLOSED: Final = "converted-closed"
STATUS_OPEN: Final = "open"
STATUS_CLOSED: Final = "closed"
STATUS_REGISTERED: Final = "registered"
STATUS_REMOVED: Final = "removed"

ALL_COMPANY_STATUSES: Final[frozenset[str]] = frozenset(
    {
        STATUS_ACTIVE,
        STATUS_DISSOLVED,
        STATUS_LIQUIDATION,
        STATUS_RECEIVERSHIP,
        STATUS_ADMINISTRATION,
        STATUS_VOLUNTARY_ARRANGEMENT,
        STATUS_INSOLVENCY_PROCEEDINGS,
        STATUS_CONVERTED_CLOSED,
        STATUS_OPEN,
        STATUS_CLOSED,
        STATUS_REGISTERED,
        STATUS_REMOVED,
    }
)

OFFICERS_PAGE_SIZE: Final = 100
# 500 pages x 100 = 50,000 officer records: far beyond any real company (the largest LLPs
# have a few thousand member records including resigned ones). Stops a misbehaving
# server from keeping us in a loop for ever.
MAX_OFFICER_PAGES: Final = 500


# --- errors -----------------------------------------------------------------------------
class CompaniesHouseError(Exception):
    """Base class for every error of this adapter; ``code`` is stable."""

    code: str = "companies_house.error"

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class CompanyNotFound(CompaniesHouseError):
    """Companies House answered 404: no company (or no officers) under this number."""

    code = "companies_house.not_found"


class CompaniesHouseUnavailable(CompaniesHouseError):
    """5xx/429 after all retries, a timeout, or a connection error."""

    code = "companies_house.unavailable"


class CompaniesHouseAuthError(CompaniesHouseError):
    """401/403: the API key is missing, wrong or revoked."""

    code = "companies_house.auth"


class CompaniesHouseInvalidResponse(CompaniesHouseError):
    """The response is not JSON, does not validate, or the paging makes no sense."""

    code = "companies_house.invalid_response"


class CompaniesHouseBadRequest(CompaniesHouseError):
    """Any other 4xx: the request itself was refused (never retried)."""

    code = "companies_house.bad_request"


class InvalidCompanyNumber(CompaniesHouseError, ValueError):
    """The number cannot be a Companies House number; no request is made."""

    code = "companies_house.invalid_number"


# --- domain values ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RegisteredOfficeAddress:
    premises: str | None = None
    address_line_1: str | None = None
    address_line_2: str | None = None
    locality: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None


@dataclass(frozen=True, slots=True)
class CompanyProfile:
    company_number: str
    company_name: str
    company_status: str
    company_type: str | None = None
    date_of_creation: date | None = None
    date_of_cessation: date | None = None
    registered_office_address: RegisteredOfficeAddress | None = None
    # e.g. "active-proposal-to-strike-off"; None when the register gives none.
    company_status_detail: str | None = None

    @property
    def is_active(self) -> bool:
        return self.company_status == STATUS_ACTIVE


@dataclass(frozen=True, slots=True)
class Officer:
    name: str
    officer_role: str
    appointed_on: date | None = None
    resigned_on: date | None = None

    @property
    def is_current(self) -> bool:
        """True while the appointment has not ended (no ``resigned_on``)."""
        return self.resigned_on is None


# --- response schemas (validation only; extra fields are ignored) -----------------------
class _Schema(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _AddressIn(_Schema):
    premises: str | None = None
    address_line_1: str | None = None
    address_line_2: str | None = None
    locality: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None


class _ProfileIn(_Schema):
    company_number: str = Field(min_length=1)
    company_name: str = Field(min_length=1)
    company_status: str = Field(min_length=1)
    company_status_detail: str | None = None
    type: str | None = None
    date_of_creation: date | None = None
    date_of_cessation: date | None = None
    registered_office_address: _AddressIn | None = None


class _OfficerIn(_Schema):
    name: str = Field(min_length=1)
    officer_role: str = Field(min_length=1)
    appointed_on: date | None = None
    resigned_on: date | None = None


class _OfficerListIn(_Schema):
    items: list[_OfficerIn]
    total_results: int | None = Field(default=None, ge=0)
    start_index: int | None = Field(default=None, ge=0)
    items_per_page: int | None = Field(default=None, ge=0)


# --- helpers ----------------------------------------------------------------------------
_NUMBER_SHAPE = re.compile(r"^(?:\d{2}|[A-Z]{2}|[A-Z]\d)\d{5}[A-Z\d]$")
_PREFIXED_SHORT = re.compile(r"^([A-Z]{2})(\d{1,5})$")


def _normalise_company_number(raw: str) -> str:
    """Upper-case, drop whitespace, zero-pad to 8 characters, and check the shape.

    ``"123"`` -> ``"00000123"``; ``" sc 12345 "`` -> ``"SC012345"``; ``"oc301540"`` ->
    ``"OC301540"``. Raises :class:`InvalidCompanyNumber` for anything else, so a number
    never reaches a URL unless it is 8 letters/digits.
    """
    number = "".join(str(raw).split()).upper()
    if number.isdigit() and len(number) < 8:
        number = number.zfill(8)
    else:
        short = _PREFIXED_SHORT.match(number)
        if short:
            number = short.group(1) + short.group(2).zfill(6)
    if not _NUMBER_SHAPE.match(number):
        raise InvalidCompanyNumber(f"{raw!r} is not a Companies House company number.")
    return number


def _parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or HTTP date), or None if unusable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def _is_retryable(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


def _describe(response: httpx.Response) -> str:
    return f"{response.request.method} {response.request.url.path} -> {response.status_code}"


# --- the client -------------------------------------------------------------------------
class CompaniesHouseClient:
    """A small, strict client for the Companies House public data API."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 5.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        max_backoff: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        self._api_key = api_key
        self._max_retries = max_retries
        self._backoff_base = max(0.0, backoff_base)
        self._max_backoff = max(0.0, max_backoff)
        self._sleep = sleep
        self._random = random.Random()  # noqa: S311 - jitter, not security
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            auth=httpx.BasicAuth(username=api_key, password=""),
            timeout=httpx.Timeout(connect=timeout, read=timeout, write=timeout, pool=timeout),
            headers={"Accept": "application/json", "User-Agent": "FlexReg/0.1 (+companies-house)"},
            follow_redirects=False,
            transport=transport,
        )

    # -- lifecycle --
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

    def __repr__(self) -> str:  # never show the key
        return f"<CompaniesHouseClient {self._http.base_url}>"

    # -- public API --
    def get_company(self, number: str) -> CompanyProfile:
        """The company profile; raises :class:`CompanyNotFound` on 404."""
        normalised = _normalise_company_number(number)
        payload = self._get_json(f"/company/{normalised}", what=f"company {normalised}")
        try:
            parsed = _ProfileIn.model_validate(payload)
        except ValidationError as exc:
            raise CompaniesHouseInvalidResponse(
                f"Company profile for {normalised} does not validate: "
                f"{exc.error_count()} error(s), first: {_first_error(exc)}"
            ) from exc
        if _canonical(parsed.company_number) != normalised:
            raise CompaniesHouseInvalidResponse(
                f"Asked for company {normalised}, the response is for {parsed.company_number!r}."
            )
        address = parsed.registered_office_address
        return CompanyProfile(
            company_number=normalised,
            company_name=parsed.company_name,
            company_status=parsed.company_status,
            company_type=parsed.type,
            date_of_creation=parsed.date_of_creation,
            date_of_cessation=parsed.date_of_cessation,
            registered_office_address=(
                RegisteredOfficeAddress(**address.model_dump()) if address is not None else None
            ),
            company_status_detail=parsed.company_status_detail,
        )

    def list_officers(self, number: str) -> list[Officer]:
        """Every officer (current and resigned), following all pages."""
        normalised = _normalise_company_number(number)
        officers: list[Officer] = []
        start_index = 0
        for _page in range(MAX_OFFICER_PAGES):
            payload = self._get_json(
                f"/company/{normalised}/officers",
                params={"items_per_page": OFFICERS_PAGE_SIZE, "start_index": start_index},
                what=f"officers of {normalised}",
            )
            try:
                page = _OfficerListIn.model_validate(payload)
            except ValidationError as exc:
                raise CompaniesHouseInvalidResponse(
                    f"Officer list for {normalised} does not validate: "
                    f"{exc.error_count()} error(s), first: {_first_error(exc)}"
                ) from exc
            if page.start_index is not None and page.start_index != start_index:
                raise CompaniesHouseInvalidResponse(
                    f"Asked for officers from index {start_index}, got a page starting at "
                    f"{page.start_index}."
                )
            officers.extend(
                Officer(
                    name=item.name,
                    officer_role=item.officer_role,
                    appointed_on=item.appointed_on,
                    resigned_on=item.resigned_on,
                )
                for item in page.items
            )
            if not page.items:
                break
            start_index += len(page.items)
            if page.total_results is None:
                if len(page.items) < OFFICERS_PAGE_SIZE:
                    break
            elif start_index >= page.total_results:
                break
        else:
            raise CompaniesHouseInvalidResponse(
                f"Officer list for {normalised} did not end after {MAX_OFFICER_PAGES} pages."
            )
        return officers

    # -- transport --
    def _get_json(
        self, path: str, *, what: str, params: Mapping[str, str | int] | None = None
    ) -> Any:
        response = self._send_with_retries(path, params=params, what=what)
        status = response.status_code
        if status == 200:
            try:
                return response.json()
            except ValueError as exc:
                raise CompaniesHouseInvalidResponse(
                    f"{_describe(response)}: the body is not JSON.", status_code=status
                ) from exc
        if status == 404:
            raise CompanyNotFound(f"Companies House has no {what}.", status_code=status)
        if status in (401, 403):
            raise CompaniesHouseAuthError(
                f"{_describe(response)}: Companies House refused the API key.",
                status_code=status,
            )
        if 400 <= status < 500:
            raise CompaniesHouseBadRequest(f"{_describe(response)}.", status_code=status)
        raise CompaniesHouseInvalidResponse(f"{_describe(response)}: unexpected status.")

    def _send_with_retries(
        self, path: str, *, what: str, params: Mapping[str, str | int] | None
    ) -> httpx.Response:
        if not self._api_key:
            raise CompaniesHouseAuthError("No Companies House API key is configured.")
        attempts = self._max_retries + 1
        for attempt in range(attempts):
            last_try = attempt == attempts - 1
            try:
                response = self._http.get(path, params=params)
            except httpx.TimeoutException as exc:
                if last_try:
                    raise CompaniesHouseUnavailable(
                        f"Companies House timed out fetching {what} ({attempts} attempt(s))."
                    ) from exc
                self._pause(attempt, None, reason=type(exc).__name__)
                continue
            except httpx.TransportError as exc:
                if last_try:
                    raise CompaniesHouseUnavailable(
                        f"Cannot reach Companies House fetching {what} "
                        f"({attempts} attempt(s)): {type(exc).__name__}."
                    ) from exc
                self._pause(attempt, None, reason=type(exc).__name__)
                continue
            if not _is_retryable(response.status_code):
                return response
            if last_try:
                kind = "rate limited" if response.status_code == 429 else "failing"
                raise CompaniesHouseUnavailable(
                    f"Companies House is {kind} ({_describe(response)}) after {attempts} "
                    f"attempt(s) fetching {what}.",
                    status_code=response.status_code,
                )
            self._pause(
                attempt,
                _parse_retry_after(response.headers.get("Retry-After")),
                reason=str(response.status_code),
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def _pause(self, attempt: int, retry_after: float | None, *, reason: str) -> None:
        if retry_after is not None:
            delay = min(self._max_backoff, retry_after)
        else:
            ceiling = min(self._max_backoff, self._backoff_base * (2**attempt))
            # "equal jitter": at least half the exponential step, never more than it.
            delay = ceiling / 2 + self._random.uniform(0, ceiling / 2)
        logger.warning(
            "Companies House request failed (%s); retry %d/%d in %.2fs",
            reason,
            attempt + 1,
            self._max_retries,
            delay,
        )
        self._sleep(delay)


def _canonical(number: str) -> str:
    try:
        return _normalise_company_number(number)
    except InvalidCompanyNumber:
        return number


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    if not errors:
        return "unknown"
    first = errors[0]
    location = ".".join(str(part) for part in first.get("loc", ())) or "(root)"
    return f"{location}: {first.get('msg', '')}"


def client_from_settings() -> CompaniesHouseClient:
    """A client configured from Django settings (``COMPANIES_HOUSE_*``)."""
    from django.conf import settings

    return CompaniesHouseClient(
        base_url=str(getattr(settings, "COMPANIES_HOUSE_API_URL", DEFAULT_API_URL)),
        api_key=str(getattr(settings, "COMPANIES_HOUSE_API_KEY", "")),
        timeout=float(getattr(settings, "COMPANIES_HOUSE_TIMEOUT", 5.0)),
    )
