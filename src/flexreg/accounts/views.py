"""Portal pages for people: home, sign in (password or OpenID Connect), sign out, create an
account, a second factor, "My access"; the error pages."""

from __future__ import annotations

import logging

from allauth.account import views as allauth_account_views
from allauth.account.internal.flows.login import perform_password_login
from allauth.account.models import Login
from allauth.mfa.base import views as mfa_base_views
from allauth.mfa.base.forms import AuthenticateForm
from allauth.mfa.recovery_codes import views as recovery_views
from allauth.mfa.totp import views as totp_views
from allauth.socialaccount import views as social_views
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, logout
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import redirect, render
from django.template import loader
from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from flexreg.accounts import oidc, selectors, services
from flexreg.accounts.acting import usable_memberships
from flexreg.accounts.forms import CreateAccountForm, SignInForm
from flexreg.accounts.mfa_enforcement import has_totp, record_totp_set_up
from flexreg.accounts.portal_auth import PUBLIC, portal_requires
from flexreg.core import permissions, problems
from flexreg.core.errors import DomainError
from flexreg.core.middleware import CSP
from flexreg.participants.policies import effective_permissions

logger = logging.getLogger(__name__)
AFTER_MFA_SESSION_KEY = "flexreg_after_mfa_setup"


def _next_url(request: HttpRequest, default: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


@portal_requires(PUBLIC)
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/home.html", {"nav": "home"})


def configured_providers() -> list[dict[str, str]]:
    """The OpenID Connect providers the sign-in page offers, in configured order."""
    return [
        {
            "id": p.id,
            "name": p.name,
            "login_url": f"/accounts/oidc/{p.id}/login/",
            "identity": "yes" if p.supports_identity else "",
        }
        for p in settings.OIDC_PROVIDERS
    ]


def allow_provider_forms(response: HttpResponse) -> HttpResponse:
    """This page's sign-in buttons POST to us and we redirect to the provider: browsers apply
    CSP ``form-action`` to that redirect, so list the configured providers' origins."""
    origins = sorted({o for p in settings.OIDC_PROVIDERS for o in p.origins()})
    if origins:
        response["Content-Security-Policy"] = CSP.replace(
            "form-action 'self'", "form-action 'self' " + " ".join(origins)
        )
    return response


@portal_requires(PUBLIC)
def sign_in(request: HttpRequest) -> HttpResponse:
    """Email and password through allauth's login flow (email verification, then TOTP)."""
    form = SignInForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"].strip().lower()
        user = authenticate(request, username=email, password=form.cleaned_data["password"])
        if user is not None and user.is_active:
            attempt = Login(
                user=user, redirect_url=_next_url(request, "/participants/"), email=email
            )
            return perform_password_login(request, {"email": email}, attempt)
        # (authenticate() sent user_login_failed: accounts.signals audits it and slows retries.)
        form.add_error("email", "Enter a correct email address and password")
    return allow_provider_forms(
        render(
            request,
            "accounts/sign_in.html",
            {
                "form": form,
                "errors": form.error_summary(),
                "next": _next_url(request, ""),
                "nav": "sign-in",
                "providers": configured_providers(),
            },
        )
    )


@require_POST
@portal_requires(PUBLIC)
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)  # flushes the session on the server
    return redirect("home")


@portal_requires(PUBLIC)
def create_account(request: HttpRequest) -> HttpResponse:
    """A local account; usable once its email address is confirmed (a link is sent)."""
    form = CreateAccountForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.create_local_user(
                request.acting,  # type: ignore[attr-defined]
                email=data["email"],
                password=data["password"],
                full_name=data["full_name"],
            )
        except DomainError as exc:
            if exc.code == "user.email_taken":
                form.add_error("email", "An account with this email address already exists")
            else:
                form.add_domain_error(exc, "password")
        else:
            user.backend = "django.contrib.auth.backends.ModelBackend"
            attempt = Login(
                user=user,
                redirect_url=_next_url(request, "/register/"),
                email=user.email,
                signup=True,
            )
            return perform_password_login(request, {"email": user.email}, attempt)
    return render(
        request,
        "accounts/create_account.html",
        {
            "form": form,
            "errors": form.error_summary(),
            "next": _next_url(request, ""),
            "nav": "create-account",
            "providers": configured_providers(),
        },
    )


@portal_requires(permissions.REGISTER)
def mfa_verify(request: HttpRequest) -> HttpResponse:
    """A code from the authenticator app (or a recovery code) for this session."""
    user = request.user
    form = AuthenticateForm(user=user, data=request.POST if request.method == "POST" else None)
    errors: list[dict[str, str]] = []
    if request.method == "POST":
        if form.is_valid():
            form.save()
            return redirect(_next_url(request, "/participants/"))
        errors = [{"href": "#code", "text": "Enter a correct code from your authenticator app"}]
    return render(
        request,
        "accounts/mfa_verify.html",
        {"errors": errors, "next": _next_url(request, ""), "nav": "sign-in"},
    )


@portal_requires(permissions.REGISTER)
def my_access(request: HttpRequest) -> HttpResponse:
    """The signed-in person's memberships, personal API tokens and linked identities."""
    user = request.user
    memberships = [
        {
            "label": selectors.membership_label(m),
            "participant": m.participant_role.participant,
            "role": m.participant_role.role,
            "authorised_person": m.is_authorised_person,
            "permissions": sorted(effective_permissions(m)),
        }
        for m in usable_memberships(user)  # type: ignore[arg-type]
    ]
    linked = {i.provider for i in user.identities.all()}  # type: ignore[union-attr]
    return allow_provider_forms(
        render(
            request,
            "accounts/my_access.html",
            {
                "nav": "my-access",
                "memberships": memberships,
                "tokens": selectors.tokens_of(user),  # type: ignore[arg-type]
                "identities": user.identities.order_by("linked_at"),  # type: ignore[union-attr]
                "providers": [p for p in configured_providers() if p["id"] not in linked],
                "identity_providers": [p for p in configured_providers() if p["identity"]],
                "has_totp": has_totp(user),
                "has_password": user.has_usable_password(),  # type: ignore[union-attr]
            },
        )
    )


@require_POST
@portal_requires(permissions.REGISTER)
def revoke_my_token(request: HttpRequest, key_id: str) -> HttpResponse:
    services.revoke_token(request.acting, request.user, key_id)  # type: ignore[attr-defined,arg-type]
    messages.success(request, f"Token {key_id} revoked")
    return redirect("my-access")


# --- error pages (config.urls handler404 / handler500) ------------------------------------------


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return problems.problem_response(
            request, status=404, code="not_found", title="Not found", detail="Not found."
        )
    return render(request, "404.html", status=404)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """For ``CSRF_FAILURE_VIEW``: a form came back without a valid CSRF token."""
    if request.path.startswith("/api/"):
        return problems.problem_response(
            request,
            status=403,
            code="csrf_failed",
            title="Forbidden",
            detail="CSRF verification failed.",
        )
    return render(request, "csrf_failure.html", status=403)


def server_error(request: HttpRequest) -> HttpResponse:
    """Rendered without the request's context: the database may be what failed."""
    if request.path.startswith("/api/"):
        return problems.problem_response(
            request,
            status=500,
            code="internal_error",
            title="Internal error",
            detail="Something went wrong on our side. Quote the request id if you contact us.",
        )
    try:
        body = loader.get_template("500.html").render(
            {"minimal": True, "request_id": getattr(request, "request_id", "")}
        )
    except Exception:  # the page of last resort must not fail
        logger.exception("could not render the 500 page")
        body = (
            "<!DOCTYPE html><title>Sorry, there is a problem – FlexReg</title>"
            "<h1>Sorry, there is a problem with the service</h1>"
        )
    return HttpResponseServerError(body)


# --- allauth's OpenID Connect views, with FlexReg's checks (same URLs as allauth's) -------------


@portal_requires(PUBLIC)
def oidc_login(request: HttpRequest, provider_id: str) -> HttpResponse:
    """Start a provider sign-in (POST); a GET shows allauth's "continue" form instead."""
    return allow_provider_forms(oidc.login(request, provider_id))


oidc_callback = portal_requires(PUBLIC)(oidc.callback)


# --- allauth's pages FlexReg uses, each with its declared permission -----------------------------
# Only these are routed (no ``include("allauth.urls")``): allauth's own sign-in and sign-up pages
# redirect to ours, and password reset / email management are not offered yet.


@portal_requires(PUBLIC)
def to_sign_in(request: HttpRequest) -> HttpResponse:
    query = request.META.get("QUERY_STRING", "")
    return redirect(f"/sign-in/?{query}" if query else "/sign-in/")


@portal_requires(PUBLIC)
def to_create_account(request: HttpRequest) -> HttpResponse:
    return redirect("/create-account/")


@portal_requires(permissions.REGISTER)
def to_my_access(request: HttpRequest) -> HttpResponse:
    return redirect("/my-access/")


account_inactive = portal_requires(PUBLIC)(allauth_account_views.account_inactive)
email_verification_sent = portal_requires(PUBLIC)(allauth_account_views.email_verification_sent)
confirm_email = portal_requires(PUBLIC)(allauth_account_views.confirm_email)
reauthenticate = portal_requires(permissions.REGISTER)(allauth_account_views.reauthenticate)
mfa_index = portal_requires(permissions.REGISTER)(mfa_base_views.index)
mfa_authenticate = portal_requires(PUBLIC)(mfa_base_views.authenticate)  # mid-login: no user yet
mfa_reauthenticate = portal_requires(permissions.REGISTER)(mfa_base_views.reauthenticate)


@portal_requires(permissions.REGISTER)
def totp_activate(request: HttpRequest) -> HttpResponse:
    """allauth's set-up page; a successful set-up counts as this session's second factor."""
    if request.method == "GET" and request.GET.get("next"):
        request.session[AFTER_MFA_SESSION_KEY] = _next_url(request, "/participants/")
    had_totp = has_totp(request.user)
    response = totp_views.activate_totp(request)
    if request.method == "POST" and not had_totp and has_totp(request.user):
        record_totp_set_up(request)
    return response


@portal_requires(permissions.REGISTER)
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """allauth's recovery-codes page, whose "Continue" returns where set-up interrupted."""
    response = recovery_views.view_recovery_codes(request)
    if isinstance(response, TemplateResponse) and response.context_data is not None:
        response.context_data["continue_url"] = request.session.pop(
            AFTER_MFA_SESSION_KEY, "/participants/"
        )
    return response


totp_deactivate = portal_requires(permissions.REGISTER)(totp_views.deactivate_totp)
recovery_codes_generate = portal_requires(permissions.REGISTER)(
    recovery_views.generate_recovery_codes
)
recovery_codes_download = portal_requires(permissions.REGISTER)(
    recovery_views.download_recovery_codes
)
oidc_cancelled = portal_requires(PUBLIC)(social_views.login_cancelled)
oidc_error = portal_requires(PUBLIC)(social_views.login_error)
oidc_signup = portal_requires(PUBLIC)(social_views.signup)
