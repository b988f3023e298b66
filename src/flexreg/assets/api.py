"""API: Assets — register one asset, read and list the caller's assets, look an asset up
before registering it. Translate only: parse, call a selector or a service, return a schema.
(No ``from __future__ import annotations``: Ninja reads the parameter annotations at import.)
"""

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Status

from flexreg.accounts.api_auth import requires
from flexreg.assets import policies, ratelimits, selectors, services
from flexreg.assets.schemas import (
    AssetDraft,
    AssetFilters,
    AssetFull,
    AssetPage,
    AssetPublic,
    AssetRegistrationIn,
    LookupIn,
    LookupOut,
    match_out,
)
from flexreg.core import permissions
from flexreg.core.acting import acting_of

router = Router(tags=["Assets"])

F = TypeVar("F", bound=Callable[..., Any])


def requires_read(view: F) -> F:
    """Declares ``assets:read`` (the caller's own assets); oversight's ``assets:read_all`` also
    lets a caller in. Object scope: ``selectors.visible``."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        acting = acting_of(request)
        if not (acting.is_authenticated and acting.has(selectors.READ_ALL)):
            permissions.require(acting, selectors.READ)
        return view(request, *args, **kwargs)

    wrapper.required_permission = selectors.READ  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


@router.post(
    "",
    response={201: AssetFull},
    summary="Register an asset (conformance first: every error at once; 409 if registered)",
)
@requires(services.REGISTER)
def register(
    request: HttpRequest, body: AssetRegistrationIn, response: HttpResponse
) -> Status[AssetFull]:
    acting = acting_of(request)
    asset = services.register(acting, body.root)
    response["Location"] = f"/api/v1/assets/{asset.asset_id}"
    return Status(201, policies.present(acting, selectors.as_registered(acting, asset)))  # type: ignore[arg-type]


@router.get("", response=AssetPage, summary="List your assets (filtered, cursor-paginated)")
@requires_read
def list_assets(request: HttpRequest, filters: Query[AssetFilters]) -> AssetPage:
    acting = acting_of(request)
    rows, next_cursor = selectors.page(
        acting,
        status=filters.status,
        category=filters.category,
        postcode=filters.postcode,
        mpan=filters.mpan,
        q=filters.q,
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return AssetPage(items=policies.present_many(acting, rows), next_cursor=next_cursor)


@router.post(
    "/lookup",
    response=LookupOut,
    summary="Is this asset registered already? (by MPAN, serial, external ID or EIC)",
    description=(
        "Limited per participant (ASSET_LOOKUP_RATE, default 120 a minute): past it, "
        "429 rate_limited with Retry-After."
    ),
)
@requires_read
def lookup(request: HttpRequest, body: LookupIn) -> LookupOut:
    ratelimits.check_lookup(acting_of(request))  # 429 past ASSET_LOOKUP_RATE (no probing)
    matches = selectors.lookup(acting_of(request), body.keys())
    return LookupOut(registered=bool(matches), matches=[match_out(m) for m in matches])


@router.get(
    "/{asset_id}",
    response=AssetFull | AssetDraft | AssetPublic,
    summary="An asset you may see (a draft: only the participant that saved it)",
)
@requires_read
def get_asset(request: HttpRequest, asset_id: str) -> Any:
    acting = acting_of(request)
    return policies.present(acting, selectors.asset_for(acting, asset_id))
