"""``/api/v1/me``: the caller, their memberships and personal API tokens."""

from django.http import HttpRequest
from ninja import Router, Status

from flexreg.accounts import selectors, services
from flexreg.accounts.acting import usable_memberships
from flexreg.accounts.api_auth import requires
from flexreg.accounts.models import ApiToken, User
from flexreg.accounts.schemas import MembershipOut, MeOut, NewTokenOut, TokenIn, TokenOut
from flexreg.core import permissions
from flexreg.core.acting import acting_of
from flexreg.participants.policies import effective_permissions

router = Router(tags=["me"])


def _user(request: HttpRequest) -> User:
    return User.objects.get(pk=acting_of(request).user_id or 0)


def _token_out(t: ApiToken, cls: type[TokenOut] = TokenOut, **extra: str) -> TokenOut:
    return cls(
        key_id=t.key_id,
        name=t.name,
        membership=selectors.membership_label(t.membership) if t.membership else None,
        created_at=t.created_at,
        expires_at=t.expires_at,
        revoked_at=t.revoked_at,
        last_used_at=t.last_used_at,
        **extra,
    )


@router.get("", response=MeOut, summary="Who am I, and what may I act for")
@requires(permissions.REGISTER)
def me(request: HttpRequest) -> MeOut:
    user = _user(request)
    acting = acting_of(request)
    rows = [
        MembershipOut(
            membership=selectors.membership_label(m),
            participant_id=m.participant_role.participant.participant_id,
            participant_name=m.participant_role.participant.legal_name,
            role=m.participant_role.role,
            is_authorised_person=m.is_authorised_person,
            permissions=sorted(m.permissions),
            effective_permissions=sorted(effective_permissions(m)),
        )
        for m in usable_memberships(user)
    ]
    acting_as = f"{acting.participant_id}/{acting.role}" if acting.participant_id else None
    return MeOut(email=user.email, full_name=user.full_name, memberships=rows, acting_as=acting_as)


@router.get("/tokens", response=list[TokenOut])
@requires(permissions.REGISTER)
def list_tokens(request: HttpRequest) -> list[TokenOut]:
    return [_token_out(t) for t in selectors.tokens_of(_user(request))]


@router.post("/tokens", response={201: NewTokenOut}, summary="Create a personal API token")
@requires(permissions.REGISTER)
def create_token(request: HttpRequest, body: TokenIn) -> Status[TokenOut]:
    user = _user(request)
    membership = selectors.membership_by_label(user, body.membership) if body.membership else None
    token, clear = services.issue_token(
        acting_of(request),
        user,
        name=body.name,
        membership=membership,
        days=body.expires_in_days,
    )
    return Status(201, _token_out(token, NewTokenOut, token=clear))


@router.delete("/tokens/{key_id}", response=TokenOut, summary="Revoke a token")
@requires(permissions.REGISTER)
def revoke_token(request: HttpRequest, key_id: str) -> TokenOut:
    return _token_out(services.revoke_token(acting_of(request), _user(request), key_id))
