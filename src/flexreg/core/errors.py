"""Domain errors with stable codes, turned into RFC 9457 problem details at the edge.

Services raise these; ``core.problems`` renders them. A code is part of the API contract:
never rename one, add new ones instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldError:
    field: str  # a JSON-pointer-like dotted path, e.g. "contacts.0.phone"
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


@dataclass
class DomainError(Exception):
    code: str
    detail: str
    status: int = 422
    title: str = "The request cannot be processed"
    errors: list[FieldError] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


class ValidationFailed(DomainError):
    def __init__(
        self, errors: list[FieldError], detail: str = "Some fields are not valid."
    ) -> None:
        super().__init__(
            code="validation_failed",
            detail=detail,
            status=422,
            title="Invalid request",
            errors=errors,
        )


class Conflict(DomainError):
    def __init__(self, code: str, detail: str, **extra: Any) -> None:
        super().__init__(
            code=code,
            detail=detail,
            status=409,
            title="Conflict with the current state",
            extra=extra,
        )


class NotFound(DomainError):
    def __init__(self, detail: str = "Not found.") -> None:
        super().__init__(code="not_found", detail=detail, status=404, title="Not found")


class PermissionDenied(DomainError):
    def __init__(self, permission: str) -> None:
        super().__init__(
            code="permission_denied",
            detail=f"Your acting role does not hold the permission '{permission}'.",
            status=403,
            title="Forbidden",
            extra={"permission": permission},
        )


class NotAuthenticated(DomainError):
    def __init__(self, detail: str = "Sign in or send a valid bearer token.") -> None:
        super().__init__(
            code="not_authenticated", detail=detail, status=401, title="Not authenticated"
        )


class IllegalTransition(DomainError):
    def __init__(self, machine: str, transition: str, state: str) -> None:
        super().__init__(
            code=f"{machine}.illegal_transition",
            detail=f"Cannot {transition.replace('_', ' ')} a {machine} that is {state}.",
            status=409,
            title="Not allowed in the current state",
            extra={"transition": transition, "state": state},
        )


class PreconditionFailed(DomainError):
    def __init__(self, detail: str) -> None:
        super().__init__(
            code="precondition_failed", detail=detail, status=412, title="Precondition failed"
        )
