from __future__ import annotations

import datetime as dt
from typing import Annotated

from ninja import Schema
from pydantic import Field


class MembershipOut(Schema):
    membership: str = Field(description="<participant_id>/<role>: how to name it in requests.")
    participant_id: str
    participant_name: str
    role: str
    is_authorised_person: bool
    permissions: list[str]
    effective_permissions: list[str]


class MeOut(Schema):
    email: str
    full_name: str
    memberships: list[MembershipOut]
    acting_as: str | None


class TokenIn(Schema):
    model_config = {"extra": "forbid"}

    name: Annotated[str, Field(min_length=1, max_length=100)]
    membership: str | None = Field(
        None, description="<participant_id>/<role> the token acts for; none: registration only."
    )
    expires_in_days: Annotated[int, Field(ge=1, le=365)] = 90


class TokenOut(Schema):
    key_id: str
    name: str
    membership: str | None
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class NewTokenOut(TokenOut):
    token: str = Field(description="Shown once. Store it now: FlexReg keeps only a digest.")
