"""Market entry follows the participants' events (``participants.signals``)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from flexreg.entry import services
from flexreg.participants import signals


@receiver(signals.role_requested, dispatch_uid="entry.role_requested")
def _role_requested(sender: Any, acting: Any, held: Any, **kwargs: Any) -> None:
    services.open_case(acting, held)


@receiver(signals.participant_status_changed, dispatch_uid="entry.participant_status")
def _participant_status(
    sender: Any, acting: Any, participant: Any, transition: str, reason: str, **kwargs: Any
) -> None:
    if transition in ("verify", "reinstate"):
        services.on_participant_verified(acting, participant.pk)
    elif transition == "withdraw":
        for held in participant.roles.all():
            services.on_role_ended(acting, held, reason)


@receiver(signals.role_status_changed, dispatch_uid="entry.role_status")
def _role_status(
    sender: Any, acting: Any, held: Any, transition: str, reason: str, **kwargs: Any
) -> None:
    if transition == "withdraw":
        services.on_role_ended(acting, held, reason)
    elif transition == "reject":
        services.on_role_rejected(acting, held, reason)
