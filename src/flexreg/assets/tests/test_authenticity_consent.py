"""Consumer consent: the real-time check of a household's consent reference, and the consent
service's revocation notices (the handler, and the signed endpoint through its router)."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest
from django.db.backends.postgresql.psycopg_any import DateTimeTZRange
from django.utils import timezone
from ninja.testing import TestClient

from flexreg.assets import api_consent, authenticity
from flexreg.assets.models import AssetCheck, AssetLink, AssetStatus, Relationship
from flexreg.assets.tests import helpers_authenticity
from flexreg.assets.tests.helpers_authenticity import (
    HOME_MPAN,
    codes,
    household,
    make_asset,
    statuses,
)
from flexreg.assets.validators import consent
from flexreg.core.acting import Acting
from flexreg.core.errors import PermissionDenied, ValidationFailed
from flexreg.core.models import AuditEvent
from flexreg.devtools.asset_services_stub import StubServer, signed_notice
from flexreg.notifications.models import Notification
from flexreg.participants.models import Participant

pytestmark = pytest.mark.django_db

# Fixtures shared by the authenticity tests.
asset_stub = helpers_authenticity.asset_stub
kinds = helpers_authenticity.kinds
registrant = helpers_authenticity.registrant
services = helpers_authenticity.services

SECRET = "consent-test-secret"
SERVICE = Acting.system("consent-service")
REFERENCE = "CNS-7F3K-92QX"


def _other(registered: Any) -> tuple[Any, Participant]:
    from conftest import organisation_payload

    user, body, _ = registered(
        organisation_payload(
            company_number="OC990004",
            legal_name="Solar Commons LLP (Sample)",
            organisation_type="llp",
            declaration={
                "declarant_name": "Amira Khan",
                "declarant_is_applicant": True,
                "statement_accepted": True,
            },
            requested_roles=["FSP", "ASSET_OWNER"],
        )
    )
    return user, Participant.objects.get(participant_id=body["participant_id"])


def _run_all(asset: Any) -> list[str]:
    return [authenticity.run(pk) for pk in authenticity.start(asset.pk)]


# --- the check ----------------------------------------------------------------------------


def test_consent_given_to_the_registering_provider_passes(
    registrant: Any, services: StubServer
) -> None:
    _, participant = registrant
    services.add(
        "consents",
        {
            "consent_reference": "CNS-MINE-0001",
            "status": "active",
            "mpan_core": HOME_MPAN,
            "postcode": "N1 9GU",
            "granted_to": participant.participant_id,
            "granted_at": "2025-04-01T10:00:00Z",
        },
    )
    asset = household(participant, consumer_consent_reference="CNS-MINE-0001")
    _run_all(asset)
    asset.refresh_from_db()
    assert statuses(asset)["consent"] == AssetCheck.Status.PASSED
    assert asset.status == AssetStatus.VERIFIED


def test_consent_given_to_another_provider_fails(
    registrant: Any, registered: Any, services: StubServer
) -> None:
    _, participant = registrant
    _, other = _other(registered)
    services.add(
        "consents",
        {
            "consent_reference": "CNS-THEIRS-0001",
            "status": "active",
            "mpan_core": HOME_MPAN,
            "granted_to": other.participant_id,
            "granted_at": "2025-04-01T10:00:00Z",
        },
    )
    asset = household(participant, consumer_consent_reference="CNS-THEIRS-0001")
    _run_all(asset)
    asset.refresh_from_db()
    assert codes(asset, "consent") == ["consent.other_provider"]
    assert asset.status == AssetStatus.QUERY


def test_what_the_consent_service_holds_is_shown_to_oversight_only(
    registrant: Any, registered: Any, services: StubServer
) -> None:
    """The asset's parties read what did not match, not the consent's record (its meter
    point, postcode, provider, dates): a reference guessed at registration must not reveal
    another household. Oversight reads the whole evidence."""
    from flexreg.assets.schemas import check_out, full_out

    _, participant = registrant
    _, other = _other(registered)
    services.add(
        "consents",
        {
            "consent_reference": "CNS-ELSEWHERE-0001",
            "status": "revoked",
            "revoked_at": "2019-02-03T10:00:00Z",
            "mpan_core": "1234567890999",
            "postcode": "EH1 1YZ",
            "granted_to": other.participant_id,
            "granted_at": "2025-04-01T10:00:00Z",
        },
    )
    asset = household(participant, consumer_consent_reference="CNS-ELSEWHERE-0001")
    _run_all(asset)
    check = asset.checks.get(validator="consent")
    assert set(codes(asset, "consent")) >= {"consent.revoked", "consent.other_provider"}
    shown = check_out(check, evidence=False).outcome
    told = json.dumps(shown)
    for secret in ("1234567890999", "EH1 1YZ", other.participant_id, "2019", "February"):
        assert secret not in told, secret
    assert shown["evidence"]["consent_reference"] == "CNS-ELSEWHERE-0001"
    assert check_out(check).outcome["evidence"]["consent"]["postcode"] == "EH1 1YZ"
    asset.refresh_from_db()
    party = full_out(asset, visible_candidates=set(), oversight=False)
    assert "EH1 1YZ" not in party.model_dump_json()
    assert "EH1 1YZ" in full_out(asset, visible_candidates=set(), oversight=True).model_dump_json()


def test_consent_that_lapses_before_the_check_runs_fails(
    registrant: Any, services: StubServer
) -> None:
    _, participant = registrant
    asset = household(participant)
    authenticity.start(asset.pk)
    services.revoke_consent(REFERENCE)  # the consumer changes their mind at once
    for check in asset.checks.exclude(status__in=authenticity.CONCLUDED):
        authenticity.run(check.pk)
    asset.refresh_from_db()
    assert codes(asset, "consent") == ["consent.revoked"]
    assert asset.status == AssetStatus.QUERY


def test_the_stand_in_can_revoke_over_http(registrant: Any, services: StubServer) -> None:
    import urllib.request

    request = urllib.request.Request(
        f"{services.url}/_stub/consents/{REFERENCE}/revoke", data=b"{}", method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        answer = json.loads(response.read())
    assert answer["consent"]["status"] == "revoked"
    assert answer["notice_status"] is None
    _, participant = registrant
    asset = household(participant)
    _run_all(asset)
    assert codes(asset, "consent") == ["consent.revoked"]


# --- revocation notices -------------------------------------------------------------------


def _provider_link(asset: Any) -> AssetLink:
    return asset.links.get(relationship=Relationship.CONTROLLER)


def test_a_revocation_suspends_the_provider_link_and_tells_the_provider(
    registrant: Any, registered: Any, kinds: None
) -> None:
    user, participant = registrant
    owner_user, owner = _other(registered)
    asset = household(participant, user)
    owner_link = AssetLink.objects.create(
        asset=asset,
        participant=owner,
        relationship=Relationship.LEGAL_OWNER,
        consent_reference=REFERENCE,
        valid_during=DateTimeTZRange(timezone.now() - dt.timedelta(days=1), None, "[)"),
    )
    revoked_at = timezone.now() - dt.timedelta(minutes=5)

    done = consent.revoked(REFERENCE.lower() + " ", revoked_at, SERVICE, notice_id="n-1")

    link = _provider_link(asset)
    assert done.suspended == (str(link.public_id),)
    assert done.already_suspended == ()
    assert done.asset_ids == (asset.asset_id,)
    link.refresh_from_db()
    assert link.suspended_at == revoked_at
    assert REFERENCE in link.suspended_reason
    owner_link.refresh_from_db()
    assert owner_link.suspended_at is None  # the household still owns it
    asset.refresh_from_db()
    assert asset.status == AssetStatus.PENDING_VALIDATION  # the asset itself is untouched
    told = Notification.objects.get(kind="assets.consent_revoked", recipient=user)
    assert asset.asset_id in told.subject
    assert told.participant_id == participant.participant_id
    assert "suspended" in told.body_text
    assert not Notification.objects.filter(
        recipient=owner_user, kind="assets.consent_revoked"
    ).exists()
    suspended = AuditEvent.objects.get(action="asset.link_suspended", object_id=asset.asset_id)
    assert suspended.changes["after"]["link"] == str(link.public_id)
    assert suspended.changes["after"]["consent_reference"] == "__personal__"
    received = AuditEvent.objects.get(action="asset.consent_revocation_received")
    assert received.changes["after"]["links_suspended"] == 1
    assert received.changes["after"]["notice_id"] == "n-1"
    assert received.via == "system"

    again = consent.revoked(REFERENCE, revoked_at, SERVICE)
    assert again.suspended == ()
    assert again.already_suspended == (str(link.public_id),)
    assert Notification.objects.filter(kind="assets.consent_revoked").count() == 1
    assert AuditEvent.objects.filter(action="asset.link_suspended").count() == 1


def test_a_link_that_ended_before_the_revocation_is_left_alone(registrant: Any) -> None:
    _, participant = registrant
    asset = household(participant)
    link = _provider_link(asset)
    start = timezone.now() - dt.timedelta(days=30)
    link.valid_during = DateTimeTZRange(start, start + dt.timedelta(days=10), "[)")
    link.save()
    done = consent.revoked(REFERENCE, timezone.now(), SERVICE)
    assert done.suspended == ()
    link.refresh_from_db()
    assert link.suspended_at is None


def test_the_controller_link_of_an_asset_registered_with_the_consent_is_suspended(
    registrant: Any,
) -> None:
    """The link itself carries no reference; the asset does."""
    _, participant = registrant
    asset = household(participant, link_consent="")
    done = consent.revoked(REFERENCE, timezone.now(), SERVICE)
    assert done.suspended == (str(_provider_link(asset).public_id),)


def test_an_unknown_reference_suspends_nothing_but_is_recorded(registrant: Any) -> None:
    _, participant = registrant
    make_asset(participant)
    done = consent.revoked("CNS-NOBODY", timezone.now(), SERVICE)
    assert done.suspended == () and done.asset_ids == ()
    assert AuditEvent.objects.filter(action="asset.consent_revocation_received").count() == 1


def test_only_the_service_or_the_central_operator_records_a_revocation(
    registrant: Any, operator: Any
) -> None:
    from flexreg.accounts.acting import acting_for
    from flexreg.participants.models import Membership

    user, participant = registrant
    asset = household(participant, user)
    member = Membership.objects.filter(user=user).first()
    with pytest.raises(PermissionDenied):
        consent.revoked(REFERENCE, timezone.now(), acting_for(user, member, via="session"))
    op_user, op_membership = operator
    done = consent.revoked(
        REFERENCE, timezone.now(), acting_for(op_user, op_membership, via="session")
    )
    assert done.suspended == (str(_provider_link(asset).public_id),)


def test_a_revocation_needs_a_reference_and_an_aware_time(registrant: Any) -> None:
    with pytest.raises(ValidationFailed) as blank:
        consent.revoked("  ", timezone.now(), SERVICE)
    assert blank.value.errors[0].code == "consent.invalid_reference"
    with pytest.raises(ValidationFailed) as naive:
        consent.revoked(REFERENCE, dt.datetime(2025, 5, 1, 10, 0), SERVICE)
    assert naive.value.errors[0].code == "datetime.naive"


# --- the endpoint -------------------------------------------------------------------------


@pytest.fixture
def client(settings: Any) -> TestClient:
    settings.CONSENT_WEBHOOK_SECRET = SECRET
    return TestClient(api_consent.router)


def _post(client: TestClient, body: bytes, headers: dict[str, str]) -> Any:
    """The raw body (signed as is) through the router."""
    return client.post("/revocations", data=body, headers=headers)  # type: ignore[arg-type]


def test_a_signed_notice_is_accepted(client: TestClient, registrant: Any, kinds: None) -> None:
    user, participant = registrant
    asset = household(participant, user)
    body, headers = signed_notice(SECRET, REFERENCE, notice_id="notice-1")
    response = _post(client, body, headers)
    assert response.status_code == 202, response.content
    answer = response.json()
    assert answer["notice_id"] == "notice-1"
    assert answer["links_suspended"] == 1 and answer["links_already_suspended"] == 0
    assert _provider_link(asset).suspended_at is not None
    assert Notification.objects.filter(kind="assets.consent_revoked", recipient=user).exists()
    again = _post(client, body, headers)
    assert again.status_code == 202
    assert again.json()["links_suspended"] == 0
    assert again.json()["links_already_suspended"] == 1


def _problem(response: Any) -> dict[str, Any]:
    assert response["Content-Type"] == "application/problem+json"
    return dict(response.json())


def test_a_notice_without_a_valid_signature_is_refused(client: TestClient, registrant: Any) -> None:
    _, participant = registrant
    asset = household(participant)
    body, headers = signed_notice("not-the-secret", REFERENCE)
    wrong = _post(client, body, headers)
    assert wrong.status_code == 401
    assert _problem(wrong)["code"] == "consent.bad_signature"
    unsigned = _post(client, body, {})
    assert unsigned.status_code == 401
    garbled = _post(client, body, {api_consent.SIGNATURE_HEADER: "rubbish"})
    assert garbled.status_code == 401
    _, good = signed_notice(SECRET, REFERENCE)
    tampered = body.replace(REFERENCE.encode(), b"CNS-OTHER-9999")
    assert _post(client, tampered, good).status_code == 401
    stale_body, stale = signed_notice(SECRET, REFERENCE, timestamp=int(time.time()) - 3600)
    assert _post(client, stale_body, stale).status_code == 401
    assert _provider_link(asset).suspended_at is None
    assert not AuditEvent.objects.filter(action="asset.consent_revocation_received").exists()


def test_a_rotated_secret_is_still_accepted(
    client: TestClient, settings: Any, registrant: Any
) -> None:
    settings.CONSENT_WEBHOOK_SECRET = f"new-secret, {SECRET}"
    _, participant = registrant
    household(participant)
    body, headers = signed_notice(SECRET, REFERENCE)
    assert _post(client, body, headers).status_code == 202


def test_without_a_secret_configured_notices_are_refused_for_now(
    client: TestClient, settings: Any
) -> None:
    settings.CONSENT_WEBHOOK_SECRET = ""
    body, headers = signed_notice(SECRET, REFERENCE)
    response = _post(client, body, headers)
    assert response.status_code == 503
    assert _problem(response)["code"] == "consent.not_configured"
    assert response["Retry-After"] == "300"


def test_a_signed_notice_that_does_not_validate_is_422(client: TestClient) -> None:
    body = json.dumps({"consent_reference": REFERENCE, "revoked_at": "2025-05-01T10:00:00"})
    stamp = int(time.time())
    headers = {
        api_consent.SIGNATURE_HEADER: (
            f"t={stamp},v1={api_consent.sign(SECRET, stamp, body.encode())}"
        )
    }
    response = _post(client, body.encode(), headers)
    assert response.status_code == 422
    fields = {e["field"] for e in _problem(response)["errors"]}
    assert fields == {"notice_id", "revoked_at"}


def test_the_stand_in_signs_as_the_endpoint_verifies() -> None:
    body, headers = signed_notice(SECRET, REFERENCE, timestamp=1_700_000_000)
    api_consent.verify(headers[api_consent.SIGNATURE_HEADER], body, [SECRET], now=1_700_000_100)
    with pytest.raises(api_consent.BadSignature):
        api_consent.verify(headers[api_consent.SIGNATURE_HEADER], body, [SECRET], now=1_700_000_400)


def test_a_consent_can_be_looked_up_during_a_request(services: StubServer, settings: Any) -> None:
    from flexreg.assets.validators.base import ServiceUnavailable

    found = consent.lookup(" cns-7f3k-92qx ")
    assert found is not None and found.status == "active" and found.mpan_core == HOME_MPAN
    assert consent.lookup("CNS-NOBODY") is None
    services.set_mode("consent", "down")
    with pytest.raises(ServiceUnavailable) as down:
        consent.lookup(REFERENCE)
    assert down.value.code == "service.unavailable"
    settings.ASSET_CONSENT_URL = ""
    with pytest.raises(ServiceUnavailable) as unset:
        consent.lookup(REFERENCE)
    assert unset.value.code == "service.not_configured"
