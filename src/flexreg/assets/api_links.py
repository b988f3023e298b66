"""API: an asset's parties — link another participant (legal owner, operator, controlling
provider) for a period, and end a link. Translate only: parse, call ``services_links``,
present the link in the view the caller gets of the asset (``policies.view_of``).
(No ``from __future__ import annotations``: Ninja reads the parameter annotations at import.)
"""

import datetime as dt
import uuid
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status

from flexreg.assets import policies, selectors, services_lifecycle, services_links
from flexreg.assets.api_lifecycle import requires_maintain
from flexreg.assets.models import AssetLink
from flexreg.core.acting import Acting, acting_of

router = Router(tags=["Assets"])

RelationshipCode = Literal["legal_owner", "operator", "controller"]


class LinkIn(Schema):
    model_config = {"extra": "forbid", "str_strip_whitespace": True}
    participant_id: str = Field(
        ..., min_length=1, max_length=40, description="The Participant ID to link (P-…)."
    )
    relationship: RelationshipCode
    valid_from: dt.date | None = Field(
        None, description="The first day of the link (today or later; default today)."
    )
    valid_to: dt.date | None = Field(
        None, description="The day it ends (not in force that day); none: open-ended."
    )
    contract_reference: str | None = Field(None, max_length=services_links.REFERENCE_MAX)
    consent_reference: str | None = Field(
        None,
        max_length=services_links.REFERENCE_MAX,
        description="The consumer's consent (required for a controller of a home's asset).",
    )


class LinkEndIn(Schema):
    model_config = {"extra": "forbid", "str_strip_whitespace": True}
    valid_to: dt.date | None = Field(
        None, description="The day the link ends (today or later; default today)."
    )
    reason: str = Field(..., min_length=1, max_length=services_lifecycle.REASON_MAX)


class AssetLinkOut(Schema):
    view: Literal["full", "public"] = Field(
        description="full: the references are shown (linked parties and oversight)."
    )
    asset_id: str
    link_id: uuid.UUID
    participant_id: str
    relationship: RelationshipCode
    valid_from: dt.date | None = Field(description="In force from 00:00 UK time on this day.")
    valid_to: dt.date | None = Field(description="Not in force from this day; null: open-ended.")
    contract_reference: str | None = Field(description="Null unless your view is full.")
    consent_reference: str | None = Field(description="Null unless your view is full.")
    suspended: bool


def _present(acting: Acting, asset_id: str, link: AssetLink) -> AssetLinkOut:
    asset = selectors.visible(acting).filter(pk=link.asset_id).first()
    full = asset is not None and policies.view_of(acting, asset) == "full"
    return AssetLinkOut(
        view="full" if full else "public",
        asset_id=asset_id,
        link_id=link.public_id,
        participant_id=link.participant.participant_id,
        relationship=link.relationship,  # type: ignore[arg-type]
        valid_from=services_links.first_day(link),
        valid_to=services_links.last_day(link),
        contract_reference=link.contract_reference if full else None,
        consent_reference=link.consent_reference if full else None,
        suspended=link.suspended_at is not None,
    )


@router.post(
    "/assets/{asset_id}/links",
    response={201: AssetLinkOut},
    summary="Link a participant to an asset (owner, operator or controlling provider) for a period",
)
@requires_maintain
def add_link(
    request: HttpRequest, asset_id: str, body: LinkIn, response: HttpResponse
) -> Status[AssetLinkOut]:
    acting = acting_of(request)
    link = services_links.add_link(
        acting,
        asset_id,
        services_links.NewLink(
            participant_id=body.participant_id,
            relationship=body.relationship,
            valid_from=body.valid_from,
            valid_to=body.valid_to,
            contract_reference=body.contract_reference,
            consent_reference=body.consent_reference,
        ),
    )
    asset_code = link.asset.asset_id
    response["Location"] = f"/api/v1/assets/{asset_code}"
    return Status(201, _present(acting, asset_code, link))


@router.post(
    "/assets/{asset_id}/links/{link_id}/end",
    response=AssetLinkOut,
    summary="End a link (a maintainer of the asset, or the linked participant itself)",
)
@requires_maintain
def end_link(request: HttpRequest, asset_id: str, link_id: str, body: LinkEndIn) -> Any:
    acting = acting_of(request)
    link = services_links.end_link(acting, asset_id, link_id, body.valid_to, body.reason)
    return _present(acting, link.asset.asset_id, link)
