"""Fixtures for delegation and service-account tests: a client, a platform, a stranger."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from conftest import organisation_payload

HEADER = "X-FlexReg-On-Behalf-Of"


def _org(number: str, legal: str, declarant: str, kind: str, roles: list[str]) -> dict[str, Any]:
    return organisation_payload(
        company_number=number,
        legal_name=legal,
        organisation_type=kind,
        requested_roles=roles,
        declaration={
            "declarant_name": declarant,
            "declarant_is_applicant": True,
            "statement_accepted": True,
        },
    )


@pytest.fixture
def client_org(registered: Any) -> tuple[Any, dict[str, Any], Any]:
    """An active FSP; its registrant is the FSP role's Authorised Person."""
    user, body, api = registered(
        _org("99000001", "Brightwatt Flex Limited (Sample)", "Jane Smith", "company", ["FSP"])
    )
    assert body["status"] == "active", body
    return user, body, api


@pytest.fixture
def platform_org(registered: Any) -> tuple[Any, dict[str, Any], Any]:
    """An active participant holding the PLATFORM role; its registrant is Authorised Person."""
    user, body, api = registered(
        _org("OC990004", "Solar Commons LLP (Sample)", "Amira Khan", "llp", ["PLATFORM"])
    )
    assert body["status"] == "active", body
    return user, body, api


@pytest.fixture
def stranger_org(registered: Any) -> tuple[Any, dict[str, Any], Any]:
    """Another active participant, not a platform."""
    user, body, api = registered(
        _org(
            "99000006",
            "Bronte Heat Co-operative Limited (Sample)",
            "Anne Bronte",
            "company",
            ["FSP"],
        )
    )
    assert body["status"] == "active", body
    return user, body, api


@pytest.fixture
def member_of(make_user: Any, api_for: Any) -> Any:
    """member_of(participant_id, role, permissions) -> Api of a new user with that membership."""
    from flexreg.participants.models import Membership, ParticipantRole

    def make(participant_id: str, role: str, permissions: list[str]) -> Any:
        held = ParticipantRole.objects.get(participant__participant_id=participant_id, role=role)
        membership = Membership.objects.create(
            user=make_user(), participant_role=held, permissions=permissions
        )
        return api_for(membership.user, membership)

    return make


def later(days: float = 30) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).isoformat()


@pytest.fixture
def delegate(client_org: Any, platform_org: Any) -> Any:
    """delegate(permissions, **fields) -> the response of the client granting a delegation."""

    def grant(permissions: list[str], **fields: Any) -> Any:
        body = {
            "platform_participant_id": platform_org[1]["participant_id"],
            "permissions": permissions,
            "valid_to": later(),
            **fields,
        }
        return client_org[2].post("/delegations", body)

    return grant
