"""The permission catalogue: every permission, in one place, with the roles that may hold it.

A permission is ``<resource>:<action>``. A membership (a user acting for one participant role)
holds a subset of the permissions its role may hold; an Authorised Person holds all of them.
Every API endpoint and portal view names the permission it needs (see ``require``).
"""

from __future__ import annotations

from dataclasses import dataclass

from flexreg.core.acting import Acting
from flexreg.core.errors import NotAuthenticated, PermissionDenied
from flexreg.core.roles import ALL_ROLES, MARKET_ROLES

OPERATOR = frozenset({"MARKET_FACILITATOR"})
OVERSIGHT = frozenset({"MARKET_FACILITATOR", "REGULATOR"})
# Roles that register flexible assets (which categories each may register is a rule: issue 5).
ASSET_REGISTRANTS = frozenset({"FSP", "AGGREGATOR", "ASSET_OWNER", "SUPPLIER", "OEM", "PLATFORM"})


@dataclass(frozen=True)
class Permission:
    code: str
    description: str
    roles: frozenset[str]
    # Granted to a registrant before verification so they can follow their application.
    applicant: bool = False
    # May be delegated to a platform or given to a service account (a machine). Permissions
    # that manage who may act, or that end or reshape the participant, stay with people.
    # A permission meant to be exercised through platforms must list PLATFORM among its roles:
    # a platform acting for a client holds (delegated ∩ what the platform caller holds).
    delegable: bool = True
    # A market operation: effective only once the role is operational, i.e. its market-entry
    # case is qualified (participants.policies). Account administration is never operational.
    operational: bool = False


CATALOGUE: dict[str, Permission] = {
    p.code: p
    for p in [
        Permission(
            "participant:read",
            "See the acting participant's full record.",
            ALL_ROLES,
            applicant=True,
        ),
        Permission(
            "participant:update",
            "Change the acting participant's self-serve details.",
            ALL_ROLES,
            applicant=True,
        ),
        Permission(
            "participant:withdraw",
            "Withdraw the acting participant from FlexReg.",
            MARKET_ROLES,
            delegable=False,
        ),
        Permission(
            "participant_roles:manage",
            "Ask for or withdraw the participant's market roles.",
            ALL_ROLES,
            applicant=True,
            delegable=False,
        ),
        Permission(
            "verification:submit",
            "Submit a director's declaration for verification.",
            ALL_ROLES,
            applicant=True,
        ),
        Permission(
            "registry:read", "List and read active participants in the registry.", ALL_ROLES
        ),
        Permission("memberships:read", "See who may act for the participant and how.", ALL_ROLES),
        Permission(
            "memberships:manage",
            "Grant, change and revoke users' access (Authorised Persons).",
            ALL_ROLES,
            delegable=False,
        ),
        Permission(
            "delegations:read",
            "See delegations the acting role granted to platforms, or (a platform) received.",
            MARKET_ROLES,
        ),
        Permission(
            "delegations:manage",
            "Delegate chosen permissions of the acting role to a platform, and revoke them.",
            MARKET_ROLES,
            delegable=False,
        ),
        Permission(
            "service_accounts:manage",
            "Create, list, disable and rotate the acting role's service accounts (machines).",
            ALL_ROLES,
            delegable=False,
        ),
        Permission(
            "audit:read_own", "Read the audit trail of the acting participant's records.", ALL_ROLES
        ),
        # Managed market entry (the ``entry`` app).
        Permission(
            "entry:read",
            "See the acting role's market-entry case, its requests and their history "
            "(oversight roles with entry:read_all see every case).",
            ALL_ROLES,
            applicant=True,
        ),
        Permission(
            "entry:answer",
            "Answer the acting role's information requests: upload documents, fill in forms.",
            MARKET_ROLES,
            applicant=True,
        ),
        Permission(
            "market:operate",
            "Take part in the market as the acting role (e.g. register assets): operational "
            "roles only.",
            MARKET_ROLES,
            operational=True,
        ),
        # Assets (the ``assets`` app).
        Permission(
            "assets:register",
            "Register assets for the acting participant, one by one or in bulk.",
            ASSET_REGISTRANTS,
            operational=True,
        ),
        Permission(
            "assets:read",
            "See the assets the acting participant is linked to (owner, operator, provider).",
            MARKET_ROLES,
        ),
        # Central operator and oversight.
        Permission("participants:read_all", "Read every participant's full record.", OVERSIGHT),
        Permission(
            "verification:review",
            "Review and decide verifications in the operator queue.",
            OPERATOR,
        ),
        Permission(
            "participants:transition", "Suspend, reinstate or withdraw any participant.", OPERATOR
        ),
        Permission(
            "participant_roles:decide",
            "Approve or reject a participant's request for a role.",
            OPERATOR,
        ),
        Permission("audit:read_all", "Read the whole audit log.", OVERSIGHT),
        Permission(
            "memberships:read_all", "See who may act for any participant and how.", OVERSIGHT
        ),
        Permission(
            "memberships:manage_all",
            "Manage any participant's users: approve Authorised Persons, override the "
            "invitation email-domain rule.",
            OPERATOR,
        ),
        Permission("users:deactivate", "Deactivate a user everywhere, at once.", OPERATOR),
        Permission(
            "participant_changes:review",
            "Review and decide changes to participants' verified details.",
            OPERATOR,
        ),
        Permission("assets:read_all", "Read every asset's full record.", OVERSIGHT),
        Permission(
            "asset_catalogue:manage",
            "Add, relabel, retire and restore asset categories and controlled-list values.",
            OPERATOR,
        ),
        Permission(
            "assets:review",
            "Decide assets in query (authenticity failures, possible duplicates).",
            OPERATOR,
        ),
        Permission(
            "entry:review",
            "Review market-entry answers and cases, raise requests, assign reviewers.",
            OPERATOR,
        ),
        Permission(
            "entry:read_all", "Read every market-entry case and the entry dashboard.", OVERSIGHT
        ),
        Permission(
            "entry_rules:manage",
            "Add or retire market-entry rule additions; move cases to a newer rule version.",
            OPERATOR,
        ),
    ]
}

# Everyone signed in may register a new participant: no membership is needed for that.
REGISTER = "participant:register"


def allowed_for_role(role: str) -> frozenset[str]:
    return frozenset(code for code, p in CATALOGUE.items() if role in p.roles)


def applicant_permissions(role: str) -> frozenset[str]:
    return frozenset(code for code, p in CATALOGUE.items() if p.applicant and role in p.roles)


def operational_permissions() -> frozenset[str]:
    return frozenset(code for code, p in CATALOGUE.items() if p.operational)


def delegable_for_role(role: str) -> frozenset[str]:
    """What a role may delegate to a platform or give to a service account."""
    return frozenset(code for code, p in CATALOGUE.items() if role in p.roles and p.delegable)


def unknown(codes: set[str] | frozenset[str]) -> set[str]:
    return set(codes) - set(CATALOGUE)


def require(acting: Acting, permission: str) -> None:
    """Raise unless the acting membership holds ``permission``. Object scope is the selectors'."""
    if not acting.is_authenticated:
        raise NotAuthenticated()
    if permission == REGISTER:
        # Registering and managing personal tokens is for people acting as themselves: not
        # for machines (service accounts) nor for a platform acting for a client.
        if (acting.user_id is None and acting.via != "system") or acting.is_delegated:
            raise PermissionDenied(permission)
        return
    if permission not in CATALOGUE:
        raise ValueError(f"unknown permission {permission!r}")
    if not acting.has(permission):
        raise PermissionDenied(permission)
