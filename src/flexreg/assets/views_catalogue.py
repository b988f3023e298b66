"""Portal pages for the central operator's asset catalogue: every section with its values, a
value's page (relabel it, retire or restore it with a reason) and adding a value to a
controlled list. Categories and identifier schemes are added through the API (their schemas
are tables: ``docs/api.md``, "Asset catalogue"); here they can be relabelled, retired and
restored like list values.

Views only translate: ``selectors_catalogue`` reads, ``services_catalogue`` writes; a
``ValidationFailed`` or a coded conflict becomes a GOV.UK error summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from flexreg.accounts.portal_auth import portal_requires
from flexreg.assets import catalogue_store, selectors_catalogue, services_catalogue
from flexreg.assets.catalogue import LIST_NAMES, default_catalogue
from flexreg.assets.models import CatalogueEntry
from flexreg.core.acting import Acting
from flexreg.core.errors import DomainError, FieldError, NotFound, ValidationFailed

MANAGE: Final = services_catalogue.MANAGE
SECTION_LABELS: Final[Mapping[str, str]] = dict(CatalogueEntry.Section.choices)
#: What each section's values are called in a sentence ("Add an energy source").
SINGULAR: Final[Mapping[str, str]] = {
    "energy_sources": "energy source",
    "connection_statuses": "connection status",
    "connection_types": "connection type",
    "flexibility_directions": "flexibility direction",
    "voltage_levels": "voltage level",
    "external_id_schemes": "external identifier scheme",
    "categories": "category",
}
BASE: Final = "/operator/asset-catalogue/"


def _acting(request: HttpRequest) -> Acting:
    return request.acting  # type: ignore[attr-defined]


def _section(section: str) -> str:
    try:
        return services_catalogue.normalise_section(section)
    except DomainError:
        raise NotFound(f"No catalogue section {section[:40]!r}.") from None


#: What to say when the catalogue finds a page's field invalid (its own words are technical).
FRIENDLY: Final[Mapping[str, str]] = {
    "label": "Enter a label of 200 characters or fewer",
    "hint": "Enter a hint of 500 characters or fewer",
    "commissioned": "Say whether an asset with this status is in service",
}


def _summary(errors: list[FieldError], fields: Mapping[str, str], fallback: str) -> Any:
    """(error summary items in the page's order, field -> message) for the page's fields
    (``fields``: error path -> field id, in page order); other errors point at ``fallback``."""
    summary: list[dict[str, str]] = []
    by_field: dict[str, str] = {}
    for e in errors:
        own = fields.get(e.field)
        name = own or fallback
        text = e.message
        if own is not None and own in FRIENDLY and e.code == "catalogue.invalid":
            text = FRIENDLY[own]
        by_field.setdefault(name, text)
        summary.append({"href": f"#{name}", "text": text})
    order = [*fields.values(), fallback]  # the page's order (GOV.UK error summary)
    summary.sort(key=lambda item: order.index(item["href"][1:]))
    return summary, by_field


@portal_requires(MANAGE)
def catalogue_page(request: HttpRequest) -> HttpResponse:
    catalogue = selectors_catalogue.catalogue()
    file = default_catalogue()
    changed = {(e.section, e.code) for e in selectors_catalogue.changes(_acting(request))}
    sections = []
    for section in services_catalogue.SECTIONS:
        in_file = catalogue_store.choices_of(file, section)
        sections.append(
            {
                "code": section,
                "label": SECTION_LABELS[section],
                "singular": SINGULAR[section],
                "may_add": section in LIST_NAMES,
                "values": [
                    {
                        "code": c.code,
                        "label": c.label,
                        "hint": c.hint,
                        "retired": c.retired,
                        "added": c.code not in in_file,
                        "changed": (section, c.code) in changed,
                        "href": f"{BASE}{section}/{c.code}/",
                    }
                    for c in catalogue_store.choices_of(catalogue, section)
                ],
            }
        )
    return render(
        request, "assets/catalogue.html", {"nav": "asset-catalogue", "sections": sections}
    )


@portal_requires(MANAGE)
def value_page(request: HttpRequest, section: str, code: str) -> HttpResponse:
    acting = _acting(request)
    section = _section(section)
    choice = catalogue_store.choices_of(selectors_catalogue.catalogue(), section).lookup(code)
    if choice is None:
        raise NotFound(f"No value {code[:40]!r} in {SECTION_LABELS[section].lower()}.")
    if choice.code != code:
        return redirect("asset-catalogue-value", section=section, code=choice.code)
    values = {"label": choice.label, "hint": choice.hint, "reason": ""}
    summary: list[dict[str, str]] = []
    field_errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        values = {k: request.POST.get(k, "").strip() for k in ("label", "hint", "reason")}
        try:
            if action == "relabel":
                services_catalogue.update_value(
                    acting, section, choice.code, {"label": values["label"], "hint": values["hint"]}
                )
                done = "relabelled"
            elif action in ("retire", "restore"):
                change = (
                    services_catalogue.retire_value
                    if action == "retire"
                    else services_catalogue.restore_value
                )
                change(acting, section, choice.code, values["reason"])
                done = "retired" if action == "retire" else "restored"
            else:
                raise NotFound("No such change.")
        except ValidationFailed as exc:
            fields = {"label": "label", "hint": "hint", "reason": "reason"}
            fallback = "label" if action == "relabel" else "reason"
            summary, field_errors = _summary(exc.errors, fields, fallback)
            status = 422
        except DomainError as exc:
            if exc.status != 409:
                raise
            summary = [{"href": "#reason", "text": exc.detail}]
            field_errors = {"reason": exc.detail}
            status = 409
        else:
            messages.success(request, f"{choice.code} {done}")
            return redirect(f"{BASE}#{section}")
    context = {
        "nav": "asset-catalogue",
        "section": section,
        "section_label": SECTION_LABELS[section],
        "singular": SINGULAR[section],
        "choice": choice,
        "values": values,
        "errors": summary,
        "field_errors": field_errors,
        "action_url": f"{BASE}{section}/{choice.code}/",
    }
    return render(request, "assets/catalogue_value.html", context, status=status)


@portal_requires(MANAGE)
def add_page(request: HttpRequest, section: str) -> HttpResponse:
    section = _section(section)
    if section not in LIST_NAMES:
        raise NotFound("Categories and identifier schemes are added through the API.")
    statuses = section == "connection_statuses"
    values = {"code": "", "label": "", "hint": "", "commissioned": ""}
    summary: list[dict[str, str]] = []
    field_errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        values = {k: request.POST.get(k, "").strip() for k in values}
        table: dict[str, Any] = {"label": values["label"]}
        if values["hint"]:
            table["hint"] = values["hint"]
        if statuses:
            table["commissioned"] = {"yes": True, "no": False}.get(values["commissioned"])
        try:
            change = services_catalogue.add_value(_acting(request), section, values["code"], table)
        except ValidationFailed as exc:
            fields = {
                "code": "code",
                "value.label": "label",
                "value.hint": "hint",
                "value.commissioned": "commissioned",
            }
            summary, field_errors = _summary(exc.errors, fields, "code")
            status = 422
        else:
            messages.success(request, f"{change.entry.code} added")
            return redirect(f"{BASE}#{section}")
    context = {
        "nav": "asset-catalogue",
        "section": section,
        "section_label": SECTION_LABELS[section],
        "singular": SINGULAR[section],
        "statuses": statuses,
        "values": values,
        "errors": summary,
        "field_errors": field_errors,
        "action_url": f"{BASE}add/{section}/",
    }
    return render(request, "assets/catalogue_add.html", context, status=status)
