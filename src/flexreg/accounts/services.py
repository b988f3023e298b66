"""Account use cases: users, API tokens. Each write is audited in its transaction."""

from __future__ import annotations

import datetime as dt

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from flexreg.accounts import tokens
from flexreg.accounts.models import ApiToken, User
from flexreg.core import audit
from flexreg.core.acting import Acting
from flexreg.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from flexreg.participants.models import Membership


@transaction.atomic
def create_local_user(acting: Acting, *, email: str, password: str, full_name: str) -> User:
    email = email.strip().lower()
    try:
        validate_password(password, User(email=email, full_name=full_name))
    except DjangoValidationError as exc:
        raise ValidationFailed(
            [FieldError("password", "password.weak", m) for m in exc.messages]
        ) from exc
    if User.objects.filter(email=email).exists():
        raise Conflict("user.email_taken", "An account with this email already exists.")
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password, full_name=full_name)
    except IntegrityError:
        raise Conflict("user.email_taken", "An account with this email already exists.") from None
    # Unconfirmed until the person follows the emailed link (allauth sends it at sign-in).
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=False)
    audit.record(
        acting,
        "user.created",
        object_type="user",
        object_id=str(user.pk),
        after={"email": email, "full_name": full_name},
        personal=("email", "full_name"),
    )
    return user


@transaction.atomic
def issue_token(
    acting: Acting, user: User, *, name: str, membership: Membership | None, days: int | None = None
) -> tuple[ApiToken, str]:
    """Create a token for ``user`` bound to one of their memberships. The clear token is
    returned once and never stored."""
    if membership is not None and membership.user_id != user.pk:
        raise NotFound("No such membership.")
    days = min(days or settings.API_TOKEN_DEFAULT_DAYS, settings.API_TOKEN_MAX_DAYS)
    clear, key_id, digest = tokens.new_token()
    token = ApiToken.objects.create(
        user=user,
        membership=membership,
        name=name,
        key_id=key_id,
        digest=digest,
        expires_at=timezone.now() + dt.timedelta(days=days),
    )
    held = membership.participant_role if membership else None
    audit.record(
        acting,
        "api_token.issued",
        object_type="api_token",
        object_id=key_id,
        subject_participant_id=held.participant.participant_id if held else "",
        after={
            "user_id": user.pk,
            "name": name,
            "expires_at": token.expires_at,
            "membership": f"{held.participant.participant_id}/{held.role}" if held else None,
        },
    )
    return token, clear


@transaction.atomic
def revoke_token(acting: Acting, user: User, key_id: str) -> ApiToken:
    token = ApiToken.objects.select_for_update().filter(user=user, key_id=key_id).first()
    if token is None:
        raise NotFound("No such token.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(
            acting,
            "api_token.revoked",
            object_type="api_token",
            object_id=key_id,
            before={"revoked_at": None},
            after={"revoked_at": token.revoked_at},
        )
    return token
