"""Portal pages "Users and permissions" (Authorised Persons) and "Accept an invitation".

Views only translate: parse a form, call a selector or a service, render. Every view declares
its permission with ``@portal_requires``; the services re-check and apply the rules.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from flexreg.accounts.forms import GovukForm, text
from flexreg.accounts.portal_auth import portal_requires
from flexreg.core import permissions
from flexreg.core.acting import Acting
from flexreg.core.errors import DomainError
from flexreg.core.roles import ROLES
from flexreg.participants import selectors_access as selectors
from flexreg.participants import services_access as services
from flexreg.participants.models import Membership, Participant, RoleStatus
from flexreg.participants.policies import effective_permissions


def _acting(request: HttpRequest) -> Acting:
    return request.acting  # type: ignore[attr-defined]


def _permission_choices(acting: Acting, participant: Participant) -> list[tuple[str, str]]:
    """What the acting membership could grant for any of the participant's roles."""
    roles = [r.role for r in participant.roles.all()]
    possible = set().union(*(permissions.allowed_for_role(r) for r in roles)) if roles else set()
    if not acting.has("memberships:manage_all"):
        possible &= acting.permissions
    return [
        (code, f"{code}: {permissions.CATALOGUE[code].description}") for code in sorted(possible)
    ]


def _role_choices(participant: Participant) -> list[tuple[str, str]]:
    return [
        (r.role, ROLES[r.role].name)
        for r in participant.roles.order_by("role")
        if r.status not in (RoleStatus.WITHDRAWN, RoleStatus.REJECTED)
    ]


class PermissionsForm(GovukForm):
    permissions = forms.MultipleChoiceField(
        label="Permissions",
        required=False,
        error_messages={"invalid_choice": "Select from the list"},
    )

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["permissions"].choices = choices  # type: ignore[attr-defined]


class InviteForm(PermissionsForm):
    email = text(
        "Email address",
        "Enter their email address",
        hint="Their work address, in one of your registered email domains.",
        autocomplete="off",
        input_type="email",
        spellcheck=False,
    )
    role = forms.ChoiceField(
        label="Role", required=False, error_messages={"invalid_choice": "Select a role"}
    )
    field_order = ["email", "role", "permissions"]

    def __init__(self, *args: Any, roles: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = roles  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("email"):
            self.add_error("email", "Enter their email address")
        if not data.get("role"):
            self.add_error("role", "Select a role")
        if not data.get("permissions") and not self.has_error("permissions"):
            self.add_error("permissions", "Select at least one permission")
        return data


class AcceptForm(GovukForm):
    token = text(
        "Invitation code",
        "Enter the invitation code from the email",
        hint="It starts with fri_.",
        autocomplete="off",
        spellcheck=False,
    )


class ReasonForm(GovukForm):
    reason = forms.CharField(label="Reason", required=False, max_length=2000)


def _place(form: GovukForm, exc: DomainError, default_field: str) -> None:
    if exc.status == 404 and exc.code == "not_found":
        raise exc
    if exc.code.startswith("invitation.email_domain") or exc.code.startswith("membership.user"):
        form.add_error("email" if "email" in form.fields else default_field, exc.detail)
    else:
        form.add_domain_error(exc, default_field)


def _membership_row(m: Membership) -> dict[str, Any]:
    return {
        "id": m.public_id,
        "email": m.user.email,
        "name": getattr(m.user, "full_name", ""),
        "role": ROLES[m.participant_role.role].name,
        "permissions": sorted(m.permissions),
        "effective": sorted(effective_permissions(m)),
        "authorised_person": m.is_authorised_person,
    }


@portal_requires("memberships:read")
def users(request: HttpRequest, participant_id: str) -> HttpResponse:
    acting = _acting(request)
    participant = selectors.participant_for_access(acting, participant_id)
    rows, next_cursor = selectors.memberships_of(participant, limit=selectors.MAX_PAGE)
    requests_ = [
        {
            "id": r.public_id,
            "email": r.user.email,
            "role": ROLES[r.participant_role.role].name,
            "requested_by": getattr(r.requested_by, "email", ""),
            "expires_at": r.expires_at,
            "mine": r.requested_by_id == acting.user_id or r.user_id == acting.user_id,
        }
        for r in selectors.requests_of(participant)[:100]
    ]
    invitations = [
        {
            "id": i.public_id,
            "email": i.email,
            "role": ROLES[i.participant_role.role].name,
            "expires_at": i.expires_at,
            "permissions": sorted(i.permissions),
        }
        for i in selectors.invitations_of(participant)[:100]
    ]
    return render(
        request,
        "participants/users.html",
        {
            "participant": participant,
            "rows": [_membership_row(m) for m in rows],
            "more": next_cursor is not None,
            "requests": requests_,
            "invitations": invitations,
            "can_manage": acting.has("memberships:manage"),
            "me": acting.user_id,
            "nav": "participants",
        },
    )


@portal_requires("memberships:manage")
def users_invite(request: HttpRequest, participant_id: str) -> HttpResponse:
    acting = _acting(request)
    participant = selectors.participant_for_access(acting, participant_id)
    options = {
        "choices": _permission_choices(acting, participant),
        "roles": _role_choices(participant),
    }
    form = InviteForm(request.POST or None, **options)
    if request.method == "POST" and form.is_valid():
        try:
            invitation, token = services.invite(
                acting,
                participant,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                permissions_=list(form.cleaned_data["permissions"]),
            )
        except DomainError as exc:
            _place(form, exc, "permissions")
        else:
            # Shown once (also emailed): the page is not a redirect target, nothing is kept.
            response = render(
                request,
                "participants/users_invited.html",
                {"participant": participant, "invitation": invitation, "token": token},
            )
            response["Cache-Control"] = "no-store"
            return response
    return render(
        request,
        "participants/users_invite.html",
        {"participant": participant, "form": form, "errors": form.error_summary()},
    )


@portal_requires("memberships:manage")
def users_change(request: HttpRequest, participant_id: str, membership_id: str) -> HttpResponse:
    acting = _acting(request)
    participant = selectors.participant_for_access(acting, participant_id)
    membership = selectors.membership_for(participant, membership_id)
    choices = _permission_choices(acting, participant)
    offered = {c for c, _ in choices}
    # Show what they hold even if you could not grant it (you cannot change it either).
    choices += [
        (c, f"{c}: {permissions.CATALOGUE[c].description if c in permissions.CATALOGUE else ''}")
        for c in sorted(set(membership.permissions) - offered)
    ]
    form = PermissionsForm(
        request.POST or None,
        choices=choices,
        initial={"permissions": list(membership.permissions)},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.change(
                acting,
                participant,
                membership,
                permissions_=list(form.cleaned_data["permissions"]),
                authorised_person=None,
            )
        except DomainError as exc:
            _place(form, exc, "permissions")
        else:
            messages.success(request, f"Permissions of {membership.user.email} changed")
            return redirect("users", participant_id=participant.participant_id)
    return render(
        request,
        "participants/users_change.html",
        {
            "participant": participant,
            "row": _membership_row(membership),
            "form": form,
            "errors": form.error_summary(),
            "own": membership.user_id == acting.user_id,
        },
    )


def _done(request: HttpRequest, participant: Participant, message: str) -> HttpResponse:
    messages.success(request, message)
    return redirect("users", participant_id=participant.participant_id)


def _failed(request: HttpRequest, participant: Participant, exc: DomainError) -> HttpResponse:
    if exc.code == "not_found" or exc.status in (401,):
        raise exc
    messages.error(request, exc.detail)
    return redirect("users", participant_id=participant.participant_id)


@require_POST
@portal_requires("memberships:manage")
def users_revoke(request: HttpRequest, participant_id: str, membership_id: str) -> HttpResponse:
    acting = _acting(request)
    participant = selectors.participant_for_access(acting, participant_id)
    membership = selectors.membership_for(participant, membership_id)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data.get("reason", "") if form.is_valid() else ""
    try:
        services.revoke(acting, participant, membership, reason)
    except DomainError as exc:
        return _failed(request, participant, exc)
    return _done(request, participant, f"Access of {membership.user.email} removed")


@require_POST
@portal_requires("memberships:manage")
def users_make_authorised_person(
    request: HttpRequest, participant_id: str, membership_id: str
) -> HttpResponse:
    acting = _acting(request)
    participant = selectors.participant_for_access(acting, participant_id)
    membership = selectors.membership_for(participant, membership_id)
    role = membership.participant_role.role
    wanted = permissions.allowed_for_role(role)
    if not acting.has("memberships:manage_all"):
        wanted &= acting.permissions
    try:
        services.request_authorised_person(
            acting,
            participant,
            email=membership.user.email,
            role=role,
            permissions_=sorted(wanted),
        )
    except DomainError as exc:
        return _failed(request, participant, exc)
    return _done(
        request,
        participant,
        f"Asked for {membership.user.email} to become an Authorised Person: another "
        "Authorised Person or the central operator must approve",
    )


@require_POST
@portal_requires("memberships:manage")
def users_request_decision(
    request: HttpRequest, participant_id: str, request_id: str, decision: str
) -> HttpResponse:
    acting = _acting(request)
    participant = selectors.participant_for_access(acting, participant_id)
    req = selectors.request_for(participant, request_id)
    form = ReasonForm(request.POST)
    reason = (form.cleaned_data.get("reason", "") if form.is_valid() else "").strip()
    try:
        if decision == "approve":
            services.approve_authorised_person(acting, participant, req, reason)
            message = f"{req.user.email} is now an Authorised Person"
        else:
            services.reject_authorised_person(
                acting, participant, req, reason or "Rejected in the portal"
            )
            message = f"Request for {req.user.email} rejected"
    except DomainError as exc:
        return _failed(request, participant, exc)
    return _done(request, participant, message)


@require_POST
@portal_requires("memberships:manage")
def users_invitation_revoke(
    request: HttpRequest, participant_id: str, invitation_id: str
) -> HttpResponse:
    acting = _acting(request)
    participant = selectors.participant_for_access(acting, participant_id)
    invitation = selectors.invitation_for(participant, invitation_id)
    try:
        services.revoke_invitation(acting, participant, invitation)
    except DomainError as exc:
        return _failed(request, participant, exc)
    return _done(request, participant, f"Invitation to {invitation.email} revoked")


@portal_requires(permissions.REGISTER)
def invitation_accept(request: HttpRequest) -> HttpResponse:
    form = AcceptForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token = (form.cleaned_data.get("token") or "").strip()
        if not token:
            form.add_error("token", "Enter the invitation code from the email")
        else:
            try:
                membership = services.accept_invitation(_acting(request), token)
            except DomainError as exc:
                form.add_error("token", exc.detail)
            else:
                held = membership.participant_role
                messages.success(
                    request,
                    f"You now act for {held.participant.legal_name} as {ROLES[held.role].name}",
                )
                return redirect("my-participants")
    return render(
        request,
        "participants/users_accept.html",
        {"form": form, "errors": form.error_summary(), "nav": "participants"},
    )
