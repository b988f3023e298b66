"""Portal pages for the central operator's asset queue (``assets:review``): the assets waiting
for a decision (in query, or stuck in pending validation), oldest first, a page of 50, each
with its failing checks and possible duplicates; and the decision (verify or reject, with a
reason the registrant reads).

The decision form sits on the asset page (``assets/review_decide_form.html``, shown to those
with ``assets:review`` while the asset waits); it posts here, and a form error is shown on
this module's decision page. Views only translate: ``selectors_review`` and ``selectors`` read,
``services_review.decide`` writes.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from flexreg.accounts.portal_auth import portal_requires
from flexreg.assets import selectors, selectors_review, services_lifecycle, services_review, views
from flexreg.assets.catalogue_store import current_catalogue
from flexreg.assets.models import AssetStatus
from flexreg.core.acting import Acting
from flexreg.core.errors import DomainError, NotFound, ValidationFailed

REVIEW: Final = services_review.REVIEW
PAGE_SIZE: Final = 50
QUEUE_URL: Final = "/operator/assets/queue/"
DECIDABLE: Final = frozenset({AssetStatus.QUERY, AssetStatus.PENDING_VALIDATION})
KIND_TAGS: Final = {
    selectors_review.AUTHENTICITY: "govuk-tag--red",
    selectors_review.DUPLICATE: "govuk-tag--orange",
    selectors_review.STUCK: "govuk-tag--yellow",
}
DONE: Final = {"verify": "verified", "reject": "rejected"}
#: "It is ..." of each status.
STATUS_PHRASES: Final = {
    AssetStatus.DRAFT: "a draft",
    AssetStatus.PENDING_VALIDATION: "pending validation",
    AssetStatus.VERIFIED: "verified",
    AssetStatus.QUERY: "in query",
    AssetStatus.REJECTED: "rejected",
    AssetStatus.DECOMMISSIONED: "decommissioned",
}


def _acting(request: HttpRequest) -> Acting:
    return request.acting  # type: ignore[attr-defined]


def _row(item: selectors_review.QueueItem, categories: dict[str, str]) -> dict[str, Any]:
    a = item.asset
    return {
        "asset_id": a.asset_id,
        "name": a.name,
        "category": categories.get(a.category, a.category),
        "registered_by": a.registered_by.participant_id,
        "registered_at": a.created_at,
        "kinds": [{"label": selectors_review.KINDS[k], "tag": KIND_TAGS[k]} for k in item.kinds],
        "checks": [views.check_row(c) for c in item.checks],
        "candidates": [
            {"asset_id": f.candidate.asset_id, "rule": f.rule.replace("_", " ")}
            for f in item.candidates
        ],
    }


@portal_requires(REVIEW)
def queue_page(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "").strip()
    if kind not in selectors_review.KINDS:
        kind = ""
    cursor = request.GET.get("cursor", "").strip()[:200] or None
    try:
        page = selectors_review.review_queue(
            _acting(request), kind=kind or None, cursor=cursor, limit=PAGE_SIZE
        )
    except ValidationFailed:  # a cursor this page did not give out: the first page
        cursor = None
        page = selectors_review.review_queue(_acting(request), kind=kind or None, limit=PAGE_SIZE)
    categories = {c.code: c.label for c in current_catalogue().category_list}
    query = {"kind": kind} if kind else {}
    context = {
        "nav": "asset-queue",
        "rows": [_row(i, categories) for i in page.items],
        "kind": kind,
        "kinds": list(selectors_review.KINDS.items()),
        "stuck_hours": int(selectors_review.stuck_after().total_seconds() // 3600),
        "next_url": f"?{urlencode({**query, 'cursor': page.next_cursor})}"
        if page.next_cursor
        else "",
        "first_url": f"?{urlencode(query)}" if cursor else "",
    }
    return render(request, "assets/review_queue.html", context)


def _category_label(code: str) -> str:
    schema = current_catalogue().categories.get(code)
    return schema.label if schema is not None else code


def _phrase(status: str) -> str:
    return STATUS_PHRASES.get(status, status)  # type: ignore[call-overload]


@portal_requires(REVIEW)
def decide_page(request: HttpRequest, asset_id: str) -> HttpResponse:
    """GET: the decision form on its own; POST (from here or the asset page): decide."""
    asset = selectors.asset_for(_acting(request), asset_id)
    values = {"decision": "", "reason": ""}
    field_errors: dict[str, str] = {}
    status = 200
    if request.method != "POST":
        if asset.status not in DECIDABLE:
            raise NotFound(f"Asset {asset.asset_id} is not waiting for a decision.")
        if asset.asset_id != asset_id:
            return redirect("asset-decision", asset_id=asset.asset_id)
    elif asset.status not in DECIDABLE:
        # Decided already: by another operator, or by this one a moment ago (a second click).
        field_errors["decision"] = (
            f"Asset {asset.asset_id} is {_phrase(asset.status)}: "
            "it is no longer waiting for a decision"
        )
        status = 409
    else:
        values = {k: request.POST.get(k, "").strip() for k in values}
        if values["decision"] not in DONE:
            field_errors["decision"] = "Select verify or reject"
        reason, reason_errors = services_lifecycle.reason_errors(values["reason"])
        field_errors.update((e.field, e.message) for e in reason_errors)
        if not field_errors:
            try:
                services_review.decide(_acting(request), asset, values["decision"], reason)
            except DomainError as exc:
                if exc.status != 409:
                    raise
                # Decided meanwhile (by another operator, or the checks concluded).
                field_errors["decision"] = exc.detail
                status = 409
            else:
                messages.success(request, f"Asset {asset.asset_id} {DONE[values['decision']]}")
                return redirect(QUEUE_URL)
        status = status if status != 200 else 422
    decidable = asset.status in DECIDABLE
    hrefs = {"decision": "#decision" if decidable else "#outcome", "reason": "#reason"}
    errors = [{"href": hrefs[name], "text": text} for name, text in field_errors.items()]
    context = {
        "nav": "asset-queue",
        "asset": asset,
        "category": _category_label(asset.category),
        "reasons": [
            line.lstrip("- ").strip() for line in asset.status_reason.splitlines() if line.strip()
        ],
        "decidable": decidable,
        "status_phrase": _phrase(asset.status),
        "values": values,
        "errors": errors,
        "field_errors": field_errors,
    }
    return render(request, "assets/review_decide.html", context, status=status)
