"""Delegations to platforms (``/api/v1/delegations``): translate HTTP, nothing else."""

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from flexreg.accounts.api_auth import requires
from flexreg.core.acting import acting_of
from flexreg.participants import selectors_delegation as selectors
from flexreg.participants import services_delegation as services
from flexreg.participants.schemas_delegation import (
    DelegationIn,
    DelegationOut,
    RevokeIn,
    delegation_out,
)

router = Router(tags=["delegations"])


class ListFilters(Schema):
    include_ended: bool = False


@router.post(
    "", response={201: DelegationOut}, summary="Delegate permissions of your role to a platform"
)
@requires("delegations:manage")
def grant(request: HttpRequest, body: DelegationIn) -> Status[DelegationOut]:
    delegation = services.grant(
        acting_of(request),
        platform_participant_id=body.platform_participant_id,
        permissions_wanted=body.permissions,
        valid_from=body.valid_from,
        valid_to=body.valid_to,
    )
    return Status(201, delegation_out(delegation))


@router.get("/granted", response=list[DelegationOut], summary="Delegations your role granted")
@requires("delegations:read")
def list_granted(request: HttpRequest, filters: Query[ListFilters]) -> list[DelegationOut]:
    rows = selectors.granted(acting_of(request), include_ended=filters.include_ended)
    return [delegation_out(d) for d in rows]


@router.get("/received", response=list[DelegationOut], summary="Delegations your platform received")
@requires("delegations:read")
def list_received(request: HttpRequest, filters: Query[ListFilters]) -> list[DelegationOut]:
    rows = selectors.received(acting_of(request), include_ended=filters.include_ended)
    return [delegation_out(d) for d in rows]


@router.get("/{delegation_id}", response=DelegationOut, summary="One delegation (either side)")
@requires("delegations:read")
def get_delegation(request: HttpRequest, delegation_id: str) -> DelegationOut:
    return delegation_out(selectors.delegation_for(acting_of(request), delegation_id))


@router.post("/{delegation_id}/revoke", response=DelegationOut, summary="Revoke at once")
@requires("delegations:manage")
def revoke(request: HttpRequest, delegation_id: str, body: RevokeIn) -> DelegationOut:
    acting = acting_of(request)
    delegation = selectors.granted_delegation(acting, delegation_id)
    return delegation_out(services.revoke(acting, delegation, body.reason))
