"""Reads of delegations to platforms, scoped to the acting role (granted) or platform
(received). What the caller may not see answers 404."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db.models import Q, QuerySet
from django.utils import timezone

from flexreg.core import permissions as catalogue
from flexreg.core.acting import Acting
from flexreg.core.errors import NotFound
from flexreg.participants.models import (
    Delegation,
    Membership,
    ParticipantRole,
    ParticipantStatus,
    RoleStatus,
)
from flexreg.participants.policies import effective_permissions
from flexreg.participants.rules_delegation import PLATFORM_ROLE

MAX_LIST = 200


def _base() -> QuerySet[Delegation]:
    return Delegation.objects.select_related("client_role__participant", "platform")


def _current(qs: QuerySet[Delegation], include_ended: bool) -> QuerySet[Delegation]:
    if include_ended:
        return qs
    return qs.filter(revoked_at__isnull=True, valid_to__gt=timezone.now())


def _granted_q(acting: Acting) -> Q:
    if acting.participant_pk is None or acting.role is None:
        return Q(pk__in=[])
    return Q(client_role__participant_id=acting.participant_pk, client_role__role=acting.role)


def _received_q(acting: Acting) -> Q:
    if acting.participant_pk is None or acting.role != PLATFORM_ROLE or acting.is_delegated:
        return Q(pk__in=[])
    return Q(platform_id=acting.participant_pk)


def granted(acting: Acting, *, include_ended: bool = False) -> list[Delegation]:
    """Delegations the acting role granted, newest first."""
    if not acting.has("delegations:read"):
        return []
    qs = _current(_base().filter(_granted_q(acting)), include_ended)
    return list(qs.order_by("-created_at", "-pk")[:MAX_LIST])


def received(acting: Acting, *, include_ended: bool = False) -> list[Delegation]:
    """Delegations the acting platform received, newest first."""
    if not acting.has("delegations:read"):
        return []
    qs = _current(_base().filter(_received_q(acting)), include_ended)
    return list(qs.order_by("-created_at", "-pk")[:MAX_LIST])


def _by_public_id(qs: QuerySet[Delegation], delegation_id: str) -> Delegation:
    try:
        key = uuid.UUID(delegation_id)
    except ValueError:
        raise NotFound("No such delegation that you may see.") from None
    found = qs.filter(public_id=key).first()
    if found is None:
        raise NotFound("No such delegation that you may see.")
    return found


def delegation_for(acting: Acting, delegation_id: str) -> Delegation:
    """One delegation, seen from either side."""
    if not acting.has("delegations:read"):
        raise NotFound("No such delegation that you may see.")
    return _by_public_id(_base().filter(_granted_q(acting) | _received_q(acting)), delegation_id)


def granted_delegation(acting: Acting, delegation_id: str) -> Delegation:
    """One delegation the acting role granted (the side that may revoke it)."""
    return _by_public_id(_base().filter(_granted_q(acting)), delegation_id)


def permissions_of(delegation: Delegation) -> frozenset[str]:
    """What a delegation lets a platform do now: the delegated permissions, capped like a
    membership of the client role by the client's current state (suspended: read-only, ...)
    and by what may still be delegated."""
    held = delegation.client_role
    as_membership = Membership(participant_role=held, permissions=list(delegation.permissions))
    return effective_permissions(as_membership) & catalogue.delegable_for_role(held.role)


def usable_delegation(
    *, platform_pk: int, client_participant_id: str, role: str, at: dt.datetime | None = None
) -> Delegation | None:
    """The delegation valid now from ``client/role`` to an active platform, if any."""
    at = at or timezone.now()
    return (
        _base()
        .filter(
            platform_id=platform_pk,
            platform__status=ParticipantStatus.ACTIVE,
            platform__roles__role=PLATFORM_ROLE,
            platform__roles__status=RoleStatus.ACTIVE,
            client_role__participant__participant_id=client_participant_id,
            client_role__role=role,
            revoked_at__isnull=True,
            valid_from__lte=at,
            valid_to__gt=at,
        )
        .exclude(client_role__status__in=[RoleStatus.WITHDRAWN, RoleStatus.REJECTED])
        .first()
    )


def acting_role(acting: Acting) -> ParticipantRole:
    held = (
        ParticipantRole.objects.select_related("participant")
        .filter(participant_id=acting.participant_pk or 0, role=acting.role or "")
        .first()
    )
    if held is None:
        raise NotFound("You are not acting for a participant role.")
    return held
