"""Off-boarding a participant: withdrawn, its people's access ended, its records kept.

``offboard`` withdraws the participant through the one lifecycle service
(``services.transition(..., "withdraw", ...)``: every membership ends, with its API tokens and
the users' portal sessions; market-entry cases are withdrawn by their receiver; open change
requests are cancelled), then deactivates the users who no longer act for anyone. Nothing is
deleted: the withdrawn record keeps its Participant ID for ever (IDs are random and never
reissued, so a later registration gets a new one) and stays readable by the central operator.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from flexreg.core import audit
from flexreg.core.acting import Acting
from flexreg.core.errors import NotFound
from flexreg.participants import services, services_access
from flexreg.participants.models import Membership, Participant
from flexreg.participants.signals_offboarding import participant_offboarded


@dataclass(frozen=True)
class Offboarded:
    participant: Participant
    memberships_ended: int
    users_deactivated: int
    tokens_revoked: int


@transaction.atomic
def offboard(acting: Acting, participant: Participant, reason: str) -> Offboarded:
    """Withdraw ``participant`` and deactivate its users who act for no one else.

    The central operator (``participants:transition``) or the participant's own Authorised
    Person (``participant:withdraw``) may do it; ``services.transition`` checks which applies.
    """
    if not (acting.acts_for(participant.pk) or acting.has("participants:transition")):
        raise NotFound()
    active = Membership.objects.filter(participant_role__participant=participant, is_active=True)
    members = set(active.values_list("user_id", flat=True))
    membership_tokens = active.aggregate(
        n=Count("api_tokens", filter=Q(api_tokens__revoked_at__isnull=True))
    )["n"]
    memberships_ended = active.count()
    participant = services.transition(acting, participant, "withdraw", reason)

    # People who act for no one any more (the central operator's staff keep their operator
    # membership, so they are never caught here) lose their account too.
    still_acting = set(
        Membership.objects.filter(user_id__in=members, is_active=True).values_list(
            "user_id", flat=True
        )
    )
    now = timezone.now()
    deactivated: list[int] = []
    personal_tokens = 0
    users = (
        get_user_model()
        .objects.select_for_update()
        .filter(pk__in=members - still_acting, is_active=True)
        .order_by("pk")
    )
    for user in users:
        user.is_active = False
        user.save(update_fields=["is_active"])
        revoked = user.api_tokens.filter(revoked_at__isnull=True).update(revoked_at=now)
        personal_tokens += revoked
        deactivated.append(user.pk)
        audit.record(
            acting,
            "user.deactivated",
            object_type="user",
            object_id=str(user.pk),
            subject_participant_id=participant.participant_id,
            before={"is_active": True},
            after={
                "is_active": False,
                "reason": f"Participant {participant.participant_id} off-boarded: {reason}",
                "tokens_revoked": revoked,
            },
            only_changed=False,
        )
    services_access.end_sessions(set(deactivated))
    result = Offboarded(
        participant=participant,
        memberships_ended=memberships_ended,
        users_deactivated=len(deactivated),
        tokens_revoked=membership_tokens + personal_tokens,
    )
    audit.record(
        acting,
        "participant.offboarded",
        object_type="participant",
        object_id=participant.participant_id,
        subject_participant_id=participant.participant_id,
        after={
            "status": participant.status,
            "reason": reason,
            "memberships_ended": result.memberships_ended,
            "users_deactivated": result.users_deactivated,
            "tokens_revoked": result.tokens_revoked,
        },
        only_changed=False,
    )
    participant_offboarded.send(
        sender=Participant,
        acting=acting,
        participant=participant,
        deactivated_user_ids=deactivated,
        reason=reason,
    )
    return result
