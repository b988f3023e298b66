"""Portal pages for assets: my assets, registering one (a form adapted to its category), the
asset page (status, checks, duplicate flags, links, history) and bulk upload with progress.

Views only translate: ``selectors``/``selectors_portal``/``selectors_imports`` read,
``services.register`` and ``services_imports.start`` write; a ``ValidationFailed`` or a
duplicate becomes a GOV.UK error summary. Pages act for the session's acting membership.
Registering needs ``assets:register`` (an operational permission: the role must be qualified);
a caller without it is told why and where to go next rather than shown a bare 403.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from flexreg.accounts.portal_auth import portal_requires
from flexreg.assets import lifecycle, policies, role_rules, selectors, selectors_portal
from flexreg.assets.catalogue import Catalogue
from flexreg.assets.catalogue_store import current_catalogue
from flexreg.assets.forms import AssetForm
from flexreg.assets.models import AssetCheck, AssetImport, AssetStatus
from flexreg.core import permissions
from flexreg.core.acting import Acting
from flexreg.core.errors import DomainError, FieldError, NotFound, ValidationFailed
from flexreg.core.roles import ROLES

if TYPE_CHECKING:
    from flexreg.assets import schemas

READ: Final = "assets:read"
PAGE_SIZE: Final = 25
REFRESH_SECONDS: Final = 3

STATUS_TAGS: Final = {
    AssetStatus.DRAFT: "govuk-tag--grey",
    AssetStatus.PENDING_VALIDATION: "govuk-tag--blue",
    AssetStatus.VERIFIED: "govuk-tag--green",
    AssetStatus.QUERY: "govuk-tag--orange",
    AssetStatus.REJECTED: "govuk-tag--red",
    AssetStatus.DECOMMISSIONED: "govuk-tag--grey",
}
STATUS_LABELS: Final = {
    AssetStatus.DRAFT: "Draft",
    AssetStatus.PENDING_VALIDATION: "Pending validation",
    AssetStatus.VERIFIED: "Verified",
    AssetStatus.QUERY: "Query",
    AssetStatus.REJECTED: "Rejected",
    AssetStatus.DECOMMISSIONED: "Decommissioned",
}
STATUS_EXPLAINED: Final = {
    AssetStatus.DRAFT: "This registration has not been sent yet.",
    AssetStatus.PENDING_VALIDATION: "We are checking the asset with outside services (meter "
    "point registry, DNO connection data, manufacturer registry, installer certification). "
    "We will tell you the outcome.",
    AssetStatus.VERIFIED: "The asset is verified: its checks passed, or the central operator "
    "accepted it.",
    AssetStatus.QUERY: "The central operator is looking at this asset before it can be verified.",
    AssetStatus.REJECTED: "The central operator did not accept this registration.",
    AssetStatus.DECOMMISSIONED: "This asset is no longer in service.",
}
CHECK_TAGS: Final = {
    AssetCheck.Status.PENDING: "govuk-tag--blue",
    AssetCheck.Status.PASSED: "govuk-tag--green",
    AssetCheck.Status.FAILED: "govuk-tag--red",
    AssetCheck.Status.NOT_FOUND: "govuk-tag--red",
    AssetCheck.Status.ERROR: "govuk-tag--yellow",
    AssetCheck.Status.SKIPPED: "govuk-tag--grey",
}


def posted_date(
    request: HttpRequest,
    name: str,
    errors: list[FieldError],
    message: str,
    *,
    required: bool = True,
) -> dt.date | None:
    """The date posted by a GOV.UK date input ``name`` (``<name>-day``, ``-month``, ``-year``):
    None with ``message`` added to ``errors`` when it is not a date, or None when it is left
    blank and not ``required``."""
    parts = [request.POST.get(f"{name}-{p}", "").strip() for p in ("year", "month", "day")]
    if not any(parts) and not required:
        return None
    try:
        return dt.date(*(int(p) for p in parts))
    except (ValueError, OverflowError):
        errors.append(FieldError(name, "date.invalid", message))
        return None


def check_row(c: AssetCheck | schemas.CheckOut) -> dict[str, Any]:
    """One authenticity check as the portal shows it: the service, its outcome (label and
    tag), when it concluded and what it found."""
    status = AssetCheck.Status(c.status).label if c.status in AssetCheck.Status.values else c.status
    return {
        "validator": str(c.outcome.get("service") or c.validator).capitalize(),
        "status": str(status),
        "tag": CHECK_TAGS.get(c.status, "govuk-tag--grey"),  # type: ignore[call-overload]
        "when": c.finished_at,
        "summary": str(c.outcome.get("detail", "")),
    }


IMPORT_TAGS: Final = {
    AssetImport.Status.QUEUED: "govuk-tag--grey",
    AssetImport.Status.RUNNING: "govuk-tag--blue",
    AssetImport.Status.DONE: "govuk-tag--green",
    AssetImport.Status.FAILED: "govuk-tag--red",
}
RELATIONSHIPS: Final = {
    "legal_owner": "Legal owner",
    "operator": "Operator",
    "controller": "Controlling FSP or aggregator",
}


def _acting(request: HttpRequest) -> Acting:
    return request.acting  # type: ignore[attr-defined]


_View = TypeVar("_View", bound=Callable[..., Any])


def portal_read(view: _View) -> _View:
    """The asset pages' gate, declared as ``assets:read``: ``selectors.may_read`` decides, so
    oversight's ``assets:read_all`` lets a caller in too (as the API's ``requires_read``).
    Object scope is the selectors'; a caller who may not read assets gets the audited 403."""

    @functools.wraps(view)
    def gate(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        acting = _acting(request)
        if not selectors.may_read(acting):
            permissions.require(acting, READ)
        return view(request, *args, **kwargs)

    guarded = portal_requires(permissions.REGISTER)(gate)  # signed in; DomainError -> page
    guarded.required_permission = READ  # type: ignore[attr-defined]
    return guarded  # type: ignore[return-value]


def _status(status: str) -> dict[str, str]:
    return {
        "code": status,
        "label": STATUS_LABELS.get(status, status),  # type: ignore[call-overload]
        "tag": STATUS_TAGS.get(status, "govuk-tag--grey"),  # type: ignore[call-overload]
        "explained": STATUS_EXPLAINED.get(status, ""),  # type: ignore[call-overload]
    }


def _category_label(code: str, catalogue: Catalogue | None = None) -> str:
    schema = (catalogue or current_catalogue()).categories.get(code)
    return schema.label if schema is not None else code


def _cannot_register(request: HttpRequest) -> HttpResponse | None:
    """The explanation page when the acting membership may not register assets now."""
    block = selectors_portal.register_block(_acting(request))
    if block is None:
        return None
    role = ROLES.get(block.role or "")
    context = {
        "refusal": block,
        "role_name": role.name if role is not None else block.role,
        "entry_url": f"/participants/{block.participant_id}/entry/{block.role}/",
        "users_url": f"/participants/{block.participant_id}/users/",
    }
    return render(request, "assets/cannot_register.html", context, status=403)


# --- my assets ----------------------------------------------------------------------------------


@portal_read
def asset_list(request: HttpRequest) -> HttpResponse:
    acting = _acting(request)
    catalogue = current_catalogue()
    status = request.GET.get("status", "").strip()
    category = request.GET.get("category", "").strip().upper()
    q = request.GET.get("q", "").strip()[:100]
    cursor = request.GET.get("cursor", "").strip()[:200] or None
    if status not in AssetStatus.values:
        status = ""
    if category not in catalogue.categories:
        category = ""
    rows, next_cursor = selectors.page(
        acting,
        status=status or None,
        category=category or None,
        q=q or None,
        cursor=cursor,
        limit=PAGE_SIZE,
    )
    query = {k: v for k, v in (("status", status), ("category", category), ("q", q)) if v}
    context = {
        "nav": "assets",
        "assets": [
            {
                "asset_id": a.asset_id,
                "name": a.name,
                "category": _category_label(a.category, catalogue),
                "postcode": a.postcode,
                "status": _status(a.status),
            }
            for a in rows
        ],
        "status": status,
        "category": category,
        "q": q,
        "statuses": [(s, STATUS_LABELS[s]) for s in AssetStatus],
        "categories": [(c.code, c.label) for c in catalogue.category_list],
        "filtered": bool(query),
        "next_url": f"?{urlencode({**query, 'cursor': next_cursor})}" if next_cursor else "",
        "first_url": f"?{urlencode(query)}" if cursor else "",
        "may_register": _acting(request).has("assets:register"),
    }
    return render(request, "assets/list.html", context)


# --- register -----------------------------------------------------------------------------------


@portal_read
def register_start(request: HttpRequest) -> HttpResponse:
    blocked = _cannot_register(request)
    if blocked is not None:
        return blocked
    catalogue = current_catalogue()
    # Only the categories the acting role may register (its asset rules).
    rules = role_rules.rules_for(_acting(request).role)
    choices = [c for c in catalogue.category_list.active if rules.allows(c.code)]
    errors: list[dict[str, str]] = []
    chosen = ""
    if request.method == "POST":
        chosen = request.POST.get("category", "")
        if chosen in {c.code for c in choices}:
            return redirect("asset-register-category", category=chosen)
        errors = [{"href": "#category", "text": "Select the kind of asset you are registering"}]
    return render(
        request,
        "assets/register_start.html",
        {"nav": "assets", "choices": choices, "errors": errors, "chosen": chosen},
        status=400 if errors else 200,
    )


@portal_read
def register_category(request: HttpRequest, category: str) -> HttpResponse:
    blocked = _cannot_register(request)
    if blocked is not None:
        return blocked
    catalogue = current_catalogue()
    schema = catalogue.categories.get(category.upper())
    if schema is None or schema.retired:
        raise NotFound(f"No asset category {category[:40]!r} in use.")
    if schema.code != category:
        return redirect("asset-register-category", category=schema.code)
    rules = role_rules.rules_for(_acting(request).role)
    if not rules.allows(schema.code):
        raise NotFound(f"Your role may not register {schema.label.lower()} assets.")
    form = AssetForm(
        catalogue,
        schema.code,
        request.POST if request.method == "POST" else None,
        role_fields=rules.fields,
    )
    duplicate: dict[str, Any] | None = None
    status = 200
    if request.method == "POST" and request.POST.get("action") == "draft":
        from flexreg.assets import views_lifecycle

        saved = views_lifecycle.save_new_draft(request, form)
        if saved is not None:
            return saved
        status = 422
    elif request.method == "POST":
        from flexreg.assets import services

        try:
            asset = services.register(_acting(request), form.record())
        except ValidationFailed as exc:
            form.add_errors(exc.errors)
            status = 422
        except DomainError as exc:
            if exc.code != "asset.duplicate":
                raise
            form.add_errors(exc.errors)
            form.add_summary(exc.detail.replace(str(exc.extra.get("next_steps", "")), "").strip())
            duplicate = {
                "next_steps": exc.extra.get("next_steps", ""),
                "asset_ids": sorted(
                    {d["asset_id"] for d in exc.extra.get("duplicates", []) if d.get("asset_id")}
                ),
            }
            status = 409
        else:
            messages.success(request, f"Asset registered: {asset.asset_id}, validation in progress")
            return redirect("asset", asset_id=asset.asset_id)
    return render(
        request,
        "assets/register_form.html",
        {
            "nav": "assets",
            "schema": schema,
            "form": form,
            "errors": form.summary,
            "duplicate": duplicate,
        },
        status=status,
    )


# --- the asset page -----------------------------------------------------------------------------


def _rows(pairs: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    return [(k, str(v)) for k, v in pairs if v not in (None, "", [])]


def _yes_no(value: bool) -> str:
    return "Yes" if value else "No"


def _sections(out: Any) -> list[tuple[str, list[tuple[str, str]]]]:
    """The full view's fields as summary-list sections (blank ones left out)."""
    catalogue = current_catalogue()

    def choice(list_name: str, code: str) -> str:
        found = catalogue.lists[list_name].lookup(code) if code else None
        return found.label if found is not None else code

    cap, site, net, met = out.capacity, out.site, out.network, out.metering
    return [
        (
            "About the asset",
            _rows(
                [
                    ("Name", out.name),
                    ("Category", _category_label(out.category, catalogue)),
                    ("Description", out.description),
                    ("Manufacturer", out.manufacturer),
                    ("Model", out.model),
                    ("Serial number", out.serial_number),
                    ("EIC", out.eic),
                    (
                        "Other identifiers",
                        "; ".join(f"{e.scheme}: {e.value}" for e in out.external_ids),
                    ),
                    ("Energy source", choice("energy_sources", out.energy_source)),
                    (
                        "Direction of flexibility",
                        choice("flexibility_directions", out.flexibility_direction),
                    ),
                    (
                        "Vehicle-to-grid (V2G)",
                        _yes_no(out.v2g) if out.category == "EV_CHARGER" else "",
                    ),
                ]
            ),
        ),
        (
            "Capacity",
            _rows(
                [
                    ("Installed capacity", f"{cap.installed_kw} kW"),
                    ("Export capacity", f"{cap.export_kw} kW" if cap.export_kw is not None else ""),
                    ("Import capacity", f"{cap.import_kw} kW" if cap.import_kw is not None else ""),
                    (
                        "Storage energy",
                        f"{cap.storage_kwh} kWh" if cap.storage_kwh is not None else "",
                    ),
                ]
            ),
        ),
        (
            "Metering",
            _rows([("Import MPAN", met.import_mpan), ("Export MPAN", met.export_mpan)]),
        ),
        (
            "Site",
            _rows(
                [
                    (
                        "Address",
                        ", ".join(
                            p for p in (site.address_line1, site.address_line2, site.town) if p
                        ),
                    ),
                    ("Postcode", site.postcode),
                    (
                        "Coordinates",
                        f"{site.latitude}, {site.longitude}" if site.latitude is not None else "",
                    ),
                    ("A home", _yes_no(site.domestic)),
                    ("Consumer's consent reference", site.consumer_consent_reference),
                ]
            ),
        ),
        (
            "Network connection",
            _rows(
                [
                    ("Distributor ID", net.distributor_id),
                    ("DNO licence area", net.dno_licence_area),
                    ("GSP group", net.gsp_group),
                    ("Voltage level", choice("voltage_levels", net.voltage_level)),
                    ("Connection status", choice("connection_statuses", net.connection_status)),
                    ("Connection type", choice("connection_types", net.connection_type)),
                    ("DNO connection reference", net.connection_reference),
                ]
            ),
        ),
        ("What the registrant's role told us", _role_rows(out)),
        (
            "Dates",
            _rows(
                [
                    ("Commissioning date", out.commissioning_date),
                    ("Registration takes effect from", out.effective_from),
                    ("Registered", out.registered_at),
                ]
            ),
        ),
    ]


def _role_rows(out: Any) -> list[tuple[str, str]]:
    """The registrant role's details, labelled as its asset rules label them now."""
    labels = {
        str(f["name"]): str(f["label"]) for f in role_rules.rules_for(out.registered_by.role).fields
    }
    return _rows(
        [
            (labels.get(name, name.replace("_", " ").capitalize()), _yes_no(value))
            if isinstance(value, bool)
            else (labels.get(name, name.replace("_", " ").capitalize()), value)
            for name, value in out.role_details.items()
        ]
    )


@portal_read
def asset_detail(request: HttpRequest, asset_id: str) -> HttpResponse:
    from flexreg.assets import schemas

    acting = _acting(request)
    asset = selectors.asset_for(acting, asset_id)
    out = policies.present(acting, asset)
    context: dict[str, Any] = {
        "nav": "assets",
        "asset_id": asset.asset_id,
        "category": _category_label(asset.category),
        "status": _status(asset.status)
        if asset.effective_from is not None or asset.status == AssetStatus.DRAFT
        else {**_status(asset.status), "explained": "This draft was discarded before it was sent."},
        "full": isinstance(out, schemas.AssetFull),
        "draft": asset.status == AssetStatus.DRAFT and isinstance(out, schemas.AssetDraft),
        "may_decommission": asset.status in lifecycle.IN_SERVICE
        and selectors.may_maintain(acting, asset),
    }
    if isinstance(out, schemas.AssetFull):
        context.update(
            {
                "name": out.name,
                "reasons": [
                    line.lstrip("- ").strip()
                    for line in out.status_reason.splitlines()
                    if line.strip()
                ],
                "sections": [(t, rows) for t, rows in _sections(out) if rows],
                "checks": [check_row(c) for c in out.checks],
                "flags": [
                    {
                        "rule": f.rule.replace("_", " "),
                        "candidate": f.candidate_asset_id,
                        "flagged_at": f.flagged_at,
                        "resolved_at": f.resolved_at,
                    }
                    for f in out.duplicate_flags
                ],
                "links": [
                    {
                        "participant_id": link.participant_id,
                        "relationship": RELATIONSHIPS.get(link.relationship, link.relationship),
                        "contract_reference": link.contract_reference,
                        "valid_from": link.valid_from,
                        "valid_to": link.valid_to,
                        "suspended": link.suspended_at is not None,
                    }
                    for link in out.links
                ],
                "history": selectors_portal.history(asset),
            }
        )
    return render(request, "assets/asset.html", context)


# --- bulk upload --------------------------------------------------------------------------------


@portal_read
def import_new(request: HttpRequest) -> HttpResponse:
    blocked = _cannot_register(request)
    if blocked is not None:
        return blocked
    errors: list[dict[str, str]] = []
    if request.method == "POST":
        from flexreg.assets import http_imports, services_imports

        try:
            batch, created = services_imports.start(
                _acting(request), http_imports.uploaded_file(request)
            )
        except DomainError as exc:
            if exc.status != 422:
                raise
            errors = [{"href": "#file", "text": e.message} for e in exc.errors] or [
                {"href": "#file", "text": exc.detail}
            ]
        else:
            if created:
                messages.success(request, f"File uploaded: {batch.total_rows:,} assets to register")
            else:
                messages.success(
                    request,
                    "You uploaded this file before: this is that upload (nothing was "
                    "registered twice)",
                )
            return redirect("asset-import", import_id=str(batch.public_id))
    catalogue = current_catalogue()
    rules = role_rules.rules_for(_acting(request).role or "")
    return render(
        request,
        "assets/import_new.html",
        {
            "nav": "assets",
            "errors": errors,
            "templates": [
                (c.code, c.label, reverse("asset-import-template", args=[c.code.lower()]))
                for c in catalogue.category_list.active
                if rules.allows(c.code)
            ],
        },
        status=422 if errors else 200,
    )


@portal_read
def import_template(request: HttpRequest, category: str) -> StreamingHttpResponse:
    """The CSV template of a category for the acting role: the API's, downloaded with the
    portal's session (the API itself takes bearer tokens only)."""
    from flexreg.assets import http_imports, selectors_imports

    role = _acting(request).role
    code, columns = selectors_imports.template_columns(
        category, role=role if role in permissions.ASSET_REGISTRANTS else None
    )
    return http_imports.csv_response(columns, [], f"flexreg-assets-{code.lower()}.csv")


@portal_read
def import_detail(request: HttpRequest, import_id: str) -> HttpResponse:
    from flexreg.assets import selectors_imports

    batch = selectors_imports.import_for(_acting(request), import_id)
    running = batch.status in (AssetImport.Status.QUEUED, AssetImport.Status.RUNNING)
    response = render(
        request,
        "assets/import.html",
        {
            "nav": "assets",
            "batch": batch,
            "status_label": AssetImport.Status(batch.status).label,
            "tag": IMPORT_TAGS.get(batch.status, "govuk-tag--grey"),  # type: ignore[call-overload]
            "running": running,
            "percent": int(100 * batch.processed_rows / batch.total_rows)
            if batch.total_rows
            else 0,
            "results_url": reverse("asset-import-results", kwargs={"import_id": batch.public_id}),
            "validation": selectors_imports.validation(batch),
        },
    )
    if running:
        # The HTTP Refresh header: no inline script or meta tag (strict CSP, base.html's head).
        response["Refresh"] = str(REFRESH_SECONDS)
    return response


@portal_read
def import_results(request: HttpRequest, import_id: str) -> StreamingHttpResponse:
    from flexreg.assets import http_imports, selectors_imports

    batch = selectors_imports.import_for(_acting(request), import_id)
    rows = (
        (row, outcome, asset_id, http_imports.error_text(errors))
        for row, outcome, asset_id, errors in selectors_imports.result_rows(batch)
    )
    return http_imports.csv_response(
        ("row", "outcome", "asset_id", "errors"), rows, f"asset-import-{batch.public_id}.csv"
    )
