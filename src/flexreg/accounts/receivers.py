"""accounts follows participants' events: an off-boarded participant's machines stop too."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from flexreg.core.acting import Acting
from flexreg.participants.signals_offboarding import participant_offboarded


@receiver(participant_offboarded, dispatch_uid="accounts.offboarded_service_accounts")
def _disable_service_accounts(sender: Any, acting: Acting, participant: Any, **kwargs: Any) -> None:
    from flexreg.accounts import services_service_accounts as machines
    from flexreg.accounts.models import ServiceAccount

    system = Acting.system("offboarding", frozenset({"service_accounts:manage"}))
    for account in ServiceAccount.objects.filter(
        participant_role__participant=participant, is_active=True
    ):
        machines.disable(system, account)
