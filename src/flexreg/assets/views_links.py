"""Portal pages of an asset's parties: the list of links with what the caller may do, "Add a
party" (a form) and "End this link" (a confirmation with the date and a reason). Views only
translate: ``services_links`` decides; its errors become a GOV.UK error summary."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from flexreg.assets import policies, selectors, services_lifecycle, services_links, views
from flexreg.assets.models import Asset, AssetLink
from flexreg.assets.views import portal_read
from flexreg.core.acting import Acting
from flexreg.core.errors import DomainError, FieldError, NotFound, ValidationFailed

DATE_PARTS = ("day", "month", "year")
#: Where each field's error takes the reader (the first input of a date).
ANCHORS = {
    "participant_id": "#participant_id",
    "relationship": "#relationship",
    "valid_from": "#valid_from-day",
    "valid_to": "#valid_to-day",
    "contract_reference": "#contract_reference",
    "consent_reference": "#consent_reference",
    "reason": "#reason",
}


def _acting(request: HttpRequest) -> Acting:
    return request.acting  # type: ignore[attr-defined]


def _full_asset(acting: Acting, asset_id: str) -> Asset:
    asset = selectors.asset_for(acting, asset_id)
    if policies.view_of(acting, asset) != "full":
        raise NotFound(f"No asset {asset_id[:40]} whose parties you may see.")
    return asset


def _date_values(request: HttpRequest, name: str, default: dt.date | None) -> dict[str, str]:
    if request.method == "POST":
        return {p: request.POST.get(f"{name}-{p}", "") for p in DATE_PARTS}
    if default is None:
        return dict.fromkeys(DATE_PARTS, "")
    return {"day": str(default.day), "month": str(default.month), "year": str(default.year)}


def _summary(errors: list[FieldError]) -> tuple[list[dict[str, str]], dict[str, str]]:
    by_field: dict[str, str] = {}
    for e in errors:
        by_field.setdefault(e.field, e.message)
    summary = [{"href": ANCHORS.get(e.field, "#main-content"), "text": e.message} for e in errors]
    return summary, by_field


def _row(acting: Acting, asset: Asset, link: AssetLink, maintainer: bool) -> dict[str, Any]:
    ends = services_links.last_day(link)
    now = timezone.now()
    lower, upper = link.valid_during.lower, link.valid_during.upper
    if upper is not None and upper <= now:
        state = "Ended"
    elif lower is not None and lower > now:
        state = "Starts later"
    elif link.suspended_at is not None:
        state = "Suspended"
    else:
        state = "In force"
    return {
        "link_id": str(link.public_id),
        "participant_id": link.participant.participant_id,
        "relationship": services_links.RELATIONSHIPS.get(link.relationship, link.relationship),
        "contract_reference": link.contract_reference,
        "consent_reference": link.consent_reference,
        "valid_from": services_links.first_day(link),
        "valid_to": ends,
        "state": state,
        "may_end": services_links.may_end(acting, asset, link, maintainer=maintainer),
    }


@portal_read
def parties(request: HttpRequest, asset_id: str) -> HttpResponse:
    acting = _acting(request)
    asset = _full_asset(acting, asset_id)
    maintainer = selectors.may_maintain(acting, asset)
    rows = [_row(acting, asset, link, maintainer) for link in asset.links.all()]
    return render(
        request,
        "assets/link_parties.html",
        {
            "nav": "assets",
            "asset": asset,
            "rows": rows,
            "may_add": services_links.may_add(acting, asset),
        },
    )


@portal_read
def add(request: HttpRequest, asset_id: str) -> HttpResponse:
    acting = _acting(request)
    asset = _full_asset(acting, asset_id)
    if not services_links.may_add(acting, asset):
        raise NotFound(f"No asset {asset_id[:40]} you may link a party to.")
    errors: list[FieldError] = []
    status = 200
    fields = {
        k: request.POST.get(k, "")
        for k in ("participant_id", "relationship", "contract_reference", "consent_reference")
    }
    if request.method == "POST":
        status = 422
        valid_from = views.posted_date(
            request, "valid_from", errors, "Enter the date the link starts", required=True
        )
        valid_to = views.posted_date(
            request, "valid_to", errors, "Enter a real end date, or leave it blank", required=False
        )
        new = services_links.NewLink(
            participant_id=fields["participant_id"],
            relationship=fields["relationship"],
            valid_from=valid_from,
            valid_to=valid_to,
            contract_reference=fields["contract_reference"],
            consent_reference=fields["consent_reference"],
        )
        try:
            if errors:  # a date could not be read: the other fields' errors too, all at once
                unread = {e.field for e in errors}
                more = services_links.field_errors(asset, new)
                raise ValidationFailed(errors + [e for e in more if e.field not in unread])
            link = services_links.add_link(acting, asset.asset_id, new)
        except DomainError as exc:
            if exc.status not in (409, 422):
                raise
            errors = list(exc.errors) or [FieldError("participant_id", exc.code, exc.detail)]
            if exc.status == 409:  # one conflict, told in full where it belongs
                status = 409
                errors = [FieldError(errors[0].field, exc.code, exc.detail)]
        else:
            label = services_links.RELATIONSHIPS[link.relationship].lower()
            messages.success(
                request, f"{link.participant.participant_id} linked as {label} to {asset.asset_id}"
            )
            return redirect("asset-parties", asset_id=asset.asset_id)
    summary, by_field = _summary(errors)
    return render(
        request,
        "assets/link_add.html",
        {
            "nav": "assets",
            "asset": asset,
            "fields": fields,
            "relationships": list(services_links.RELATIONSHIPS.items()),
            "valid_from": _date_values(request, "valid_from", timezone.localdate()),
            "valid_to": _date_values(request, "valid_to", None),
            "errors": summary,
            "field_errors": by_field,
        },
        status=status if errors else 200,
    )


@portal_read
def end(request: HttpRequest, asset_id: str, link_id: str) -> HttpResponse:
    acting = _acting(request)
    asset = _full_asset(acting, asset_id)
    wanted = link_id.strip().lower()
    found = next((k for k in asset.links.all() if str(k.public_id) == wanted), None)
    if found is None or not services_links.may_end(acting, asset, found):
        raise NotFound(f"No link {link_id[:40]} of asset {asset.asset_id} you may end.")
    errors: list[FieldError] = []
    status = 200
    reason = request.POST.get("reason", "")
    if request.method == "POST":
        status = 422
        on = views.posted_date(
            request, "valid_to", errors, "Enter the date the link ends", required=True
        )
        if on is None:
            errors += services_lifecycle.reason_errors(reason)[1]
        else:
            try:
                services_links.end_link(acting, asset.asset_id, found.public_id, on, reason)
            except DomainError as exc:
                if exc.status not in (409, 422):
                    raise
                errors = list(exc.errors) or [FieldError("valid_to", exc.code, exc.detail)]
                if exc.status == 409:  # one conflict, told in full
                    status = 409
                    errors = [FieldError("valid_to", exc.code, exc.detail)]
            else:
                messages.success(
                    request,
                    f"The link of {found.participant.participant_id} ends on {on:%-d %B %Y}",
                )
                if selectors.visible(acting).filter(pk=asset.pk).exists():
                    return redirect("asset-parties", asset_id=asset.asset_id)
                return redirect("assets")
    summary, by_field = _summary(errors)
    maintainer = selectors.may_maintain(acting, asset)
    return render(
        request,
        "assets/link_end.html",
        {
            "nav": "assets",
            "asset": asset,
            "link": _row(acting, asset, found, maintainer),
            "valid_to": _date_values(request, "valid_to", timezone.localdate()),
            "reason": reason,
            "errors": summary,
            "field_errors": by_field,
        },
        status=status if errors else 200,
    )
