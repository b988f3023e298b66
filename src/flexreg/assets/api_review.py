"""API: the central operator's queue of assets waiting for a decision, and the decision.

Translate only: parse, call a selector or a service, return a schema.

The queue stays a JSON array (its shape since it was first published); a further page is
announced in the response headers: ``Next-Cursor`` (pass it back as ``cursor``) and a
``Link: <...>; rel="next"`` with the same filters. No header: the last page.
"""

import datetime as dt
from typing import Any, Literal
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema

from flexreg.accounts.api_auth import requires
from flexreg.assets import policies, selectors, selectors_review, services_review
from flexreg.assets.schemas import AssetFull
from flexreg.assets.services_lifecycle import REASON_MAX
from flexreg.core.acting import acting_of

router = Router(tags=["central operator: assets"])

QueueKind = Literal["authenticity", "duplicate", "stuck"]


class DecisionIn(Schema):
    model_config = {"extra": "forbid", "str_strip_whitespace": True}
    decision: Literal["verify", "reject"]
    reason: str = Field(..., min_length=1, max_length=REASON_MAX)


class QueueFilters(Schema):
    kind: QueueKind | None = Field(
        None,
        description="only assets with a check that did not pass (authenticity), an open "
        "duplicate flag (duplicate), or stuck in pending validation (stuck)",
    )
    cursor: str | None = Field(None, max_length=200, description="a Next-Cursor header's value")
    limit: int = Field(
        selectors_review.MAX_PAGE, ge=1, le=selectors_review.MAX_PAGE, description="page size"
    )


class QueueCheck(Schema):
    validator: str
    status: Literal["pending", "failed", "not_found", "error"]
    detail: str = Field(description="what the checking service answered")


class QueueCandidate(Schema):
    asset_id: str = Field(description="the registered asset this one may duplicate")
    rule: str = Field(description="what matched, e.g. near_location, similar_serial")
    flagged_at: dt.datetime


class QueueItem(Schema):
    asset_id: str
    name: str
    category: str
    status: str
    status_reason: str
    registered_by: str
    postcode: str
    registered_at: dt.datetime | None = None
    kinds: list[QueueKind] = Field(
        default_factory=list, description="why the asset waits for a decision"
    )
    checks: list[QueueCheck] = Field(
        default_factory=list, description="its checks that did not pass or have not concluded"
    )
    candidates: list[QueueCandidate] = Field(
        default_factory=list, description="its open possible-duplicate flags"
    )


def _item(item: selectors_review.QueueItem) -> QueueItem:
    a = item.asset
    return QueueItem(
        asset_id=a.asset_id,
        name=a.name,
        category=a.category,
        status=a.status,
        status_reason=a.status_reason,
        registered_by=a.registered_by.participant_id,
        postcode=a.postcode,
        registered_at=a.created_at,
        kinds=list(item.kinds),  # type: ignore[arg-type]
        checks=[
            QueueCheck(
                validator=c.validator,
                status=c.status,  # type: ignore[arg-type]
                detail=str(c.outcome.get("detail", "")),
            )
            for c in item.checks
        ],
        candidates=[
            QueueCandidate(asset_id=f.candidate.asset_id, rule=f.rule, flagged_at=f.created_at)
            for f in item.candidates
        ],
    )


@router.get(
    "/queries",
    response=list[QueueItem],
    summary="Assets waiting for a decision (oldest first; next page: Next-Cursor header)",
)
@requires(services_review.REVIEW)
def queries(
    request: HttpRequest, response: HttpResponse, filters: Query[QueueFilters]
) -> list[QueueItem]:
    page = selectors_review.review_queue(
        acting_of(request), kind=filters.kind, cursor=filters.cursor, limit=filters.limit
    )
    if page.next_cursor:
        query = {"kind": filters.kind or "", "limit": filters.limit, "cursor": page.next_cursor}
        next_url = f"{request.path}?{urlencode({k: v for k, v in query.items() if v})}"
        response["Next-Cursor"] = page.next_cursor
        response["Link"] = f'<{next_url}>; rel="next"'
    return [_item(i) for i in page.items]


@router.post("/{asset_id}/decision", response=AssetFull, summary="Verify or reject an asset")
@requires(services_review.REVIEW)
def decide(request: HttpRequest, asset_id: str, body: DecisionIn) -> Any:
    acting = acting_of(request)
    services_review.decide(
        acting, selectors.asset_for(acting, asset_id), body.decision, body.reason
    )
    return policies.present(acting, selectors.asset_for(acting, asset_id))
