"""The request id of the current request (or task), for the audit log and logs."""

from __future__ import annotations

import contextvars
import uuid

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "flexreg_request_id", default=None
)


def current_request_id() -> str:
    value = _request_id.get()
    if value is None:
        value = f"local-{uuid.uuid4()}"
        _request_id.set(value)
    return value


def set_request_id(value: str) -> contextvars.Token[str | None]:
    return _request_id.set(value)


def reset_request_id(token: contextvars.Token[str | None]) -> None:
    _request_id.reset(token)
