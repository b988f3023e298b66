"""The consumer-consent check in real time: a household's asset registered one at a time (API,
portal form, draft submitted) has its consent reference checked with the consent service
(the stand-in over HTTP) before anything is stored. Unknown, revoked, expired or for another
meter point: 422 with a stable code at the reference's field, nothing stored. The service
down or slow: registered as before, the background check decides. Bulk registration keeps
the background check only."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from tests.signin import helpers as signin_helpers

from flexreg.assets import services
from flexreg.assets.models import Asset, AssetCheck, AssetImport, AssetStatus
from flexreg.assets.tests import helpers_authenticity, helpers_registration
from flexreg.assets.tests.helpers_authenticity import HOME_MPAN, IMMEDIATE
from flexreg.assets.tests.helpers_registration import Registrant, record
from flexreg.assets.tests.test_imports import battery, csv_bytes
from flexreg.assets.validators import consent
from flexreg.core.models import AuditEvent
from flexreg.devtools.asset_services_stub import StubServer

pytestmark = pytest.mark.django_db

asset_stub = helpers_authenticity.asset_stub
stand_in = helpers_authenticity.services
fsp = helpers_registration.fsp
qualify = helpers_registration.qualify

FIELD = "site.consumer_consent_reference"
ACTIVE = "CNS-7F3K-92QX"  # active, for HOME_MPAN at N1 9GU (stand-in fixtures)


def home(reference: str = ACTIVE) -> dict[str, Any]:
    """A home battery at N1 9GU behind HOME_MPAN, with the consumer's consent reference."""
    return record(
        metering={"import_mpan": HOME_MPAN},
        site={
            "address_line1": "12 Canal Street",
            "town": "London",
            "postcode": "N1 9GU",
            "domestic": True,
            "consumer_consent_reference": reference,
        },
    )


def _consent_calls(stub: StubServer) -> list[str]:
    return [line for line in stub.request_log if line.startswith("GET /consent/")]


def _registered_event(asset_id: str) -> dict[str, Any]:
    event = AuditEvent.objects.get(action="asset.registered", object_id=asset_id)
    return dict(event.changes["after"])


# --- the API --------------------------------------------------------------------------------


def test_a_live_consent_is_checked_then_the_asset_registered(
    fsp: Registrant, stand_in: StubServer
) -> None:
    response = fsp.api.post("/assets", home(" cns-7f3k-92qx "))
    assert response.status_code == 201, response.content
    asset = Asset.objects.get(asset_id=response.json()["asset_id"])
    assert asset.status == AssetStatus.PENDING_VALIDATION
    assert _consent_calls(stand_in) == [f"GET /consent/consents/{ACTIVE.lower()}"]
    checked = _registered_event(asset.asset_id)["consent_checked_now"]
    assert checked["outcome"] == "passed" and "code" not in checked


@pytest.mark.parametrize(
    ("reference", "code", "words"),
    [
        pytest.param("CNS-NOBODY-0001", "consent.not_found", "has no consent", id="unknown"),
        pytest.param("CNS-REVOKED-0001", "consent.revoked", "revoked", id="revoked"),
        pytest.param("CNS-EXPIRED-0001", "consent.expired", "expired", id="expired"),
        pytest.param("CNS-CB12-0001", "consent.mpan_mismatch", "does not cover", id="other-meter"),
    ],
)
def test_a_consent_the_service_refuses_is_422_and_nothing_is_stored(
    fsp: Registrant, stand_in: StubServer, reference: str, code: str, words: str
) -> None:
    events = AuditEvent.objects.count()
    response = fsp.api.post("/assets", home(reference))
    assert response.status_code == 422, response.content
    problem = response.json()
    assert problem["code"] == code
    assert problem["type"].endswith(f"/problems/{code}")
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [(FIELD, code)]
    message = problem["errors"][0]["message"]
    assert words in message
    # Nothing of the consent the service holds is told to a caller who registered nothing:
    # not the meter point it covers, nor when it was revoked.
    assert not re.search(r"\d{13}|\b20\d\d\b", message + problem["detail"])
    assert not Asset.objects.exists()
    assert AuditEvent.objects.count() == events


def test_other_errors_come_first_and_the_service_is_not_called(
    fsp: Registrant, stand_in: StubServer
) -> None:
    rec = home("CNS-NOBODY-0001")
    rec["metering"]["import_mpan"] = "1"
    response = fsp.api.post("/assets", rec)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"
    assert _consent_calls(stand_in) == []
    assert not Asset.objects.exists()


@pytest.mark.parametrize("mode", ["down", "slow"])
def test_the_service_not_answering_leaves_it_to_the_background_check(
    fsp: Registrant,
    stand_in: StubServer,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
    mode: str,
) -> None:
    settings.TASKS = IMMEDIATE
    stand_in.set_mode("consent", mode)
    with django_capture_on_commit_callbacks(execute=True):
        response = fsp.api.post("/assets", home("CNS-NOBODY-0001"))
    assert response.status_code == 201, response.content
    asset = Asset.objects.get(asset_id=response.json()["asset_id"])
    checked = _registered_event(asset.asset_id)["consent_checked_now"]
    expected = "service.unavailable" if mode == "down" else "service.timeout"
    assert checked == {**checked, "outcome": "unavailable", "code": expected}
    # The background check has the consent to check; the service still cannot answer.
    check = asset.checks.get(validator="consent")
    assert check.status == AssetCheck.Status.ERROR
    asset.refresh_from_db()
    assert asset.status == AssetStatus.PENDING_VALIDATION


def test_without_a_consent_service_a_reference_is_not_checked_now(
    fsp: Registrant, stand_in: StubServer, settings: Any
) -> None:
    settings.ASSET_CONSENT_URL = ""
    response = fsp.api.post("/assets", home("MADE-UP-42"))
    assert response.status_code == 201, response.content
    assert _consent_calls(stand_in) == []
    assert "consent_checked_now" not in _registered_event(response.json()["asset_id"])


def test_a_site_that_is_not_a_home_is_not_checked(fsp: Registrant, stand_in: StubServer) -> None:
    response = fsp.api.post("/assets", record())
    assert response.status_code == 201, response.content
    assert _consent_calls(stand_in) == []


# --- the portal form and drafts -------------------------------------------------------------


def test_the_portal_form_shows_the_refusal_at_the_reference(
    fsp: Registrant, stand_in: StubServer
) -> None:
    from flexreg.assets.tests.test_portal import _error_links, _form_data

    client = signin_helpers.portal_client(fsp.user, fsp.membership)
    data = _form_data(home("CNS-REVOKED-0001"))
    data["site.domestic"] = "yes"
    response = client.post("/assets/register/BESS/", data)
    assert response.status_code == 422, response.content.decode()[:2000]
    links = _error_links(response.content.decode())
    assert list(links) == ["#site-consumer_consent_reference"], links
    assert "revoked" in links["#site-consumer_consent_reference"]
    assert not Asset.objects.exists()

    data["site.consumer_consent_reference"] = ACTIVE
    assert client.post("/assets/register/BESS/", data).status_code == 302
    assert Asset.objects.get().consumer_consent_reference == ACTIVE


def test_a_draft_is_checked_when_submitted_and_stays_a_draft_if_refused(
    fsp: Registrant, stand_in: StubServer
) -> None:
    saved = fsp.api.post("/asset-drafts", home("CNS-REVOKED-0001"))
    assert saved.status_code == 201, saved.content
    asset_id = saved.json()["asset_id"]
    assert _consent_calls(stand_in) == []  # saving a draft checks nothing

    refused = fsp.api.post(f"/asset-drafts/{asset_id}/submit")
    assert refused.status_code == 422, refused.content
    assert refused.json()["code"] == "consent.revoked"
    assert refused.json()["errors"][0]["field"] == FIELD
    assert Asset.objects.get(asset_id=asset_id).status == AssetStatus.DRAFT

    assert fsp.api.put(f"/asset-drafts/{asset_id}", home()).status_code == 200
    submitted = fsp.api.post(f"/asset-drafts/{asset_id}/submit")
    assert submitted.status_code == 200, submitted.content
    assert submitted.json()["status"] == "pending_validation"
    assert _registered_event(asset_id)["consent_checked_now"]["outcome"] == "passed"


def test_the_service_layer_refuses_with_the_same_error(
    fsp: Registrant, stand_in: StubServer
) -> None:
    with pytest.raises(consent.ConsentRefused) as refused:
        services.register(fsp.acting, home("CNS-NOBODY-0001"))
    assert refused.value.code == "consent.not_found" and refused.value.status == 422
    assert not Asset.objects.exists()


# --- bulk registration ----------------------------------------------------------------------


def test_a_bulk_registration_leaves_consent_to_the_background_check(
    fsp: Registrant,
    stand_in: StubServer,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.TASKS = IMMEDIATE
    row = battery(
        1,
        **{
            "metering.import_mpan": HOME_MPAN,
            "site.postcode": "N1 9GU",
            "site.domestic": "yes",
            "site.consumer_consent_reference": "CNS-NOBODY-0001",
        },
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = fsp.api.client.post(
            "/api/v1/asset-imports",
            {"file": SimpleUploadedFile("homes.csv", csv_bytes([row]), "text/csv")},
            headers={"Authorization": f"Bearer {fsp.api.token}"},
        )
    assert response.status_code == 202, response.content
    batch = AssetImport.objects.get(public_id=response.json()["import_id"])
    assert (batch.accepted, batch.rejected) == (1, 0), batch.error
    # Accepted, then the background check found the reference unknown: the operator decides.
    asset = Asset.objects.get(import_batch=batch)
    assert asset.consumer_consent_reference == "CNS-NOBODY-0001"
    assert asset.checks.get(validator="consent").status == AssetCheck.Status.NOT_FOUND
    assert asset.status == AssetStatus.QUERY
