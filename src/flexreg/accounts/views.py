"""Portal pages for people: home, sign in, sign out, create an account; the error pages."""

from __future__ import annotations

import logging

from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import redirect, render
from django.template import loader
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from flexreg.accounts import services
from flexreg.accounts.forms import CreateAccountForm, SignInForm
from flexreg.accounts.portal_auth import PUBLIC, portal_requires
from flexreg.core import problems
from flexreg.core.errors import DomainError

logger = logging.getLogger(__name__)


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


@portal_requires(PUBLIC)
def sign_in(request: HttpRequest) -> HttpResponse:
    form = SignInForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        user = authenticate(
            request,
            username=form.cleaned_data["email"].strip().lower(),
            password=form.cleaned_data["password"],
        )
        if user is not None:
            login(request, user)  # a new session key: no session fixation
            return redirect(_next_url(request, "/participants/"))
        form.add_error("email", "Enter a correct email address and password")
    return render(
        request,
        "accounts/sign_in.html",
        {
            "form": form,
            "errors": form.error_summary(),
            "next": _next_url(request, ""),
            "nav": "sign-in",
        },
    )


@require_POST
@portal_requires(PUBLIC)
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("home")


@portal_requires(PUBLIC)
def create_account(request: HttpRequest) -> HttpResponse:
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
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect(_next_url(request, "/register/"))
    return render(
        request,
        "accounts/create_account.html",
        {
            "form": form,
            "errors": form.error_summary(),
            "next": _next_url(request, ""),
            "nav": "create-account",
        },
    )


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
