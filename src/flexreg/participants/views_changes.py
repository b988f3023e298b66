"""Portal pages for ongoing management: "Change verified details" for a participant, and the
central operator's queue of change requests. Views only translate: parse a form, call a
selector or a service, render."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from flexreg.accounts.portal_auth import portal_requires
from flexreg.core.acting import Acting
from flexreg.core.errors import DomainError, NotFound
from flexreg.participants import selectors, selectors_changes, services_changes
from flexreg.participants.forms import DecisionForm
from flexreg.participants.forms_changes import FORMS, AddressChangeForm, ChangeForm
from flexreg.participants.models import (
    OrganisationType,
    Participant,
    ParticipantKind,
    ParticipantStatus,
)
from flexreg.participants.models_changes import ChangeField, ChangeStatus, ParticipantChange

REVIEW = services_changes.REVIEW_PERMISSION
F = ChangeField

# URL slugs of the fields, and back.
SLUGS = {
    F.LEGAL_NAME: "legal-name",
    F.REGISTERED_ADDRESS: "registered-address",
    F.COMPANY_NUMBER: "company-number",
    F.DECLARATION: "declaration",
}
FIELDS_BY_SLUG = {slug: field for field, slug in SLUGS.items()}

CHANGE_TAGS = {
    ChangeStatus.PENDING: "govuk-tag--yellow",
    ChangeStatus.NEEDS_REVIEW: "govuk-tag--blue",
    ChangeStatus.APPLIED: "govuk-tag--green",
    ChangeStatus.APPROVED: "govuk-tag--green",
    ChangeStatus.REJECTED: "govuk-tag--red",
    ChangeStatus.CANCELLED: "govuk-tag--grey",
}
OUTCOMES = {
    ChangeStatus.APPLIED: "Companies House confirms your change to the {field}: it now applies.",
    ChangeStatus.NEEDS_REVIEW: "Your change to the {field} was sent to the central operator for "
    "review. The current value stays in force until it is approved.",
    ChangeStatus.PENDING: "Companies House could not be reached: we will check your change to "
    "the {field} again shortly. The current value stays in force until then.",
}
QUEUE_LIMIT = selectors_changes.QUEUE_LIMIT


def _acting(request: HttpRequest) -> Acting:
    return request.acting  # type: ignore[attr-defined]


def _tag(status: str) -> dict[str, str]:
    return {
        "value": status,
        "label": str(ChangeStatus(status).label),
        "class": CHANGE_TAGS.get(ChangeStatus(status), "govuk-tag--grey"),
    }


def applicable_fields(participant: Participant) -> list[str]:
    """The verified facts this participant changes through a change request."""
    fields = [F.LEGAL_NAME, F.REGISTERED_ADDRESS]
    if participant.kind == ParticipantKind.ORGANISATION:
        if participant.organisation_type != OrganisationType.NON_UK:
            fields.append(F.COMPANY_NUMBER)
        if participant.company_number:
            fields.append(F.DECLARATION)
    return [str(f) for f in fields]


def _row(change: ParticipantChange) -> dict[str, Any]:
    return {
        "id": change.public_id,
        "field": F(change.field).label,
        "old": services_changes.describe(change.field, change.old_value),
        "new": services_changes.describe(change.field, change.new_value),
        "tag": _tag(change.status),
        "requested_at": change.requested_at,
        "reasons": [r.get("message", "") for r in change.reasons],
        "decision_reason": change.decision_reason,
        "note": change.note,
    }


# --- the participant's page -------------------------------------------------------------------


@portal_requires("participant:read")
def changes(request: HttpRequest, participant_id: str) -> HttpResponse:
    acting = _acting(request)
    participant = selectors.own_participant(acting, participant_id)
    open_ = selectors_changes.open_by_field(participant)
    history, _ = selectors_changes.changes_of(acting, participant, limit=50)
    may_change = (
        acting.acts_for(participant.pk)
        and acting.has("participant:update")
        and participant.status == ParticipantStatus.ACTIVE
    )
    facts = []
    for field in applicable_fields(participant):
        value = services_changes.current_value(participant, field)
        pending = open_.get(field)
        facts.append(
            {
                "field": field,
                "label": F(field).label,
                "value": services_changes.describe(field, value),
                "slug": SLUGS[F(field)],
                "open": _row(pending) if pending else None,
            }
        )
    return render(
        request,
        "participants/changes/list.html",
        {
            "participant": participant,
            "facts": facts,
            "history": [_row(c) for c in history],
            "may_change": may_change,
            "nav": "participants",
        },
    )


def _form_for(
    field: str, participant: Participant, data: Any = None, initial: Any = None
) -> ChangeForm:
    form_class = FORMS[field]
    if form_class is AddressChangeForm:
        country = str(participant.registered_address.get("country") or "GB")
        return AddressChangeForm(data, initial=initial, country=country)
    return form_class(data, initial=initial)


def _initial(field: str, participant: Participant) -> dict[str, Any]:
    if field == F.LEGAL_NAME:
        return {"legal_name": participant.legal_name}
    if field == F.REGISTERED_ADDRESS:
        a = participant.registered_address
        return {
            "address_line1": a.get("line1", ""),
            "address_line2": a.get("line2", ""),
            "address_town": a.get("town", ""),
            "address_county": a.get("county", ""),
            "address_postcode": a.get("postcode", ""),
        }
    return {}


@portal_requires("participant:update")
def change_field(request: HttpRequest, participant_id: str, field: str) -> HttpResponse:
    acting = _acting(request)
    participant = selectors.own_participant(acting, participant_id)
    code = FIELDS_BY_SLUG.get(field)
    if (
        code is None
        or not acting.acts_for(participant.pk)
        or str(code) not in applicable_fields(participant)
    ):
        raise NotFound()
    back = f"/participants/{participant.participant_id}/changes/"
    if request.method == "POST":
        form = _form_for(code, participant, request.POST)
        if form.is_valid() and form.checked is not None:
            try:
                change = services_changes.request_change(acting, participant, form.checked)
            except DomainError as exc:
                if exc.status in (401, 403, 404):
                    raise
                form.add_domain_error(exc, form.first_field)
            else:
                change = services_changes.run_change_check(change.pk)
                template = OUTCOMES.get(ChangeStatus(change.status), OUTCOMES[ChangeStatus.PENDING])
                messages.success(request, template.format(field=F(code).label.lower()))
                return redirect(back)
    else:
        form = _form_for(code, participant, initial=_initial(code, participant))
    pending = selectors_changes.open_by_field(participant).get(str(code))
    return render(
        request,
        "participants/changes/form.html",
        {
            "participant": participant,
            "form": form,
            "errors": form.error_summary(),
            "code": str(code),
            "label": F(code).label,
            "current": services_changes.describe(
                code, services_changes.current_value(participant, code)
            ),
            "open": _row(pending) if pending else None,
            "automatic": bool(participant.company_number) and code != F.COMPANY_NUMBER,
            "back": back,
            "nav": "participants",
        },
    )


# --- the central operator ---------------------------------------------------------------------


@portal_requires(REVIEW)
def review_queue(request: HttpRequest) -> HttpResponse:
    queue = selectors_changes.review_queue(_acting(request))
    total = queue.count()
    rows = [
        {
            **_row(c),
            "participant_name": c.participant.legal_name,
            "participant_id": c.participant.participant_id,
            "company_number": c.participant.company_number or "",
        }
        for c in queue[:QUEUE_LIMIT]
    ]
    return render(
        request,
        "participants/changes/queue.html",
        {"rows": rows, "total": total, "limit": QUEUE_LIMIT, "nav": "operator"},
    )


@portal_requires(REVIEW)
def review_detail(request: HttpRequest, change_id: str) -> HttpResponse:
    acting = _acting(request)
    change = selectors_changes.change_for_review(acting, change_id)
    if request.method == "POST":
        form = DecisionForm(request.POST)
        if form.is_valid() and form.checked is not None:
            try:
                services_changes.decide_change(
                    acting, change, form.checked.decision, form.checked.reason
                )
            except DomainError as exc:
                if exc.status in (401, 403, 404):
                    raise
                form.add_domain_error(exc, "decision")
            else:
                verb = "Approved" if form.checked.decision == "approve" else "Rejected"
                participant = change.participant
                messages.success(
                    request,
                    f"{verb}: change to the {F(change.field).label.lower()} of "
                    f"{participant.legal_name} ({participant.participant_id})",
                )
                return redirect("participant-changes-queue")
    else:
        form = DecisionForm()
    change.refresh_from_db()
    return render(
        request,
        "participants/changes/review.html",
        {
            "change": _row(change),
            "open": change.is_open,
            "company": change.company_snapshot,
            "officer": change.matched_officer,
            "participant": change.participant,
            "form": form,
            "errors": form.error_summary(),
            "nav": "operator",
        },
    )
