"""The consumer consent service tells FlexReg that a consumer revoked consent.

``POST /api/v1/consent/revocations`` (this router is mounted at ``/api/v1/consent``). Not a
user's call: no bearer token, the request is signed by the service with a shared secret::

    X-Consent-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>
    Content-Type: application/json

    {"notice_id": "9b1c...", "consent_reference": "CNS-7F3K-92QX",
     "revoked_at": "2025-05-01T10:15:00Z"}

* The secret is ``CONSENT_WEBHOOK_SECRET`` (env ``FLEXREG_CONSENT_WEBHOOK_SECRET``); several
  secrets separated by commas are all accepted, so a secret can be rotated without downtime.
  Several ``v1=`` values may be sent (the service signing with its old and new secret).
* The timestamp must be within ``CONSENT_WEBHOOK_TOLERANCE_SECONDS`` (default 300) of our
  clock, so a captured notice cannot be replayed later; within the window a replay is
  harmless (the handler is idempotent).
* A missing, malformed or wrong signature, or a stale timestamp: ``401`` problem
  ``consent.bad_signature``. No secret configured: ``503`` ``consent.not_configured`` (the
  service retries; nothing is lost). A body that does not validate: ``422``. Larger than
  16 KB: ``413``.
* ``202`` with ``{"notice_id", "consent_reference", "revoked_at", "links_suspended",
  "links_already_suspended"}``: the provider links resting on that consent are suspended and
  each provider is told (``assets.validators.consent.revoked``). The same notice again
  answers 202 with ``links_suspended: 0``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time
from typing import Any, Final

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import AwareDatetime, Field, ValidationError

from flexreg.accounts.api_auth import PUBLIC, requires
from flexreg.assets.validators import consent
from flexreg.core import problems
from flexreg.core.acting import Acting
from flexreg.core.errors import DomainError

router = Router(tags=["consent"])

SIGNATURE_HEADER: Final = "X-Consent-Signature"
DEFAULT_TOLERANCE_SECONDS: Final = 300
MAX_BODY_BYTES: Final = 16 * 1024
SYSTEM_NAME: Final = "consent-service"


class BadSignature(Exception):
    pass


class RevocationIn(Schema):
    notice_id: str = Field(min_length=1, max_length=100)
    consent_reference: str = Field(min_length=1, max_length=consent.REFERENCE_MAX)
    revoked_at: AwareDatetime


class RevocationOut(Schema):
    notice_id: str
    consent_reference: str
    revoked_at: dt.datetime
    links_suspended: int
    links_already_suspended: int


def secrets() -> list[str]:
    raw = str(getattr(settings, "CONSENT_WEBHOOK_SECRET", "") or "")
    return [s.strip() for s in raw.split(",") if s.strip()]


def tolerance() -> int:
    value = getattr(settings, "CONSENT_WEBHOOK_TOLERANCE_SECONDS", DEFAULT_TOLERANCE_SECONDS)
    return int(value)


def parse_signature(header: str) -> tuple[int, list[str]]:
    """``t=<seconds>,v1=<hex>[,v1=<hex>...]`` -> (timestamp, signatures)."""
    stamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise BadSignature("The signature header is malformed.")
        if key == "t":
            try:
                stamp = int(value)
            except ValueError as exc:
                raise BadSignature("The signature's timestamp is not a number.") from exc
        elif key == "v1":
            signatures.append(value.strip().lower())
    if stamp is None or not signatures:
        raise BadSignature("The signature header needs t= and v1=.")
    return stamp, signatures


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify(
    header: str, body: bytes, keys: list[str], *, now: float | None = None, window: int = 300
) -> None:
    """Raise :class:`BadSignature` unless one ``v1`` is the HMAC of ``body`` under one of
    ``keys`` and the timestamp is within ``window`` seconds of ``now``."""
    stamp, given = parse_signature(header)
    now = time.time() if now is None else now
    if abs(now - stamp) > window:
        raise BadSignature("The signature's timestamp is too far from FlexReg's clock.")
    expected = [sign(key, stamp, body) for key in keys]
    if not any(hmac.compare_digest(e, g) for e in expected for g in given):
        raise BadSignature("The signature does not match.")


def _problem(request: HttpRequest, status: int, code: str, title: str, detail: str) -> Any:
    headers = {"WWW-Authenticate": 'HMAC realm="flexreg-consent"'} if status == 401 else None
    if status == 503:
        headers = {"Retry-After": "300"}
    return problems.problem_response(
        request, status=status, code=code, title=title, detail=detail, headers=headers
    )


_SIGNED = {
    "parameters": [
        {
            "in": "header",
            "name": SIGNATURE_HEADER,
            "required": True,
            "schema": {"type": "string"},
            "description": 't=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>',
        }
    ],
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": RevocationIn.model_json_schema()}},
    },
}


@router.post(
    "/revocations",
    auth=None,
    response={202: RevocationOut},
    summary="A consumer revoked consent (called by the consumer consent service, signed)",
    openapi_extra=_SIGNED,
)
@requires(PUBLIC)
def revocation(request: HttpRequest) -> Any:
    header = request.headers.get(SIGNATURE_HEADER, "")
    if not header:
        return _problem(
            request, 401, "consent.bad_signature", "Not authenticated", "Sign the notice."
        )
    keys = secrets()
    if not keys:
        return _problem(
            request,
            503,
            "consent.not_configured",
            "Service unavailable",
            "FlexReg cannot check notices yet: send it again later.",
        )
    if len(request.body) > MAX_BODY_BYTES:
        return _problem(request, 413, "consent.too_large", "Too large", "The notice is too big.")
    try:
        verify(header, request.body, keys, window=tolerance())
    except BadSignature as exc:
        return _problem(request, 401, "consent.bad_signature", "Not authenticated", str(exc))
    try:
        notice = RevocationIn.model_validate_json(request.body)
    except ValidationError as exc:
        errors = [dict(e) for e in exc.errors(include_url=False, include_context=False)]
        return problems.from_validation_errors(request, errors)
    acting = Acting.system(SYSTEM_NAME)
    try:
        done = consent.revoked(
            notice.consent_reference, notice.revoked_at, acting, notice_id=notice.notice_id
        )
    except DomainError as exc:
        return problems.from_domain_error(request, exc)
    return Status(
        202,
        RevocationOut(
            notice_id=notice.notice_id,
            consent_reference=done.consent_reference,
            revoked_at=done.revoked_at,
            links_suspended=len(done.suspended),
            links_already_suspended=len(done.already_suspended),
        ),
    )
