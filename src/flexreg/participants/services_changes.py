"""Change requests for verified facts (issue 4, "Ongoing management").

A participant changes its legal name, company number, registered address or director's
declaration through a change request; the old value stays in force until the change is
verified. For a UK company the change is checked against Companies House automatically
(outside any transaction, like the registration check): a match is applied at once (audited
with before/after), anything else goes to the central operator, who approves or rejects it
with a reason. A company number change is always reviewed by the operator. One open request
per field at a time. Self-serve details that are not verified keep using the PATCH.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.dispatch import receiver
from django.utils import timezone

from flexreg.core import audit, permissions
from flexreg.core.acting import Acting
from flexreg.core.errors import Conflict, DomainError, NotFound
from flexreg.participants import rules, rules_changes, selectors_recipients, services, signals
from flexreg.participants.models import (
    OrganisationType,
    Participant,
    ParticipantKind,
    ParticipantStatus,
    Verification,
    VerificationMethod,
    VerificationStatus,
)
from flexreg.participants.models_changes import (
    OPEN_CHANGE_STATUSES,
    ChangeField,
    ChangeStatus,
    ParticipantChange,
)
from flexreg.participants.schemas_changes import ChangeIn

logger = logging.getLogger(__name__)

# Deciding change requests. Until the catalogue has ``participant_changes:review`` (OPERATOR),
# the verification reviewers decide them: change this one constant when it is added.
REVIEW_PERMISSION = "participant_changes:review"

F = ChangeField
NOTIFY_KIND = "participant.change_reviewed"


# --- values ---------------------------------------------------------------------------------


def current_declaration(participant: Participant) -> dict[str, Any] | None:
    """The director's declaration in force: the newest verification that names a declarant and
    was passed or approved."""
    verification = (
        participant.verifications.filter(
            status__in=[VerificationStatus.PASSED, VerificationStatus.APPROVED]
        )
        .exclude(declarant_name="")
        .order_by("-submitted_at", "-pk")
        .first()
    )
    if verification is None:
        return None
    return {
        "declarant_name": verification.declarant_name,
        "declarant_is_applicant": verification.declarant_is_applicant,
    }


def current_value(participant: Participant, field: str) -> Any:
    if field == F.LEGAL_NAME:
        return participant.legal_name
    if field == F.COMPANY_NUMBER:
        return participant.company_number
    if field == F.REGISTERED_ADDRESS:
        return dict(participant.registered_address)
    return current_declaration(participant)


def describe(field: str, value: Any) -> str:
    """A value as one line of text (notifications, the portal)."""
    if value is None or value == "":
        return "none"
    if field == F.REGISTERED_ADDRESS and isinstance(value, dict):
        keys = ("line1", "line2", "town", "county", "postcode")
        return ", ".join(str(value[k]) for k in keys if value.get(k))
    if field == F.DECLARATION and isinstance(value, dict):
        return str(value.get("declarant_name", ""))
    return str(value)


def _personal(participant: Participant, field: str) -> tuple[str, ...]:
    """Old and new values are personal data for private individuals and for declarations
    (they name a person)."""
    if participant.kind == ParticipantKind.INDIVIDUAL or field == F.DECLARATION:
        return ("old_value", "new_value")
    return ()


def _audit_change(
    acting: Acting,
    action: str,
    change: ParticipantChange,
    participant: Participant,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    audit.record(
        acting,
        action,
        object_type="participant_change",
        object_id=str(change.public_id),
        subject_participant_id=participant.participant_id,
        before=before,
        after=after,
        personal=_personal(participant, change.field),
        only_changed=False,
    )


def _system() -> Acting:
    return Acting.system("participant-change-check")


# --- asking for a change --------------------------------------------------------------------


def _applicable(participant: Participant, field: str) -> None:
    if participant.kind == ParticipantKind.INDIVIDUAL and field in (
        F.COMPANY_NUMBER,
        F.DECLARATION,
    ):
        raise DomainError(
            code="participant_change.not_for_individuals",
            detail="A private individual has no company number or director's declaration.",
        )
    if field == F.DECLARATION and not participant.company_number:
        raise DomainError(
            code="declaration.not_applicable",
            detail="This participant has no Companies House number: a director's declaration "
            "cannot be checked. Ask the central operator to review your documents instead.",
        )
    if field == F.COMPANY_NUMBER and participant.organisation_type == OrganisationType.NON_UK:
        raise DomainError(
            code="company_number.not_allowed",
            detail="An organisation registered outside the UK has no Companies House number.",
        )


def _already_open(change: ParticipantChange) -> Conflict:
    return Conflict(
        "participant_change.already_open",
        f"A change to the {F(change.field).label.lower()} is already open ({change.status}): "
        "wait for its outcome before asking again.",
        change_id=str(change.public_id),
        field=change.field,
    )


@transaction.atomic
def request_change(acting: Acting, participant: Participant, data: ChangeIn) -> ParticipantChange:
    """Ask to change one verified fact. Returns the change request: ``pending`` (the automatic
    check runs next, see ``run_change_check``) or ``needs_review`` (no automatic check)."""
    permissions.require(acting, "participant:update")
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    if not acting.acts_for(participant.pk):
        raise NotFound()  # changes come from the participant's own people
    if participant.status != ParticipantStatus.ACTIVE:
        raise DomainError(
            code="participant_change.not_active",
            detail=f"The participant is {participant.status}: verified details change only "
            "once it is verified and active.",
            status=409,
            title="Conflict with the current state",
        )
    field = data.field
    _applicable(participant, field)
    new_value = data.value()
    old_value = current_value(participant, field)
    if rules_changes.same_value(field, old_value, new_value):
        raise DomainError(
            code="participant_change.no_change",
            detail=f"The {F(field).label.lower()} is already {describe(field, old_value)}.",
        )
    if field == F.COMPANY_NUMBER:
        rules.lock_company_number(new_value)
        rules.company_number_not_registered(new_value)
    open_ = ParticipantChange.objects.filter(
        participant=participant, field=field, status__in=OPEN_CHANGE_STATUSES
    ).first()
    if open_ is not None:
        raise _already_open(open_)
    now = timezone.now()
    fields: dict[str, Any] = {
        "participant": participant,
        "field": field,
        "old_value": old_value,
        "new_value": new_value,
        "note": data.note,
        "requested_by_id": acting.user_id,
        "requested_at": now,
    }
    if participant.company_number:
        # Checked against Companies House next (a new company number: for the operator's eyes).
        fields.update(status=ChangeStatus.PENDING, next_attempt_at=now)
    else:
        fields.update(
            status=ChangeStatus.NEEDS_REVIEW,
            reasons=[
                {
                    "code": "change.manual_review",
                    "message": "No Companies House record to check against: the central "
                    "operator checks the change by hand.",
                }
            ],
        )
    try:
        with transaction.atomic():
            change = ParticipantChange.objects.create(**fields)
    except IntegrityError:  # the participant's row lock makes this a backstop only
        raise _already_open(
            ParticipantChange.objects.get(
                participant=participant, field=field, status__in=OPEN_CHANGE_STATUSES
            )
        ) from None
    _audit_change(
        acting,
        "participant_change.requested",
        change,
        participant,
        after={
            "field": field,
            "status": change.status,
            "old_value": old_value,
            "new_value": new_value,
            "note": data.note,
        },
    )
    return change


# --- the automatic check (outside transactions) ---------------------------------------------


def _evaluate(
    change: ParticipantChange, participant: Participant, profile: Any, officers: list[Any]
) -> tuple[bool, list[dict[str, str]], dict[str, Any]]:
    """(passed, reasons, matched officer) for what the register says."""
    from flexreg.participants.officer_matching import check_declaration

    reasons: list[dict[str, str]] = []
    not_active = {
        "code": "company.not_active",
        "message": f"The company's status on the register is '{profile.company_status}', "
        "not 'active'.",
    }
    if change.field == F.COMPANY_NUMBER:
        reasons.append(
            {
                "code": "change.company_number_review",
                "message": "A new company number is always checked by the central operator.",
            }
        )
        if not profile.is_active:
            reasons.append(not_active)
        if not rules.company_names_match(participant.legal_name, profile.company_name):
            reasons.append(
                {
                    "code": "company.name_mismatch",
                    "message": f"The register names company {profile.company_number} "
                    f"'{profile.company_name}', not '{participant.legal_name}'.",
                }
            )
        return False, reasons, {}
    if change.field == F.DECLARATION:
        check = check_declaration(profile, officers, change.new_value["declarant_name"])
        reasons += [{"code": r.code, "message": r.message} for r in check.reasons]
        officer = asdict(check.matched_officer) if check.matched_officer else {}
        return check.passed and not reasons, reasons, officer
    if not profile.is_active:
        reasons.append(not_active)
    if change.field == F.LEGAL_NAME:
        if not rules.company_names_match(change.new_value, profile.company_name):
            reasons.append(
                {
                    "code": "change.name_mismatch",
                    "message": f"The new legal name ({change.new_value}) differs from the "
                    f"register ({profile.company_name}).",
                }
            )
    else:
        office = profile.registered_office_address
        reasons += [
            {"code": m.code, "message": m.message}
            for m in rules_changes.address_mismatches(
                change.new_value, asdict(office) if office is not None else None
            )
        ]
    return not reasons, reasons, {}


def run_change_check(change_pk: int, client: Any = None) -> ParticipantChange:
    """Check a pending change against Companies House; apply it if the register agrees, else
    send it to the operator. An unreachable register leaves it pending with a retry scheduled,
    and after ``VERIFICATION_UNAVAILABLE_REVIEW_AFTER_HOURS`` sends it to review."""
    from flexreg.participants import companies_house as ch

    change = ParticipantChange.objects.select_related("participant").get(pk=change_pk)
    if change.status != ChangeStatus.PENDING:
        return change
    participant = change.participant
    number = str(
        change.new_value if change.field == F.COMPANY_NUMBER else participant.company_number or ""
    )
    own_client = client is None
    client = client or ch.client_from_settings()
    try:
        profile = client.get_company(number)
        officers = client.list_officers(number) if change.field == F.DECLARATION else []
    except ch.CompanyNotFound:
        return _conclude(
            change_pk,
            passed=False,
            snapshot={},
            officer={},
            reasons=[
                {
                    "code": "company.not_found",
                    "message": f"Companies House has no company {number}.",
                }
            ],
        )
    except (
        ch.CompaniesHouseAuthError,
        ch.CompaniesHouseBadRequest,
        ch.InvalidCompanyNumber,
    ) as exc:
        return _conclude(
            change_pk,
            passed=False,
            snapshot={},
            officer={},
            reasons=[
                {
                    "code": "companies_house.not_configured",
                    "message": f"Companies House refused FlexReg's request ({exc}); check by hand.",
                }
            ],
        )
    except ch.CompaniesHouseError as exc:
        if change.field == F.COMPANY_NUMBER:  # the operator reviews it anyway: no need to wait
            return _conclude(
                change_pk,
                passed=False,
                snapshot={},
                officer={},
                reasons=[
                    {
                        "code": "change.company_number_review",
                        "message": "A new company number is always checked by the central "
                        "operator.",
                    },
                    {
                        "code": "companies_house.unavailable",
                        "message": f"Companies House could not be reached: {exc}",
                    },
                ],
            )
        return _defer(change_pk, exc)
    finally:
        if own_client:
            client.close()
    passed, reasons, officer = _evaluate(change, participant, profile, officers)
    return _conclude(
        change_pk, passed=passed, snapshot=asdict(profile), officer=officer, reasons=reasons
    )


@transaction.atomic
def _conclude(
    change_pk: int,
    *,
    passed: bool,
    snapshot: dict[str, Any],
    officer: dict[str, Any],
    reasons: list[dict[str, str]],
) -> ParticipantChange:
    change = ParticipantChange.objects.select_for_update().get(pk=change_pk)
    if change.status != ChangeStatus.PENDING:
        return change  # decided meanwhile (operator, another worker, withdrawal)
    participant = Participant.objects.select_for_update().get(pk=change.participant_id)
    acting = _system()
    if passed and participant.status != ParticipantStatus.ACTIVE:
        passed = False
        reasons = [
            *reasons,
            {
                "code": "participant.not_active",
                "message": f"The participant is {participant.status}: a person decides.",
            },
        ]
    change.company_snapshot = audit._plain(snapshot)
    change.matched_officer = audit._plain(officer)
    change.reasons = reasons
    change.attempts += 1
    change.last_attempt_at = timezone.now()
    change.next_attempt_at = None
    change.last_error = ""
    if passed:
        _apply(acting, change, participant, by_operator=False)
        return change
    change.status = ChangeStatus.NEEDS_REVIEW
    change.save()
    _audit_change(
        acting,
        "participant_change.sent_to_review",
        change,
        participant,
        before={"status": ChangeStatus.PENDING},
        after={
            "status": change.status,
            "reasons": [r["code"] for r in reasons],
            "company_status": snapshot.get("company_status", ""),
        },
    )
    return change


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


@transaction.atomic
def _defer(change_pk: int, exc: Exception) -> ParticipantChange:
    change = ParticipantChange.objects.select_for_update().get(pk=change_pk)
    if change.status != ChangeStatus.PENDING:
        return change
    participant = Participant.objects.get(pk=change.participant_id)
    now = timezone.now()
    change.attempts += 1
    change.last_attempt_at = now
    change.last_error = f"{getattr(exc, 'code', 'error')}: {exc}"[:300]
    waited = now - change.requested_at
    limit = dt.timedelta(hours=settings.VERIFICATION_UNAVAILABLE_REVIEW_AFTER_HOURS)
    if waited >= limit:
        change.status = ChangeStatus.NEEDS_REVIEW
        change.next_attempt_at = None
        change.reasons = [
            {
                "code": "companies_house.unavailable",
                "message": f"Companies House could not be reached for {waited}: {exc}",
            }
        ]
        action = "participant_change.sent_to_review"
    else:
        change.next_attempt_at = now + _backoff(change.attempts)
        action = "participant_change.retry_scheduled"
    change.save()
    _audit_change(
        _system(),
        action,
        change,
        participant,
        after={
            "status": change.status,
            "attempts": change.attempts,
            "error": change.last_error,
            "next_attempt_at": change.next_attempt_at,
        },
    )
    if change.next_attempt_at is not None:
        from flexreg.participants.tasks import retry_change_check

        when = change.next_attempt_at
        transaction.on_commit(lambda: retry_change_check.using(run_after=when).enqueue(change.pk))
    return change


def retry_due_changes(client: Any = None) -> int:
    """Run every pending change check whose retry time has come (the worker's sweep)."""
    due = list(
        ParticipantChange.objects.filter(
            status=ChangeStatus.PENDING, next_attempt_at__lte=timezone.now()
        ).values_list("pk", flat=True)[:500]
    )
    for pk in due:
        run_change_check(pk, client=client)
    return len(due)


# --- applying a verified change -------------------------------------------------------------


def _record_declaration(
    acting: Acting, change: ParticipantChange, participant: Participant, *, by_operator: bool
) -> Verification:
    """A verified new declaration becomes the participant's newest verification."""
    now = timezone.now()
    verification = Verification.objects.create(
        participant=participant,
        method=VerificationMethod.COMPANIES_HOUSE,
        status=VerificationStatus.APPROVED if by_operator else VerificationStatus.PASSED,
        submitted_by_id=change.requested_by_id,
        submitted_at=now,
        declarant_name=change.new_value["declarant_name"],
        declarant_is_applicant=bool(change.new_value.get("declarant_is_applicant")),
        declaration_accepted_at=change.requested_at,
        company_snapshot=change.company_snapshot,
        matched_officer=change.matched_officer,
        reasons=change.reasons,
        attempts=change.attempts,
        last_attempt_at=change.last_attempt_at,
        decided_by_id=acting.user_id if by_operator else None,
        decided_at=now if by_operator else None,
        decision_reason=change.decision_reason if by_operator else "",
    )
    audit.record(
        acting,
        "verification.declaration_changed",
        object_type="verification",
        object_id=str(verification.public_id),
        subject_participant_id=participant.participant_id,
        after={
            "status": verification.status,
            "declarant_name": verification.declarant_name,
            "declarant_is_applicant": verification.declarant_is_applicant,
            "change_id": str(change.public_id),
        },
        personal=("declarant_name",),
    )
    return verification


def _apply(
    acting: Acting, change: ParticipantChange, participant: Participant, *, by_operator: bool
) -> None:
    """The new value takes effect (inside the caller's transaction, rows locked)."""
    now = timezone.now()
    if change.field == F.DECLARATION:
        _record_declaration(acting, change, participant, by_operator=by_operator)
    else:
        before = services.snapshot(participant)
        if change.field == F.COMPANY_NUMBER:
            rules.lock_company_number(change.new_value)
            rules.company_number_not_registered(change.new_value)
            participant.company_number = change.new_value
        elif change.field == F.LEGAL_NAME:
            participant.legal_name = change.new_value
        else:
            participant.registered_address = dict(change.new_value)
        participant.version += 1
        participant.updated_at = now
        participant.save()
        services._audit_participant(
            acting,
            "participant.verified_fact_changed",
            participant,
            before,
            services.snapshot(participant),
        )
    before_status = change.status
    change.status = ChangeStatus.APPROVED if by_operator else ChangeStatus.APPLIED
    change.applied_at = now
    change.save()
    _audit_change(
        acting,
        f"participant_change.{change.status}",
        change,
        participant,
        before={"status": before_status, "old_value": change.old_value},
        after={
            "status": change.status,
            "new_value": change.new_value,
            **({"reason": change.decision_reason} if by_operator else {}),
        },
    )
    _tell(change, participant)


def _tell(change: ParticipantChange, participant: Participant) -> None:
    """Tell the participant's Authorised Persons how their change request ended."""
    from flexreg.notifications.services import notify

    label = F(change.field).label
    verdict = {
        ChangeStatus.APPLIED: "verified and applied",
        ChangeStatus.APPROVED: "approved and applied",
        ChangeStatus.REJECTED: "rejected",
    }.get(ChangeStatus(change.status), str(change.status))
    notify(
        NOTIFY_KIND,
        selectors_recipients.authorised_persons(participant.pk),
        subject=f"Your change to the {label.lower()} was {verdict}",
        context={
            "participant": participant,
            "accepted": change.status in (ChangeStatus.APPLIED, ChangeStatus.APPROVED),
            "field": label,
            "status": change.status,
            "verdict": verdict,
            "new_value": describe(change.field, change.new_value),
            "reason": change.decision_reason,
            "reasons": [r.get("message", "") for r in change.reasons],
        },
        link=f"/participants/{participant.participant_id}/changes/",
        participant_id=participant.participant_id,
        dedupe_key=f"participant_change:{change.public_id}:{change.status}",
    )


# --- the central operator's decision --------------------------------------------------------


@transaction.atomic
def decide_change(
    acting: Acting, change: ParticipantChange, decision: str, reason: str
) -> ParticipantChange:
    """Approve (the new value takes effect) or reject a change request, with a reason."""
    permissions.require(acting, REVIEW_PERMISSION)
    change = ParticipantChange.objects.select_for_update().get(pk=change.pk)
    if change.status not in OPEN_CHANGE_STATUSES:
        raise DomainError(
            code="participant_change.already_decided",
            detail=f"This change request is already {change.status}.",
            status=409,
            title="Conflict with the current state",
        )
    participant = Participant.objects.select_for_update().get(pk=change.participant_id)
    change.decided_by_id = acting.user_id
    change.decided_at = timezone.now()
    change.decision_reason = reason
    change.next_attempt_at = None
    if decision == "approve":
        if participant.status == ParticipantStatus.WITHDRAWN:
            raise DomainError(
                code="participant.read_only",
                detail="A withdrawn participant cannot be changed.",
                status=409,
                title="Conflict with the current state",
            )
        _apply(acting, change, participant, by_operator=True)
        return change
    before = change.status
    change.status = ChangeStatus.REJECTED
    change.save()
    _audit_change(
        acting,
        "participant_change.rejected",
        change,
        participant,
        before={"status": before},
        after={"status": change.status, "reason": reason},
    )
    _tell(change, participant)
    return change


# --- withdrawal closes what is open ---------------------------------------------------------


@receiver(signals.participant_status_changed, dispatch_uid="participants.changes.on_withdrawal")
def _cancel_on_withdrawal(
    sender: Any, acting: Acting, participant: Participant, transition: str, reason: str, **_: Any
) -> None:
    """A withdrawn participant's open change requests are cancelled (in the same transaction)."""
    if transition != "withdraw":
        return
    now = timezone.now()
    for change in ParticipantChange.objects.select_for_update().filter(
        participant=participant, status__in=OPEN_CHANGE_STATUSES
    ):
        before = change.status
        change.status = ChangeStatus.CANCELLED
        change.decided_at = now
        change.decision_reason = f"The participant was withdrawn: {reason}"
        change.next_attempt_at = None
        change.save()
        _audit_change(
            acting,
            "participant_change.cancelled",
            change,
            participant,
            before={"status": before},
            after={"status": change.status, "reason": change.decision_reason},
        )
