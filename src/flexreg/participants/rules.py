"""Small named rules used by participant services, run inside their transactions."""

from __future__ import annotations

import hashlib
import re
import unicodedata

from django.db import connection

from flexreg.core.errors import Conflict, DomainError
from flexreg.core.roles import ROLES
from flexreg.participants.models import Participant, ParticipantRole, ParticipantStatus, RoleStatus


def lock_company_number(company_number: str) -> None:
    """Serialise registrations of one company number (the unique index is the backstop)."""
    key = int.from_bytes(
        hashlib.sha256(f"company:{company_number}".encode()).digest()[:8], "big", signed=True
    )
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def company_number_not_registered(company_number: str) -> None:
    existing = (
        Participant.objects.filter(company_number=company_number)
        .exclude(status=ParticipantStatus.WITHDRAWN)
        .values_list("participant_id", flat=True)
        .first()
    )
    if existing:
        raise Conflict(
            "participant.company_already_registered",
            f"Company {company_number} is already registered with FlexReg as {existing}. "
            "Ask that participant's Authorised Person for access instead of registering again.",
            participant_id=existing,
        )


def role_requestable(role: str, *, by_operator: bool) -> None:
    if not ROLES[role].self_requestable and not by_operator:
        raise DomainError(
            code="participant_role.not_requestable",
            detail=f"The {role} role is assigned by the central operator only.",
            status=422,
        )


def role_not_already_held(existing: ParticipantRole | None, role: str) -> None:
    if existing is not None and existing.status not in (RoleStatus.WITHDRAWN, RoleStatus.REJECTED):
        raise Conflict(
            "participant_role.already_held",
            f"The participant already holds or has asked for the {role} role ({existing.status}).",
            role=role,
            status=existing.status,
        )


def not_last_role(participant: Participant, role: str) -> None:
    others = participant.roles.exclude(role=role).exclude(
        status__in=[RoleStatus.WITHDRAWN, RoleStatus.REJECTED]
    )
    if not others.exists():
        raise DomainError(
            code="participant_role.last_role",
            detail="A participant keeps at least one role. To leave FlexReg, withdraw the "
            "participant instead.",
            status=409,
            title="Conflict with the current state",
        )


_COMPANY_SUFFIXES = {
    "limited": "ltd",
    "ltd": "ltd",
    "plc": "plc",
    "public limited company": "plc",
    "llp": "llp",
    "limited liability partnership": "llp",
    "cyf": "ltd",
    "cyfyngedig": "ltd",
}


def normalise_company_name(name: str) -> str:
    """Fold case, accents, punctuation, '&'/'and' and 'Limited'/'Ltd' to compare names."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    folded = folded.replace("&", " and ")
    folded = re.sub(r"[^a-z0-9 ]+", " ", folded)
    folded = re.sub(r"\s+", " ", folded).strip()
    for long, short in sorted(_COMPANY_SUFFIXES.items(), key=lambda kv: -len(kv[0])):
        folded = re.sub(rf"\b{long}\b", short, folded)
    return folded.removeprefix("the ")


def company_names_match(declared: str, registered: str) -> bool:
    return normalise_company_name(declared) == normalise_company_name(registered)
