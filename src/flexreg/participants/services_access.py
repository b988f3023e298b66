"""Authorisations: who may act for a participant role, and how (issue 3).

Authorised Persons (anyone holding ``memberships:manage``) grant, change and revoke other users'
memberships of their participant's roles, never beyond what they hold themselves nor what the
role may hold. A new Authorised Person needs a second person's approval (maker-checker).
Invitations go by email, single use and expiring. Removing access ends it at once: the
membership's API tokens are revoked and the user's portal sessions deleted in the same
transaction (docs/decisions/0008-authorisations.md).

Each public function is one use case: one transaction, permission check, rules, audit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from flexreg.core import audit, permissions
from flexreg.core.acting import Acting
from flexreg.core.errors import Conflict, DomainError, NotFound
from flexreg.participants import rules_access as rules
from flexreg.participants.models import (
    ApprovalStatus,
    AuthorisedPersonRequest,
    Invitation,
    Membership,
    Participant,
    ParticipantRole,
    RoleStatus,
)

logger = logging.getLogger(__name__)

INVITATION_TOKEN_PREFIX = "fri"
_CLOSED_ROLE = (RoleStatus.WITHDRAWN, RoleStatus.REJECTED)


def invitation_days() -> int:
    return int(getattr(settings, "INVITATION_DEFAULT_DAYS", 7))


def invitation_max_days() -> int:
    return int(getattr(settings, "INVITATION_MAX_DAYS", 30))


def approval_days() -> int:
    return int(getattr(settings, "AUTHORISED_PERSON_REQUEST_DAYS", 7))


# --- helpers --------------------------------------------------------------------------------


def membership_object_id(m: Membership) -> str:
    held = m.participant_role
    return f"{held.participant.participant_id}/{held.role}/{m.user_id}"


def _snapshot(m: Membership) -> dict[str, Any]:
    return {
        "permissions": sorted(m.permissions),
        "is_authorised_person": m.is_authorised_person,
        "is_active": m.is_active,
    }


def _in_scope(acting: Acting, participant: Participant) -> None:
    """Services re-check what selectors scoped: own participant, or the central operator."""
    if not (acting.acts_for(participant.pk) or acting.has("memberships:manage_all")):
        raise NotFound()


def _held_role(participant: Participant, role: str) -> ParticipantRole:
    held = (
        ParticipantRole.objects.select_for_update()
        .select_related("participant")
        .filter(participant=participant, role=role.upper())
        .first()
    )
    if held is None:
        raise NotFound(f"{participant.participant_id} does not hold the {role} role.")
    if held.status in _CLOSED_ROLE:
        raise Conflict(
            "membership.role_closed",
            f"The {held.role} role is {held.status}: nobody can be given access to it.",
        )
    return held


def _user_by_email(email: str) -> Any:
    user = get_user_model().objects.filter(email__iexact=email.strip()).first()
    if user is None or not user.is_active:
        raise DomainError(
            code="membership.user_not_found",
            detail=f"No active FlexReg account uses {email}: send an invitation instead.",
            status=404,
            title="Not found",
        )
    return user


def _checked_permissions(acting: Acting, codes: list[str], role: str) -> frozenset[str]:
    wanted = rules.known_permissions(codes)
    rules.allowed_for_role(wanted, role)
    rules.within_grantor(acting, wanted)
    return wanted


def end_sessions(user_ids: set[int]) -> int:
    """Delete every portal session of these users, now (database-backed session engines).

    Nothing extra is stored: unexpired sessions are decoded and matched on ``_auth_user_id``.
    The scan is linear in live sessions; see docs/decisions/0008-authorisations.md.
    """
    if not user_ids:
        return 0
    engine = import_module(settings.SESSION_ENGINE)
    store_class = engine.SessionStore
    get_model = getattr(store_class, "get_model_class", None)
    if get_model is None:  # cookie or cache-only sessions: nothing server-side to delete
        logger.warning("session engine %s keeps no rows to delete", settings.SESSION_ENGINE)
        return 0
    wanted = {str(u) for u in user_ids}
    model = get_model()
    decoder = store_class()
    keys = [
        key
        for key, data in model.objects.filter(expire_date__gt=timezone.now())
        .values_list("session_key", "session_data")
        .iterator(chunk_size=2000)
        if str(decoder.decode(data).get("_auth_user_id", "")) in wanted
    ]
    for key in keys:
        store_class(session_key=key).delete()  # the row, and any cached copy
    return len(keys)


def end_membership(
    acting: Acting, membership: Membership, action: str, reason: str, *, sessions_too: bool = True
) -> dict[str, Any]:
    """Deactivate one membership; revoke its tokens and the user's sessions at once."""
    before = _snapshot(membership)
    now = timezone.now()
    membership.is_active = False
    membership.is_authorised_person = False
    membership.ended_at = now
    membership.save(update_fields=["is_active", "is_authorised_person", "ended_at"])
    tokens = membership.api_tokens.filter(revoked_at__isnull=True).update(revoked_at=now)
    sessions = end_sessions({membership.user_id}) if sessions_too else 0
    held = membership.participant_role
    after = {**_snapshot(membership), "reason": reason}
    audit.record(
        acting,
        action,
        object_type="membership",
        object_id=membership_object_id(membership),
        subject_participant_id=held.participant.participant_id,
        before=before,
        after={**after, "tokens_revoked": tokens, "sessions_ended": sessions},
        only_changed=False,
    )
    return {"tokens_revoked": tokens, "sessions_ended": sessions}


def _activate_membership(
    acting: Acting,
    held: ParticipantRole,
    user: Any,
    codes: frozenset[str],
    *,
    authorised_person: bool,
    action: str,
    extra: dict[str, Any] | None = None,
) -> Membership:
    """Create (or re-open an ended) membership. An active one is a conflict."""
    existing = Membership.objects.select_for_update().filter(user=user, participant_role=held)
    membership = existing.first()
    before = _snapshot(membership) if membership else None
    if membership is not None and membership.is_active and not authorised_person:
        raise Conflict(
            "membership.exists",
            f"{user.email} already acts for {held}: change their access instead.",
        )
    if membership is None:
        membership = Membership(user=user, participant_role=held)
    membership.permissions = sorted(codes)
    membership.is_authorised_person = authorised_person or membership.is_authorised_person
    membership.is_active = True
    membership.ended_at = None
    membership.granted_by_id = acting.user_id
    membership.save()
    audit.record(
        acting,
        action,
        object_type="membership",
        object_id=membership_object_id(membership),
        subject_participant_id=held.participant.participant_id,
        before=before,
        after={
            **_snapshot(membership),
            "role": held.role,
            "email": user.email,
            **(extra or {}),
        },
        personal=("email",),
        only_changed=False,
    )
    return membership


# --- grant, change, revoke ------------------------------------------------------------------


@transaction.atomic
def grant(
    acting: Acting, participant: Participant, *, email: str, role: str, permissions_: list[str]
) -> Membership:
    """Give an existing user access to one of the participant's roles (never as Authorised
    Person: that goes through ``request_authorised_person``)."""
    permissions.require(acting, "memberships:manage")
    _in_scope(acting, participant)
    held = _held_role(participant, role)
    codes = _checked_permissions(acting, permissions_, held.role)
    # The domain first: whether an address outside it has an account is none of the caller's.
    rules.email_in_domains(participant, email, "")
    user = _user_by_email(email)
    return _activate_membership(
        acting, held, user, codes, authorised_person=False, action="membership.granted"
    )


@transaction.atomic
def change(
    acting: Acting,
    participant: Participant,
    membership: Membership,
    *,
    permissions_: list[str] | None,
    authorised_person: bool | None,
) -> Membership:
    """Change a membership's permissions, or stop it being an Authorised Person."""
    permissions.require(acting, "memberships:manage")
    _in_scope(acting, participant)
    held = _held_role(participant, membership.participant_role.role)
    membership = (
        Membership.objects.select_for_update()
        .select_related("participant_role__participant")
        .get(pk=membership.pk)
    )
    if not membership.is_active:
        raise Conflict("membership.ended", "This access has ended: grant it again instead.")
    rules.not_own_membership(acting, membership)
    rules.authorised_person_manages_authorised_person(acting, membership)
    if authorised_person:
        raise DomainError(
            code="membership.authorised_person_needs_approval",
            detail="Making an Authorised Person needs a second approval: "
            "POST .../authorised-person-requests.",
        )
    before = _snapshot(membership)
    if permissions_ is not None:
        wanted = rules.known_permissions(permissions_)
        rules.allowed_for_role(wanted, held.role)
        # Whatever is added or taken away must be within the grantor's own permissions.
        rules.within_grantor(acting, wanted ^ frozenset(membership.permissions))
        membership.permissions = sorted(wanted)
    if authorised_person is False and membership.is_authorised_person:
        if not acting.has("memberships:manage_all"):
            rules.not_last_authorised_person(held, membership)
        membership.is_authorised_person = False
    after = _snapshot(membership)
    if after != before:
        membership.save(update_fields=["permissions", "is_authorised_person"])
        # Sessions and tokens re-read effective permissions on every request: a reduction
        # applies to the next request without signing the user out.
        audit.record(
            acting,
            "membership.changed",
            object_type="membership",
            object_id=membership_object_id(membership),
            subject_participant_id=participant.participant_id,
            before=before,
            after=after,
        )
    return membership


@transaction.atomic
def revoke(
    acting: Acting, participant: Participant, membership: Membership, reason: str = ""
) -> Membership:
    """End a user's access to a participant role: tokens and sessions end at once."""
    permissions.require(acting, "memberships:manage")
    _in_scope(acting, participant)
    held = (
        ParticipantRole.objects.select_for_update()
        .select_related("participant")
        .get(pk=membership.participant_role_id)
    )
    membership = (
        Membership.objects.select_for_update()
        .select_related("participant_role__participant")
        .get(pk=membership.pk)
    )
    if not membership.is_active:
        return membership
    rules.not_own_membership(acting, membership)
    rules.authorised_person_manages_authorised_person(acting, membership)
    if not acting.has("memberships:manage_all"):
        rules.not_last_authorised_person(held, membership)
    end_membership(acting, membership, "membership.revoked", reason)
    return membership


# --- maker-checker for Authorised Persons ---------------------------------------------------


def _expire_stale_requests(held: ParticipantRole) -> None:
    AuthorisedPersonRequest.objects.filter(
        participant_role=held, status=ApprovalStatus.PENDING, expires_at__lte=timezone.now()
    ).update(status=ApprovalStatus.EXPIRED)


def _audit_request(acting: Acting, action: str, req: AuthorisedPersonRequest, **after: Any) -> None:
    held = req.participant_role
    audit.record(
        acting,
        action,
        object_type="authorised_person_request",
        object_id=str(req.public_id),
        subject_participant_id=held.participant.participant_id,
        after={
            "role": held.role,
            "user_id": req.user_id,
            "status": req.status,
            "permissions": sorted(req.permissions),
            **after,
        },
        only_changed=False,
    )


@transaction.atomic
def request_authorised_person(
    acting: Acting, participant: Participant, *, email: str, role: str, permissions_: list[str]
) -> AuthorisedPersonRequest:
    """The maker's half: ask for a user to become an Authorised Person of a role."""
    permissions.require(acting, "memberships:manage")
    _in_scope(acting, participant)
    held = _held_role(participant, role)
    codes = _checked_permissions(acting, permissions_, held.role)
    if "memberships:manage" not in codes:
        raise DomainError(
            code="approval.manage_required",
            detail="An Authorised Person must hold memberships:manage.",
        )
    rules.email_in_domains(participant, email, "")
    user = _user_by_email(email)
    if Membership.objects.filter(
        user=user, participant_role=held, is_active=True, is_authorised_person=True
    ).exists():
        raise Conflict("approval.already_authorised_person", f"{user.email} already is one.")
    _expire_stale_requests(held)
    try:
        with transaction.atomic():
            req = AuthorisedPersonRequest.objects.create(
                participant_role=held,
                user=user,
                permissions=sorted(codes),
                requested_by_id=acting.user_id,
                expires_at=timezone.now() + dt.timedelta(days=approval_days()),
            )
    except IntegrityError:
        raise Conflict(
            "approval.already_pending",
            f"A request to make {user.email} an Authorised Person is already waiting.",
        ) from None
    _audit_request(acting, "authorised_person_request.made", req, expires_at=req.expires_at)
    return req


def _pending_request(req: AuthorisedPersonRequest) -> AuthorisedPersonRequest:
    req = (
        AuthorisedPersonRequest.objects.select_for_update()
        .select_related("participant_role__participant", "user")
        .get(pk=req.pk)
    )
    if req.status != ApprovalStatus.PENDING:
        raise Conflict("approval.not_pending", f"This request is already {req.status}.")
    if req.expires_at <= timezone.now():
        raise Conflict("approval.expired", "This request has expired: make a new one.")
    return req


@transaction.atomic
def approve_authorised_person(
    acting: Acting, participant: Participant, req: AuthorisedPersonRequest, reason: str = ""
) -> AuthorisedPersonRequest:
    """The checker's half: a different Authorised Person of the role, or the operator."""
    permissions.require(acting, "memberships:manage")
    _in_scope(acting, participant)
    req = _pending_request(req)
    held = _held_role(participant, req.participant_role.role)
    rules.checker_is_not_maker(acting, req.requested_by_id, req.user_id)
    rules.checker_is_authorised_person(acting, held)
    codes = frozenset(req.permissions)
    rules.allowed_for_role(codes, held.role)
    rules.within_grantor(acting, codes)
    if not req.user.is_active:
        raise Conflict("approval.user_inactive", "The user's account is deactivated.")
    req.status = ApprovalStatus.APPROVED
    req.decided_by_id = acting.user_id
    req.decided_at = timezone.now()
    req.decision_reason = reason
    req.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    _audit_request(acting, "authorised_person_request.approved", req, reason=reason)
    _activate_membership(
        acting,
        held,
        req.user,
        codes,
        authorised_person=True,
        action="membership.authorised_person_granted",
        extra={"request_id": str(req.public_id)},
    )
    return req


@transaction.atomic
def reject_authorised_person(
    acting: Acting, participant: Participant, req: AuthorisedPersonRequest, reason: str
) -> AuthorisedPersonRequest:
    """Anyone who could approve may reject; the maker may also withdraw their own request."""
    permissions.require(acting, "memberships:manage")
    _in_scope(acting, participant)
    req = _pending_request(req)
    if acting.user_id != req.requested_by_id:
        rules.checker_is_authorised_person(acting, req.participant_role)
    req.status = ApprovalStatus.REJECTED
    req.decided_by_id = acting.user_id
    req.decided_at = timezone.now()
    req.decision_reason = reason
    req.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    _audit_request(acting, "authorised_person_request.rejected", req, reason=reason)
    return req


# --- invitations ----------------------------------------------------------------------------


def invitation_digest(token: str) -> str:
    # 256 random bits: a fast hash is safe (as for API tokens).
    return hashlib.sha256(token.encode()).hexdigest()


def _send_invitation(invitation: Invitation, token: str, participant: Participant) -> None:
    base = getattr(settings, "PUBLIC_URL", "").rstrip("/")
    context = {
        "participant_name": participant.legal_name,
        "participant_id": participant.participant_id,
        "role": invitation.participant_role.role,
        "permissions": sorted(invitation.permissions),
        "expires_at": invitation.expires_at,
        "accept_url": f"{base}/invitations/accept/",
        "token": token,
    }
    message = EmailMultiAlternatives(
        subject=f"You are invited to act for {participant.legal_name} in FlexReg",
        body=render_to_string("participants/users_invitation_email.txt", context),
        to=[invitation.email],
    )
    message.attach_alternative(
        render_to_string("participants/users_invitation_email.html", context), "text/html"
    )
    message.send()


@transaction.atomic
def invite(
    acting: Acting,
    participant: Participant,
    *,
    email: str,
    role: str,
    permissions_: list[str],
    expires_in_days: int | None = None,
    domain_override_reason: str = "",
) -> tuple[Invitation, str]:
    """Invite someone by email. Returns the invitation and its token (shown and sent once)."""
    permissions.require(acting, "memberships:manage")
    _in_scope(acting, participant)
    held = _held_role(participant, role)
    codes = _checked_permissions(acting, permissions_, held.role)
    email = email.strip().lower()
    override = domain_override_reason.strip()
    rules.override_by_operator(acting, override)
    rules.email_in_domains(participant, email, override)
    if Membership.objects.filter(
        user__email__iexact=email, participant_role=held, is_active=True
    ).exists():
        raise Conflict("invitation.already_member", f"{email} already acts for {held}.")
    days = min(expires_in_days or invitation_days(), invitation_max_days())
    token = f"{INVITATION_TOKEN_PREFIX}_{secrets.token_urlsafe(32)}"
    invitation = Invitation.objects.create(
        participant_role=held,
        email=email,
        permissions=sorted(codes),
        digest=invitation_digest(token),
        invited_by_id=acting.user_id,
        expires_at=timezone.now() + dt.timedelta(days=days),
        domain_override_reason=override,
    )
    audit.record(
        acting,
        "invitation.created",
        object_type="invitation",
        object_id=str(invitation.public_id),
        subject_participant_id=participant.participant_id,
        after={
            "email": email,
            "role": held.role,
            "permissions": sorted(codes),
            "expires_at": invitation.expires_at,
            **({"domain_override_reason": override} if override else {}),
        },
        personal=("email",),
    )
    transaction.on_commit(lambda: _send_invitation(invitation, token, participant), robust=True)
    return invitation, token


@transaction.atomic
def revoke_invitation(
    acting: Acting, participant: Participant, invitation: Invitation
) -> Invitation:
    permissions.require(acting, "memberships:manage")
    _in_scope(acting, participant)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status != "pending":
        raise Conflict("invitation.not_pending", f"This invitation is {invitation.status}.")
    invitation.revoked_at = timezone.now()
    invitation.revoked_by_id = acting.user_id
    invitation.save(update_fields=["revoked_at", "revoked_by"])
    audit.record(
        acting,
        "invitation.revoked",
        object_type="invitation",
        object_id=str(invitation.public_id),
        subject_participant_id=participant.participant_id,
        before={"status": "pending"},
        after={"status": "revoked"},
    )
    return invitation


def _invalid_invitation() -> DomainError:
    return DomainError(
        code="invitation.invalid",
        detail="This invitation is not valid: it may have expired, been used or been revoked. "
        "Ask for a new one.",
        status=404,
        title="Not found",
    )


@transaction.atomic
def accept_invitation(acting: Acting, token: str) -> Membership:
    """The invited person, signed in with the invited address, accepts: access starts."""
    permissions.require(acting, permissions.REGISTER)
    if acting.user_id is None or not token.startswith(f"{INVITATION_TOKEN_PREFIX}_"):
        raise _invalid_invitation()
    digest = invitation_digest(token.strip())
    invitation = (
        Invitation.objects.select_for_update()
        .select_related("participant_role__participant")
        .filter(digest=digest)
        .first()
    )
    if invitation is None or not hmac.compare_digest(invitation.digest, digest):
        raise _invalid_invitation()
    if invitation.status != "pending":
        raise DomainError(
            code=f"invitation.{invitation.status}",
            detail=f"This invitation is {invitation.status}. Ask for a new one.",
            status=409 if invitation.status == "accepted" else 410,
            title="Invitation not usable",
        )
    user = get_user_model().objects.get(pk=acting.user_id)
    # Verified email (sign-in issue) will be required here; for now the account's address.
    if user.email.strip().lower() != invitation.email.strip().lower():
        raise DomainError(
            code="invitation.wrong_user",
            detail="This invitation was sent to another email address: sign in with that one.",
            status=403,
            title="Forbidden",
        )
    held = invitation.participant_role
    participant = held.participant
    held = _held_role(participant, held.role)
    codes = frozenset(invitation.permissions) & permissions.allowed_for_role(held.role)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by_id = user.pk
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit.record(
        acting,
        "invitation.accepted",
        object_type="invitation",
        object_id=str(invitation.public_id),
        subject_participant_id=participant.participant_id,
        before={"status": "pending"},
        after={"status": "accepted", "user_id": user.pk},
    )
    return _activate_membership(
        acting,
        held,
        user,
        codes,
        authorised_person=False,
        action="membership.granted",
        extra={"invitation_id": str(invitation.public_id)},
    )


# --- deactivating a user --------------------------------------------------------------------


@transaction.atomic
def deactivate_user(acting: Acting, *, email: str, reason: str) -> dict[str, Any]:
    """The central operator deactivates a user: every membership, token and session ends now."""
    permissions.require(acting, "users:deactivate")
    user = get_user_model().objects.select_for_update().filter(email__iexact=email.strip()).first()
    if user is None:
        raise NotFound(f"No user {email}.")
    if user.pk == acting.user_id:
        raise DomainError(
            code="user.deactivate_self",
            detail="You cannot deactivate yourself.",
            status=403,
            title="Forbidden",
        )
    was_active = user.is_active
    user.is_active = False
    user.save(update_fields=["is_active"])
    ended = 0
    for membership in Membership.objects.filter(user=user, is_active=True).select_related(
        "participant_role__participant"
    ):
        end_membership(
            acting,
            membership,
            "membership.revoked",
            f"User deactivated: {reason}",
            sessions_too=False,
        )
        ended += 1
    now = timezone.now()
    tokens = user.api_tokens.filter(revoked_at__isnull=True).update(revoked_at=now)
    sessions = end_sessions({user.pk})
    result = {
        "email": user.email,
        "is_active": False,
        "memberships_ended": ended,
        "tokens_revoked": tokens,
        "sessions_ended": sessions,
    }
    audit.record(
        acting,
        "user.deactivated",
        object_type="user",
        object_id=str(user.pk),
        before={"is_active": was_active},
        after={"is_active": False, "reason": reason, **{k: result[k] for k in list(result)[2:]}},
        only_changed=False,
    )
    return result
