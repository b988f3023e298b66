"""Delegation use cases: a participant role lets a platform act for it, and takes it back.

Each write is one transaction, checks the permission and the rules, and is audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from flexreg.core import audit, permissions
from flexreg.core.acting import Acting
from flexreg.core.errors import NotFound
from flexreg.participants import rules_delegation as rules
from flexreg.participants.models import Delegation, Participant, ParticipantRole


def _snapshot(d: Delegation) -> dict[str, Any]:
    return {
        "client": f"{d.client_role.participant.participant_id}/{d.client_role.role}",
        "platform_participant_id": d.platform.participant_id,
        "permissions": sorted(d.permissions),
        "valid_from": d.valid_from,
        "valid_to": d.valid_to,
    }


@transaction.atomic
def grant(
    acting: Acting,
    *,
    platform_participant_id: str,
    permissions_wanted: list[str],
    valid_from: dt.datetime | None,
    valid_to: dt.datetime,
) -> Delegation:
    """Delegate chosen permissions of the acting role to a platform, for a period."""
    permissions.require(acting, "delegations:manage")
    client = (
        ParticipantRole.objects.select_for_update()
        .select_related("participant")
        .get(participant_id=acting.participant_pk or 0, role=acting.role or "")
    )
    rules.client_can_delegate(client)
    platform = rules.platform_eligible(
        Participant.objects.filter(participant_id=platform_participant_id.strip().upper()).first(),
        client,
    )
    codes = rules.permissions_delegable(
        permissions_wanted, role=client.role, held=acting.permissions
    )
    now = timezone.now()
    start, end = rules.period_valid(valid_from or now, valid_to, now)
    rules.no_overlap(client, platform, start, end)
    try:
        with transaction.atomic():
            delegation = Delegation.objects.create(
                client_role=client,
                platform=platform,
                permissions=codes,
                valid_from=start,
                valid_to=end,
                created_by_id=acting.user_id,
                created_at=now,
            )
    except IntegrityError as exc:  # the exclusion constraint: a concurrent grant won
        if "delegation_one_at_a_time" in str(exc):
            raise rules.overlap_conflict() from None
        raise
    audit.record(
        acting,
        "delegation.granted",
        object_type="delegation",
        object_id=str(delegation.public_id),
        subject_participant_id=client.participant.participant_id,
        after=_snapshot(delegation),
    )
    return delegation


@transaction.atomic
def revoke(acting: Acting, delegation: Delegation, reason: str) -> Delegation:
    """End a delegation at once (the granting role's side). Revoking twice changes nothing."""
    permissions.require(acting, "delegations:manage")
    delegation = (
        Delegation.objects.select_for_update()
        .select_related("client_role__participant", "platform")
        .get(pk=delegation.pk)
    )
    if not acting.acts_for(delegation.client_role.participant_id) or (
        acting.role != delegation.client_role.role
    ):
        raise NotFound("No such delegation that you may see.")
    if delegation.revoked_at is not None:
        return delegation
    delegation.revoked_at = timezone.now()
    delegation.revoked_by_id = acting.user_id
    delegation.revoked_reason = reason
    delegation.save(update_fields=["revoked_at", "revoked_by", "revoked_reason"])
    audit.record(
        acting,
        "delegation.revoked",
        object_type="delegation",
        object_id=str(delegation.public_id),
        subject_participant_id=delegation.client_role.participant.participant_id,
        before={"revoked_at": None},
        after={
            "revoked_at": delegation.revoked_at,
            "reason": reason,
            "platform_participant_id": delegation.platform.participant_id,
        },
        only_changed=False,
    )
    return delegation
