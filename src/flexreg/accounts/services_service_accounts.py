"""Service accounts (machine clients) and the OAuth 2.0 client-credentials grant.

Managing accounts: one transaction per use case, audited. Issuing tokens (RFC 6749 §4.4) with
client authentication by ``client_secret_basic``, ``client_secret_post`` or ``private_key_jwt``
(RFC 7523). Access tokens are opaque (``fat_<key_id>_<secret>``), short-lived and stored as a
SHA-256 digest; see docs/decisions/0009-delegation-and-service-accounts.md.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

import jwt
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from flexreg.accounts.models import (
    ClientAssertionJti,
    ClientAuthMethod,
    ServiceAccount,
    ServiceAccountToken,
)
from flexreg.core import audit, permissions
from flexreg.core.acting import Acting
from flexreg.core.errors import Conflict, DomainError, FieldError, NotFound
from flexreg.participants.models import Membership, ParticipantRole
from flexreg.participants.policies import effective_permissions
from flexreg.participants.rules_delegation import permissions_delegable

ACCESS_PREFIX = "fat"
SECRET_PREFIX = "fcs"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASYMMETRIC_KTY = {"RSA", "EC", "OKP"}
LEEWAY = dt.timedelta(seconds=30)


def token_lifetime() -> dt.timedelta:
    return dt.timedelta(seconds=int(getattr(settings, "SERVICE_ACCOUNT_TOKEN_SECONDS", 600)))


def max_assertion_lifetime() -> dt.timedelta:
    return dt.timedelta(seconds=int(getattr(settings, "CLIENT_ASSERTION_MAX_SECONDS", 600)))


def token_endpoint_url() -> str:
    """The ``aud`` a client assertion must carry: this endpoint's public URL."""
    return f"{settings.PUBLIC_URL}/api/v1/oauth/token"


def _digest(value: str) -> str:
    # Secrets and tokens carry 256 random bits: a fast hash is safe (no brute force possible).
    return hashlib.sha256(value.encode()).hexdigest()


def _role_cap(account: ServiceAccount) -> frozenset[str]:
    """What the account's role may do now (its participant's and role's state)."""
    held = account.participant_role
    as_membership = Membership(participant_role=held, permissions=list(account.scopes))
    return effective_permissions(as_membership) & permissions.delegable_for_role(held.role)


def _label(account: ServiceAccount) -> str:
    return f"service_account:{account.client_id}"


# --- management ------------------------------------------------------------------------------


def _invalid_jwk(detail: str) -> DomainError:
    return DomainError(
        code="service_account.invalid_jwk",
        detail=detail,
        errors=[FieldError("public_jwk", "service_account.invalid_jwk", detail)],
    )


def check_public_jwk(jwk: Mapping[str, Any] | None) -> dict[str, Any]:
    """A public asymmetric key in JWK form (RFC 7517): never a private or symmetric key."""
    if not jwk:
        raise _invalid_jwk("private_key_jwt needs the client's public key as a JWK.")
    key = dict(jwk)
    if key.get("kty") not in ASYMMETRIC_KTY:
        raise _invalid_jwk("The key must be RSA, EC or OKP (asymmetric).")
    if any(k in key for k in ("d", "p", "q", "dp", "dq", "qi", "k")):
        raise _invalid_jwk("Send the public key only: the private parts must never leave you.")
    try:
        parsed = jwt.PyJWK(key)
    except Exception as exc:  # any malformed key material is the client's error, never ours
        raise _invalid_jwk(f"Not a usable JWK: {exc}") from None
    if key["kty"] == "RSA" and getattr(parsed.key, "key_size", 0) < 2048:
        raise _invalid_jwk("RSA keys must have at least 2048 bits.")
    return key


def _scopes(acting: Acting, held: ParticipantRole, scopes: list[str]) -> list[str]:
    return permissions_delegable(
        scopes, role=held.role, held=acting.permissions, prefix="service_account"
    )


@transaction.atomic
def create(
    acting: Acting,
    *,
    name: str,
    scopes: list[str],
    auth_method: str,
    public_jwk: Mapping[str, Any] | None = None,
) -> tuple[ServiceAccount, str | None]:
    """A service account for the acting role. Returns the clear client secret once (or None
    for ``private_key_jwt``)."""
    permissions.require(acting, "service_accounts:manage")
    held = (
        ParticipantRole.objects.select_related("participant")
        .filter(participant_id=acting.participant_pk or 0, role=acting.role or "")
        .first()
    )
    if held is None:
        raise NotFound("You are not acting for a participant role.")
    codes = _scopes(acting, held, scopes)
    secret: str | None = None
    account = ServiceAccount(
        client_id=f"sa-{secrets.token_hex(10)}",
        participant_role=held,
        name=name,
        scopes=codes,
        auth_method=auth_method,
        created_by_id=acting.user_id,
    )
    if auth_method == ClientAuthMethod.PRIVATE_KEY_JWT:
        account.public_jwk = check_public_jwk(public_jwk)
    else:
        secret = f"{SECRET_PREFIX}_{secrets.token_urlsafe(32)}"
        account.secret_digest = _digest(secret)
    account.save()
    audit.record(
        acting,
        "service_account.created",
        object_type="service_account",
        object_id=account.client_id,
        subject_participant_id=held.participant.participant_id,
        after={
            "name": name,
            "role": held.role,
            "scopes": codes,
            "auth_method": auth_method,
            "jwk_thumbprint": _thumbprint(account.public_jwk),
        },
    )
    return account, secret


def _thumbprint(jwk: Mapping[str, Any] | None) -> str | None:
    if not jwk:
        return None
    return jwt.PyJWK(dict(jwk)).key_id or _digest(audit.canonical(jwk))[:16]


def _locked(account: ServiceAccount) -> ServiceAccount:
    return (
        ServiceAccount.objects.select_for_update()
        .select_related("participant_role__participant")
        .get(pk=account.pk)
    )


def _revoke_tokens(account: ServiceAccount, now: dt.datetime) -> int:
    return account.access_tokens.filter(revoked_at__isnull=True, expires_at__gt=now).update(
        revoked_at=now
    )


@transaction.atomic
def disable(acting: Acting, account: ServiceAccount) -> ServiceAccount:
    """Disable an account and revoke its access tokens at once. Disabling twice is a no-op."""
    permissions.require(acting, "service_accounts:manage")
    account = _locked(account)
    if not account.is_active:
        return account
    now = timezone.now()
    account.is_active = False
    account.disabled_at = now
    account.save(update_fields=["is_active", "disabled_at"])
    revoked = _revoke_tokens(account, now)
    audit.record(
        acting,
        "service_account.disabled",
        object_type="service_account",
        object_id=account.client_id,
        subject_participant_id=account.participant_role.participant.participant_id,
        before={"is_active": True},
        after={"is_active": False, "access_tokens_revoked": revoked},
        only_changed=False,
    )
    return account


@transaction.atomic
def rotate(
    acting: Acting, account: ServiceAccount, public_jwk: Mapping[str, Any] | None = None
) -> tuple[ServiceAccount, str | None]:
    """New credentials: a new secret (shown once) or a new public key. The old ones stop
    working at once and outstanding access tokens are revoked."""
    permissions.require(acting, "service_accounts:manage")
    account = _locked(account)
    if not account.is_active:
        raise Conflict("service_account.disabled", "A disabled service account cannot rotate.")
    now = timezone.now()
    secret: str | None = None
    before_thumbprint = _thumbprint(account.public_jwk)
    if account.auth_method == ClientAuthMethod.PRIVATE_KEY_JWT:
        account.public_jwk = check_public_jwk(public_jwk)
    else:
        if public_jwk:
            raise _invalid_jwk("This account authenticates with a secret, not a key.")
        secret = f"{SECRET_PREFIX}_{secrets.token_urlsafe(32)}"
        account.secret_digest = _digest(secret)
    account.credentials_rotated_at = now
    account.save(update_fields=["public_jwk", "secret_digest", "credentials_rotated_at"])
    revoked = _revoke_tokens(account, now)
    audit.record(
        acting,
        "service_account.credentials_rotated",
        object_type="service_account",
        object_id=account.client_id,
        subject_participant_id=account.participant_role.participant.participant_id,
        before={"jwk_thumbprint": before_thumbprint},
        after={
            "jwk_thumbprint": _thumbprint(account.public_jwk),
            "access_tokens_revoked": revoked,
        },
        only_changed=False,
    )
    return account, secret


# --- OAuth 2.0 token endpoint ----------------------------------------------------------------


@dataclass
class OAuthError(Exception):
    """An RFC 6749 §5.2 error: ``{"error", "error_description"}`` with its status code."""

    error: str
    description: str
    status: int = 400
    basic_challenge: bool = False
    client_id: str = ""
    reason: str = ""


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str


def _invalid_client(description: str, *, client_id: str = "", basic: bool = False) -> OAuthError:
    return OAuthError(
        "invalid_client", description, status=401, basic_challenge=basic, client_id=client_id
    )


def _account(client_id: str) -> ServiceAccount | None:
    if not client_id or len(client_id) > 40:
        return None
    return (
        ServiceAccount.objects.select_related("participant_role__participant")
        .filter(client_id=client_id)
        .first()
    )


def _basic_credentials(authorization: str) -> tuple[str, str] | None:
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise _invalid_client("Malformed HTTP Basic credentials.", basic=True) from None
    user, sep, password = decoded.partition(":")
    if not sep:
        raise _invalid_client("Malformed HTTP Basic credentials.", basic=True)
    return unquote_plus(user), unquote_plus(password)


def _by_secret(client_id: str, secret: str, *, basic: bool) -> ServiceAccount:
    account = _account(client_id)
    stored = account.secret_digest if account is not None else _digest("no such client")
    ok = hmac.compare_digest(_digest(secret), stored or _digest("no secret"))
    if account is None or not ok or account.auth_method != ClientAuthMethod.CLIENT_SECRET:
        raise _invalid_client("Client authentication failed.", client_id=client_id, basic=basic)
    return account


def _by_assertion(assertion: str, client_id_param: str) -> ServiceAccount:
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise _invalid_client("The client assertion is not a JWT.") from None
    raw_issuer = claims.get("iss")
    issuer: str = raw_issuer if isinstance(raw_issuer, str) else ""
    account = _account(issuer)
    if account is None or account.auth_method != ClientAuthMethod.PRIVATE_KEY_JWT:
        raise _invalid_client("Client authentication failed.", client_id=issuer)
    if client_id_param and client_id_param != account.client_id:
        raise _invalid_client("client_id differs from the assertion's issuer.", client_id=issuer)
    try:
        key = jwt.PyJWK(dict(account.public_jwk or {}))
        verified = jwt.decode(
            assertion,
            key.key,
            algorithms=[key.algorithm_name],
            audience=token_endpoint_url(),
            issuer=account.client_id,
            leeway=LEEWAY,
            options={"require": ["iss", "sub", "aud", "exp", "jti"]},
        )
    except (jwt.PyJWTError, jwt.PyJWKError) as exc:
        raise _invalid_client(
            f"The client assertion is not valid: {exc}", client_id=account.client_id
        ) from None
    if verified.get("sub") != account.client_id:
        raise _invalid_client("The assertion's sub must be the client_id.", client_id=issuer)
    now = timezone.now()
    expires = dt.datetime.fromtimestamp(int(verified["exp"]), tz=dt.UTC)
    if expires - now > max_assertion_lifetime() + LEEWAY:
        raise _invalid_client("The assertion's exp is too far ahead.", client_id=issuer)
    jti = verified["jti"]
    if not isinstance(jti, str) or not 1 <= len(jti) <= 200:
        raise _invalid_client("The assertion's jti must be a string.", client_id=issuer)
    with transaction.atomic():
        ClientAssertionJti.objects.filter(service_account=account, expires_at__lt=now).delete()
        try:
            with transaction.atomic():
                ClientAssertionJti.objects.create(
                    service_account=account, jti=jti, expires_at=expires + LEEWAY
                )
        except IntegrityError:
            raise _invalid_client(
                "This client assertion (jti) was already used.", client_id=issuer
            ) from None
    return account


def _authenticate_client(form: Mapping[str, str], authorization: str) -> ServiceAccount:
    basic = _basic_credentials(authorization) if authorization else None
    post = "client_secret" in form
    assertion = "client_assertion" in form or "client_assertion_type" in form
    if sum(bool(m) for m in (basic, post, assertion)) > 1:
        raise OAuthError("invalid_request", "Use exactly one client authentication method.")
    if basic is not None:
        account = _by_secret(basic[0], basic[1], basic=True)
    elif post:
        account = _by_secret(form.get("client_id", ""), form.get("client_secret", ""), basic=False)
    elif assertion:
        if form.get("client_assertion_type") != JWT_BEARER:
            raise _invalid_client(f"client_assertion_type must be {JWT_BEARER}.")
        account = _by_assertion(form.get("client_assertion", ""), form.get("client_id", ""))
    else:
        raise _invalid_client("Authenticate the client (HTTP Basic, client_secret or JWT).")
    if not account.is_active:
        raise _invalid_client("This service account is disabled.", client_id=account.client_id)
    return account


def _audit_refusal(exc: OAuthError) -> None:
    account = _account(exc.client_id) if exc.client_id else None
    held = account.participant_role if account else None
    acting = Acting(
        user_id=None,
        user_label=f"oauth_client:{exc.client_id or 'unknown'}"[:200],
        via="oauth",
        participant_pk=held.participant_id if held else None,
        participant_id=held.participant.participant_id if held else None,
        role=held.role if held else None,
        service_account_id=account.pk if account else None,
    )
    with transaction.atomic():
        audit.record(
            acting,
            "service_account.token_refused",
            object_type="service_account",
            object_id=account.client_id if account else "",
            subject_participant_id=held.participant.participant_id if held else "",
            after={"error": exc.error, "description": exc.description},
        )


def token_request(form: Mapping[str, list[str]], authorization: str = "") -> IssuedToken:
    """Handle one token request (form fields with all their values); every refusal is audited
    and raised as ``OAuthError``."""
    try:
        repeated = sorted(k for k, values in form.items() if len(values) > 1)
        if repeated:
            raise OAuthError("invalid_request", f"Parameters sent twice: {', '.join(repeated)}.")
        return _token_request({k: v[0] for k, v in form.items() if v}, authorization)
    except OAuthError as exc:
        _audit_refusal(exc)
        raise


def _token_request(form: Mapping[str, str], authorization: str) -> IssuedToken:
    grant_type = form.get("grant_type", "")
    if not grant_type:
        raise OAuthError("invalid_request", "grant_type is required.")
    if grant_type != "client_credentials":
        raise OAuthError("unsupported_grant_type", "Only client_credentials is supported here.")
    account = _authenticate_client(form, authorization)
    cap = _role_cap(account) & frozenset(account.scopes)
    if not cap:
        raise OAuthError(
            "invalid_grant",
            "The service account's participant role cannot act now (withdrawn or ended).",
            client_id=account.client_id,
        )
    requested = frozenset(form.get("scope", "").split()) or frozenset(account.scopes)
    beyond = sorted(requested - frozenset(account.scopes))
    if beyond:
        raise OAuthError(
            "invalid_scope",
            f"Not within this account's scopes: {' '.join(beyond)}.",
            client_id=account.client_id,
        )
    granted = sorted(requested & cap)
    if not granted:
        raise OAuthError(
            "invalid_scope",
            "None of the requested scopes can be used now.",
            client_id=account.client_id,
        )
    return _issue(account, granted)


@transaction.atomic
def _issue(account: ServiceAccount, scopes: list[str]) -> IssuedToken:
    key_id = secrets.token_hex(6)
    clear = f"{ACCESS_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    now = timezone.now()
    lifetime = token_lifetime()
    ServiceAccountToken.objects.create(
        service_account=account,
        key_id=key_id,
        digest=_digest(clear),
        scopes=scopes,
        issued_at=now,
        expires_at=now + lifetime,
    )
    ServiceAccount.objects.filter(pk=account.pk).update(last_token_at=now)
    audit.record(
        service_account_acting(account, frozenset(scopes)),
        "service_account.token_issued",
        object_type="service_account",
        object_id=account.client_id,
        subject_participant_id=account.participant_role.participant.participant_id,
        after={"key_id": key_id, "scopes": scopes, "expires_at": now + lifetime},
    )
    return IssuedToken(clear, int(lifetime.total_seconds()), " ".join(scopes))


# --- authenticating access tokens (used by BearerAuth) ---------------------------------------


def service_account_acting(account: ServiceAccount, scopes: frozenset[str]) -> Acting:
    held = account.participant_role
    return Acting(
        user_id=None,
        user_label=_label(account),
        via="service_account",
        participant_pk=held.participant_id,
        participant_id=held.participant.participant_id,
        role=held.role,
        permissions=scopes,
        service_account_id=account.pk,
    )


def acting_for_access_token(token: str) -> Acting | None:
    """The Acting of a usable access token (exactly its granted scopes, as far as the account
    and its role still allow), or None."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != ACCESS_PREFIX or len(parts[1]) != 12:
        return None
    row = (
        ServiceAccountToken.objects.select_related("service_account__participant_role__participant")
        .filter(key_id=parts[1])
        .first()
    )
    if row is None or not hmac.compare_digest(_digest(token), row.digest) or not row.is_usable:
        return None
    account = row.service_account
    if not account.is_active:
        return None
    scopes = frozenset(row.scopes) & frozenset(account.scopes) & _role_cap(account)
    return service_account_acting(account, scopes)
