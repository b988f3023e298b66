"""RFC 9457 problem details: the one error shape of the whole API.

``{"type", "title", "status", "detail", "instance", "request_id", "errors": [{"field", "code",
"message"}]}`` served as ``application/problem+json``. ``type`` is a stable URI per code.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from flexreg.core.errors import DomainError, FieldError

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/problem+json"
# Tags of discriminated unions used in request bodies; apps add theirs at import.
UNION_TAGS: set[str] = set()


def type_uri(code: str) -> str:
    return f"{settings.PUBLIC_URL}/api/v1/problems/{code}"


def problem_response(
    request: HttpRequest | None,
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: list[FieldError] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    body: dict[str, Any] = {
        "type": type_uri(code),
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "errors": [e.as_dict() for e in errors or []],
    }
    if request is not None:
        body["instance"] = request.path
        body["request_id"] = getattr(request, "request_id", "")
    for key, value in (extra or {}).items():
        body.setdefault(key, value)
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False, default=str), status=status, content_type=CONTENT_TYPE
    )
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def from_domain_error(request: HttpRequest | None, exc: DomainError) -> HttpResponse:
    return problem_response(
        request,
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
        extra=exc.extra,
    )


def _path(loc: tuple[Any, ...] | list[Any]) -> str:
    # Ninja prefixes locations with the parameter source and name ("body", "payload", ...).
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie", "form"}:
        parts = parts[1:]
        if parts and parts[0] in {"body", "payload", "data", "filters", "params"}:
            parts = parts[1:]
    # A discriminated union puts its tag in the path ("organisation.legal_name"): drop it.
    if parts and parts[0] in UNION_TAGS:
        parts = parts[1:]
    return ".".join(parts) or "(request)"


_PYDANTIC_CODES = {
    "missing": "required",
    "extra_forbidden": "unknown_field",
    "string_too_long": "too_long",
    "string_too_short": "too_short",
    "enum": "not_allowed",
    "literal_error": "not_allowed",
    "value_error": "invalid",
    "json_invalid": "invalid_json",
}


def from_validation_errors(request: HttpRequest, errors: list[dict[str, Any]]) -> HttpResponse:
    field_errors: list[FieldError] = []
    for err in errors:
        ctx = err.get("ctx") or {}
        code = ctx.get("code") if isinstance(ctx.get("code"), str) else None
        kind = str(err.get("type", "invalid"))
        message = str(err.get("msg", "Invalid value"))
        if code is None:
            code = _PYDANTIC_CODES.get(kind, kind)
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        field_errors.append(FieldError(_path(err.get("loc", ())), code, message))
    return problem_response(
        request,
        status=422,
        code="validation_failed",
        title="Invalid request",
        detail=f"{len(field_errors)} field(s) are not valid.",
        errors=field_errors,
    )
