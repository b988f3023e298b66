"""The "Change verified details" pages and the operator's queue of change requests, through the
test client (signed in with a password and TOTP, as Authorised Persons and operators must)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from tests.signin.helpers import enrol_totp, sign_in, verify_email

from conftest import PASSWORD
from flexreg.accounts.middleware import SESSION_KEY
from flexreg.participants.models import Membership, Participant, ParticipantChange

pytestmark = pytest.mark.django_db


def _client_for(user: Any, membership: Membership | None = None) -> Client:
    verify_email(user)
    client = Client()
    sign_in(client, user, PASSWORD, totp_secret=enrol_totp(user))
    if membership is not None:
        session = client.session
        session[SESSION_KEY] = membership.pk
        session.save()
    return client


def _text(response: Any) -> str:
    return response.content.decode()


@pytest.fixture
def ap(registered: Any) -> tuple[Client, str]:
    user, body, _ = registered()
    pid = body["participant_id"]
    membership = Membership.objects.get(
        user=user, participant_role__participant__participant_id=pid, participant_role__role="FSP"
    )
    return _client_for(user, membership), pid


@pytest.fixture
def operator_client(operator: Any) -> Client:
    user, membership = operator
    return _client_for(user, membership)


def test_the_page_lists_verified_details_and_an_address_change_applies(ap: Any) -> None:
    client, pid = ap
    page = client.get(f"/participants/{pid}/changes/")
    assert page.status_code == 200
    html = _text(page)
    for label in ("Legal name", "Registered address", "Company number", "Director&#x27;s"):
        assert label in html
    assert f'href="/participants/{pid}/changes/registered-address/"' in html
    form = client.get(f"/participants/{pid}/changes/registered-address/")
    assert form.status_code == 200 and 'value="1 Sample Street"' in _text(form)
    bad = client.post(
        f"/participants/{pid}/changes/registered-address/",
        {"address_line1": "", "address_town": "Reading", "address_postcode": "nope"},
    )
    assert bad.status_code == 200 and "govuk-error-summary" in _text(bad)
    assert 'href="#address_line1"' in _text(bad)
    bad_postcode = client.post(
        f"/participants/{pid}/changes/registered-address/",
        {"address_line1": "Unit 1", "address_town": "Reading", "address_postcode": "nope"},
    )
    assert 'href="#address_postcode"' in _text(bad_postcode)
    done = client.post(
        f"/participants/{pid}/changes/registered-address/",
        {
            "address_line1": "Unit 1 Sample Business Park",
            "address_town": "Reading",
            "address_postcode": "RG1 1AA",
            "note": "We moved",
        },
        follow=True,
    )
    assert done.status_code == 200
    assert "Companies House confirms your change to the registered address" in _text(done)
    assert Participant.objects.get(participant_id=pid).registered_address["postcode"] == "RG1 1AA"
    assert "Verified and applied" in _text(done)


def test_a_change_for_review_shows_as_waiting_and_the_operator_decides_it(
    ap: Any, operator_client: Client
) -> None:
    client, pid = ap
    sent = client.post(
        f"/participants/{pid}/changes/legal-name/",
        {"legal_name": "Brightwatt Renamed Limited"},
        follow=True,
    )
    assert "sent to the central operator for review" in _text(sent)
    assert "Changing to: Brightwatt Renamed Limited" in _text(sent)
    # no "Change" link while one is open; asking again explains why not
    assert f'href="/participants/{pid}/changes/legal-name/"' not in _text(sent)
    again = client.post(f"/participants/{pid}/changes/legal-name/", {"legal_name": "X Limited"})
    assert "already open" in _text(again) and "govuk-error-summary" in _text(again)

    queue = operator_client.get("/operator/participant-changes/")
    assert queue.status_code == 200 and "Brightwatt Renamed Limited" in _text(queue)
    change = ParticipantChange.objects.get()
    detail = operator_client.get(f"/operator/participant-changes/{change.public_id}/")
    assert detail.status_code == 200
    assert "BRIGHTWATT FLEX LIMITED (SAMPLE)" in _text(detail)  # what the register says
    missing = operator_client.post(
        f"/operator/participant-changes/{change.public_id}/", {"decision": "approve"}
    )
    assert 'href="#reason"' in _text(missing)
    decided = operator_client.post(
        f"/operator/participant-changes/{change.public_id}/",
        {"decision": "approve", "reason": "Certificate of change of name seen"},
        follow=True,
    )
    assert "Approved: change to the legal name" in _text(decided)
    assert Participant.objects.get(participant_id=pid).legal_name == "Brightwatt Renamed Limited"


def test_declaration_form_checks_the_new_officer(ap: Any) -> None:
    client, pid = ap
    empty = client.post(f"/participants/{pid}/changes/declaration/", {})
    html = _text(empty)
    assert 'href="#declarant_name"' in html and 'href="#statement_accepted"' in html
    done = client.post(
        f"/participants/{pid}/changes/declaration/",
        {
            "declarant_name": "Yusuf Ahmed",
            "declarant_is_applicant": "no",
            "statement_accepted": "on",
        },
        follow=True,
    )
    assert "Companies House confirms your change to the director" in _text(done)


def test_pages_are_scoped_and_permissioned(
    ap: Any, registered: Any, operator_client: Client, make_user: Any
) -> None:
    client, pid = ap
    assert client.get("/operator/participant-changes/").status_code == 403
    assert client.get(f"/participants/{pid}/changes/unknown-field/").status_code == 404
    # another participant's people see nothing of it
    from conftest import organisation_payload

    other_user, other, _ = registered(
        organisation_payload(
            company_number="99000006",
            legal_name="Bronte Heat Co-operative Limited (Sample)",
            email_domains=["bronte.example"],
            declaration={
                "declarant_name": "Anne Bronte",
                "declarant_is_applicant": True,
                "statement_accepted": True,
            },
        )
    )
    other_membership = Membership.objects.filter(
        user=other_user, participant_role__participant__participant_id=other["participant_id"]
    ).first()
    other_client = _client_for(other_user, other_membership)
    assert other_client.get(f"/participants/{pid}/changes/").status_code == 404
    assert other_client.get(f"/participants/{pid}/changes/legal-name/").status_code == 404
    # the operator reads the page but does not ask for changes
    read = operator_client.get(f"/participants/{pid}/changes/")
    assert read.status_code == 200 and "Change<span" not in _text(read)
    assert operator_client.get(f"/participants/{pid}/changes/legal-name/").status_code == 404
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", _text(read))
    assert "style=" not in _text(read)
