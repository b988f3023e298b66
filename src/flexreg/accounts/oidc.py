"""Strict OpenID Connect for allauth: our own ID-token checks, nonce, private_key_jwt, Entra.

allauth's ``openid_connect`` provider skips the ID token's signature when the token came over
TLS from the token endpoint and sends no nonce. FlexReg does not rely on that: every ID token is
checked here — signature with a key from the provider's JWKS, an algorithm from an allow-list
(never ``none``), issuer (Entra multi-tenant: the template with the token's ``tid`` substituted
and ``tid`` in the allow-list), audience, ``azp``, expiry, issue time and the nonce we sent.

``FlexRegOIDCProvider`` replaces allauth's provider class (``provider_class`` setting);
``login``/``callback`` replace its two views at the same URLs (portal_urls lists them first).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from allauth.account.internal.decorators import login_not_required
from allauth.socialaccount.models import SocialApp, SocialToken
from allauth.socialaccount.providers.oauth2.client import OAuth2Client, OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.http import Http404, HttpRequest, HttpResponse

from flexreg.accounts.oidc_config import CORE_IDENTITY_CLAIM, ProviderConfig

TIMEOUT = httpx.Timeout(5.0)


class OIDCError(OAuth2Error):
    """A sign-in refused by our checks; ``code`` is stable and lands in the audit log."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def config_of(app: SocialApp) -> ProviderConfig:
    return ProviderConfig.model_validate(app.settings["flexreg"])


def _get_json(url: str, **kwargs: Any) -> Any:
    try:
        response = httpx.get(url, timeout=TIMEOUT, follow_redirects=False, **kwargs)
        response.raise_for_status()
        return response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OIDCError("oidc.provider_unreachable", f"could not read {url}: {exc}") from exc


# --- keys --------------------------------------------------------------------------------------


def _key_from_jwks(jwks: Any, kid: str | None, alg: str) -> Any:
    try:
        keys = jwt.PyJWKSet.from_dict(jwks).keys
    except jwt.PyJWTError as exc:
        raise OIDCError("oidc.bad_jwks", f"unusable key set: {exc}") from exc
    if kid is not None:
        found = [k for k in keys if k.key_id == kid]
    else:
        found = [k for k in keys if k.public_key_use in (None, "sig")]
        if len(found) != 1:
            found = []
    if not found:
        raise OIDCError("oidc.unknown_key", "the token names no key the provider publishes")
    return found[0].key


def _key_from_did(did: Any, kid: str | None) -> Any:
    """A key from a DID document (GOV.UK One Login publishes its identity keys this way)."""
    methods = did.get("verificationMethod") or [] if isinstance(did, dict) else []
    for method in methods:
        if not isinstance(method, dict):
            continue
        mid = str(method.get("id", ""))
        full = mid if mid.startswith("did:") else f"{did.get('id', '')}{mid}"
        if kid in (mid, full) and isinstance(method.get("publicKeyJwk"), dict):
            try:
                return jwt.PyJWK.from_dict(method["publicKeyJwk"]).key
            except jwt.PyJWTError as exc:
                raise OIDCError("oidc.bad_jwks", f"unusable DID key: {exc}") from exc
    raise OIDCError("oidc.unknown_key", "the credential names no key in the DID document")


# --- ID token ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """Who signed in, as FlexReg keys them: issuer + subject (Entra: tenant issuer + ``oid``)."""

    issuer: str
    subject: str
    tenant: str = ""

    @property
    def uid(self) -> str:
        """allauth's ``SocialAccount.uid``: a digest of issuer + subject (fits 191 characters)."""
        return hashlib.sha256(f"{self.issuer}\x1f{self.subject}".encode()).hexdigest()


def _header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise OIDCError("oidc.malformed_token", f"malformed token: {exc}") from exc


def validate_id_token(
    cfg: ProviderConfig, discovery: dict[str, Any], token: str, *, nonce: str | None
) -> tuple[dict[str, Any], Identity]:
    header = _header(token)
    alg = str(header.get("alg", ""))
    offered = discovery.get("id_token_signing_alg_values_supported") or list(cfg.algorithms)
    if alg not in cfg.algorithms or alg not in offered:
        raise OIDCError("oidc.bad_algorithm", f"ID token algorithm {alg!r} is not allowed")
    key = _key_from_jwks(_get_json(discovery["jwks_uri"]), header.get("kid"), alg)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[alg],
            audience=cfg.client_id,
            leeway=cfg.leeway,
            options={"require": ["iss", "sub", "aud", "exp", "iat"], "verify_iss": False},
        )
    except jwt.ExpiredSignatureError as exc:
        raise OIDCError("oidc.expired", "the ID token has expired") from exc
    except jwt.InvalidAudienceError as exc:
        raise OIDCError("oidc.wrong_audience", "the ID token is for another client") from exc
    except jwt.InvalidSignatureError as exc:
        raise OIDCError("oidc.bad_signature", "the ID token's signature is not valid") from exc
    except jwt.PyJWTError as exc:
        raise OIDCError("oidc.invalid_token", f"the ID token is not valid: {exc}") from exc
    if int(claims["iat"]) > time.time() + cfg.leeway:
        raise OIDCError("oidc.invalid_token", "the ID token was issued in the future")
    aud = claims["aud"]
    if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != cfg.client_id:
        raise OIDCError("oidc.wrong_audience", "azp does not name this client")
    identity = _check_issuer(cfg, discovery, claims)
    if nonce is None or not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
        raise OIDCError("oidc.bad_nonce", "the ID token's nonce is not the one we sent")
    return claims, identity


def _check_issuer(
    cfg: ProviderConfig, discovery: dict[str, Any], claims: dict[str, Any]
) -> Identity:
    if discovery.get("issuer") != cfg.issuer:
        raise OIDCError("oidc.wrong_issuer", "discovery names another issuer than configured")
    iss = str(claims["iss"])
    if cfg.kind == "entra":
        tid, oid = str(claims.get("tid", "")), str(claims.get("oid", ""))
        if not tid or not oid:
            raise OIDCError("oidc.invalid_token", "an Entra ID token without tid or oid")
        if cfg.allowed_tenants and tid not in cfg.allowed_tenants:
            raise OIDCError("oidc.tenant_not_allowed", "this organisation's tenant is not allowed")
        expected = cfg.issuer.replace("{tenantid}", tid)
        if not hmac.compare_digest(iss, expected):
            raise OIDCError("oidc.wrong_issuer", "the ID token's issuer is not the expected one")
        return Identity(issuer=iss, subject=oid, tenant=tid)
    if not hmac.compare_digest(iss, cfg.issuer):
        raise OIDCError("oidc.wrong_issuer", "the ID token's issuer is not the expected one")
    return Identity(issuer=iss, subject=str(claims["sub"]))


# --- GOV.UK One Login: the identity credential ---------------------------------------------------


def validate_core_identity(cfg: ProviderConfig, credential: str, *, subject: str) -> dict[str, Any]:
    """Check the signed ``coreIdentityJWT`` (ES256, issuer, audience, expiry, subject) and
    return its claims. The caller decides what ``vot`` it needs."""
    header = _header(credential)
    if header.get("alg") != "ES256":
        raise OIDCError("identity.bad_algorithm", "the identity credential must be ES256")
    if cfg.identity_did_url:
        key = _key_from_did(_get_json(cfg.identity_did_url), header.get("kid"))
    else:
        key = _key_from_jwks(_get_json(cfg.identity_jwks_url), header.get("kid"), "ES256")
    try:
        claims = jwt.decode(
            credential,
            key,
            algorithms=["ES256"],
            audience=cfg.identity_audience or cfg.client_id,
            issuer=cfg.identity_issuer,
            leeway=cfg.leeway,
            options={"require": ["iss", "sub", "aud", "exp", "iat"]},
        )
    except jwt.PyJWTError as exc:
        raise OIDCError("identity.invalid_credential", f"identity credential: {exc}") from exc
    if claims["sub"] != subject:
        raise OIDCError("identity.invalid_credential", "the credential is about someone else")
    return claims


# --- allauth plumbing --------------------------------------------------------------------------


class FlexRegClient(OAuth2Client):
    """Token requests with httpx: client secret (basic or post) or ``private_key_jwt``."""

    def __init__(self, *args: Any, cfg: ProviderConfig, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cfg = cfg

    def client_assertion(self) -> str:
        now = int(time.time())
        claims = {
            "iss": self.cfg.client_id,
            "sub": self.cfg.client_id,
            "aud": self.access_token_url,
            "jti": str(uuid.uuid4()),
            "iat": now,
            "exp": now + 300,
        }
        headers = {"kid": self.cfg.private_key_id} if self.cfg.private_key_id else None
        return jwt.encode(
            claims,
            self.cfg.private_key_pem(),
            algorithm=self.cfg.private_key_algorithm,
            headers=headers,
        )

    def get_access_token(
        self, code: Any, pkce_code_verifier: Any = None, extra_data: Any = None
    ) -> dict[str, Any]:
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.callback_url}
        if pkce_code_verifier:
            data["code_verifier"] = pkce_code_verifier
        auth: tuple[str, str] | None = None
        method = self.cfg.token_auth_method
        if method == "private_key_jwt":
            data["client_id"] = self.cfg.client_id
            data["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            data["client_assertion"] = self.client_assertion()
        elif method == "client_secret_post":
            data["client_id"] = self.cfg.client_id
            data["client_secret"] = self.cfg.secret()
        else:
            auth = (self.cfg.client_id, self.cfg.secret())
        try:
            response = httpx.post(self.access_token_url, data=data, auth=auth, timeout=TIMEOUT)
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OIDCError("oidc.token_request_failed", f"token endpoint: {exc}") from exc
        if response.status_code != 200 or not isinstance(body, dict) or "id_token" not in body:
            raise OIDCError(
                "oidc.token_request_failed", f"token endpoint said {response.status_code}"
            )
        return body


class FlexRegOIDCAdapter(OpenIDConnectOAuth2Adapter):
    state: dict[str, Any] | None = None

    @property
    def cfg(self) -> ProviderConfig:
        return config_of(self.get_provider().app)

    @property
    def openid_config(self) -> dict[str, Any]:
        if not hasattr(self, "_openid_config"):
            config = _get_json(self.cfg.discovery)
            for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(config, dict) or not config.get(key):
                    raise OIDCError("oidc.bad_discovery", f"discovery lacks {key}")
            self._openid_config = config
        return self._openid_config

    def get_client(self, request: HttpRequest, app: SocialApp) -> FlexRegClient:
        return FlexRegClient(
            self.request,
            app.client_id,
            "",
            "POST",
            self.access_token_url,
            self.get_callback_url(request, app),
            cfg=self.cfg,
        )

    def complete_login(
        self, request: HttpRequest, app: SocialApp, token: SocialToken, **kwargs: Any
    ) -> Any:
        cfg = config_of(app)
        response = kwargs["response"]
        nonce = (self.state or {}).get("nonce")
        claims, identity = validate_id_token(
            cfg, self.openid_config, str(response.get("id_token", "")), nonce=nonce
        )
        userinfo: dict[str, Any] = {}
        if cfg.fetch_userinfo and self.openid_config.get("userinfo_endpoint"):
            userinfo = _get_json(
                self.openid_config["userinfo_endpoint"],
                headers={"Authorization": f"Bearer {token.token}"},
            )
            if not isinstance(userinfo, dict) or userinfo.get("sub") != claims["sub"]:
                raise OIDCError("oidc.userinfo_mismatch", "userinfo is about someone else")
        flexreg: dict[str, Any] = {
            "issuer": identity.issuer,
            "subject": identity.subject,
            "tenant": identity.tenant,
        }
        credential = userinfo.pop(CORE_IDENTITY_CLAIM, None)
        if credential is not None:
            proven = validate_core_identity(cfg, str(credential), subject=str(claims["sub"]))
            flexreg["identity"] = {
                "vot": proven.get("vot"),
                "jti": proven.get("jti", ""),
                "iat": proven.get("iat"),
                "issuer": proven.get("iss"),
            }
        data = {"id_token": claims, "userinfo": userinfo, "flexreg": flexreg}
        return self.get_provider().sociallogin_from_response(request, data)


class FlexRegOIDCProvider(OpenIDConnectProvider):
    oauth2_adapter_class = FlexRegOIDCAdapter
    pkce_enabled_default = True

    @property
    def cfg(self) -> ProviderConfig:
        return config_of(self.app)

    def extract_uid(self, data: dict[str, Any]) -> str:
        f = data["flexreg"]
        return Identity(issuer=f["issuer"], subject=f["subject"]).uid

    def extract_common_fields(self, data: dict[str, Any]) -> dict[str, Any]:
        merged = {**data.get("id_token", {}), **data.get("userinfo", {})}
        email = merged.get("email") or ""
        if not email and "@" in str(merged.get("preferred_username", "")):
            email = merged["preferred_username"]  # Entra: a contact address, never a key
        return {"email": email, "name": merged.get("name") or ""}

    def extract_email_addresses(self, data: dict[str, Any]) -> list[Any]:
        return []  # provider emails are contact details here, never used to match accounts

    def verify_token(self, request: HttpRequest, token: Any) -> Any:
        raise OIDCError("oidc.unsupported", "token sign-in is not offered")

    def redirect(
        self,
        request: HttpRequest,
        process: Any,
        next_url: Any = None,
        data: Any = None,
        **kwargs: Any,
    ) -> HttpResponse:
        cfg = self.cfg
        nonce = secrets.token_urlsafe(32)
        auth_params = dict(kwargs.pop("auth_params", None) or {})
        auth_params.pop("nonce", None)
        journey = "identity" if request.GET.get("journey") == "identity" else "sign-in"
        if journey == "identity" and not cfg.supports_identity:
            raise Http404
        # Only what we configure reaches the provider: no caller-supplied claims or vtr.
        auth_params = {k: v for k, v in auth_params.items() if k in {"prompt", "login_hint"}}
        auth_params["nonce"] = nonce
        if cfg.vtr or cfg.identity_vtr:
            vtr = cfg.identity_vtr if journey == "identity" else cfg.vtr
            auth_params["vtr"] = _json([".".join(v.split(".")) for v in vtr])
        if journey == "identity":
            auth_params["claims"] = _json({"userinfo": {CORE_IDENTITY_CLAIM: None}})
        kwargs.pop("scope", None)
        return super().redirect(
            request,
            process,
            next_url,
            data,
            auth_params=auth_params,
            scope=list(cfg.scopes),
            nonce=nonce,
            journey=journey,
            **kwargs,
        )


def _json(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


class _CallbackView(OAuth2CallbackView):
    def _get_state(self, request: HttpRequest, provider: Any) -> Any:
        state, response = super()._get_state(request, provider)
        self.adapter.state = state
        return state, response


@login_not_required
def login(request: HttpRequest, provider_id: str) -> HttpResponse:
    try:
        return OAuth2LoginView.adapter_view(FlexRegOIDCAdapter(request, provider_id))(request)
    except SocialApp.DoesNotExist:
        raise Http404 from None


@login_not_required
def callback(request: HttpRequest, provider_id: str) -> HttpResponse:
    try:
        return _CallbackView.adapter_view(FlexRegOIDCAdapter(request, provider_id))(request)
    except SocialApp.DoesNotExist:
        raise Http404 from None
