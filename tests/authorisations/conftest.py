"""Fixtures for authorisations: a verified organisation with its Authorised Person, colleagues
with chosen permissions, and a second organisation to prove scoping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from conftest import Api, organisation_payload
from flexreg.participants.models import Membership


@dataclass
class Org:
    pid: str
    ap_user: Any
    ap: Api  # the registrant, an Authorised Person acting for ASSET_OWNER

    def membership_of(self, user: Any, role: str = "ASSET_OWNER") -> Membership:
        return Membership.objects.select_related("participant_role__participant").get(
            user=user,
            participant_role__participant__participant_id=self.pid,
            participant_role__role=role,
        )


@pytest.fixture
def org(registered: Any) -> Org:
    user, body, api = registered(user=None)
    return Org(pid=body["participant_id"], ap_user=user, ap=api)


@pytest.fixture
def other_org(registered: Any) -> Org:
    user, body, api = registered(
        organisation_payload(
            company_number="OC990004",
            legal_name="Solar Commons LLP (Sample)",
            organisation_type="llp",
            email_domains=["solarcommons.example"],
            declaration={
                "declarant_name": "Owen Williams",
                "declarant_is_applicant": True,
                "statement_accepted": True,
            },
        )
    )
    return Org(pid=body["participant_id"], ap_user=user, ap=api)


@pytest.fixture
def colleague(org: Org, make_user: Any, api_for: Any) -> Any:
    """colleague(permissions, email=..., role=...) -> (user, membership, api acting for it).

    Granted through the API by the organisation's Authorised Person."""
    counter = iter(range(1, 1000))

    def make(
        permissions: list[str], email: str | None = None, role: str = "ASSET_OWNER"
    ) -> tuple[Any, Membership, Api]:
        email = email or f"colleague{next(counter)}@brightwatt.example"
        user = make_user(email)
        response = org.ap.post(
            f"/participants/{org.pid}/memberships",
            {"email": email, "role": role, "permissions": permissions},
        )
        assert response.status_code == 201, response.content
        membership = org.membership_of(user, role)
        return user, membership, api_for(user, membership)

    return make


@pytest.fixture
def make_authorised_person(org: Org, operator_api: Api, api_for: Any, make_user: Any) -> Any:
    """A second Authorised Person of a role, made through maker-checker (operator approves)."""

    def make(email: str, role: str = "ASSET_OWNER") -> tuple[Any, Membership, Api]:
        user = make_user(email)
        made = org.ap.post(
            f"/participants/{org.pid}/authorised-person-requests",
            {"email": email, "role": role, "permissions": _all_for(role)},
        )
        assert made.status_code == 201, made.content
        approved = operator_api.post(
            f"/participants/{org.pid}/authorised-person-requests/{made.json()['request_id']}"
            "/approve",
            {"reason": "Checked by phone"},
        )
        assert approved.status_code == 200, approved.content
        membership = org.membership_of(user, role)
        return user, membership, api_for(user, membership)

    return make


def _all_for(role: str) -> list[str]:
    from flexreg.core import permissions

    return sorted(permissions.allowed_for_role(role))
