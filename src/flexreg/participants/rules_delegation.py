"""Small named rules for delegations to platforms, each with a stable error code."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings

from flexreg.core import permissions as catalogue
from flexreg.core.errors import Conflict, DomainError, FieldError
from flexreg.participants.models import (
    Delegation,
    Participant,
    ParticipantRole,
    ParticipantStatus,
    RoleStatus,
)

PLATFORM_ROLE = "PLATFORM"


def _invalid(code: str, detail: str, errors: list[FieldError] | None = None) -> DomainError:
    return DomainError(code=code, detail=detail, status=422, errors=errors or [])


def platform_eligible(platform: Participant | None, client: ParticipantRole) -> Participant:
    """Only to an active participant holding an active PLATFORM role, never to oneself."""
    if platform is not None and platform.pk == client.participant_id:
        raise _invalid("delegation.to_self", "A participant cannot delegate to itself.")
    eligible = (
        platform is not None
        and platform.status == ParticipantStatus.ACTIVE
        and platform.roles.filter(role=PLATFORM_ROLE, status=RoleStatus.ACTIVE).exists()
    )
    if not eligible or platform is None:
        raise _invalid(
            "delegation.not_a_platform",
            "Delegate only to an active participant that holds an active PLATFORM role.",
        )
    return platform


def client_can_delegate(client: ParticipantRole) -> None:
    if client.status != RoleStatus.ACTIVE or client.participant.status != ParticipantStatus.ACTIVE:
        raise Conflict(
            "delegation.client_not_active",
            "Only an active participant's active role can delegate to a platform.",
        )


def permissions_delegable(
    wanted: list[str], *, role: str, held: frozenset[str], prefix: str = "delegation"
) -> list[str]:
    """Delegated ⊆ what the role may hold, ⊆ what the grantor holds, and never access
    management (``delegable=False`` in the catalogue). The first failing rule is reported,
    with a field error for each permission it refuses."""
    codes = sorted(set(wanted))
    for_role = catalogue.allowed_for_role(role)
    checks = [
        ("unknown_permission", "is not in the catalogue", set(catalogue.CATALOGUE)),
        ("not_for_role", f"is not one the {role} role may hold", set(for_role)),
        ("not_delegable", "manages access and stays with people", None),
        ("not_held", "is not one you hold yourself", set(held)),
    ]
    for name, why, allowed in checks:
        code = f"{prefix}.{name}"
        if allowed is None:
            bad = [c for c in codes if not catalogue.CATALOGUE[c].delegable]
        else:
            bad = [c for c in codes if c not in allowed]
        if bad:
            raise _invalid(
                code,
                f"These permissions cannot be given: {', '.join(bad)}.",
                [FieldError(f"permissions.{wanted.index(c)}", code, f"'{c}' {why}.") for c in bad],
            )
    return codes


def period_valid(
    valid_from: dt.datetime, valid_to: dt.datetime, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """Starts now or later (never back-dated), ends after it starts, bounded in length."""
    start = max(valid_from, now)
    if valid_to <= start:
        raise _invalid(
            "delegation.invalid_period",
            "valid_to must be later than valid_from and than now.",
            [FieldError("valid_to", "delegation.invalid_period", "Must end after it starts.")],
        )
    max_days = int(getattr(settings, "DELEGATION_MAX_DAYS", 730))
    if valid_to - start > dt.timedelta(days=max_days):
        raise _invalid(
            "delegation.too_long",
            f"A delegation lasts at most {max_days} days; grant a new one to renew.",
            [FieldError("valid_to", "delegation.too_long", f"At most {max_days} days.")],
        )
    return start, valid_to


def no_overlap(
    client: ParticipantRole, platform: Participant, start: dt.datetime, end: Any
) -> None:
    clash = (
        Delegation.objects.filter(
            client_role=client,
            platform=platform,
            revoked_at__isnull=True,
            valid_from__lt=end,
            valid_to__gt=start,
        )
        .values_list("public_id", flat=True)
        .first()
    )
    if clash is not None:
        raise overlap_conflict(str(clash))


def overlap_conflict(existing: str = "") -> Conflict:
    return Conflict(
        "delegation.overlaps",
        "This role already has a delegation to this platform for part of that period: revoke "
        "it first, or start the new one when it ends.",
        **({"delegation_id": existing} if existing else {}),
    )
