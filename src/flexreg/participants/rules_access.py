"""Small named rules for authorisations (who may grant what to whom). Each raises a coded
``DomainError``; services run them inside their transaction, under a row lock where it matters.
"""

from __future__ import annotations

from collections.abc import Iterable

from flexreg.core import permissions as catalogue
from flexreg.core.acting import Acting
from flexreg.core.errors import Conflict, DomainError, FieldError
from flexreg.participants.models import Membership, Participant, ParticipantRole


def known_permissions(codes: Iterable[str]) -> frozenset[str]:
    """Every code must be in the catalogue (``membership.unknown_permission``)."""
    codes = list(codes)
    unknown = sorted(catalogue.unknown(set(codes)))
    if unknown:
        raise DomainError(
            code="membership.unknown_permission",
            detail=f"Not in the permission catalogue: {', '.join(unknown)}.",
            errors=[
                FieldError(f"permissions.{codes.index(c)}", "membership.unknown_permission", c)
                for c in unknown
            ],
            extra={"permissions": unknown},
        )
    return frozenset(codes)


def allowed_for_role(codes: frozenset[str], role: str) -> None:
    """A role holds only what the catalogue lists for it (``membership.not_allowed_for_role``)."""
    extra = sorted(codes - catalogue.allowed_for_role(role))
    if extra:
        raise DomainError(
            code="membership.not_allowed_for_role",
            detail=f"The {role} role may not hold: {', '.join(extra)}.",
            extra={"permissions": extra, "role": role},
        )


def within_grantor(acting: Acting, codes: frozenset[str]) -> None:
    """Never more than the acting membership holds itself (``membership.exceeds_grantor``).

    The central operator (``memberships:manage_all``) is bound by the role rule only.
    Operational permissions granted to the grantor count as held even before the role is
    qualified (they only take effect then, for everyone alike).
    """
    if acting.has("memberships:manage_all"):
        return
    held = acting.permissions
    if acting.membership_id is not None and not acting.is_delegated:
        granted = Membership.objects.filter(pk=acting.membership_id).values_list(
            "permissions", flat=True
        )
        held |= frozenset(granted.first() or ()) & catalogue.operational_permissions()
    extra = sorted(codes - held)
    if extra:
        raise DomainError(
            code="membership.exceeds_grantor",
            detail=f"You cannot grant or take away permissions you do not hold: "
            f"{', '.join(extra)}.",
            status=403,
            title="Forbidden",
            extra={"permissions": extra},
        )


def email_in_domains(participant: Participant, email: str, override_reason: str) -> None:
    """Only addresses in the participant's registered email domains
    (``invitation.email_domain_not_registered``). An operator's override reason lifts it."""
    if override_reason:
        return
    domain = email.rsplit("@", 1)[-1].lower()
    registered = {d.lower().strip(".") for d in participant.email_domains}
    if domain not in registered:
        raise DomainError(
            code="invitation.email_domain_not_registered",
            detail=f"{domain} is not one of {participant.legal_name}'s registered email domains"
            + (f" ({', '.join(sorted(registered))})" if registered else "")
            + ". Add the domain to the participant's details, or ask the central operator.",
            errors=[
                FieldError(
                    "email", "invitation.email_domain_not_registered", "Domain not registered"
                )
            ],
        )


def override_by_operator(acting: Acting, override_reason: str) -> None:
    if override_reason and not acting.has("memberships:manage_all"):
        raise DomainError(
            code="invitation.override_not_allowed",
            detail="Only the central operator may override the email-domain rule.",
            status=403,
            title="Forbidden",
        )


def not_own_membership(acting: Acting, membership: Membership) -> None:
    if acting.user_id is not None and membership.user_id == acting.user_id:
        raise DomainError(
            code="membership.own_membership",
            detail="You cannot change or revoke your own access: ask another Authorised Person.",
            status=403,
            title="Forbidden",
        )


def authorised_person_manages_authorised_person(acting: Acting, membership: Membership) -> None:
    """Only an Authorised Person (or the operator) changes or revokes an Authorised Person."""
    if not membership.is_authorised_person or acting.has("memberships:manage_all"):
        return
    actor_is_ap = Membership.objects.filter(
        pk=acting.membership_id or 0, is_authorised_person=True, is_active=True
    ).exists()
    if not actor_is_ap:
        raise DomainError(
            code="membership.authorised_person_required",
            detail="Only an Authorised Person may change or revoke an Authorised Person's access.",
            status=403,
            title="Forbidden",
        )


def not_last_authorised_person(held: ParticipantRole, membership: Membership) -> None:
    """A role keeps at least one Authorised Person (``membership.last_authorised_person``).

    Run with the participant role locked (``select_for_update``) so two removals cannot race.
    """
    if not membership.is_authorised_person or not membership.is_active:
        return
    others = (
        Membership.objects.filter(
            participant_role=held, is_authorised_person=True, is_active=True, user__is_active=True
        )
        .exclude(pk=membership.pk)
        .exists()
    )
    if not others:
        raise Conflict(
            "membership.last_authorised_person",
            f"This is the last Authorised Person of {held}: make another Authorised Person first.",
        )


def checker_is_not_maker(acting: Acting, requested_by_id: int | None, subject_id: int) -> None:
    if acting.user_id is not None and acting.user_id in (requested_by_id, subject_id):
        raise DomainError(
            code="approval.self_approval",
            detail="A second person must approve: you made this request or it is about you.",
            status=403,
            title="Forbidden",
        )


def checker_is_authorised_person(acting: Acting, held: ParticipantRole) -> None:
    """The checker is a central operator or an Authorised Person of the same participant role."""
    if acting.has("memberships:manage_all"):
        return
    ok = Membership.objects.filter(
        pk=acting.membership_id or 0,
        participant_role=held,
        is_authorised_person=True,
        is_active=True,
    ).exists()
    if not ok:
        raise DomainError(
            code="approval.checker_not_authorised_person",
            detail=f"Only another Authorised Person of {held} (acting for it) or the central "
            "operator may approve.",
            status=403,
            title="Forbidden",
        )
