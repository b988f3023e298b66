"""Off-boarding: the participant is withdrawn, its people's access ends, users who act for no
one else are deactivated, records are kept and the Participant ID is never reused."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Api, individual_payload, organisation_payload
from flexreg.accounts.models import ApiToken, User
from flexreg.core.acting import Acting
from flexreg.core.models import AuditEvent
from flexreg.entry.models import EntryCase
from flexreg.participants import services
from flexreg.participants.models import Membership, Participant, ParticipantRole
from flexreg.participants.signals_offboarding import participant_offboarded

pytestmark = pytest.mark.django_db

BRONTE = organisation_payload(
    company_number="99000006",
    legal_name="Bronte Heat Co-operative Limited (Sample)",
    email_domains=["bronte.example"],
    declaration={
        "declarant_name": "Anne Bronte",
        "declarant_is_applicant": True,
        "statement_accepted": True,
    },
)


def _offboard(api: Api, pid: str, reason: str = "Leaving the market") -> Any:
    return api.post(f"/participants/{pid}/offboard", {"reason": reason})


def test_an_authorised_person_offboards_their_participant(registered: Any) -> None:
    user, body, api = registered()
    pid = body["participant_id"]
    personal = ApiToken.objects.filter(user=user).count()
    seen: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        seen.append(kwargs)

    participant_offboarded.connect(receiver, dispatch_uid="test.offboarded")
    try:
        response = _offboard(api, pid)
    finally:
        participant_offboarded.disconnect(dispatch_uid="test.offboarded")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "participant_id": pid,
        "status": "withdrawn",
        "memberships_ended": 2,  # FSP and ASSET_OWNER
        "users_deactivated": 1,
        "tokens_revoked": personal,
    }
    user.refresh_from_db()
    assert user.is_active is False
    assert not ApiToken.objects.filter(user=user, revoked_at__isnull=True).exists()
    assert not Membership.objects.filter(user=user, is_active=True).exists()
    assert api.get(f"/participants/{pid}").status_code == 401  # the token is dead
    assert seen and seen[0]["deactivated_user_ids"] == [user.pk]
    assert seen[0]["participant"].participant_id == pid
    # entry cases are withdrawn by their receiver; records are kept, nothing deleted
    for case in EntryCase.objects.filter(participant_role__participant__participant_id=pid):
        assert case.status == "withdrawn"
    participant = Participant.objects.get(participant_id=pid)
    assert participant.status == "withdrawn" and participant.company_number == "99000001"
    assert ParticipantRole.objects.filter(participant=participant).count() == 2
    actions = set(
        AuditEvent.objects.filter(subject_participant_id=pid).values_list("action", flat=True)
    )
    assert {"participant.withdraw", "participant.offboarded", "user.deactivated"} <= actions


def test_people_who_act_for_another_participant_keep_their_account(
    registered: Any, operator_api: Any
) -> None:
    _, a_body, _ = registered()
    b_user, _, b_api = registered(BRONTE)
    a = Participant.objects.get(participant_id=a_body["participant_id"])
    # B's Authorised Person also helps A
    Membership.objects.create(
        user=b_user,
        participant_role=a.roles.get(role="FSP"),
        permissions=["participant:read"],
    )
    response = _offboard(operator_api, a.participant_id, "Company sold")
    assert response.status_code == 200, response.content
    assert response.json()["users_deactivated"] == 1
    b_user.refresh_from_db()
    assert b_user.is_active is True
    assert not Membership.objects.filter(
        user=b_user, participant_role__participant=a, is_active=True
    ).exists()
    assert b_api.get(f"/participants/{_pid_of(b_user)}").status_code == 200
    # the operator is never deactivated (their operator membership is active)
    assert User.objects.get(email="operator@flexreg.test").is_active is True


def _pid_of(user: Any) -> str:
    return str(
        Membership.objects.filter(user=user, is_active=True)
        .values_list("participant_role__participant__participant_id", flat=True)
        .first()
    )


def test_the_withdrawn_record_stays_readable_by_the_operator_only(
    registered: Any, operator_api: Any
) -> None:
    _, a_body, _ = registered()
    _, _, b_api = registered(BRONTE)
    pid = a_body["participant_id"]
    assert _offboard(operator_api, pid).status_code == 200
    record = operator_api.get(f"/participants/{pid}")
    assert record.status_code == 200
    assert record.json()["status"] == "withdrawn"
    assert record.json()["status_reason"] == "Leaving the market"
    assert b_api.get(f"/participants/{pid}").status_code == 404
    again = _offboard(operator_api, pid)
    assert again.status_code == 409
    assert again.json()["code"] == "participant.illegal_transition"


def test_a_member_without_the_withdraw_permission_cannot_offboard(
    registered: Any, make_user: Any, api_for: Any
) -> None:
    _, body, _ = registered()
    pid = body["participant_id"]
    reader = make_user()
    membership = Membership.objects.create(
        user=reader,
        participant_role=ParticipantRole.objects.get(participant__participant_id=pid, role="FSP"),
        permissions=["participant:read"],
    )
    refused = _offboard(api_for(reader, membership), pid)
    assert refused.status_code == 403
    assert Participant.objects.get(participant_id=pid).status == "active"


def test_registering_again_gets_a_new_participant_id(registered: Any, operator_api: Any) -> None:
    _, first, api = registered(individual_payload())
    old = first["participant_id"]
    services.record_proven_identity(
        Acting.system("tests"),
        Participant.objects.get(participant_id=old),
        provider="test",
        level="P2",
        evidence={},
    )
    assert _offboard(api, old).status_code == 200
    _, second, _ = registered(individual_payload())  # the household comes back, a new account
    assert second["participant_id"] != old
    assert operator_api.get(f"/participants/{old}").json()["status"] == "withdrawn"
    assert Participant.objects.filter(participant_id=old).count() == 1


def test_a_withdrawn_company_registers_again_under_a_new_participant_id(
    registered: Any, operator_api: Any
) -> None:
    _, first, api = registered()
    old = first["participant_id"]
    assert _offboard(api, old).status_code == 200
    _, second, _ = registered(organisation_payload(email_domains=["brightwatt2.example"]))
    assert second["participant_id"] != old
    assert operator_api.get(f"/participants/{old}").json()["company_number"] == "99000001"


def test_offboarding_disables_the_participants_service_accounts(registered: Any) -> None:
    from flexreg.accounts.models import ServiceAccount

    _, body, api = registered()
    created = api.post("/service-accounts", {"name": "dispatch", "scopes": ["participant:read"]})
    assert created.status_code == 201, created.content
    assert _offboard(api, body["participant_id"]).status_code == 200
    account = ServiceAccount.objects.get(client_id=created.json()["client_id"])
    assert account.is_active is False and account.disabled_at is not None
