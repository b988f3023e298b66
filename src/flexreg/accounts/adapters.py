"""allauth adapters: who an OpenID Connect sign-in is, and what is audited.

Matching is on issuer + subject only (Entra ID: the tenant's issuer + ``oid``), through
``ExternalIdentity``; a provider's email address is a contact detail and never finds an
account. ``ExternalIdentity`` is kept in step with allauth's ``SocialAccount`` (whose ``uid``
is a digest of issuer + subject, see ``oidc.Identity``). Every link, unlink and refused provider
sign-in is written to the audit log inside a transaction (successful sign-ins and refused
passwords are audited from Django's signals in ``accounts.signals``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import get_authentication_records
from allauth.account.signals import email_confirmed
from allauth.core import context
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialAccount, SocialLogin
from allauth.socialaccount.signals import social_account_added, social_account_removed
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from flexreg.accounts.models import ExternalIdentity, User
from flexreg.core import audit
from flexreg.core.acting import Acting, acting_of

logger = logging.getLogger(__name__)


def acting_user(user: Any, via: str = "session") -> Acting:
    return Acting(user_id=user.pk, user_label=user.email, via=via)


def _acting(request: HttpRequest, user: Any = None) -> Acting:
    if user is not None and getattr(user, "pk", None):
        return acting_user(user)
    return acting_of(request)


def record_failed_sign_in(
    request: HttpRequest, *, method: str, provider: str, reason: str, user: Any = None
) -> None:
    """Audit a refused sign-in. Never raises: the user still gets the error page."""
    try:
        with transaction.atomic():
            audit.record(
                _acting(request, user) if user is not None else Acting.anonymous(),
                "user.sign_in_failed",
                object_type="sign_in",
                object_id=provider or method,
                after={"method": method, "provider": provider, "reason": reason},
            )
    except Exception:  # an audit failure must not turn a refusal into a 500
        logger.exception("could not audit a failed sign-in")


def _refuse(request: HttpRequest, provider: str, reason: str, title: str, detail: str) -> None:
    record_failed_sign_in(request, method="oidc", provider=provider, reason=reason)
    raise ImmediateHttpResponse(
        render(
            request,
            "socialaccount/authentication_error.html",
            {"title": title, "detail": detail},
            status=403,
        )
    )


def _link(user: Any, sociallogin: SocialLogin, request: HttpRequest) -> ExternalIdentity:
    """Create the ``ExternalIdentity`` for a just-saved ``SocialAccount`` and audit it."""
    f = sociallogin.account.extra_data["flexreg"]
    identity = ExternalIdentity.objects.create(
        user=user,
        issuer=f["issuer"],
        subject=f["subject"],
        provider=sociallogin.account.provider,
        email_at_link=(sociallogin.user.email or "")[:254] if sociallogin.user else "",
        last_used_at=timezone.now(),
    )
    audit.record(
        acting_user(user),
        "identity.linked",
        object_type="user",
        object_id=str(user.pk),
        after={
            "provider": identity.provider,
            "issuer": identity.issuer,
            "subject": identity.subject,
        },
        personal=("subject",),
    )
    return identity


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_auto_signup_allowed(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return True

    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return True

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: Any = None,
        exception: Any = None,
        extra_context: Any = None,
    ) -> None:
        reason = getattr(exception, "code", None) or str(error or "unknown")
        record_failed_sign_in(
            request,
            method="oidc",
            provider=getattr(getattr(provider, "app", None), "provider_id", "") or "",
            reason=reason,
        )

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        account = sociallogin.account
        provider = account.provider
        f = account.extra_data.get("flexreg") or {}
        state = sociallogin.state or {}
        known = (
            ExternalIdentity.objects.select_related("user")
            .filter(issuer=f.get("issuer"), subject=f.get("subject"))
            .first()
        )
        signed_in = request.user if request.user.is_authenticated else None
        if state.get("journey") == "identity":
            raise ImmediateHttpResponse(self._identity_journey(request, sociallogin, known))
        if state.get("process") == "connect":
            if known is not None and (signed_in is None or known.user_id != signed_in.pk):
                _refuse(
                    request,
                    provider,
                    "identity.linked_elsewhere",
                    "This sign-in is linked to another account",
                    "Sign in with it to use that account, or ask for help to move it.",
                )
            return
        if known is not None:
            if not known.user.is_active:
                _refuse(request, provider, "user.inactive", "Your account is not active", "")
            if not sociallogin.is_existing:
                # The identity is ours but allauth's row is missing (e.g. a renamed provider):
                # recreate it for the identity's user, keyed the same way.
                SocialAccount.objects.update_or_create(
                    provider=provider,
                    uid=account.uid,
                    defaults={"user": known.user, "extra_data": account.extra_data},
                )
                sociallogin.lookup()
            elif sociallogin.user.pk != known.user_id:
                _refuse(request, provider, "identity.out_of_step", "We could not sign you in", "")
            known.last_used_at = timezone.now()
            known.save(update_fields=["last_used_at"])
            return
        if sociallogin.is_existing:
            # allauth knows the account but our identity row is missing: restore it.
            with transaction.atomic():
                _link(sociallogin.user, sociallogin, request)
            return
        email = (sociallogin.user.email or "").strip().lower()
        if email and User.objects.filter(email=email).exists():
            _refuse(
                request,
                provider,
                "identity.email_in_use",
                "An account already uses this email address",
                "Sign in to that account another way, then link this sign-in from My access.",
            )

    def populate_user(self, request: HttpRequest, sociallogin: SocialLogin, data: Any) -> Any:
        user = sociallogin.user
        email = (data.get("email") or "").strip().lower()
        if not email:
            # No address from the provider: a placeholder, never anyone's real address.
            email = f"{sociallogin.account.uid[:24]}@users.flexreg.invalid"
        user.email = email
        user.full_name = (data.get("name") or "")[:200]
        return user

    def save_user(self, request: HttpRequest, sociallogin: SocialLogin, form: Any = None) -> Any:
        with transaction.atomic():
            user = sociallogin.user
            user.set_unusable_password()
            user = super().save_user(request, sociallogin, form)
            audit.record(
                acting_user(user),
                "user.created",
                object_type="user",
                object_id=str(user.pk),
                after={"email": user.email, "via": sociallogin.account.provider},
                personal=("email",),
            )
            _link(user, sociallogin, request)
        return user

    def validate_disconnect(self, account: SocialAccount, accounts: Any) -> None:
        user = account.user
        if len(accounts) <= 1 and not user.has_usable_password():
            from django.core.exceptions import ValidationError

            raise ValidationError("You cannot remove your only way to sign in.")

    def get_connect_redirect_url(self, request: HttpRequest, socialaccount: SocialAccount) -> str:
        return "/my-access/"

    # --- GOV.UK One Login identity journey -------------------------------------------------------

    def _identity_journey(
        self, request: HttpRequest, sociallogin: SocialLogin, known: ExternalIdentity | None
    ) -> HttpResponse:
        from flexreg.accounts import onelogin

        provider = sociallogin.account.provider
        user = request.user
        if not user.is_authenticated:
            record_failed_sign_in(
                request, method="oidc", provider=provider, reason="identity.not_signed_in"
            )
            return redirect("/sign-in/")
        if known is not None and known.user_id != user.pk:
            _refuse(
                request,
                provider,
                "identity.linked_elsewhere",
                "This GOV.UK One Login is linked to another account",
                "",
            )
        proven = sociallogin.account.extra_data["flexreg"].get("identity") or {}
        if proven.get("vot") != "P2":
            _refuse(
                request,
                provider,
                "identity.level_too_low",
                "We could not confirm your identity",
                "GOV.UK One Login did not prove your identity to the medium level (P2).",
            )
        participant_id = onelogin.record_identity(request, user, sociallogin, proven, linked=known)
        return redirect(f"/participants/{participant_id}/" if participant_id else "/my-access/")


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return True

    def is_reauthentication_required(self, *, app: str, **kwargs: Any) -> bool:
        """A sign-in (or second factor) within the reauthentication timeout counts as recent,
        so someone sent to set up TOTP straight after signing in is not asked again."""
        request = context.request
        if request is not None and request.user.is_authenticated:
            records = get_authentication_records(request, request.user)
            if records and time.time() - float(records[-1].get("at", 0)) < (
                account_settings.REAUTHENTICATION_TIMEOUT
            ):
                return False
        return super().is_reauthentication_required(app=app, **kwargs)

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        return super().get_login_redirect_url(request)


class MfaAdapter(DefaultMFAAdapter):
    pass


# --- keep ExternalIdentity in step with allauth's SocialAccount ---------------------------------


@receiver(social_account_added)
def _on_connect(sender: Any, request: HttpRequest, sociallogin: SocialLogin, **kwargs: Any) -> None:
    f = sociallogin.account.extra_data.get("flexreg") or {}
    with transaction.atomic():
        if not ExternalIdentity.objects.filter(
            issuer=f.get("issuer"), subject=f.get("subject")
        ).exists():
            _link(sociallogin.account.user, sociallogin, request)


@receiver(social_account_removed)
def _on_disconnect(
    sender: Any, request: HttpRequest, socialaccount: SocialAccount, **kwargs: Any
) -> None:
    f = socialaccount.extra_data.get("flexreg") or {}
    with transaction.atomic():
        ExternalIdentity.objects.filter(
            user=socialaccount.user, issuer=f.get("issuer"), subject=f.get("subject")
        ).delete()
        audit.record(
            acting_user(socialaccount.user),
            "identity.unlinked",
            object_type="user",
            object_id=str(socialaccount.user.pk),
            before={"provider": socialaccount.provider, "subject": f.get("subject")},
            personal=("subject",),
        )


@receiver(email_confirmed)
def _on_email_confirmed(
    sender: Any, request: HttpRequest, email_address: Any, **kwargs: Any
) -> None:
    """Keep ``User.email_verified_at`` in step with allauth's verified address."""
    user = email_address.user
    if email_address.email.lower() == user.email and user.email_verified_at is None:
        with transaction.atomic():
            user.email_verified_at = timezone.now()
            user.save(update_fields=["email_verified_at"])
            audit.record(
                acting_user(user),
                "user.email_verified",
                object_type="user",
                object_id=str(user.pk),
                after={"email_verified_at": user.email_verified_at},
            )
