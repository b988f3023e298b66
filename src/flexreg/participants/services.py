"""Participant use cases. Each write is one transaction, checks permissions and rules, and
records an audit event. External calls (Companies House) happen outside transactions."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from flexreg.core import audit, permissions
from flexreg.core.acting import Acting
from flexreg.core.errors import DomainError, NotFound, PreconditionFailed
from flexreg.core.roles import SPECIAL_ROLES
from flexreg.core.statemachine import StateMachine, Transition
from flexreg.identifiers import new_participant_id
from flexreg.participants import rules, services_access, signals
from flexreg.participants.models import (
    Contact,
    ContactKind,
    Membership,
    OrganisationType,
    Participant,
    ParticipantKind,
    ParticipantRole,
    ParticipantStatus,
    RoleStatus,
    Verification,
    VerificationMethod,
    VerificationStatus,
)
from flexreg.participants.schemas import (
    ContactsIn,
    DeclarationIn,
    IndividualIn,
    OrganisationIn,
    ParticipantPatch,
)

logger = logging.getLogger(__name__)

S = ParticipantStatus
LIFECYCLE = StateMachine(
    "participant",
    [s.value for s in ParticipantStatus],
    [
        Transition("verify", frozenset({S.PENDING_VERIFICATION}), S.ACTIVE),
        Transition("reject", frozenset({S.PENDING_VERIFICATION}), S.REJECTED),
        Transition("reapply", frozenset({S.REJECTED}), S.PENDING_VERIFICATION),
        Transition("suspend", frozenset({S.ACTIVE}), S.SUSPENDED),
        Transition("reinstate", frozenset({S.SUSPENDED}), S.ACTIVE),
        Transition(
            "withdraw", frozenset({S.PENDING_VERIFICATION, S.ACTIVE, S.SUSPENDED}), S.WITHDRAWN
        ),
    ],
)

R = RoleStatus
ROLE_LIFECYCLE = StateMachine(
    "participant_role",
    [s.value for s in RoleStatus],
    [
        Transition("approve", frozenset({R.PENDING}), R.ACTIVE),
        # An active role is rejected when its market-entry case is (``set_role_qualified``).
        Transition("reject", frozenset({R.PENDING, R.ACTIVE}), R.REJECTED),
        Transition("reopen", frozenset({R.WITHDRAWN, R.REJECTED}), R.PENDING),
        Transition("withdraw", frozenset({R.PENDING, R.ACTIVE, R.SUSPENDED}), R.WITHDRAWN),
    ],
)

PERSONAL_FIELDS_INDIVIDUAL = ("legal_name", "registered_address", "contacts")
PERSONAL_FIELDS_ORGANISATION = ("contacts",)


# --- snapshots for the audit log ------------------------------------------------------------


def _contacts_snapshot(participant: Participant) -> dict[str, Any]:
    return {
        c.kind: {"name": c.name, "email": c.email, "phone": c.phone}
        for c in participant.contacts.order_by("kind")
    }


def snapshot(participant: Participant) -> dict[str, Any]:
    return {
        "participant_id": participant.participant_id,
        "kind": participant.kind,
        "status": participant.status,
        "legal_name": participant.legal_name,
        "trading_name": participant.trading_name,
        "organisation_type": participant.organisation_type,
        "company_number": participant.company_number,
        "non_uk_registration": {
            "country": participant.non_uk_country,
            "registry": participant.non_uk_registry,
            "registration_number": participant.non_uk_registration_number,
        }
        if participant.non_uk_country
        else None,
        "registered_address": participant.registered_address,
        "vat_number": participant.vat_number,
        "website": participant.website,
        "email_domains": list(participant.email_domains),
        "contacts": _contacts_snapshot(participant),
    }


def _personal(participant: Participant) -> tuple[str, ...]:
    if participant.kind == ParticipantKind.INDIVIDUAL:
        return PERSONAL_FIELDS_INDIVIDUAL
    return PERSONAL_FIELDS_ORGANISATION


def _audit_participant(
    acting: Acting,
    action: str,
    participant: Participant,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    audit.record(
        acting,
        action,
        object_type="participant",
        object_id=participant.participant_id,
        subject_participant_id=participant.participant_id,
        before=before,
        after=after,
        personal=_personal(participant),
    )


# --- registration ---------------------------------------------------------------------------


def _set_contacts(participant: Participant, contacts: ContactsIn) -> None:
    participant.contacts.all().delete()
    for kind in ContactKind:
        contact = getattr(contacts, kind.value)
        if contact is not None:
            Contact.objects.create(
                participant=participant,
                kind=kind.value,
                name=contact.name,
                email=contact.email,
                phone=contact.phone,
            )


def _new_participant(**fields: Any) -> Participant:
    """Insert with a fresh random Participant ID, retrying in the unlikely event of a clash."""
    for _ in range(5):
        try:
            with transaction.atomic():
                return Participant.objects.create(
                    participant_id=str(new_participant_id()), **fields
                )
        except IntegrityError as exc:
            if "participant_id" not in str(exc):
                raise
    raise RuntimeError("could not allocate a unique Participant ID")


@transaction.atomic
def register(acting: Acting, data: OrganisationIn | IndividualIn) -> Participant:
    """Register an organisation or an individual: status ``pending_verification`` at once.

    The registrant gets an applicant membership of every requested role; they become the
    participant's Authorised Person when it is verified.
    """
    permissions.require(acting, permissions.REGISTER)
    if acting.user_id is None:
        raise DomainError(code="participant.registrant_required", detail="Sign in to register.")
    for role in data.requested_roles:
        rules.role_requestable(role, by_operator=False)
    now = timezone.now()
    common = {"created_by_id": acting.user_id, "created_at": now, "updated_at": now}
    if isinstance(data, OrganisationIn):
        if data.company_number:
            rules.lock_company_number(data.company_number)
            rules.company_number_not_registered(data.company_number)
        non_uk = data.non_uk_registration
        try:
            participant = _new_participant(
                kind=ParticipantKind.ORGANISATION,
                legal_name=data.legal_name,
                trading_name=data.trading_name,
                organisation_type=data.organisation_type,
                company_number=data.company_number or None,
                non_uk_country=non_uk.country if non_uk else "",
                non_uk_registry=non_uk.registry if non_uk else "",
                non_uk_registration_number=non_uk.registration_number if non_uk else "",
                registered_address=data.registered_address.model_dump(),
                vat_number=data.vat_number,
                website=data.website,
                email_domains=sorted(set(data.email_domains)),
                **common,
            )
        except IntegrityError:
            # The advisory lock makes this unreachable in practice; the index is the backstop.
            rules.company_number_not_registered(data.company_number or "")
            raise
        _set_contacts(participant, data.contacts)
    else:
        participant = _new_participant(
            kind=ParticipantKind.INDIVIDUAL,
            legal_name=f"{data.given_name} {data.family_name}",
            registered_address=data.address.model_dump(),
            email_domains=[],
            **common,
        )
        Contact.objects.create(
            participant=participant,
            kind=ContactKind.PRIMARY,
            name=participant.legal_name,
            email=data.contact.email,
            phone=data.contact.phone,
        )
    _audit_participant(acting, "participant.registered", participant, None, snapshot(participant))
    for role in data.requested_roles:
        held = ParticipantRole.objects.create(participant=participant, role=role, requested_at=now)
        _audit_role(acting, "participant_role.requested", held, None, RoleStatus.PENDING)
        _grant_membership(acting, held, acting.user_id, authorised_person=False)
        signals.role_requested.send(sender=ParticipantRole, acting=acting, held=held)
    _open_verification(acting, participant, getattr(data, "declaration", None))
    return participant


def _grant_membership(
    acting: Acting, held: ParticipantRole, user_id: int, *, authorised_person: bool
) -> Membership:
    perms = (
        permissions.allowed_for_role(held.role)
        if authorised_person
        else permissions.applicant_permissions(held.role)
    )
    membership, _ = Membership.objects.update_or_create(
        user_id=user_id,
        participant_role=held,
        defaults={
            "permissions": sorted(perms),
            "is_authorised_person": authorised_person,
            "is_active": True,
            "ended_at": None,
            "granted_by_id": acting.user_id,
        },
    )
    audit.record(
        acting,
        "membership.granted",
        object_type="membership",
        object_id=f"{held.participant.participant_id}/{held.role}/{user_id}",
        subject_participant_id=held.participant.participant_id,
        after={
            "user_id": user_id,
            "permissions": sorted(perms),
            "is_authorised_person": authorised_person,
        },
    )
    return membership


def _audit_role(
    acting: Acting,
    action: str,
    held: ParticipantRole,
    before: str | None,
    after: str,
    reason: str = "",
) -> None:
    audit.record(
        acting,
        action,
        object_type="participant_role",
        object_id=f"{held.participant.participant_id}/{held.role}",
        subject_participant_id=held.participant.participant_id,
        before={"status": before} if before else None,
        after={"status": after, **({"reason": reason} if reason else {})},
        only_changed=False,
    )


# --- verification ---------------------------------------------------------------------------


def _open_verification(
    acting: Acting, participant: Participant, declaration: DeclarationIn | None
) -> Verification:
    """Start a verification: automatic for UK companies with a declaration, else a review."""
    Verification.objects.filter(
        participant=participant,
        status__in=[VerificationStatus.PENDING, VerificationStatus.NEEDS_REVIEW],
    ).update(status=VerificationStatus.SUPERSEDED)
    fields: dict[str, Any] = {"participant": participant, "submitted_by_id": acting.user_id}
    if participant.kind == ParticipantKind.INDIVIDUAL:
        fields.update(
            method=VerificationMethod.IDENTITY,
            status=VerificationStatus.NEEDS_REVIEW,
            reasons=[
                {
                    "code": "identity.not_proven",
                    "message": "Identity not yet proven through an identity provider: "
                    "verify by hand or wait for a proven identity.",
                }
            ],
        )
    elif participant.company_number and declaration is not None:
        fields.update(
            method=VerificationMethod.COMPANIES_HOUSE,
            status=VerificationStatus.PENDING,
            declarant_name=declaration.declarant_name,
            declarant_is_applicant=declaration.declarant_is_applicant,
            declaration_accepted_at=timezone.now(),
            next_attempt_at=timezone.now(),
        )
    elif participant.company_number:
        fields.update(
            method=VerificationMethod.COMPANIES_HOUSE,
            status=VerificationStatus.NEEDS_REVIEW,
            reasons=[
                {"code": "declaration.missing", "message": "No director's declaration was given."}
            ],
        )
    else:
        reason = (
            "Registered outside the UK: check the supporting documents."
            if participant.organisation_type == OrganisationType.NON_UK
            else "No Companies House number: check the organisation by hand."
        )
        fields.update(
            method=VerificationMethod.MANUAL,
            status=VerificationStatus.NEEDS_REVIEW,
            reasons=[{"code": "verification.manual_path", "message": reason}],
        )
    verification = Verification.objects.create(**fields)
    audit.record(
        acting,
        "verification.submitted",
        object_type="verification",
        object_id=str(verification.public_id),
        subject_participant_id=participant.participant_id,
        after={
            "method": verification.method,
            "status": verification.status,
            "declarant_name": verification.declarant_name,
            "declarant_is_applicant": verification.declarant_is_applicant,
        },
        personal=("declarant_name",),
    )
    return verification


@transaction.atomic
def submit_verification(
    acting: Acting, participant: Participant, declaration: DeclarationIn
) -> Verification:
    """(Re)submit a director's declaration; a rejected participant may apply again."""
    permissions.require(acting, "verification:submit")
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    if not acting.acts_for(participant.pk):
        raise NotFound()  # declarations come from the participant's own people
    if not participant.company_number:
        raise DomainError(
            code="declaration.not_applicable",
            detail="This participant has no Companies House number: its verification is a "
            "manual review by the central operator.",
        )
    if participant.status == S.REJECTED:
        _transition(acting, participant, "reapply", "New declaration submitted.")
    elif participant.status != S.PENDING_VERIFICATION:
        raise DomainError(
            code="verification.not_pending",
            detail=f"The participant is {participant.status}: there is nothing to verify.",
            status=409,
            title="Conflict with the current state",
        )
    return _open_verification(acting, participant, declaration)


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


def run_companies_house_check(verification_pk: int, client: Any = None) -> Verification:
    """Check a pending verification against Companies House. Never loses the registration:
    an unreachable service leaves it pending with a retry scheduled, and after
    ``VERIFICATION_UNAVAILABLE_REVIEW_AFTER_HOURS`` sends it to the operator's queue."""
    from flexreg.participants import companies_house as ch
    from flexreg.participants.officer_matching import check_declaration

    verification = Verification.objects.select_related("participant").get(pk=verification_pk)
    if verification.status != VerificationStatus.PENDING:
        return verification
    number = verification.participant.company_number or ""
    own_client = client is None
    client = client or ch.client_from_settings()
    try:
        profile = client.get_company(number)
        officers = client.list_officers(number)
    except ch.CompanyNotFound:
        return _conclude(
            verification_pk,
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
    except (ch.CompaniesHouseAuthError, ch.CompaniesHouseBadRequest) as exc:
        # Not configured (no or wrong API key) or refused: retrying will not help.
        return _conclude_offline(
            verification_pk,
            number,
            {
                "code": "companies_house.not_configured",
                "message": f"Companies House refused FlexReg's request ({exc}); check by hand.",
            },
        )
    except ch.CompaniesHouseError as exc:
        return _defer(verification_pk, exc)
    finally:
        if own_client:
            client.close()
    check = check_declaration(profile, officers, verification.declarant_name)
    reasons = [{"code": r.code, "message": r.message} for r in check.reasons]
    if not rules.company_names_match(verification.participant.legal_name, profile.company_name):
        reasons.append(
            {
                "code": "company.name_mismatch",
                "message": f"The legal name given ({verification.participant.legal_name}) differs "
                f"from the register ({profile.company_name}).",
            }
        )
    company = asdict(profile)
    officer = asdict(check.matched_officer) if check.matched_officer else {}
    return _conclude(
        verification_pk,
        passed=check.passed and not reasons,
        snapshot=company,
        officer=officer,
        reasons=reasons,
    )


def _conclude_offline(verification_pk: int, number: str, reason: dict[str, str]) -> Verification:
    """Send to review, with what the imported bulk data says about the company if anything."""
    facts = offline_company_facts(number)
    reasons = [reason]
    if facts is None:
        reasons.append(
            {
                "code": "company.no_offline_record",
                "message": "The company is not in the imported Basic Company Data.",
            }
        )
    elif facts["company_status"] != "active":
        reasons.append(
            {
                "code": "company.not_active",
                "message": f"Basic Company Data says: {facts['status_label']}.",
            }
        )
    return _conclude(
        verification_pk, passed=False, snapshot=facts or {}, officer={}, reasons=reasons
    )


def _system() -> Acting:
    return Acting.system("companies-house-verification")


@transaction.atomic
def _conclude(
    verification_pk: int,
    *,
    passed: bool,
    snapshot: dict[str, Any],
    officer: dict[str, Any],
    reasons: list[dict[str, str]],
) -> Verification:
    verification = (
        Verification.objects.select_for_update()
        .select_related("participant")
        .get(pk=verification_pk)
    )
    if verification.status != VerificationStatus.PENDING:
        return verification  # decided meanwhile (operator, or another worker)
    acting = _system()
    verification.company_snapshot = audit._plain(snapshot)
    verification.matched_officer = audit._plain(officer)
    verification.reasons = reasons
    verification.attempts += 1
    verification.last_attempt_at = timezone.now()
    verification.next_attempt_at = None
    verification.last_error = ""
    verification.status = VerificationStatus.PASSED if passed else VerificationStatus.NEEDS_REVIEW
    verification.save()
    audit.record(
        acting,
        "verification.checked",
        object_type="verification",
        object_id=str(verification.public_id),
        subject_participant_id=verification.participant.participant_id,
        after={
            "status": verification.status,
            "reasons": [r["code"] for r in reasons],
            "company_status": snapshot.get("company_status", ""),
        },
    )
    if passed:
        _activate(acting, verification.participant, "Verified against Companies House.")
    return verification


@transaction.atomic
def _defer(verification_pk: int, exc: Exception) -> Verification:
    verification = (
        Verification.objects.select_for_update()
        .select_related("participant")
        .get(pk=verification_pk)
    )
    if verification.status != VerificationStatus.PENDING:
        return verification
    now = timezone.now()
    verification.attempts += 1
    verification.last_attempt_at = now
    verification.last_error = f"{getattr(exc, 'code', 'error')}: {exc}"[:300]
    waited = now - verification.submitted_at
    limit = dt.timedelta(hours=settings.VERIFICATION_UNAVAILABLE_REVIEW_AFTER_HOURS)
    if waited >= limit:
        verification.status = VerificationStatus.NEEDS_REVIEW
        verification.next_attempt_at = None
        verification.reasons = [
            {
                "code": "companies_house.unavailable",
                "message": f"Companies House could not be reached for {waited}: {exc}",
            }
        ]
        facts = offline_company_facts(verification.participant.company_number or "")
        if facts is not None:
            verification.company_snapshot = facts
        action = "verification.sent_to_review"
    else:
        verification.next_attempt_at = now + _backoff(verification.attempts)
        action = "verification.retry_scheduled"
    verification.save()
    audit.record(
        _system(),
        action,
        object_type="verification",
        object_id=str(verification.public_id),
        subject_participant_id=verification.participant.participant_id,
        after={
            "attempts": verification.attempts,
            "error": verification.last_error,
            "next_attempt_at": verification.next_attempt_at,
        },
    )
    if verification.next_attempt_at is not None:
        from flexreg.participants.tasks import retry_verification

        when = verification.next_attempt_at
        transaction.on_commit(
            lambda: retry_verification.using(run_after=when).enqueue(verification.pk)
        )
    return verification


def retry_due_verifications(client: Any = None) -> int:
    """Run every pending verification whose retry time has come (the worker's sweep)."""
    due = list(
        Verification.objects.filter(
            status=VerificationStatus.PENDING,
            method=VerificationMethod.COMPANIES_HOUSE,
            next_attempt_at__lte=timezone.now(),
        ).values_list("pk", flat=True)[:500]
    )
    for pk in due:
        run_companies_house_check(pk, client=client)
    return len(due)


def _activate(acting: Acting, participant: Participant, reason: str) -> None:
    """Verified: participant active, requested roles active, registrant Authorised Person."""
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    _transition(acting, participant, "verify", reason)
    participant.verified_at = timezone.now()
    participant.save(update_fields=["verified_at"])
    for held in participant.roles.filter(status=RoleStatus.PENDING):
        _set_role_status(acting, held, "approve", reason)
    if participant.created_by_id is not None:
        for held in participant.roles.filter(status=RoleStatus.ACTIVE):
            _grant_membership(acting, held, participant.created_by_id, authorised_person=True)


@transaction.atomic
def decide_verification(
    acting: Acting, verification: Verification, decision: str, reason: str
) -> Verification:
    """The central operator approves or rejects a verification (with a reason, audited)."""
    permissions.require(acting, "verification:review")
    verification = (
        Verification.objects.select_for_update()
        .select_related("participant")
        .get(pk=verification.pk)
    )
    if verification.status not in (VerificationStatus.NEEDS_REVIEW, VerificationStatus.PENDING):
        raise DomainError(
            code="verification.already_decided",
            detail=f"This verification is already {verification.status}.",
            status=409,
            title="Conflict with the current state",
        )
    before = verification.status
    verification.status = (
        VerificationStatus.APPROVED if decision == "approve" else VerificationStatus.REJECTED
    )
    verification.decided_by_id = acting.user_id
    verification.decided_at = timezone.now()
    verification.decision_reason = reason
    verification.next_attempt_at = None
    verification.save()
    audit.record(
        acting,
        f"verification.{verification.status}",
        object_type="verification",
        object_id=str(verification.public_id),
        subject_participant_id=verification.participant.participant_id,
        before={"status": before},
        after={"status": verification.status, "reason": reason},
    )
    participant = Participant.objects.select_for_update().get(pk=verification.participant_id)
    if decision == "approve":
        _activate(acting, participant, f"Approved by the central operator: {reason}")
    else:
        # Requested roles stay pending: the applicant may fix things and apply again.
        _transition(acting, participant, "reject", reason)
    return verification


# --- lifecycle ------------------------------------------------------------------------------


def _transition(acting: Acting, participant: Participant, name: str, reason: str) -> None:
    before = participant.status
    participant.status = LIFECYCLE.target(before, name)
    participant.status_reason = reason
    participant.updated_at = timezone.now()
    participant.version += 1
    participant.save(update_fields=["status", "status_reason", "updated_at", "version"])
    audit.record(
        acting,
        f"participant.{name}",
        object_type="participant",
        object_id=participant.participant_id,
        subject_participant_id=participant.participant_id,
        before={"status": before},
        after={"status": participant.status, "reason": reason},
    )
    signals.participant_status_changed.send(
        sender=Participant,
        acting=acting,
        participant=participant,
        before=before,
        after=participant.status,
        transition=name,
        reason=reason,
    )


@transaction.atomic
def transition(acting: Acting, participant: Participant, name: str, reason: str) -> Participant:
    """Suspend, reinstate or withdraw a participant. The operator may do all three; a
    participant's Authorised Person may withdraw their own participant."""
    own_withdrawal = name == "withdraw" and acting.acts_for(participant.pk)
    permissions.require(
        acting, "participant:withdraw" if own_withdrawal else "participants:transition"
    )
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    _transition(acting, participant, name, reason)
    if name == "withdraw":
        _end_memberships(
            acting, Membership.objects.filter(participant_role__participant=participant), reason
        )
    return participant


def _end_memberships(acting: Acting, memberships: Any, reason: str) -> None:
    """End memberships (role or participant withdrawn): tokens revoked and portal sessions
    ended at once, through the same service that revokes one membership."""
    ended_users: set[int] = set()
    for membership in memberships.filter(is_active=True).select_related(
        "participant_role__participant"
    ):
        services_access.end_membership(
            acting, membership, "membership.ended", reason, sessions_too=False
        )
        ended_users.add(membership.user_id)
    services_access.end_sessions(ended_users)


# --- self-serve changes ---------------------------------------------------------------------


@transaction.atomic
def update(
    acting: Acting, participant: Participant, patch: ParticipantPatch, expected_version: int | None
) -> Participant:
    permissions.require(acting, "participant:update")
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    if not acting.acts_for(participant.pk):
        raise NotFound()
    if expected_version is not None and expected_version != participant.version:
        raise PreconditionFailed(
            f"The participant changed since version {expected_version} (now "
            f"{participant.version}). Read it again and re-apply your change."
        )
    if participant.status == S.WITHDRAWN:
        raise DomainError(
            code="participant.read_only",
            detail=f"A {participant.status} participant cannot be changed.",
            status=409,
            title="Conflict with the current state",
        )
    before = snapshot(participant)
    changes = patch.model_dump(exclude_unset=True)
    for name in ("trading_name", "vat_number", "website"):
        if changes.get(name) is not None:
            setattr(participant, name, changes[name])
    if changes.get("email_domains") is not None:
        participant.email_domains = sorted(set(changes["email_domains"]))
    if participant.kind == ParticipantKind.INDIVIDUAL and (
        changes.get("trading_name") or changes.get("vat_number") or changes.get("email_domains")
    ):
        raise DomainError(
            code="participant.field_not_for_individuals",
            detail="Trading name, VAT number and email domains apply to organisations only.",
        )
    if patch.contacts is not None:
        _set_contacts(participant, patch.contacts)
    after = snapshot(participant)
    if after != before:
        participant.version += 1
        participant.updated_at = timezone.now()
        participant.save()
        _audit_participant(acting, "participant.updated", participant, before, after)
    return participant


# --- roles ----------------------------------------------------------------------------------


def _set_role_status(acting: Acting, held: ParticipantRole, name: str, reason: str) -> None:
    before = held.status
    held.status = ROLE_LIFECYCLE.target(before, name)
    held.status_reason = reason
    held.status_changed_at = timezone.now()
    held.save(update_fields=["status", "status_reason", "status_changed_at"])
    _audit_role(acting, f"participant_role.{name}", held, before, held.status, reason)
    signals.role_status_changed.send(
        sender=ParticipantRole,
        acting=acting,
        held=held,
        before=before,
        after=held.status,
        transition=name,
        reason=reason,
    )


@transaction.atomic
def add_role(acting: Acting, participant: Participant, role: str) -> ParticipantRole:
    """Ask for another role. It is pending until the participant is verified, or until the
    central operator approves it for an active participant."""
    permissions.require(acting, "participant_roles:manage")
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    if not acting.acts_for(participant.pk):
        raise NotFound()
    rules.role_requestable(role, by_operator=False)
    if participant.kind == ParticipantKind.INDIVIDUAL:
        from flexreg.core.roles import INDIVIDUAL_ROLES

        if role not in INDIVIDUAL_ROLES:
            raise DomainError(
                code="roles.not_for_individuals",
                detail=f"A private individual may hold {', '.join(sorted(INDIVIDUAL_ROLES))}.",
            )
    if participant.status not in (S.PENDING_VERIFICATION, S.ACTIVE):
        raise DomainError(
            code="participant.not_open_for_roles",
            detail=f"A {participant.status} participant cannot ask for roles.",
            status=409,
            title="Conflict with the current state",
        )
    existing = participant.roles.filter(role=role).first()
    rules.role_not_already_held(existing, role)
    if existing is not None:
        _set_role_status(acting, existing, "reopen", "Asked for again.")
        held = existing
        held.qualified_at = None
        held.save(update_fields=["qualified_at"])
    else:
        held = ParticipantRole.objects.create(participant=participant, role=role)
        _audit_role(acting, "participant_role.requested", held, None, RoleStatus.PENDING)
    signals.role_requested.send(sender=ParticipantRole, acting=acting, held=held)
    if acting.user_id is not None:
        requester = Membership.objects.filter(pk=acting.membership_id or 0).first()
        _grant_membership(
            acting,
            held,
            acting.user_id,
            authorised_person=bool(requester and requester.is_authorised_person),
        )
    return held


@transaction.atomic
def decide_role(
    acting: Acting, participant: Participant, role: str, decision: str, reason: str
) -> ParticipantRole:
    permissions.require(acting, "participant_roles:decide")
    held = (
        ParticipantRole.objects.select_for_update()
        .filter(participant=participant, role=role)
        .first()
    )
    if held is None:
        raise NotFound(f"The participant has not asked for the {role} role.")
    if participant.status != S.ACTIVE:
        raise DomainError(
            code="participant.not_active",
            detail="Roles of a participant that is not active are decided with its verification.",
            status=409,
            title="Conflict with the current state",
        )
    _set_role_status(acting, held, decision, reason)
    return held


@transaction.atomic
def withdraw_role(
    acting: Acting, participant: Participant, role: str, reason: str
) -> ParticipantRole:
    permissions.require(acting, "participant_roles:manage")
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    if not acting.acts_for(participant.pk) and not acting.has("participants:transition"):
        raise NotFound()
    held = participant.roles.filter(role=role).first()
    if held is None:
        raise NotFound(f"The participant does not hold the {role} role.")
    rules.not_last_role(participant, role)
    _set_role_status(acting, held, "withdraw", reason)
    _end_memberships(acting, held.memberships.all(), reason)
    return held


@transaction.atomic
def set_role_qualified(
    acting: Acting, held: ParticipantRole, qualified: bool, reason: str
) -> ParticipantRole:
    """Market entry's verdict on a role (called by ``entry`` in its own transaction).

    Qualified: the role becomes operational (approved first if it was still pending on an
    active participant). Not qualified (the case was rejected): the role is rejected and stops
    being operational; its members keep read access to see why and may ask again.
    """
    held = ParticipantRole.objects.select_for_update().select_related("participant").get(pk=held.pk)
    if qualified:
        if held.status == RoleStatus.PENDING and held.participant.status == S.ACTIVE:
            _set_role_status(acting, held, "approve", reason)
        held.qualified_at = timezone.now()
        held.save(update_fields=["qualified_at"])
        _audit_role(acting, "participant_role.qualified", held, held.status, held.status, reason)
    else:
        held.qualified_at = None
        held.save(update_fields=["qualified_at"])
        if held.status in (RoleStatus.PENDING, RoleStatus.ACTIVE):
            _set_role_status(acting, held, "reject", reason)
    return held


def check_after_registration(participant: Participant) -> Verification | None:
    """Run the automatic check for a new registration (outside its transaction)."""
    pending = participant.verifications.filter(
        status=VerificationStatus.PENDING, method=VerificationMethod.COMPANIES_HOUSE
    ).first()
    if pending is None:
        return None
    return run_companies_house_check(pending.pk)


CENTRAL_OPERATOR_NAME = "FlexReg Central Operator"


@transaction.atomic
def ensure_special_participant(acting: Acting, role: str, name: str) -> ParticipantRole:
    """The participant holding a special role (MARKET_FACILITATOR, REGULATOR) named ``name``,
    created active the first time. Special roles are never self-requested: only the trusted
    ``flexreg operator create`` command (and demo/test set-up) reaches this."""
    if role not in SPECIAL_ROLES:
        raise DomainError(
            code="participant_role.not_special",
            detail=f"{role} is requested through registration, not created by the operator.",
        )
    held = (
        ParticipantRole.objects.select_related("participant")
        .filter(role=role, status=RoleStatus.ACTIVE, participant__legal_name=name)
        .order_by("pk")
        .first()
    )
    if held is not None:
        return held
    now = timezone.now()
    participant = _new_participant(
        kind=ParticipantKind.ORGANISATION,
        status=S.ACTIVE,
        legal_name=name,
        organisation_type=OrganisationType.PUBLIC_BODY
        if role == "REGULATOR"
        else OrganisationType.OTHER,
        registered_address={},
        email_domains=[],
        created_at=now,
        updated_at=now,
        verified_at=now,
        status_reason="Created by the operator command.",
    )
    _audit_participant(acting, "participant.registered", participant, None, snapshot(participant))
    held = ParticipantRole.objects.create(
        participant=participant, role=role, status=RoleStatus.ACTIVE, qualified_at=timezone.now()
    )
    _audit_role(acting, "participant_role.assigned", held, None, RoleStatus.ACTIVE)
    return held


def ensure_central_operator(acting: Acting) -> ParticipantRole:
    """The participant that runs FlexReg, holding the MARKET_FACILITATOR role (created once)."""
    existing = (
        ParticipantRole.objects.select_related("participant")
        .filter(role="MARKET_FACILITATOR", status=RoleStatus.ACTIVE)
        .order_by("pk")
        .first()
    )
    return existing or ensure_special_participant(
        acting, "MARKET_FACILITATOR", CENTRAL_OPERATOR_NAME
    )


def grant_authorised_person(acting: Acting, held: ParticipantRole, user_id: int) -> Membership:
    """Make a user an Authorised Person of a participant role (operator set-up, demo data)."""
    with transaction.atomic():
        return _grant_membership(acting, held, user_id, authorised_person=True)


# --- Companies House's bulk data (offline source) -------------------------------------------


def import_basic_company_data(path: Any, batch_size: int = 5000) -> dict[str, Any]:
    """Load (or refresh) Companies House's Basic Company Data CSV into ``RegisteredCompany``.

    Streams the file and upserts in batches, each its own transaction, so a 5.7 million row
    file runs in bounded memory and an interruption keeps what was loaded. Malformed rows
    are skipped and counted, never fatal. Returns the counts.
    """
    from flexreg.participants.basic_company_data import iter_basic_company_data
    from flexreg.participants.models import RegisteredCompany

    now = timezone.now()
    fields = [
        "company_name",
        "status",
        "status_label",
        "category",
        "incorporation_date",
        "dissolution_date",
        "postcode",
        "address",
        "imported_at",
    ]

    def flush(rows: list[RegisteredCompany]) -> None:
        with transaction.atomic():
            RegisteredCompany.objects.bulk_create(
                rows, update_conflicts=True, unique_fields=["company_number"], update_fields=fields
            )

    with iter_basic_company_data(path) as records:
        pending: dict[str, RegisteredCompany] = {}
        for r in records:
            pending[r.company_number] = RegisteredCompany(
                company_number=r.company_number,
                company_name=r.company_name[:300],
                status=r.status or "unknown",
                status_label=r.status_label[:100],
                category=(r.category or "")[:100],
                incorporation_date=r.incorporation_date,
                dissolution_date=r.dissolution_date,
                postcode=(r.postcode or "")[:10],
                address={
                    "address_line_1": r.address_line_1,
                    "address_line_2": r.address_line_2,
                    "locality": r.post_town,
                    "region": r.county,
                    "country": r.country,
                    "postal_code": r.postcode,
                },
                imported_at=now,
            )
            if len(pending) >= batch_size:
                flush(list(pending.values()))
                pending.clear()
        if pending:
            flush(list(pending.values()))
        return {
            "loaded": records.yielded,
            "skipped": records.skipped,
            "skip_reasons": dict(records.skip_reasons),
            "unknown_status_labels": dict(records.unknown_status_labels),
        }


def offline_company_facts(company_number: str) -> dict[str, Any] | None:
    """What the bulk data says about a company, if it was imported."""
    from flexreg.participants.models import RegisteredCompany

    row = RegisteredCompany.objects.filter(company_number=company_number).first()
    if row is None:
        return None
    return {
        "source": "basic_company_data",
        "company_number": row.company_number,
        "company_name": row.company_name,
        "company_status": row.status,
        "status_label": row.status_label,
        "imported_at": row.imported_at.isoformat(),
    }


# --- proven identity (private individuals) --------------------------------------------------


@transaction.atomic
def record_proven_identity(
    acting: Acting, participant: Participant, *, provider: str, level: str, evidence: dict[str, Any]
) -> Verification:
    """An identity provider proved the individual's identity (e.g. GOV.UK One Login, ``P2``).

    Closes the open identity verification as passed (or records a new passed one), activates the
    participant and makes the registrant its Authorised Person. ``evidence`` holds what was
    checked (issuer, ``vot``, the credential's ``jti``/issue time), never the identity claims
    themselves (personal data stays with the provider).
    """
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    if participant.kind != ParticipantKind.INDIVIDUAL:
        raise DomainError(
            code="identity.not_an_individual",
            detail="Proof of identity applies to private individuals only.",
        )
    if not (acting.acts_for(participant.pk) or acting.via == "system"):
        raise NotFound()
    open_ = (
        Verification.objects.select_for_update()
        .filter(
            participant=participant,
            method=VerificationMethod.IDENTITY,
            status__in=[VerificationStatus.PENDING, VerificationStatus.NEEDS_REVIEW],
        )
        .first()
    )
    verification = open_ or Verification(
        participant=participant,
        method=VerificationMethod.IDENTITY,
        submitted_by_id=acting.user_id,
    )
    before = verification.status if open_ else None
    verification.status = VerificationStatus.PASSED
    verification.reasons = []
    verification.company_snapshot = {"identity_provider": provider, "level": level, **evidence}
    verification.attempts += 1
    verification.last_attempt_at = timezone.now()
    verification.save()
    audit.record(
        acting,
        "verification.identity_proven",
        object_type="verification",
        object_id=str(verification.public_id),
        subject_participant_id=participant.participant_id,
        before={"status": before} if before else None,
        after={"status": verification.status, "provider": provider, "level": level},
    )
    if participant.status == S.PENDING_VERIFICATION:
        _activate(acting, participant, f"Identity proven through {provider} ({level}).")
    return verification
