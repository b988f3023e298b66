"""Service accounts (``/api/v1/service-accounts``) and the OAuth 2.0 token endpoint
(``/api/v1/oauth/token``). Translate HTTP only.

The token endpoint answers in OAuth's own error format (RFC 6749 §5.2:
``{"error", "error_description"}`` as ``application/json``), not problem details: OAuth client
libraries parse exactly that shape, and the RFC requires it.
"""

import json

from django.http import HttpRequest, HttpResponse
from ninja import Router, Status

from flexreg.accounts import selectors_service_accounts as selectors
from flexreg.accounts import services_service_accounts as services
from flexreg.accounts.api_auth import PUBLIC, requires
from flexreg.accounts.schemas_service_accounts import (
    OAuthErrorOut,
    RotateIn,
    ServiceAccountCredentialsOut,
    ServiceAccountIn,
    ServiceAccountOut,
    TokenResponse,
    account_out,
)
from flexreg.core.acting import acting_of

router = Router(tags=["service accounts"])
oauth_router = Router(tags=["oauth"])


def _with_credentials(account: object, secret: str | None) -> ServiceAccountCredentialsOut:
    base = account_out(account)  # type: ignore[arg-type]
    return ServiceAccountCredentialsOut(
        **base.model_dump(), client_secret=secret, token_endpoint=services.token_endpoint_url()
    )


@router.post("", response={201: ServiceAccountCredentialsOut}, summary="Create a service account")
@requires("service_accounts:manage")
def create(request: HttpRequest, body: ServiceAccountIn) -> Status[ServiceAccountCredentialsOut]:
    account, secret = services.create(
        acting_of(request),
        name=body.name,
        scopes=body.scopes,
        auth_method=body.auth_method,
        public_jwk=body.public_jwk,
    )
    return Status(201, _with_credentials(account, secret))


@router.get("", response=list[ServiceAccountOut], summary="Your role's service accounts")
@requires("service_accounts:manage")
def list_accounts(request: HttpRequest) -> list[ServiceAccountOut]:
    return [account_out(a) for a in selectors.of_acting_role(acting_of(request))]


@router.get("/{client_id}", response=ServiceAccountOut)
@requires("service_accounts:manage")
def get_account(request: HttpRequest, client_id: str) -> ServiceAccountOut:
    return account_out(selectors.account_for(acting_of(request), client_id))


@router.post("/{client_id}/disable", response=ServiceAccountOut, summary="Disable at once")
@requires("service_accounts:manage")
def disable(request: HttpRequest, client_id: str) -> ServiceAccountOut:
    acting = acting_of(request)
    account = selectors.account_for(acting, client_id)
    return account_out(services.disable(acting, account))


@router.post(
    "/{client_id}/rotate",
    response=ServiceAccountCredentialsOut,
    summary="New secret (shown once) or new public key",
)
@requires("service_accounts:manage")
def rotate(request: HttpRequest, client_id: str, body: RotateIn) -> ServiceAccountCredentialsOut:
    acting = acting_of(request)
    account = selectors.account_for(acting, client_id)
    account, secret = services.rotate(acting, account, body.public_jwk)
    return _with_credentials(account, secret)


_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "scope": {"type": "string"},
                        "client_id": {"type": "string"},
                        "client_secret": {"type": "string"},
                        "client_assertion_type": {"type": "string"},
                        "client_assertion": {"type": "string"},
                    },
                }
            }
        },
    }
}


def _json(
    body: dict[str, object], status: int, headers: dict[str, str] | None = None
) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    for key, value in (headers or {}).items():
        response[key] = value
    return response


@oauth_router.post(
    "/token",
    auth=None,
    response={200: TokenResponse, 400: OAuthErrorOut, 401: OAuthErrorOut},
    summary="OAuth 2.0 client credentials (RFC 6749 §4.4, RFC 7523 client assertions)",
    openapi_extra=_FORM,
)
@requires(PUBLIC)
def token(request: HttpRequest) -> HttpResponse:
    form = dict(request.POST.lists())
    try:
        issued = services.token_request(form, request.headers.get("Authorization", ""))
    except services.OAuthError as exc:
        headers = {"WWW-Authenticate": 'Basic realm="flexreg"'} if exc.status == 401 else None
        return _json(
            {"error": exc.error, "error_description": exc.description}, exc.status, headers
        )
    return _json(
        {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "scope": issued.scope,
        },
        200,
    )
