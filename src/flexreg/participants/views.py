"""Portal pages for participants: registration, the participant page, the operator's queue.

Views only translate: parse a form, call a selector or a service, render. The registration
draft lives in the session until the applicant submits it (no database writes before that).
"""

from __future__ import annotations

from typing import Any

import pydantic
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from flexreg.accounts.acting import acting_for, usable_memberships
from flexreg.accounts.forms import GovukForm, message_for
from flexreg.accounts.middleware import SESSION_KEY
from flexreg.accounts.portal_auth import portal_requires
from flexreg.accounts.selectors import membership_by_label, membership_label
from flexreg.core import permissions
from flexreg.core.acting import Acting
from flexreg.core.errors import DomainError
from flexreg.core.roles import ROLES
from flexreg.participants import schemas, selectors, services
from flexreg.participants.forms import (
    COMPANY_TYPES,
    STEP_FORMS,
    DecisionForm,
    DeclarationForm,
    IndividualForm,
    OrganisationDetailsForm,
    RolesForm,
    organisation_input,
    place_registration_error,
)
from flexreg.participants.models import (
    OrganisationType,
    Participant,
    ParticipantStatus,
    RoleStatus,
    Verification,
    VerificationStatus,
)

DRAFT_KEY = "registration_draft"

QUEUE_LIMIT = 200

PARTICIPANT_TAGS = {
    "active": "govuk-tag--green",
    "pending_verification": "govuk-tag--yellow",
    "suspended": "govuk-tag--orange",
    "withdrawn": "govuk-tag--grey",
    "rejected": "govuk-tag--red",
}
ROLE_TAGS = {
    "active": "govuk-tag--green",
    "pending": "govuk-tag--yellow",
    "suspended": "govuk-tag--orange",
    "withdrawn": "govuk-tag--grey",
    "rejected": "govuk-tag--red",
}
VERIFICATION_TAGS = {
    "pending": "govuk-tag--blue",
    "passed": "govuk-tag--green",
    "needs_review": "govuk-tag--yellow",
    "approved": "govuk-tag--green",
    "rejected": "govuk-tag--red",
    "superseded": "govuk-tag--grey",
}
VERIFICATION_EXPLAINED = {
    "pending": "We are checking the organisation against Companies House. If Companies House "
    "cannot be reached we keep trying, and your registration is kept.",
    "passed": "The organisation was verified against Companies House and the director's "
    "declaration.",
    "needs_review": "Your registration is with the central operator for review. They will "
    "approve it or tell you why not.",
    "approved": "The central operator approved the registration.",
    "rejected": "The registration was rejected.",
    "superseded": "A newer submission replaced this one.",
}


def _tag(status: str, tags: dict[str, str], label: str) -> dict[str, str]:
    return {"value": status, "label": label, "class": tags.get(status, "govuk-tag--grey")}


def _acting(request: HttpRequest) -> Acting:
    return request.acting  # type: ignore[attr-defined]


# --- the registration draft -------------------------------------------------------------------


def _draft(request: HttpRequest) -> dict[str, Any]:
    return dict(request.session.get(DRAFT_KEY) or {})


def _save_draft(request: HttpRequest, draft: dict[str, Any]) -> None:
    request.session[DRAFT_KEY] = draft


def _needs_declaration(draft: dict[str, Any]) -> bool:
    org = draft.get("organisation") or {}
    return org.get("organisation_type") in COMPANY_TYPES


def _ready(draft: dict[str, Any]) -> bool:
    return (
        "organisation" in draft
        and "roles" in draft
        and ("declaration" in draft or not _needs_declaration(draft))
    )


def _after_step(request: HttpRequest, draft: dict[str, Any]) -> HttpResponse:
    if request.GET.get("from") == "check" and _ready(draft):
        return redirect("register-check")
    return redirect("register")


def _tasks(draft: dict[str, Any]) -> list[dict[str, Any]]:
    has_org = "organisation" in draft
    if not has_org:
        declaration = {
            "status": "cannot_start",
            "href": None,
            "hint": "Complete the organisation details first.",
        }
    elif not _needs_declaration(draft):
        declaration = {
            "status": "not_needed",
            "href": None,
            "hint": "Only for organisations on the Companies House register: the "
            "central operator checks yours by hand.",
        }
    else:
        declaration = {
            "status": "completed" if "declaration" in draft else "incomplete",
            "href": reverse("register-declaration"),
            "hint": "A current director or member of the company declares that you "
            "may register it.",
        }
    return [
        {
            "title": "Organisation details",
            "href": reverse("register-organisation"),
            "status": "completed" if has_org else "incomplete",
            "hint": "Legal name, company number, registered address and contacts.",
        },
        {"title": "Director's declaration", **declaration},
        {
            "title": "Roles",
            "href": reverse("register-roles"),
            "status": "completed" if "roles" in draft else "incomplete",
            "hint": "The market roles the organisation wants to hold.",
        },
        {
            "title": "Check your answers",
            "href": reverse("register-check") if _ready(draft) else None,
            "status": "incomplete" if _ready(draft) else "cannot_start",
            "hint": "Then register and get your Participant ID.",
        },
    ]


@portal_requires(permissions.REGISTER)
def register_start(request: HttpRequest) -> HttpResponse:
    draft = _draft(request)
    tasks = _tasks(draft)
    done = sum(1 for t in tasks[:3] if t["status"] in ("completed", "not_needed"))
    return render(
        request,
        "participants/register_start.html",
        {
            "tasks": tasks,
            "done": done,
            "nav": "register",
        },
    )


def _step(
    request: HttpRequest,
    form_class: type[GovukForm],
    key: str,
    template: str,
    extra: dict[str, Any] | None = None,
    initial: dict[str, Any] | None = None,
) -> HttpResponse:
    draft = _draft(request)
    if request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            draft[key] = form.normalised()  # type: ignore[attr-defined]
            _save_draft(request, draft)
            return _after_step(request, draft)
    else:
        form = form_class(initial=initial if initial is not None else draft.get(key))
    context = {"form": form, "errors": form.error_summary(), "draft": draft, "nav": "register"}
    return render(request, template, {**context, **(extra or {})})


@portal_requires(permissions.REGISTER)
def register_organisation(request: HttpRequest) -> HttpResponse:
    return _step(
        request, OrganisationDetailsForm, "organisation", "participants/register_organisation.html"
    )


@portal_requires(permissions.REGISTER)
def register_declaration(request: HttpRequest) -> HttpResponse:
    draft = _draft(request)
    if not _needs_declaration(draft):
        return redirect("register")
    org = draft["organisation"]
    return _step(
        request,
        DeclarationForm,
        "declaration",
        "participants/register_declaration.html",
        {"company_number": org.get("company_number"), "legal_name": org.get("legal_name")},
    )


@portal_requires(permissions.REGISTER)
def register_roles(request: HttpRequest) -> HttpResponse:
    initial = {"requested_roles": _draft(request).get("roles", [])}
    return _step(request, RolesForm, "roles", "participants/register_roles.html", initial=initial)


def _answers(draft: dict[str, Any]) -> list[dict[str, Any]]:
    """The check-your-answers summary lists, each row with its change link."""
    org = draft["organisation"]
    org_url = reverse("register-organisation") + "?from=check"

    def row(key: str, lines: list[str], field: str, url: str = org_url) -> dict[str, Any]:
        return {
            "key": key,
            "lines": [v for v in lines if v] or ["Not given"],
            "href": f"{url}#{field}",
            "hidden": key.lower(),
        }

    org_type = org.get("organisation_type", "")
    details = [
        row("Legal name", [org["legal_name"]], "legal_name"),
        row("Trading name", [org["trading_name"]], "trading_name"),
        row(
            "Type of organisation",
            [OrganisationType(org_type).label if org_type else ""],
            "organisation_type",
        ),
    ]
    if org_type in COMPANY_TYPES:
        details.append(row("Company number", [org["company_number"]], "company_number"))
    if org_type == OrganisationType.NON_UK:
        details.append(
            row(
                "Registration outside the UK",
                [
                    org["non_uk_country"],
                    org["non_uk_registry"],
                    org["non_uk_registration_number"],
                ],
                "non_uk_country",
            )
        )
    details += [
        row(
            "Registered address",
            [
                org["address_line1"],
                org["address_line2"],
                org["address_town"],
                org["address_county"],
                org["address_postcode"],
            ],
            "address_line1",
        ),
        row("VAT number", [org["vat_number"]], "vat_number"),
        row("Website", [org["website"]], "website"),
        row("Email domains", [org["email_domains"]], "email_domains"),
        row(
            "Primary contact",
            [org["primary_name"], org["primary_email"], org["primary_phone"]],
            "primary_name",
        ),
        row(
            "Technical contact",
            [org["technical_name"], org["technical_email"], org["technical_phone"]],
            "technical_name",
        ),
    ]
    sections = [{"title": "Organisation details", "rows": details}]
    if _needs_declaration(draft):
        dec = draft.get("declaration") or {}
        dec_url = reverse("register-declaration") + "?from=check"
        sections.append(
            {
                "title": "Director's declaration",
                "rows": [
                    row(
                        "Declaring officer",
                        [dec.get("declarant_name", "")],
                        "declarant_name",
                        dec_url,
                    ),
                    row(
                        "Are you this officer?",
                        [{"yes": "Yes", "no": "No"}.get(dec.get("declarant_is_applicant", ""), "")],
                        "declarant_is_applicant",
                        dec_url,
                    ),
                    row(
                        "Declaration",
                        ["Confirmed" if dec.get("statement_accepted") else ""],
                        "statement_accepted",
                        dec_url,
                    ),
                ],
            }
        )
    roles_url = reverse("register-roles") + "?from=check"
    sections.append(
        {
            "title": "Roles",
            "rows": [
                row(
                    "Roles requested",
                    [ROLES[r].name for r in draft.get("roles", [])],
                    "requested_roles",
                    roles_url,
                ),
            ],
        }
    )
    return sections


_STEP_URLS = {
    "organisation": "register-organisation",
    "declaration": "register-declaration",
    "roles": "register-roles",
}


def _summary_entry(step: str, field: str | None, message: str) -> dict[str, str]:
    url = reverse(_STEP_URLS[step]) + "?from=check"
    return {"href": f"{url}#{field}" if field else url, "text": message}


def _schema_errors(exc: pydantic.ValidationError, org_type: str) -> list[dict[str, str]]:
    entries = []
    for err in exc.errors():
        code = str(err["type"])
        step, field = place_registration_error(err["loc"], code)
        field = OrganisationDetailsForm.number_field(org_type, field)
        form_field = STEP_FORMS[step].base_fields.get(field or "")
        text = message_for(form_field, err) if form_field else str(err["msg"])
        entries.append(_summary_entry(step, field, text))
    return entries


def _domain_errors(exc: DomainError, org_type: str) -> list[dict[str, str]]:
    placed = [
        (*place_registration_error(e.field.split("."), e.code), e.message) for e in exc.errors
    ] or [(*place_registration_error((), exc.code), exc.detail)]
    return [
        _summary_entry(step, OrganisationDetailsForm.number_field(org_type, field), message)
        for step, field, message in placed
    ]


def _act_for(request: HttpRequest, participant: Participant) -> None:
    """After registering, act for the new participant (one of the user's own memberships)."""
    for membership in usable_memberships(request.user):  # type: ignore[arg-type]
        if membership.participant_role.participant_id == participant.pk:
            request.session[SESSION_KEY] = membership.pk
            return


@portal_requires(permissions.REGISTER)
def register_check(request: HttpRequest) -> HttpResponse:
    draft = _draft(request)
    if not _ready(draft):
        return redirect("register")
    errors: list[dict[str, str]] = []
    if request.method == "POST":
        payload = organisation_input(
            draft["organisation"], declaration=draft.get("declaration"), roles=draft["roles"]
        )
        try:
            data = schemas.OrganisationIn.model_validate(payload)
        except pydantic.ValidationError as exc:
            errors = _schema_errors(exc, draft["organisation"]["organisation_type"])
        else:
            try:
                participant = services.register(_acting(request), data)
            except DomainError as exc:
                if exc.status in (401, 403, 404):
                    raise
                errors = _domain_errors(exc, draft["organisation"]["organisation_type"])
            else:
                services.check_after_registration(participant)
                request.session.pop(DRAFT_KEY, None)
                _act_for(request, participant)
                messages.success(
                    request, f"Registered: your Participant ID is {participant.participant_id}"
                )
                return redirect("participant", participant_id=participant.participant_id)
    return render(
        request,
        "participants/register_check.html",
        {
            "sections": _answers(draft),
            "errors": errors,
            "nav": "register",
        },
        status=422 if errors else 200,
    )


@portal_requires(permissions.REGISTER)
def register_individual(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = IndividualForm(request.POST)
        if form.is_valid() and form.checked is not None:
            try:
                participant = services.register(_acting(request), form.checked)
            except DomainError as exc:
                if exc.status in (401, 403, 404):
                    raise
                form.add_domain_error(exc, "given_name")
            else:
                services.check_after_registration(participant)
                _act_for(request, participant)
                messages.success(
                    request, f"Registered: your Participant ID is {participant.participant_id}"
                )
                return redirect("participant", participant_id=participant.participant_id)
    else:
        form = IndividualForm()
    return render(
        request,
        "participants/register_individual.html",
        {
            "form": form,
            "errors": form.error_summary(),
            "nav": "register",
        },
    )


# --- participant pages ------------------------------------------------------------------------


def _acting_for_page(request: HttpRequest, participant_id: str) -> Acting:
    """The acting membership, or (to read only) the user's own membership of that participant.

    A user may belong to several participants; their page opens without switching the session.
    """
    acting = _acting(request)
    wanted = participant_id.strip().upper()
    if acting.participant_id == wanted or acting.has("participants:read_all"):
        return acting
    for membership in usable_memberships(request.user):  # type: ignore[arg-type]
        if membership.participant_role.participant.participant_id == wanted:
            return acting_for(request.user, membership, via="session")  # type: ignore[arg-type]
    return acting


def _verification_view(v: Verification) -> dict[str, Any]:
    return {
        "id": v.public_id,
        "tag": _tag(v.status, VERIFICATION_TAGS, VerificationStatus(v.status).label),
        "explained": VERIFICATION_EXPLAINED.get(v.status, ""),
        "method": v.get_method_display(),
        "submitted_at": v.submitted_at,
        "declarant_name": v.declarant_name,
        "declarant_is_applicant": v.declarant_is_applicant,
        "reasons": [r.get("message", "") for r in v.reasons],
        "matched_officer": v.matched_officer.get("name", ""),
        "matched_officer_role": v.matched_officer.get("officer_role", ""),
        "company": v.company_snapshot,
        "decision_reason": v.decision_reason,
        "decided_at": v.decided_at,
        "open": v.status in (VerificationStatus.PENDING, VerificationStatus.NEEDS_REVIEW),
    }


def _organisation_type_label(record: schemas.ParticipantFull | schemas.ParticipantPublic) -> str:
    value = getattr(record, "organisation_type", "")
    return str(OrganisationType(value).label) if value else ""


@portal_requires("participant:read")
def participant_detail(request: HttpRequest, participant_id: str) -> HttpResponse:
    acting = _acting_for_page(request, participant_id)
    participant = selectors.participant_for(acting, participant_id)
    full = selectors.view_of(acting, participant) == "full"
    verification = selectors.latest_verification(participant) if full else None
    record = (
        schemas.full_out(participant, verification) if full else schemas.public_out(participant)
    )
    roles = [
        {
            "code": r.role,
            "name": ROLES[r.role].name,
            "tag": _tag(r.status, ROLE_TAGS, RoleStatus(r.status).label),
        }
        for r in record.roles
    ]
    return render(
        request,
        "participants/participant.html",
        {
            "record": record,
            "full": full,
            "status": _tag(record.status, PARTICIPANT_TAGS, ParticipantStatus(record.status).label),
            "roles": roles,
            "verification": _verification_view(verification) if verification else None,
            "organisation_type": _organisation_type_label(record),
            "acting_here": _acting(request).participant_id == participant.participant_id,
            "nav": "participants",
        },
    )


def _memberships_page(
    request: HttpRequest, errors: list[dict[str, str]] | None = None, status: int = 200
) -> HttpResponse:
    acting = _acting(request)
    rows = [
        {
            "label": membership_label(m),
            "participant_id": m.participant_role.participant.participant_id,
            "name": m.participant_role.participant.legal_name,
            "role": ROLES[m.participant_role.role].name,
            "status": _tag(
                m.participant_role.participant.status,
                PARTICIPANT_TAGS,
                m.participant_role.participant.get_status_display(),
            ),
            "authorised_person": m.is_authorised_person,
            "current": m.pk == acting.membership_id,
        }
        for m in usable_memberships(request.user)  # type: ignore[arg-type]
    ]
    return render(
        request,
        "participants/my_participants.html",
        {
            "rows": rows,
            "errors": errors or [],
            "nav": "participants",
        },
        status=status,
    )


@portal_requires(permissions.REGISTER)
def my_participants(request: HttpRequest) -> HttpResponse:
    return _memberships_page(request)


@require_POST
@portal_requires(permissions.REGISTER)
def switch_acting(request: HttpRequest) -> HttpResponse:
    label = request.POST.get("membership", "")
    try:
        membership = membership_by_label(request.user, label)  # type: ignore[arg-type]
    except DomainError:
        return _memberships_page(
            request,
            [
                {
                    "href": "#membership",
                    "text": "Select one of your participant roles",
                }
            ],
            status=400,
        )
    request.session[SESSION_KEY] = membership.pk
    held = membership.participant_role
    messages.success(
        request, f"You are now acting for {held.participant.legal_name} as {ROLES[held.role].name}"
    )
    return redirect("my-participants")


# --- the central operator ---------------------------------------------------------------------


@portal_requires("verification:review")
def review_queue(request: HttpRequest) -> HttpResponse:
    queue = selectors.review_queue(_acting(request))
    total = queue.count()
    rows = [
        {
            "id": v.public_id,
            "participant_name": v.participant.legal_name,
            "participant_id": v.participant.participant_id,
            "company_number": v.participant.company_number or "",
            "declarant": v.declarant_name,
            "reasons": [r.get("message", "") for r in v.reasons],
            "submitted_at": v.submitted_at,
            "tag": _tag(v.status, VERIFICATION_TAGS, VerificationStatus(v.status).label),
        }
        for v in queue[:QUEUE_LIMIT]
    ]
    return render(
        request,
        "participants/review_queue.html",
        {
            "rows": rows,
            "total": total,
            "limit": QUEUE_LIMIT,
            "nav": "operator",
        },
    )


@portal_requires("verification:review")
def review_detail(request: HttpRequest, verification_id: str) -> HttpResponse:
    acting = _acting(request)
    verification = selectors.verification_for_review(acting, verification_id)
    if request.method == "POST":
        form = DecisionForm(request.POST)
        if form.is_valid() and form.checked is not None:
            try:
                services.decide_verification(
                    acting, verification, form.checked.decision, form.checked.reason
                )
            except DomainError as exc:
                if exc.status in (401, 403, 404):
                    raise
                form.add_domain_error(exc, "decision")
            else:
                verb = "Approved" if form.checked.decision == "approve" else "Rejected"
                participant = verification.participant
                messages.success(
                    request, f"{verb}: {participant.legal_name} ({participant.participant_id})"
                )
                return redirect("review-queue")
    else:
        form = DecisionForm()
    participant = verification.participant
    return render(
        request,
        "participants/review_detail.html",
        {
            "verification": _verification_view(verification),
            "participant": participant,
            "participant_status": _tag(
                participant.status, PARTICIPANT_TAGS, participant.get_status_display()
            ),
            "form": form,
            "errors": form.error_summary(),
            "nav": "operator",
        },
    )
