"""Who is acting: the user, and the one participant role (membership) they act for.

Every service takes an ``Acting`` and every audit row records it. ``core`` knows no domain
app, so an Acting carries plain values; ``accounts`` builds it for each request.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from flexreg.core.request_context import current_request_id

OPERATOR_ROLE = "MARKET_FACILITATOR"


@dataclass(frozen=True)
class Acting:
    user_id: int | None
    user_label: str
    via: str  # "session", "token", "service_account", "cli", "system"
    membership_id: int | None = None
    participant_pk: int | None = None
    participant_id: str | None = None
    role: str | None = None
    permissions: frozenset[str] = field(default_factory=frozenset)
    request_id: str = field(default_factory=current_request_id)
    token_id: int | None = None
    # A platform acting for a client under a delegation: the fields above name the *client*
    # role (whose records are touched, with the delegated permissions); these name the platform
    # that acts. ``audit.record`` writes both.
    platform_participant_id: str | None = None
    platform_role: str | None = None
    delegation_id: str | None = None
    # A machine client (accounts.ServiceAccount) acting through an OAuth access token.
    service_account_id: int | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None or self.via in ("system", "service_account")

    @property
    def is_delegated(self) -> bool:
        return self.platform_participant_id is not None

    @property
    def on_behalf_of(self) -> str:
        """``<client participant_id>/<role>`` when a platform acts for a client, else ""."""
        return f"{self.participant_id}/{self.role}" if self.is_delegated else ""

    @property
    def is_operator(self) -> bool:
        return self.role == OPERATOR_ROLE

    def has(self, permission: str) -> bool:
        return permission in self.permissions

    def acts_for(self, participant_pk: int) -> bool:
        return self.participant_pk is not None and self.participant_pk == participant_pk

    def with_request_id(self, request_id: str) -> Acting:
        return replace(self, request_id=request_id)

    @classmethod
    def anonymous(cls) -> Acting:
        return cls(user_id=None, user_label="anonymous", via="anonymous")

    @classmethod
    def system(cls, name: str, permissions: frozenset[str] = frozenset()) -> Acting:
        """A background process acting on the service's own authority (audited as such)."""
        return cls(user_id=None, user_label=f"system:{name}", via="system", permissions=permissions)


def acting_of(request: object) -> Acting:
    """The Acting a middleware or the API authentication attached to a request."""
    acting = getattr(request, "acting", None)
    return acting if acting is not None else Acting.anonymous()
