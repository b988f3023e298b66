"""GOV.UK One Login identity journey: a proven identity (``vot`` = ``P2``) verifies the
signed-in person's individual participant, through ``participants.services``.

The ``coreIdentityJWT`` itself was checked in ``oidc.validate_core_identity`` (ES256 signature
with a key from the configured DID document or JWKS, issuer, audience, expiry, subject). Only
what was checked is kept as evidence — never the identity claims (name, birth date).
"""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.models import SocialAccount, SocialLogin
from django.db import transaction
from django.http import HttpRequest

from flexreg.accounts.acting import acting_for, usable_memberships
from flexreg.accounts.models import ExternalIdentity
from flexreg.participants import services as participant_services


def individual_membership(user: Any) -> Any:
    """The user's membership of their own individual participant, if any."""
    for membership in usable_memberships(user):
        if membership.participant_role.participant.kind == "individual":
            return membership
    return None


def record_identity(
    request: HttpRequest,
    user: Any,
    sociallogin: SocialLogin,
    proven: dict[str, Any],
    *,
    linked: ExternalIdentity | None,
) -> str:
    """Link the One Login identity if needed and record the proof; the participant's ID."""
    from flexreg.accounts.adapters import _link

    with transaction.atomic():
        if linked is None:
            account = sociallogin.account
            SocialAccount.objects.update_or_create(
                provider=account.provider,
                uid=account.uid,
                defaults={"user": user, "extra_data": account.extra_data},
            )
            _link(user, sociallogin, request)
        membership = individual_membership(user)
        if membership is None:
            return ""
        participant = membership.participant_role.participant
        participant_services.record_proven_identity(
            acting_for(user, membership, via="session"),
            participant,
            provider=sociallogin.account.provider,
            level=str(proven.get("vot")),
            evidence={
                "issuer": proven.get("issuer"),
                "jti": proven.get("jti") or "",
                "issued_at": proven.get("iat"),
            },
        )
        return str(participant.participant_id)
