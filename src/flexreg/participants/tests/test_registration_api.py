"""Registering participants through the API, end to end on the real database and over HTTP
to the Companies House stand-in."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from conftest import individual_payload, organisation_payload
from flexreg.core.models import AuditEvent
from flexreg.identifiers import ParticipantId
from flexreg.participants.models import Membership, Participant, Verification

pytestmark = pytest.mark.django_db


def test_organisation_registers_verifies_and_registrant_becomes_authorised_person(
    registered: Any,
) -> None:
    user, body, _ = registered()
    assert ParticipantId.parse(body["participant_id"]).value == body["participant_id"]
    assert body["status"] == "active"
    assert {r["role"]: r["status"] for r in body["roles"]} == {
        "FSP": "active",
        "ASSET_OWNER": "active",
    }
    assert body["verification"]["status"] == "passed"
    assert body["verification"]["matched_officer"]["name"] == "SMITH, Jane Elizabeth"
    assert body["registered_address"]["postcode"] == "SW1A 1AA"
    assert body["contacts"]["primary"]["phone"] == "+442079460000"
    assert "id" not in body and "pk" not in body
    memberships = Membership.objects.filter(user=user)
    assert memberships.count() == 2
    assert all(m.is_authorised_person for m in memberships)
    actions = list(
        AuditEvent.objects.filter(subject_participant_id=body["participant_id"])
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions[0] == "participant.registered"
    assert "verification.checked" in actions and "participant.verify" in actions


def test_registered_participant_appears_in_the_registry(registered: Any) -> None:
    _, body, _ = registered()
    _, _, other_api = registered(
        organisation_payload(
            company_number="OC990004",
            legal_name="Solar Commons LLP (Sample)",
            organisation_type="llp",
            declaration={
                "declarant_name": "Amira Khan",
                "declarant_is_applicant": True,
                "statement_accepted": True,
            },
        )
    )
    listing = other_api.get("/participants", role="FSP").json()
    ids = [p["participant_id"] for p in listing["items"]]
    assert body["participant_id"] in ids
    seen = other_api.get(f"/participants/{body['participant_id']}").json()
    # Another participant gets the public view: no contacts, no address.
    assert "contacts" not in seen and seen["name"] == "Brightwatt Flex Limited (Sample)"


def test_pending_participant_is_invisible_to_others(registered: Any) -> None:
    _, body, _ = registered(
        organisation_payload(
            company_number="99000003", legal_name="Handover Heat Pumps Limited (Sample)"
        )
    )
    assert body["status"] == "pending_verification"
    _, _, other_api = registered()
    response = other_api.get(f"/participants/{body['participant_id']}")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_same_company_number_twice_names_the_existing_participant(registered: Any) -> None:
    _, first, _ = registered()
    from flexreg.accounts.models import User

    other = User.objects.create_user(email="second@example.test", password="x" * 20)
    from conftest import Api
    from flexreg.accounts import services
    from flexreg.core.acting import Acting

    _, token = services.issue_token(Acting.system("t"), other, name="t", membership=None)
    response = Api(token).post("/participants", organisation_payload(company_number="99 000 001"))
    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "participant.company_already_registered"
    assert problem["participant_id"] == first["participant_id"]
    assert first["participant_id"] in problem["detail"]
    assert Participant.objects.filter(company_number="99000001").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_registrations_of_one_company_exactly_one_wins(
    make_user: Any, token_for: Any
) -> None:
    from conftest import Api

    users = [make_user(), make_user()]
    tokens = [token_for(u) for u in users]
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def attempt(token: str) -> None:
        barrier.wait()
        try:
            results.append(Api(token).post("/participants", organisation_payload()).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201, 409]
    assert Participant.objects.filter(company_number="99000001").count() == 1


def test_bad_input_returns_every_error_with_paths_and_codes_and_writes_nothing(
    make_user: Any, api_for: Any
) -> None:
    api = api_for(make_user())
    before = AuditEvent.objects.count()
    body = organisation_payload(
        company_number="ZZ12",
        registered_address={"line1": "", "town": "London", "postcode": "GIR 0AAX"},
        contacts={"primary": {"name": "J", "email": "not-an-email", "phone": "07700 900123"}},
        email_domains=["-bad-.example"],
        requested_roles=["FSP", "MARKET_FACILITATOR", "NOPE"],
        vat_number="GB123456789",
        surprise="field",
    )
    response = api.post("/participants", body)
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert {"type", "title", "status", "detail", "errors"} <= set(problem)
    found = {(e["field"], e["code"]) for e in problem["errors"]}
    assert ("company_number", "company_number.unknown_prefix") in found
    assert ("registered_address.line1", "too_short") in found or (
        "registered_address.line1",
        "string_too_short",
    ) in found
    assert ("contacts.primary.email", "email.invalid") in found
    assert ("contacts.primary.phone", "phone.not_e164") in found
    assert ("email_domains.0", "domain.invalid") in found
    assert ("vat_number", "vat.bad_check_digits") in found
    assert ("surprise", "unknown_field") in found
    assert any(f == "requested_roles.2" for f, _ in found)
    assert Participant.objects.count() == 0
    assert AuditEvent.objects.count() == before


def test_special_roles_cannot_be_self_requested(make_user: Any, api_for: Any) -> None:
    api = api_for(make_user())
    response = api.post("/participants", organisation_payload(requested_roles=["REGULATOR"]))
    assert response.status_code == 422
    assert response.json()["code"] == "participant_role.not_requestable"
    assert Participant.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    ["not json", "[]", '{"kind": "martian"}', '{"kind": "organisation"}', "{}", "null"],
)
def test_malformed_bodies_get_problem_details_not_500(
    make_user: Any, token_for: Any, body: str
) -> None:
    from django.test import Client

    response = Client().post(
        "/api/v1/participants",
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token_for(make_user())}"},
    )
    assert response.status_code in (400, 422)
    assert response["Content-Type"] == "application/problem+json"
    assert "Traceback" not in response.content.decode()


def test_individual_registers_pending_until_operator_verifies(
    registered: Any, operator_api: Any
) -> None:
    _, body, api = registered(individual_payload())
    assert body["kind"] == "individual" and body["status"] == "pending_verification"
    assert body["verification"]["status"] == "needs_review"
    assert body["verification"]["reasons"][0]["code"] == "identity.not_proven"
    queue = operator_api.get("/operator/verifications").json()
    entry = next(v for v in queue if v["participant_id"] == body["participant_id"])
    decided = operator_api.post(
        f"/operator/verifications/{entry['verification_id']}/decision",
        {"decision": "approve", "reason": "Passport and utility bill checked."},
    )
    assert decided.status_code == 200 and decided.json()["status"] == "approved"
    me = api.get(f"/participants/{body['participant_id']}").json()
    assert me["status"] == "active"


def test_individual_name_is_hidden_from_other_participants(
    registered: Any, operator_api: Any
) -> None:
    _, body, _ = registered(individual_payload())
    entry = next(
        v
        for v in operator_api.get("/operator/verifications").json()
        if v["participant_id"] == body["participant_id"]
    )
    operator_api.post(
        f"/operator/verifications/{entry['verification_id']}/decision",
        {"decision": "approve", "reason": "Checked by hand."},
    )
    _, _, other = registered()
    seen = other.get(f"/participants/{body['participant_id']}").json()
    assert seen["name"] == "Private individual"
    assert "Householder" not in str(other.get("/participants").json())
    assert other.get("/participants", name="Householder").json()["items"] == []


def test_individuals_cannot_ask_for_company_roles(make_user: Any, api_for: Any) -> None:
    response = api_for(make_user()).post(
        "/participants", individual_payload(requested_roles=["DNO"])
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "roles.not_for_individuals"


def test_non_uk_organisation_goes_to_manual_review(registered: Any) -> None:
    _, body, _ = registered(
        organisation_payload(
            organisation_type="non_uk",
            company_number=None,
            declaration=None,
            legal_name="Nordic Flex AS",
            vat_number="",
            non_uk_registration={
                "country": "NO",
                "registry": "Brønnøysund Register Centre",
                "registration_number": "923609016",
            },
            registered_address={
                "line1": "Karl Johans gate 1",
                "town": "Oslo",
                "postcode": "0154",
                "country": "NO",
            },
        )
    )
    assert body["status"] == "pending_verification"
    assert body["verification"]["method"] == "manual"
    assert body["verification"]["status"] == "needs_review"


def test_unauthenticated_and_bad_tokens_get_401(anonymous_api: Any) -> None:
    from conftest import Api

    for api in (anonymous_api, Api("frt_000000000000_nope"), Api("garbage")):
        response = api.get("/participants")
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_registration_only_token_cannot_read_the_registry(make_user: Any, api_for: Any) -> None:
    response = api_for(make_user()).get("/participants")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_verification_rows_hold_one_open_attempt(registered: Any) -> None:
    _, body, api = registered(
        organisation_payload(
            company_number="99000003", legal_name="Handover Heat Pumps Limited (Sample)"
        )
    )
    response = api.post(
        f"/participants/{body['participant_id']}/verification",
        {
            "declarant_name": "Arjun Patel",
            "declarant_is_applicant": False,
            "statement_accepted": True,
        },
    )
    assert response.status_code == 202
    assert response.json()["status"] == "passed"
    statuses = sorted(Verification.objects.values_list("status", flat=True))
    assert statuses == ["passed", "superseded"]
    assert api.get(f"/participants/{body['participant_id']}").json()["status"] == "active"


def test_nul_characters_are_refused_not_a_server_error(make_user: Any, api_for: Any) -> None:
    api = api_for(make_user())
    response = api.post("/participants", organisation_payload(legal_name="Bad\u0000Name"))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_characters"
    assert api.post("/me/tokens", {"name": "\x00"}).status_code == 400
    assert api.get("/me/tokens?x=%00").status_code == 400
    assert Participant.objects.count() == 0


def test_proven_identity_activates_an_individual(registered: Any) -> None:
    from flexreg.core.acting import Acting
    from flexreg.participants import services

    user, body, api = registered(individual_payload())
    participant = Participant.objects.get(participant_id=body["participant_id"])
    services.record_proven_identity(
        Acting.system("one-login"),
        participant,
        provider="GOV.UK One Login",
        level="P2",
        evidence={"issuer": "https://identity.integration.account.gov.uk/", "vot": "P2"},
    )
    seen = api.get(f"/participants/{body['participant_id']}").json()
    assert seen["status"] == "active"
    assert seen["verification"]["status"] == "passed"
    assert Membership.objects.filter(user=user, is_authorised_person=True).exists()
    assert AuditEvent.objects.filter(action="verification.identity_proven").exists()
