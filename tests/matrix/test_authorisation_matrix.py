"""The authorisation matrix: every API operation, run as five kinds of caller.

Callers: anonymous; a member of another participant (with all its permissions); a member of the
participant without the permission (a membership holding none); a member with it (the
participant's Authorised Person); a central operator. Each call runs in a savepoint rolled back
afterwards, so every caller meets the same state. A new API operation fails
``test_every_operation_has_a_scenario`` until it is given a row here.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from conftest import Api, organisation_payload
from flexreg.config.api import api
from flexreg.participants.models import Membership, Participant, ParticipantRole
from tests.matrix.base import CALLERS, DECLARATION, Scenario, World, _days, _expect

SCENARIOS = [
    Scenario(
        "POST /api/v1/participants",
        lambda w: (
            "/participants",
            organisation_payload(
                company_number="99000006",
                legal_name="Bronte Heat Co-operative Limited (Sample)",
                declaration={**DECLARATION, "declarant_name": "Anne Bronte"},
            ),
        ),
        _expect(401, 201, 201, 201, 201),
    ),
    Scenario(
        "GET /api/v1/participants",
        lambda w: ("/participants", None),
        _expect(401, 200, 403, 200, 200),
    ),
    Scenario(
        "GET /api/v1/participants/{participant_id}",
        lambda w: (f"/participants/{w.a.participant_id}", None),
        # another participant sees the public view of an active participant
        _expect(401, 200, 403, 200, 200),
    ),
    Scenario(
        "PATCH /api/v1/participants/{participant_id}",
        lambda w: (f"/participants/{w.a.participant_id}", {"trading_name": "Renamed"}),
        _expect(401, 404, 403, 200, 404),
    ),
    Scenario(
        "POST /api/v1/participants/{participant_id}/roles",
        lambda w: (f"/participants/{w.a.participant_id}/roles", {"role": "OEM"}),
        _expect(401, 404, 403, 201, 404),
    ),
    Scenario(
        "POST /api/v1/participants/{participant_id}/roles/{role}/withdraw",
        lambda w: (
            f"/participants/{w.a.participant_id}/roles/ASSET_OWNER/withdraw",
            {"reason": "No longer needed"},
        ),
        # the central operator may withdraw a participant's role
        _expect(401, 404, 403, 200, 200),
    ),
    Scenario(
        "POST /api/v1/participants/{participant_id}/roles/{role}/decision",
        lambda w: (
            f"/participants/{w.a.participant_id}/roles/AGGREGATOR/decision",
            {"decision": "approve", "reason": "Checked"},
        ),
        _expect(401, 403, 403, 403, 200),
    ),
    Scenario(
        "POST /api/v1/participants/{participant_id}/verification",
        lambda w: (f"/participants/{w.a.participant_id}/verification", DECLARATION),
        # A is active already: the member with permission gets a coded 409
        _expect(401, 404, 403, 409, 404),
    ),
    Scenario(
        "GET /api/v1/participants/{participant_id}/verifications",
        lambda w: (f"/participants/{w.a.participant_id}/verifications", None),
        _expect(401, 404, 403, 200, 200),
    ),
    Scenario(
        "POST /api/v1/participants/{participant_id}/transitions",
        lambda w: (
            f"/participants/{w.a.participant_id}/transitions",
            {"transition": "suspend", "reason": "Unpaid"},
        ),
        _expect(401, 404, 403, 403, 200),
    ),
    Scenario(
        "GET /api/v1/operator/verifications",
        lambda w: ("/operator/verifications", None),
        _expect(401, 403, 403, 403, 200),
    ),
    Scenario(
        "POST /api/v1/operator/verifications/{verification_id}/decision",
        lambda w: (
            f"/operator/verifications/{w.pending_verification_id}/decision",
            {"decision": "approve", "reason": "Checked by hand"},
        ),
        _expect(401, 403, 403, 403, 200),
    ),
    Scenario("GET /api/v1/me", lambda w: ("/me", None), _expect(401, 200, 200, 200, 200)),
    Scenario(
        "GET /api/v1/me/tokens", lambda w: ("/me/tokens", None), _expect(401, 200, 200, 200, 200)
    ),
    Scenario(
        "POST /api/v1/me/tokens",
        lambda w: ("/me/tokens", {"name": "matrix"}),
        _expect(401, 201, 201, 201, 201),
    ),
    Scenario(
        "DELETE /api/v1/me/tokens/{key_id}",
        # A's Authorised Person's own token; everyone else gets 404 for it
        lambda w: (f"/me/tokens/{w.a_key_id}", None),
        _expect(401, 404, 404, 200, 404),
    ),
    # --- authorisations (participants/api_access.py); fixtures: _access(w) below ---
    Scenario(
        "GET /api/v1/participants/{participant_id}/memberships",
        lambda w: (f"/participants/{w.a.participant_id}/memberships", None),
        _expect(401, 404, 403, 200, 200),
    ),
    Scenario(
        "GET /api/v1/participants/{participant_id}/memberships/{membership_id}",
        lambda w: (f"/participants/{w.a.participant_id}/memberships/{_access(w)['m']}", None),
        _expect(401, 404, 403, 200, 200),
    ),
    Scenario(
        "POST /api/v1/participants/{participant_id}/memberships",
        lambda w: (
            f"/participants/{w.a.participant_id}/memberships",
            {
                "email": _access(w)["newcomer"],
                "role": "FSP",
                "permissions": ["participant:read"],
            },
        ),
        _expect(401, 404, 403, 201, 201),
    ),
    Scenario(
        "PATCH /api/v1/participants/{participant_id}/memberships/{membership_id}",
        lambda w: (
            f"/participants/{w.a.participant_id}/memberships/{_access(w)['m']}",
            {"permissions": ["participant:read", "participant:update"]},
        ),
        _expect(401, 404, 403, 200, 200),
    ),
    Scenario(
        "POST /api/v1/participants/{participant_id}/memberships/{membership_id}/revoke",
        lambda w: (
            f"/participants/{w.a.participant_id}/memberships/{_access(w)['m']}/revoke",
            {"reason": "Left"},
        ),
        _expect(401, 404, 403, 200, 200),
    ),
    Scenario(
        "GET /api/v1/participants/{participant_id}/authorised-person-requests",
        lambda w: (f"/participants/{w.a.participant_id}/authorised-person-requests", None),
        _expect(401, 404, 403, 200, 200),
    ),
    Scenario(
        "POST /api/v1/participants/{participant_id}/authorised-person-requests",
        lambda w: (
            f"/participants/{w.a.participant_id}/authorised-person-requests",
            {
                "email": _access(w)["newcomer"],
                "role": "FSP",
                "permissions": ["memberships:manage", "participant:read"],
            },
        ),
        _expect(401, 404, 403, 201, 201),
    ),
    Scenario(
        "POST /api/v1/participants/{participant_id}/authorised-person-requests/"
        "{request_id}/approve",
        lambda w: (
            f"/participants/{w.a.participant_id}/authorised-person-requests/"
            f"{_access(w)['request']}/approve",
            {},
        ),
        _expect(401, 404, 403, 200, 200),
    ),
    Scenario(
        "POST /api/v1/participants/{participant_id}/authorised-person-requests/{request_id}/reject",
        lambda w: (
            f"/participants/{w.a.participant_id}/authorised-person-requests/"
            f"{_access(w)['request']}/reject",
            {"reason": "No"},
        ),
        _expect(401, 404, 403, 200, 200),
    ),
    Scenario(
        "GET /api/v1/participants/{participant_id}/invitations",
        lambda w: (f"/participants/{w.a.participant_id}/invitations", None),
        _expect(401, 404, 403, 200, 200),
    ),
    Scenario(
        "POST /api/v1/participants/{participant_id}/invitations",
        lambda w: (
            f"/participants/{w.a.participant_id}/invitations",
            {
                "email": "invitee@brightwatt.example",
                "role": "FSP",
                "permissions": ["participant:read"],
            },
        ),
        _expect(401, 404, 403, 201, 201),
    ),
    Scenario(
        "POST /api/v1/participants/{participant_id}/invitations/{invitation_id}/revoke",
        lambda w: (
            f"/participants/{w.a.participant_id}/invitations/{_access(w)['invitation']}/revoke",
            {},
        ),
        _expect(401, 404, 403, 200, 200),
    ),
    Scenario(
        "POST /api/v1/invitations/accept",
        # the invitation is for the member without permissions: only they may accept it
        lambda w: ("/invitations/accept", {"token": _access(w)["token"]}),
        _expect(401, 403, 201, 403, 403),
    ),
    Scenario(
        "POST /api/v1/operator/users/deactivate",
        lambda w: (
            "/operator/users/deactivate",
            {"email": _access(w)["colleague"], "reason": "Compromised"},
        ),
        _expect(401, 403, 403, 403, 200),
    ),
    Scenario("GET /api/v1/health", lambda w: ("/health", None), _expect(200, 200, 200, 200, 200)),
    # Delegation to platforms (B holds the PLATFORM role; "other" acts for B's FSP role).
    Scenario(
        "POST /api/v1/delegations",
        lambda w: (
            "/delegations",
            {
                "platform_participant_id": w.b.participant_id,
                "permissions": ["participant:read"],
                "valid_from": _days(40),
                "valid_to": _days(50),
            },
        ),
        # B may not delegate to itself; the operator's role cannot delegate
        _expect(401, 422, 403, 201, 403),
    ),
    Scenario(
        "GET /api/v1/delegations/granted",
        lambda w: ("/delegations/granted", None),
        _expect(401, 200, 403, 200, 403),
    ),
    Scenario(
        "GET /api/v1/delegations/received",
        lambda w: ("/delegations/received", None),
        _expect(401, 200, 403, 200, 403),
    ),
    Scenario(
        "GET /api/v1/delegations/{delegation_id}",
        lambda w: (f"/delegations/{w.delegation_id}", None),
        _expect(401, 404, 403, 200, 403),
    ),
    Scenario(
        "POST /api/v1/delegations/{delegation_id}/revoke",
        lambda w: (f"/delegations/{w.delegation_id}/revoke", {"reason": "ended"}),
        _expect(401, 404, 403, 200, 403),
    ),
    # Service accounts (machine clients) and the OAuth token endpoint.
    Scenario(
        "POST /api/v1/service-accounts",
        lambda w: ("/service-accounts", {"name": "robot", "scopes": ["participant:read"]}),
        _expect(401, 201, 403, 201, 201),
    ),
    Scenario(
        "GET /api/v1/service-accounts",
        lambda w: ("/service-accounts", None),
        _expect(401, 200, 403, 200, 200),
    ),
    Scenario(
        "GET /api/v1/service-accounts/{client_id}",
        lambda w: (f"/service-accounts/{w.client_id}", None),
        _expect(401, 404, 403, 200, 404),
    ),
    Scenario(
        "POST /api/v1/service-accounts/{client_id}/disable",
        lambda w: (f"/service-accounts/{w.client_id}/disable", {}),
        _expect(401, 404, 403, 200, 404),
    ),
    Scenario(
        "POST /api/v1/service-accounts/{client_id}/rotate",
        lambda w: (f"/service-accounts/{w.client_id}/rotate", {}),
        _expect(401, 404, 403, 200, 404),
    ),
    # OAuth's own endpoint: public, answers in RFC 6749's error format (a JSON body is not a
    # form, so every caller gets invalid_request).
    Scenario(
        "POST /api/v1/oauth/token",
        lambda w: ("/oauth/token", {"grant_type": "x"}),
        _expect(400, 400, 400, 400, 400),
    ),
]
OAUTH_ERROR_FORMAT = {"POST /api/v1/oauth/token"}


def _area_rows() -> list[Scenario]:
    """Rows from ``rows_<area>.py`` modules beside this one."""
    import importlib
    import pkgutil

    import tests.matrix as package

    rows: list[Scenario] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith("rows_"):
            rows += importlib.import_module(f"tests.matrix.{info.name}").SCENARIOS
    return rows


SCENARIOS += _area_rows()


def _api_operations() -> set[str]:
    found = set()
    for prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            for operation in path_view.operations:
                for method in operation.methods:
                    found.add(f"{method} /api/v1{prefix}{path}".replace("//", "/").rstrip("/"))
    return found


def test_every_operation_has_a_scenario() -> None:
    covered = {s.operation for s in SCENARIOS}
    assert _api_operations() - covered == set(), "give each new API operation a matrix row"
    assert covered - _api_operations() == set(), "matrix rows for operations that do not exist"


@pytest.fixture
def world(registered: Any, operator: Any, make_user: Any, api_for: Any, token_for: Any) -> World:
    from flexreg.accounts.models import ApiToken

    a_user, a_body, _ = registered()
    _, b_body, _ = registered(
        organisation_payload(
            company_number="OC990004",
            legal_name="Solar Commons LLP (Sample)",
            organisation_type="llp",
            declaration={**DECLARATION, "declarant_name": "Amira Khan"},
            requested_roles=["FSP", "ASSET_OWNER", "PLATFORM"],
        )
    )
    _, pending_body, _ = registered(
        organisation_payload(
            company_number="99000003",
            legal_name="Handover Heat Pumps Limited (Sample)",
        )
    )
    a = Participant.objects.get(participant_id=a_body["participant_id"])
    b = Participant.objects.get(participant_id=b_body["participant_id"])
    a_fsp = Membership.objects.get(
        user=a_user, participant_role__participant=a, participant_role__role="FSP"
    )
    b_fsp = Membership.objects.get(participant_role__participant=b, participant_role__role="FSP")
    # A has a role waiting for the operator's decision.
    ParticipantRole.objects.create(participant=a, role="AGGREGATOR")
    # A member of A holding no permission at all.
    without_user = make_user()
    without = Membership.objects.create(
        user=without_user, participant_role=a_fsp.participant_role, permissions=[]
    )
    a_api = api_for(a_user, a_fsp)
    a_key_id = ApiToken.objects.filter(user=a_user, membership=a_fsp).latest("created_at").key_id
    op_user, op_membership = operator
    delegation = a_api.post(
        "/delegations",
        {
            "platform_participant_id": b.participant_id,
            "permissions": ["participant:read"],
            "valid_to": _days(30),
        },
    )
    assert delegation.status_code == 201, delegation.content
    account = a_api.post("/service-accounts", {"name": "matrix", "scopes": ["participant:read"]})
    assert account.status_code == 201, account.content
    return World(
        a=a,
        b=b,
        pending_verification_id=pending_body["verification"]["verification_id"],
        apis={
            "anonymous": Api(None),
            "other": api_for(b_fsp.user, b_fsp),
            "without": Api(token_for(without_user, without)),
            "with": a_api,
            "operator": api_for(op_user, op_membership),
        },
        a_key_id=a_key_id,
        delegation_id=delegation.json()["delegation_id"],
        client_id=account.json()["client_id"],
    )


@pytest.mark.django_db
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.operation for s in SCENARIOS])
def test_matrix(world: World, scenario: Scenario) -> None:
    method, _ = scenario.operation.split(" ", 1)
    outcomes = {}
    for caller in CALLERS:
        path, body = scenario.build(world)
        client = world.apis[caller]
        with transaction.atomic():
            if method == "GET":
                response = client.get(path)
            elif method == "POST":
                response = client.post(path, body)
            elif method == "PATCH":
                response = client.patch(path, body)
            elif method == "PUT":
                response = client.put(path, body)
            else:
                response = client.delete(path)
            transaction.set_rollback(True)
        outcomes[caller] = response.status_code
        if response.status_code >= 400 and scenario.operation not in OAUTH_ERROR_FORMAT:
            assert response["Content-Type"] == "application/problem+json", (caller, path)
    assert outcomes == scenario.expect


def _access(w: World) -> dict[str, str]:
    """Objects of participant A for the authorisation rows, made once per world (outside the
    rolled-back savepoints): a colleague's FSP membership, a pending Authorised Person request
    (made by the system, so A's Authorised Person may approve it), a pending invitation, and an
    invitation (with its token) for A's member without permissions."""
    cached = w.__dict__.get("_access")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    from django.contrib.auth import get_user_model

    from flexreg.core.acting import Acting
    from flexreg.participants import services_access

    system = Acting.system("matrix", frozenset({"memberships:manage", "memberships:manage_all"}))
    users = get_user_model().objects
    colleague = users.create_user(email="colleague@brightwatt.example")
    users.create_user(email="newcomer@brightwatt.example")
    candidate = users.create_user(email="candidate@brightwatt.example")
    membership = services_access.grant(
        system, w.a, email=colleague.email, role="FSP", permissions_=["participant:read"]
    )
    request = services_access.request_authorised_person(
        system,
        w.a,
        email=candidate.email,
        role="FSP",
        permissions_=["memberships:manage", "participant:read"],
    )
    pending, _ = services_access.invite(
        system, w.a, email="pending@brightwatt.example", role="FSP", permissions_=[]
    )
    without = Membership.objects.get(participant_role__participant=w.a, permissions=[])
    _, token = services_access.invite(
        system,
        w.a,
        email=without.user.email,
        role="ASSET_OWNER",
        permissions_=["participant:read"],
        domain_override_reason="Matrix test",
    )
    cached = {
        "m": str(membership.public_id),
        "colleague": colleague.email,
        "newcomer": "newcomer@brightwatt.example",
        "request": str(request.public_id),
        "invitation": str(pending.public_id),
        "token": token,
    }
    w.__dict__["_access"] = cached
    return cached
