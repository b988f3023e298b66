"""API: the central operator's queue of assets in query, and the manual decision.

Translate only: parse, call a selector or a service, return a schema.
"""

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema

from flexreg.accounts.api_auth import requires
from flexreg.assets import policies, selectors, services_review
from flexreg.assets.schemas import AssetFull
from flexreg.core.acting import acting_of

router = Router(tags=["central operator: assets"])


class DecisionIn(Schema):
    model_config = {"extra": "forbid", "str_strip_whitespace": True}
    decision: Literal["verify", "reject"]
    reason: str = Field(..., min_length=1, max_length=2000)


class QueueItem(Schema):
    asset_id: str
    name: str
    category: str
    status: str
    status_reason: str
    registered_by: str
    postcode: str


@router.get("/queries", response=list[QueueItem], summary="Assets waiting for a decision")
@requires(services_review.REVIEW)
def queries(request: HttpRequest) -> list[QueueItem]:
    rows = selectors.review_queue(acting_of(request))
    return [
        QueueItem(
            asset_id=a.asset_id,
            name=a.name,
            category=a.category,
            status=a.status,
            status_reason=a.status_reason,
            registered_by=a.registered_by.participant_id,
            postcode=a.postcode,
        )
        for a in rows
    ]


@router.post("/{asset_id}/decision", response=AssetFull, summary="Verify or reject an asset")
@requires(services_review.REVIEW)
def decide(request: HttpRequest, asset_id: str, body: DecisionIn) -> Any:
    acting = acting_of(request)
    services_review.decide(
        acting, selectors.asset_for(acting, asset_id), body.decision, body.reason
    )
    return policies.present(acting, selectors.asset_for(acting, asset_id))
