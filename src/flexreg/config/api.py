"""The one NinjaAPI of FlexReg (``/api/v1/``): a router per app, one error shape."""

from __future__ import annotations

import logging

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from flexreg.accounts.api import router as me_router
from flexreg.accounts.api_auth import BearerAuth
from flexreg.accounts.api_service_accounts import oauth_router
from flexreg.accounts.api_service_accounts import router as service_accounts_router
from flexreg.accounts.signals import record_authorisation_denied
from flexreg.assets.api import router as assets_router
from flexreg.assets.api_catalogue import operator_router as asset_catalogue_operator_router
from flexreg.assets.api_catalogue import router as asset_catalogue_router
from flexreg.assets.api_consent import router as consent_router
from flexreg.assets.api_imports import router as asset_imports_router
from flexreg.assets.api_lifecycle import router as asset_lifecycle_router
from flexreg.assets.api_links import router as asset_links_router
from flexreg.assets.api_review import router as asset_review_router
from flexreg.core import problems
from flexreg.core.errors import DomainError, PermissionDenied
from flexreg.entry.api import router as entry_router
from flexreg.entry.api_backoffice import router as entry_backoffice_router
from flexreg.entry.api_documents import router as entry_documents_router
from flexreg.entry.api_rules import router as entry_rules_router
from flexreg.notifications.api import router as notifications_router
from flexreg.ops.api import router as ops_router
from flexreg.participants.api import operator_router
from flexreg.participants.api import router as participants_router
from flexreg.participants.api_access import router as access_router
from flexreg.participants.api_changes import router as participant_changes_router
from flexreg.participants.api_delegation import router as delegations_router

logger = logging.getLogger(__name__)

api = NinjaAPI(
    title="FlexReg API",
    version="1",
    description=(
        "The common registration service for GB distributed flexibility. Authenticate with "
        "`Authorization: Bearer <token>`; errors are RFC 9457 problem details "
        "(`application/problem+json`). See docs/api.md."
    ),
    auth=BearerAuth(),
    urls_namespace="api-v1",
)
api.add_router("/participants", participants_router)
api.add_router("/operator", operator_router)
api.add_router("/me", me_router)
api.add_router("/delegations", delegations_router)
api.add_router("/service-accounts", service_accounts_router)
api.add_router("/oauth", oauth_router)
api.add_router("", ops_router)
api.add_router("", access_router)
api.add_router("", participant_changes_router)
api.add_router("/entry", entry_router)
api.add_router("/entry/documents", entry_documents_router)
api.add_router("/operator/entry", entry_backoffice_router)
api.add_router("/operator/entry-rules", entry_rules_router)
api.add_router("/me/notifications", notifications_router)
api.add_router("/assets", assets_router)
api.add_router("/asset-imports", asset_imports_router)
api.add_router("/consent", consent_router)
api.add_router("/operator/assets", asset_review_router)
api.add_router("/asset-catalogue", asset_catalogue_router)
api.add_router("/operator/asset-catalogue", asset_catalogue_operator_router)
api.add_router("", asset_lifecycle_router)
api.add_router("", asset_links_router)


@api.exception_handler(DomainError)
def _domain(request: HttpRequest, exc: DomainError) -> HttpResponse:
    if isinstance(exc, PermissionDenied):  # every API authorisation failure, audited here
        record_authorisation_denied(request, str(exc.extra.get("permission", "")))
    response = problems.from_domain_error(request, exc)
    if exc.status == 429:  # core.ratelimit.RateLimited raised by a service
        response["Retry-After"] = str(exc.extra.get("retry_after", 60))
    return response


@api.exception_handler(ValidationError)
def _validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return problems.from_validation_errors(request, list(exc.errors))


@api.exception_handler(AuthenticationError)
def _auth(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problems.problem_response(
        request,
        status=401,
        code="not_authenticated",
        title="Not authenticated",
        detail="Send a valid, unexpired bearer token: Authorization: Bearer frt_...",
        headers={"WWW-Authenticate": 'Bearer realm="flexreg"'},
    )


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problems.problem_response(
        request, status=404, code="not_found", title="Not found", detail="Not found."
    )


@api.exception_handler(HttpError)
def _http(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return problems.problem_response(
        request,
        status=exc.status_code,
        code=f"http_{exc.status_code}",
        title=str(exc.message),
        detail=str(exc.message),
    )


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("unexpected error on %s", request.path)
    return problems.problem_response(
        request,
        status=500,
        code="internal_error",
        title="Internal error",
        detail="Something went wrong on our side. Quote the request id if you contact us.",
    )
