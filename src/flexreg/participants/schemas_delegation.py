"""API schemas for delegations to platforms. Internal keys never appear: a delegation is
named by a UUID, the client by ``<participant_id>/<role>``, the platform by its Participant ID."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from ninja import Schema
from pydantic import AwareDatetime, Field

from flexreg.participants.models import Delegation

Code = Annotated[str, Field(min_length=3, max_length=60)]


class DelegationIn(Schema):
    model_config = {"extra": "forbid"}

    platform_participant_id: Annotated[str, Field(min_length=1, max_length=20)]
    permissions: Annotated[list[Code], Field(min_length=1, max_length=50)]
    valid_from: AwareDatetime | None = Field(
        None, description="When it starts, with a UTC offset (default now; never in the past)."
    )
    valid_to: AwareDatetime = Field(description="When it ends (exclusive), with a UTC offset.")


class RevokeIn(Schema):
    model_config = {"extra": "forbid"}

    reason: Annotated[str, Field(max_length=500)] = ""


class DelegationOut(Schema):
    delegation_id: uuid.UUID
    client: str = Field(description="<participant_id>/<role> that delegated.")
    client_participant_id: str
    client_role: str
    client_name: str
    platform_participant_id: str
    platform_name: str
    permissions: list[str]
    valid_from: dt.datetime
    valid_to: dt.datetime
    status: Literal["scheduled", "active", "expired", "revoked"]
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    revoked_reason: str
    on_behalf_of_header: str = Field(
        description="What the platform sends as X-FlexReg-On-Behalf-Of to act for the client."
    )


def delegation_out(d: Delegation) -> DelegationOut:
    client = d.client_role.participant
    label = f"{client.participant_id}/{d.client_role.role}"
    return DelegationOut(
        delegation_id=d.public_id,
        client=label,
        client_participant_id=client.participant_id,
        client_role=d.client_role.role,
        client_name=client.legal_name if client.kind == "organisation" else "Private individual",
        platform_participant_id=d.platform.participant_id,
        platform_name=d.platform.legal_name,
        permissions=sorted(d.permissions),
        valid_from=d.valid_from,
        valid_to=d.valid_to,
        status=d.status,  # type: ignore[arg-type]
        created_at=d.created_at,
        revoked_at=d.revoked_at,
        revoked_reason=d.revoked_reason,
        on_behalf_of_header=label,
    )
