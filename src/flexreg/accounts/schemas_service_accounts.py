"""API schemas for service accounts and the OAuth token endpoint."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import Field

from flexreg.accounts.models import ServiceAccount


class ServiceAccountIn(Schema):
    model_config = {"extra": "forbid"}

    name: Annotated[str, Field(min_length=1, max_length=100)]
    scopes: Annotated[
        list[Annotated[str, Field(max_length=60)]], Field(min_length=1, max_length=50)
    ]
    auth_method: Literal["client_secret", "private_key_jwt"] = "client_secret"
    public_jwk: dict[str, Any] | None = Field(
        None, description="For private_key_jwt: the client's public key as a JWK (RFC 7517)."
    )


class RotateIn(Schema):
    model_config = {"extra": "forbid"}

    public_jwk: dict[str, Any] | None = Field(
        None, description="For private_key_jwt accounts: the new public key."
    )


class ServiceAccountOut(Schema):
    client_id: str
    name: str
    acts_for: str = Field(description="<participant_id>/<role> the account acts for.")
    scopes: list[str]
    auth_method: str
    public_jwk: dict[str, Any] | None
    is_active: bool
    created_at: dt.datetime
    credentials_rotated_at: dt.datetime | None
    disabled_at: dt.datetime | None
    last_token_at: dt.datetime | None


class ServiceAccountCredentialsOut(ServiceAccountOut):
    client_secret: str | None = Field(
        description="Shown once (client_secret accounts). FlexReg keeps only a digest."
    )
    token_endpoint: str


class TokenResponse(Schema):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str


class OAuthErrorOut(Schema):
    error: Literal[
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "invalid_scope",
        "unsupported_grant_type",
    ]
    error_description: str


def account_out(a: ServiceAccount) -> ServiceAccountOut:
    held = a.participant_role
    return ServiceAccountOut(
        client_id=a.client_id,
        name=a.name,
        acts_for=f"{held.participant.participant_id}/{held.role}",
        scopes=sorted(a.scopes),
        auth_method=a.auth_method,
        public_jwk=a.public_jwk,
        is_active=a.is_active,
        created_at=a.created_at,
        credentials_rotated_at=a.credentials_rotated_at,
        disabled_at=a.disabled_at,
        last_token_at=a.last_token_at,
    )
