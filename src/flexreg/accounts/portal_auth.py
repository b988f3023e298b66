"""The portal's per-view permission declaration: the counterpart of ``api_auth.requires``.

Every portal view carries ``@portal_requires(permission)``: ``PUBLIC`` for pages anyone may
open (home, sign in, create an account), ``permissions.REGISTER`` for "any signed-in user",
else a permission from the catalogue, checked against ``request.acting``. Anonymous users are
sent to sign in; a ``DomainError`` becomes the matching page (404 for objects the user may not
see, 403 for a missing permission) and never a stack trace.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from flexreg.accounts.signals import record_authorisation_denied
from flexreg.core import permissions
from flexreg.core.errors import DomainError, PermissionDenied

F = TypeVar("F", bound=Callable[..., Any])
PUBLIC = "public"


def portal_requires(permission: str) -> Callable[[F], F]:
    """Declare (and enforce) the permission a portal view needs. ``PUBLIC`` means none.

    Object scope is then the selectors' job: an object the caller may not see answers 404.
    """
    if permission not in (PUBLIC, permissions.REGISTER) and permission not in permissions.CATALOGUE:
        raise ValueError(f"unknown permission {permission!r}")

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                if permission != PUBLIC:
                    if not request.user.is_authenticated:
                        return redirect_to_login(request.get_full_path())
                    permissions.require(request.acting, permission)  # type: ignore[attr-defined]
                return view(request, *args, **kwargs)
            except DomainError as exc:
                return domain_error_page(request, exc)
            except DjangoPermissionDenied:
                record_authorisation_denied(request, "")
                return render(request, "403.html", status=403)

        wrapper.required_permission = permission  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def domain_error_page(request: HttpRequest, exc: DomainError) -> HttpResponse:
    """The page for a ``DomainError`` a view did not turn into form errors itself."""
    if exc.status == 401:
        return redirect_to_login(request.get_full_path())
    if exc.status == 404:
        return render(request, "404.html", status=404)
    if exc.status == 403:
        if isinstance(exc, PermissionDenied):  # audited here: the one place portal 403s pass
            record_authorisation_denied(request, str(exc.extra.get("permission", "")))
        return render(request, "403.html", status=403)
    return render(
        request, "problem.html", {"title": exc.title, "detail": exc.detail}, status=exc.status
    )
