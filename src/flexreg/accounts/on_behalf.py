"""A platform acting for a client: ``X-FlexReg-On-Behalf-Of: <participant_id>/<role>``.

The request was authenticated as one of the platform's people (personal token) or machines
(service account). With the header it acts as the client role, holding
``delegated ∩ what the platform caller holds`` (capped by the client's current state), while a
delegation is valid. The Acting keeps the platform in ``platform_*`` so the audit log records both.
Refusals are 400 ``on_behalf_of.invalid`` (malformed header) and 403 ``delegation.none`` (no
valid delegation from that client role to the caller's platform, whatever the reason: the
platform lists what it received at ``GET /delegations/received``, so naming the reason would
only tell it about strangers).
"""

from __future__ import annotations

import re
from dataclasses import replace

from flexreg.core.acting import Acting
from flexreg.core.errors import DomainError
from flexreg.participants import selectors_delegation

HEADER = "X-FlexReg-On-Behalf-Of"
_LABEL = re.compile(r"^([A-Z0-9-]{1,20})/([A-Z_]{1,30})$")


class DelegationRefused(DomainError):
    def __init__(self, detail: str) -> None:
        super().__init__(code="delegation.none", detail=detail, status=403, title="Forbidden")


def act_on_behalf(acting: Acting, header: str) -> Acting:
    match = _LABEL.match(header.strip().upper())
    if match is None:
        raise DomainError(
            code="on_behalf_of.invalid",
            detail=f"{HEADER} must be <participant_id>/<role>, e.g. P-3M9QX2HDK7P/FSP.",
            status=400,
            title="Bad request",
        )
    client_id, role = match.groups()
    if acting.participant_pk is None or acting.role != "PLATFORM" or acting.is_delegated:
        raise DelegationRefused(
            "Only a platform's people and service accounts, acting for its PLATFORM role, may "
            "act on behalf of a client."
        )
    delegation = selectors_delegation.usable_delegation(
        platform_pk=acting.participant_pk, client_participant_id=client_id, role=role
    )
    if delegation is None:
        raise DelegationRefused(f"No valid delegation from {client_id}/{role} to your platform.")
    held = delegation.client_role
    return replace(
        acting,
        membership_id=None,
        participant_pk=held.participant_id,
        participant_id=held.participant.participant_id,
        role=held.role,
        permissions=selectors_delegation.permissions_of(delegation) & acting.permissions,
        platform_participant_id=acting.participant_id,
        platform_role=acting.role,
        delegation_id=str(delegation.public_id),
    )
