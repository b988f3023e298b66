"""People and their credentials: users, external identities and API tokens."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone


class UserManager(BaseUserManager["User"]):
    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user


class User(AbstractBaseUser):
    """A person (or, later, a service account). Signs in with email; external identities link.

    Deliberately not a Django superuser model: central operators are a participant role with
    permissions from the catalogue, like everyone else.
    """

    email = models.EmailField(max_length=254, unique=True)  # stored lower-case
    full_name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    def __str__(self) -> str:
        return self.email


class ExternalIdentity(models.Model):
    """An identity at an OpenID Connect provider, keyed by issuer + subject (never email).

    For Entra ID the issuer is the tenant's issuer and the subject its ``oid``. One user may
    link several identities; the same subject at another issuer is a different identity.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="identities"
    )
    issuer = models.CharField(max_length=500)
    subject = models.CharField(max_length=255)
    provider = models.CharField(max_length=60)
    email_at_link = models.EmailField(blank=True)
    linked_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="identity_issuer_subject")
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.subject}"


class ApiToken(models.Model):
    """A personal bearer token: shown once, stored as a SHA-256 digest, expiring, revocable.

    Bound to its user and to the one membership (participant role) it acts for. A token with no
    membership may only register new participants and read its user's own access.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    membership = models.ForeignKey(
        "participants.Membership",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="api_tokens",
    )
    name = models.CharField(max_length=100)
    key_id = models.CharField(max_length=16, unique=True)  # public part, shown in listings
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.key_id})"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


# --- machine clients: service accounts (OAuth 2.0 client credentials) ------------------------


class ClientAuthMethod(models.TextChoices):
    CLIENT_SECRET = "client_secret", "Client secret (client_secret_basic or client_secret_post)"
    PRIVATE_KEY_JWT = "private_key_jwt", "Signed JWT assertion (RFC 7523) with a registered key"


class ServiceAccount(models.Model):
    """A machine acting for one participant role with scopes from the catalogue.

    Managed by the role's Authorised Person. Authenticates at ``/api/v1/oauth/token`` with
    its ``client_id`` and either a secret (only its SHA-256 digest is kept: 256 random bits) or
    a JWT signed with the private key matching ``public_jwk``.
    """

    client_id = models.CharField(max_length=40, unique=True)
    participant_role = models.ForeignKey(
        "participants.ParticipantRole", on_delete=models.CASCADE, related_name="service_accounts"
    )
    name = models.CharField(max_length=100)
    scopes = ArrayField(models.CharField(max_length=60), default=list)
    auth_method = models.CharField(max_length=20, choices=ClientAuthMethod.choices)
    secret_digest = models.CharField(max_length=64, blank=True)
    public_jwk = models.JSONField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    credentials_rotated_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    last_token_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["participant_role", "created_at"], name="service_account_role")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.client_id})"


class ServiceAccountToken(models.Model):
    """A short-lived access token issued to a service account; only its digest is stored."""

    service_account = models.ForeignKey(
        ServiceAccount, on_delete=models.CASCADE, related_name="access_tokens"
    )
    key_id = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64, unique=True)
    scopes = ArrayField(models.CharField(max_length=60), default=list)
    issued_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="sa_token_expires")]

    def __str__(self) -> str:
        return f"access token {self.key_id}"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class ClientAssertionJti(models.Model):
    """A ``jti`` of a ``private_key_jwt`` assertion already used: each is accepted once.

    Kept until the assertion expires (after that the ``exp`` check refuses it anyway).
    """

    service_account = models.ForeignKey(
        ServiceAccount, on_delete=models.CASCADE, related_name="used_assertions"
    )
    jti = models.CharField(max_length=200)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service_account", "jti"], name="assertion_jti_once")
        ]

    def __str__(self) -> str:
        return f"{self.service_account_id}:{self.jti}"
