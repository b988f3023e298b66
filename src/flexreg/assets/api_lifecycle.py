"""API: the asset lifecycle besides registering — drafts (save, replace, read through
``GET /assets/{asset_id}``, submit, discard) and decommissioning (the operator also
recommissions). Translate only: parse, call a service, present.
(No ``from __future__ import annotations``: Ninja reads the parameter annotations at import.)
"""

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status

from flexreg.accounts.api_auth import requires
from flexreg.assets import policies, selectors, services, services_lifecycle
from flexreg.assets.schemas import AssetDraft, AssetFull, AssetPublic, AssetRegistrationIn
from flexreg.core import permissions
from flexreg.core.acting import acting_of
from flexreg.core.errors import PermissionDenied

router = Router(tags=["Assets"])

F = TypeVar("F", bound=Callable[..., Any])


def requires_maintain(view: F) -> F:
    """Declares ``assets:register`` (a party linked to the asset); the central operator's
    ``assets:review`` also lets a caller in. Which asset: ``services_lifecycle``."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        acting = acting_of(request)
        if not acting.is_authenticated:
            permissions.require(acting, services_lifecycle.REGISTER)
        if not (acting.has(services_lifecycle.REGISTER) or acting.has(services_lifecycle.REVIEW)):
            raise PermissionDenied(services_lifecycle.REGISTER)
        return view(request, *args, **kwargs)

    wrapper.required_permission = services_lifecycle.REGISTER  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


class DecommissionIn(Schema):
    model_config = {"extra": "forbid", "str_strip_whitespace": True}
    on: dt.date = Field(description="The day it went out of service (today or earlier).")
    reason: str = Field(..., min_length=1, max_length=services_lifecycle.REASON_MAX)


class RecommissionIn(Schema):
    model_config = {"extra": "forbid", "str_strip_whitespace": True}
    reason: str = Field(..., min_length=1, max_length=services_lifecycle.REASON_MAX)


@router.post(
    "/asset-drafts",
    response={201: AssetDraft},
    summary="Save a registration to finish later (a draft with a permanent Asset ID)",
)
@requires(services_lifecycle.REGISTER)
def save_draft(
    request: HttpRequest, body: AssetRegistrationIn, response: HttpResponse
) -> Status[AssetDraft]:
    acting = acting_of(request)
    draft = services_lifecycle.save_draft(acting, body.root)
    response["Location"] = f"/api/v1/assets/{draft.asset_id}"
    return Status(201, policies.present(acting, selectors.as_registered(acting, draft)))  # type: ignore[arg-type]


@router.put(
    "/asset-drafts/{asset_id}",
    response=AssetDraft,
    summary="Replace a draft's record (the whole record, as entered)",
)
@requires(services_lifecycle.REGISTER)
def update_draft(request: HttpRequest, asset_id: str, body: AssetRegistrationIn) -> Any:
    acting = acting_of(request)
    draft = services_lifecycle.update_draft(acting, asset_id, body.root)
    return policies.present(acting, selectors.as_registered(acting, draft))


@router.post(
    "/asset-drafts/{asset_id}/submit",
    response=AssetFull,
    summary="Submit a draft: checked like a registration (every error at once; 409 if registered)",
)
@requires(services_lifecycle.REGISTER)
def submit_draft(request: HttpRequest, asset_id: str) -> Any:
    acting = acting_of(request)
    asset = services.submit_draft(acting, asset_id)
    return policies.present(acting, selectors.as_registered(acting, asset))


@router.post(
    "/asset-drafts/{asset_id}/discard",
    response=AssetDraft,
    summary="Discard a draft (it ends rejected; its Asset ID is never reused)",
)
@requires(services_lifecycle.REGISTER)
def discard_draft(request: HttpRequest, asset_id: str) -> Any:
    acting = acting_of(request)
    draft = services_lifecycle.discard_draft(acting, asset_id)
    return policies.present(acting, selectors.as_registered(acting, draft))


@router.post(
    "/assets/{asset_id}/decommission",
    response=AssetFull | AssetPublic,
    summary="Decommission an asset (a party linked to it, or the central operator)",
)
@requires_maintain
def decommission(request: HttpRequest, asset_id: str, body: DecommissionIn) -> Any:
    acting = acting_of(request)
    asset = services_lifecycle.decommission(acting, asset_id, body.on, body.reason)
    return policies.present(acting, selectors.asset_for(acting, asset.asset_id))


@router.post(
    "/operator/assets/{asset_id}/recommission",
    response=AssetFull,
    summary="Put back in service an asset decommissioned by mistake (its checks run again)",
)
@requires(services_lifecycle.REVIEW)
def recommission(request: HttpRequest, asset_id: str, body: RecommissionIn) -> Any:
    acting = acting_of(request)
    asset = services_lifecycle.recommission(acting, asset_id, body.reason)
    return policies.present(acting, selectors.asset_for(acting, asset.asset_id))
