"""Portal pages of the asset lifecycle besides registering: continue a draft (save it again or
submit it), discard it, and decommission an asset. Views only translate: the services decide
(``services_lifecycle``, ``services.submit_draft``), a ``ValidationFailed`` becomes a GOV.UK
error summary."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from flexreg.assets import lifecycle, role_rules, selectors, services, services_lifecycle, views
from flexreg.assets.catalogue_store import current_catalogue
from flexreg.assets.forms import AssetForm, form_data
from flexreg.assets.models import AssetStatus
from flexreg.assets.views import portal_read
from flexreg.core.acting import Acting
from flexreg.core.errors import DomainError, FieldError, NotFound, ValidationFailed


def _acting(request: HttpRequest) -> Acting:
    return request.acting  # type: ignore[attr-defined]


def save_new_draft(request: HttpRequest, form: AssetForm) -> HttpResponse | None:
    """The register form's "Save as a draft" button (``views.register_category``)."""
    try:
        draft = services_lifecycle.save_draft(_acting(request), form.record())
    except ValidationFailed as exc:
        form.add_errors(exc.errors)
        return None
    messages.success(
        request, f"Draft saved: {draft.asset_id}. Nothing is checked until you submit it"
    )
    return redirect("asset", asset_id=draft.asset_id)


@portal_read
def draft_edit(request: HttpRequest, asset_id: str) -> HttpResponse:
    acting = _acting(request)
    asset = selectors.asset_for(acting, asset_id)
    if asset.status != AssetStatus.DRAFT or asset.registered_by_id != acting.participant_pk:
        raise NotFound(f"No draft {asset_id[:40]} of yours.")
    catalogue = current_catalogue()
    if asset.category not in catalogue.categories:
        raise NotFound(f"No asset category {asset.category!r} in use.")
    rules = role_rules.rules_for(acting.role)
    data = request.POST if request.method == "POST" else form_data(asset.draft_record, rules.fields)
    form = AssetForm(catalogue, asset.category, data, role_fields=rules.fields)
    status = 200
    if request.method == "POST":
        status = 422
        try:
            services_lifecycle.update_draft(acting, asset.asset_id, form.record())
            if request.POST.get("action") == "draft":
                messages.success(request, f"Draft saved: {asset.asset_id}")
                return redirect("asset", asset_id=asset.asset_id)
            submitted = services.submit_draft(acting, asset.asset_id)
        except ValidationFailed as exc:
            form.add_errors(exc.errors)
        except DomainError as exc:
            if exc.code != "asset.duplicate":
                raise
            form.add_errors(exc.errors)
            form.add_summary(exc.detail)
            status = 409
        else:
            messages.success(
                request, f"Asset registered: {submitted.asset_id}, validation in progress"
            )
            return redirect("asset", asset_id=submitted.asset_id)
    schema = catalogue.categories[asset.category]
    context = {
        "nav": "assets",
        "schema": schema,
        "form": form,
        "errors": form.summary,
        "duplicate": None,
        "draft_id": asset.asset_id,
    }
    return render(request, "assets/register_form.html", context, status=status)


@require_POST
@portal_read
def draft_discard(request: HttpRequest, asset_id: str) -> HttpResponse:
    draft = services_lifecycle.discard_draft(_acting(request), asset_id)
    messages.success(request, f"Draft {draft.asset_id} discarded")
    return redirect("assets")


@portal_read
def decommission(request: HttpRequest, asset_id: str) -> HttpResponse:
    acting = _acting(request)
    asset = selectors.asset_for(acting, asset_id)
    if asset.status not in lifecycle.IN_SERVICE or not selectors.may_maintain(acting, asset):
        raise NotFound(f"No asset {asset_id[:40]} that you may decommission.")
    errors: list[FieldError] = []
    values: dict[str, Any] = {p: request.POST.get(f"on-{p}", "") for p in ("day", "month", "year")}
    reason = request.POST.get("reason", "")
    if request.method == "POST":
        on = views.posted_date(request, "on", errors, "Enter the date it went out of service")
        if on is None:
            errors += services_lifecycle.reason_errors(reason)[1]
        else:
            try:
                services_lifecycle.decommission(acting, asset.asset_id, on, reason)
            except ValidationFailed as exc:
                errors = list(exc.errors)
            else:
                messages.success(request, f"Asset {asset.asset_id} decommissioned")
                return redirect("asset", asset_id=asset.asset_id)
    by_field: dict[str, str] = {}
    for e in errors:
        by_field.setdefault(e.field, e.message)
    return render(
        request,
        "assets/decommission.html",
        {
            "nav": "assets",
            "asset": asset,
            "values": values,
            "reason": reason,
            "errors": [
                {"href": "#on-day" if e.field == "on" else "#reason", "text": e.message}
                for e in errors
            ],
            "field_errors": by_field,
        },
        status=422 if errors else 200,
    )
