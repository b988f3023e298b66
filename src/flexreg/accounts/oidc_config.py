"""OpenID Connect providers, read from the environment (12-factor), validated at start-up.

``FLEXREG_OIDC_PROVIDERS`` holds a JSON list of provider objects, or
``FLEXREG_OIDC_CONFIG_FILE`` names a JSON or TOML file with the same list (TOML: an array of
tables ``[[providers]]``). Secrets may be given indirectly (``client_secret_env``,
``private_key_env``, ``private_key_file``) so the file itself holds none. See docs/sign-in.md.

No Django imports here: settings.py calls ``load_providers`` while settings are being built.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import pydantic
from django.core.exceptions import ImproperlyConfigured

Kind = Literal["generic", "okta", "entra", "onelogin"]
TokenAuth = Literal["client_secret_basic", "client_secret_post", "private_key_jwt"]

# Never "none", never HMAC with the client secret for ID tokens from a public key set.
SAFE_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")
CORE_IDENTITY_CLAIM = "https://vocab.account.gov.uk/v1/coreIdentityJWT"


class ProviderConfig(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    id: str = pydantic.Field(pattern=r"^[a-z][a-z0-9-]{1,39}$")
    name: str = pydantic.Field(min_length=1, max_length=60)
    kind: Kind = "generic"
    # The issuer exactly as the provider's discovery document states it. For Entra ID
    # multi-tenant apps it contains ``{tenantid}``.
    issuer: str
    # Where discovery lives; default ``<issuer>/.well-known/openid-configuration`` (Entra
    # multi-tenant: e.g. https://login.microsoftonline.com/organizations/v2.0/...).
    discovery_url: str = ""
    client_id: str = pydantic.Field(min_length=1)
    client_secret: str = ""
    client_secret_env: str = ""
    token_auth_method: TokenAuth = "client_secret_basic"
    private_key_file: str = ""
    private_key_env: str = ""
    private_key_id: str = ""
    private_key_algorithm: Literal["RS256", "PS256", "ES256"] = "RS256"
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    algorithms: tuple[str, ...] = ("RS256", "ES256", "PS256")
    # Entra ID: tenants whose users may sign in (required when the issuer has {tenantid}).
    allowed_tenants: tuple[str, ...] = ()
    # GOV.UK One Login.
    vtr: tuple[str, ...] = ()
    identity_vtr: tuple[str, ...] = ()
    identity_issuer: str = ""
    identity_jwks_url: str = ""
    identity_did_url: str = ""
    identity_audience: str = ""
    # Further origins the browser is redirected through when sign-in starts (the CSP
    # ``form-action`` of pages with sign-in buttons must list them); the issuer's is implied.
    form_action_origins: tuple[str, ...] = ()
    # Clock skew tolerated on exp/iat/nbf, seconds.
    leeway: int = pydantic.Field(default=60, ge=0, le=300)
    fetch_userinfo: bool = True

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> ProviderConfig:
        local = ("http://127.0.0.1:", "http://localhost:")
        for url in (self.issuer, self.discovery_url, self.identity_jwks_url, self.identity_did_url):
            if url and not url.startswith(("https://", *local)):
                raise ValueError(f"{url} must be an https URL (http only for localhost)")
        bad = set(self.algorithms) - set(SAFE_ALGORITHMS)
        if bad:
            raise ValueError(f"algorithms not allowed: {sorted(bad)}")
        if "{tenantid}" in self.issuer:
            if self.kind != "entra":
                raise ValueError("only an Entra ID issuer may contain {tenantid}")
            if not self.allowed_tenants:
                raise ValueError("a multi-tenant Entra ID provider needs allowed_tenants")
        if self.token_auth_method == "private_key_jwt":
            if not (self.private_key_file or self.private_key_env):
                raise ValueError("private_key_jwt needs private_key_file or private_key_env")
        elif not (self.client_secret or self.client_secret_env):
            raise ValueError(f"{self.token_auth_method} needs client_secret or client_secret_env")
        if self.identity_vtr and not (self.identity_jwks_url or self.identity_did_url):
            raise ValueError("identity_vtr needs identity_jwks_url or identity_did_url")
        return self

    # --- derived values ------------------------------------------------------------------------

    @property
    def is_multi_tenant(self) -> bool:
        return "{tenantid}" in self.issuer

    @property
    def discovery(self) -> str:
        if self.discovery_url:
            return self.discovery_url
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    def origins(self) -> set[str]:
        """Where a sign-in form's redirect chain goes: issuer, discovery and configured extras."""
        found = set()
        for url in (self.issuer, self.discovery, *self.form_action_origins):
            parts = urlsplit(url)
            if parts.scheme and parts.netloc:
                found.add(f"{parts.scheme}://{parts.netloc}")
        return found

    @property
    def supports_identity(self) -> bool:
        return bool(self.identity_vtr)

    def secret(self) -> str:
        if self.client_secret_env:
            return os.environ.get(self.client_secret_env, "")
        return self.client_secret

    def private_key_pem(self) -> str:
        if self.private_key_env:
            return os.environ.get(self.private_key_env, "")
        if self.private_key_file:
            return Path(self.private_key_file).read_text()
        return ""

    def allauth_app(self) -> dict[str, Any]:
        """The ``SOCIALACCOUNT_PROVIDERS["openid_connect"]["APPS"]`` entry for this provider."""
        return {
            "provider_id": self.id,
            "name": self.name,
            "client_id": self.client_id,
            "secret": "",  # read from the config when needed, never stored in a table
            "settings": {
                "server_url": self.discovery,
                "token_auth_method": self.token_auth_method,
                "scope": list(self.scopes),
                "fetch_userinfo": self.fetch_userinfo,
                "oauth_pkce_enabled": True,
                "flexreg": self.model_dump(mode="json"),
            },
        }


def parse(raw: Any) -> list[ProviderConfig]:
    if isinstance(raw, dict):
        raw = raw.get("providers", [])
    if not isinstance(raw, list):
        raise ImproperlyConfigured("OIDC providers must be a list of objects")
    try:
        providers = [ProviderConfig.model_validate(item) for item in raw]
    except pydantic.ValidationError as exc:
        raise ImproperlyConfigured(f"invalid OIDC provider configuration: {exc}") from None
    ids = [p.id for p in providers]
    if len(ids) != len(set(ids)):
        raise ImproperlyConfigured("OIDC provider ids must be unique")
    return providers


def load_providers(inline: str, config_file: str, *, development: bool) -> list[ProviderConfig]:
    """Providers from ``FLEXREG_OIDC_PROVIDERS`` (JSON) or ``FLEXREG_OIDC_CONFIG_FILE``."""
    if inline and config_file:
        raise ImproperlyConfigured(
            "set FLEXREG_OIDC_PROVIDERS or FLEXREG_OIDC_CONFIG_FILE, not both"
        )
    if inline:
        try:
            return parse(json.loads(inline))
        except json.JSONDecodeError as exc:
            raise ImproperlyConfigured(f"FLEXREG_OIDC_PROVIDERS is not JSON: {exc}") from None
    if config_file:
        path = Path(config_file)
        text = path.read_text()
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        return parse(data)
    return []
