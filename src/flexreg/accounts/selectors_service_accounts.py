"""Reads of service accounts, scoped to the acting participant role (404 otherwise)."""

from __future__ import annotations

from flexreg.accounts.models import ServiceAccount
from flexreg.core.acting import Acting
from flexreg.core.errors import NotFound

MAX_LIST = 200


def of_acting_role(acting: Acting) -> list[ServiceAccount]:
    if not acting.has("service_accounts:manage") or acting.participant_pk is None:
        return []
    return list(
        ServiceAccount.objects.select_related("participant_role__participant")
        .filter(
            participant_role__participant_id=acting.participant_pk,
            participant_role__role=acting.role,
        )
        .order_by("-created_at", "-pk")[:MAX_LIST]
    )


def account_for(acting: Acting, client_id: str) -> ServiceAccount:
    found = None
    if acting.has("service_accounts:manage") and acting.participant_pk is not None:
        found = (
            ServiceAccount.objects.select_related("participant_role__participant")
            .filter(
                client_id=client_id,
                participant_role__participant_id=acting.participant_pk,
                participant_role__role=acting.role,
            )
            .first()
        )
    if found is None:
        raise NotFound("No such service account that you may see.")
    return found
