"""The participant's market-entry pages through Django's test client: the overview, the GOV.UK
task list (each of its five statuses), the next step, each step's page and answering it (text,
form, document), the reason shown after a rejection, and who may see and answer what."""

from __future__ import annotations

import html as htmllib
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from tests.signin import helpers as signin_helpers

from conftest import PASSWORD, organisation_payload
from flexreg.accounts.acting import acting_for
from flexreg.core.acting import Acting
from flexreg.entry import services
from flexreg.entry.models import (
    Answer,
    AnswerStatus,
    Document,
    EntryCase,
    InformationRequest,
    RequestStatus,
)
from flexreg.participants import services_access
from flexreg.participants.models import Membership, Participant

pytestmark = pytest.mark.django_db

PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
    b"trailer << /Root 1 0 R >>\n%%EOF\n"
)


# --- helpers ------------------------------------------------------------------------------------


def _case(pid: str, role: str) -> EntryCase:
    return EntryCase.objects.get(
        participant_role__participant__participant_id=pid, participant_role__role=role
    )


def _req(pid: str, role: str, key: str) -> InformationRequest:
    return _case(pid, role).requests.get(step_key=key)


def _as(user: Any, pid: str, role: str) -> Acting:
    membership = Membership.objects.get(
        user=user, participant_role__participant__participant_id=pid, participant_role__role=role
    )
    return acting_for(user, membership, via="session")


def _signed_in(user: Any, totp: bool = True) -> Client:
    client = Client()
    signin_helpers.verify_email(user)
    secret = signin_helpers.enrol_totp(user) if totp else None
    signin_helpers.sign_in(client, user, PASSWORD, totp_secret=secret)
    return client


def _text(response: Any) -> str:
    return str(response.content.decode())


def _tasks(html: str) -> dict[str, dict[str, str]]:
    """Each task-list item: {step key: {status, label, markup}}."""
    found = {}
    for m in re.finditer(
        r'<li class="govuk-task-list__item[^"]*" data-step="([^"]+)" '
        r'data-task-status="([^"]+)">(.*?)</li>',
        html,
        re.S,
    ):
        status_div = re.search(
            r'<div class="govuk-task-list__status[^>]*>(.*?)</div>', m.group(3), re.S
        )
        assert status_div, m.group(0)
        found[m.group(1)] = {
            "status": m.group(2),
            "label": re.sub(r"<[^>]+>|\s+", " ", status_div.group(1)).strip(),
            "markup": m.group(0),
        }
    return found


def _error_links(html: str) -> dict[str, str]:
    summary = re.search(r'<div class="govuk-error-summary".*?</ul>', html, re.S)
    assert summary, "no error summary on the page"
    return {
        htmllib.unescape(href): htmllib.unescape(re.sub(r"\s+", " ", text).strip())
        for href, text in re.findall(r'<a href="([^"]+)">(.*?)</a>', summary.group(0), re.S)
    }


def _document(pid: str, user: Any) -> Document:
    """A clean document as the upload service leaves it once scanned (setup for reviews)."""
    from django.core.files.base import ContentFile

    doc = Document(
        participant=Participant.objects.get(participant_id=pid),
        original_name="insurance.pdf",
        content_type="application/pdf",
        size=len(PDF),
        sha256="0" * 64,
        scan_status=Document.Scan.CLEAN,
        uploaded_by=user,
    )
    doc.file.save("insurance.pdf", ContentFile(PDF), save=False)
    doc.save()
    return doc


@pytest.fixture
def brightwatt(registered: Any) -> tuple[Any, str]:
    """99000001 verified at once, asking for FSP and OEM: (Authorised Person, Participant ID)."""
    user, body, _ = registered(organisation_payload(requested_roles=["FSP", "OEM"]))
    return user, body["participant_id"]


@pytest.fixture
def handover(registered: Any) -> tuple[Any, str]:
    """99000003, waiting for the central operator's verification review."""
    user, body, _ = registered(
        organisation_payload(
            company_number="99000003",
            legal_name="Handover Heat Pumps Limited (Sample)",
            email_domains=["handover.example"],
            requested_roles=["FSP"],
        )
    )
    return user, body["participant_id"]


@pytest.fixture
def op(operator: Any) -> Acting:
    user, membership = operator
    return acting_for(user, membership, via="session")


# --- the task list ------------------------------------------------------------------------------


def test_the_task_list_shows_each_of_the_five_statuses(
    brightwatt: tuple[Any, str], handover: tuple[Any, str], op: Acting
) -> None:
    user, pid = brightwatt
    me = _as(user, pid, "FSP")
    services.answer(me, _req(pid, "FSP", "insurance_certificate"), document=_document(pid, user))
    services.raise_request(
        op,
        _case(pid, "FSP"),
        title="Send your latest accounts",
        why="We check that providers are solvent.",
        kind="text",
        due_days=10,
    )
    client = _signed_in(user)
    response = client.get(f"/participants/{pid}/entry/FSP/")
    assert response.status_code == 200
    html = _text(response)
    assert "govuk-task-list" in html
    tasks = _tasks(html)
    # Completed: plain text.
    done = tasks["organisation_verified"]
    assert (done["status"], done["label"]) == ("completed", "Completed")
    assert "govuk-tag" not in done["markup"]
    # Not started: a blue tag.
    fresh = tasks["framework_agreement"]
    assert (fresh["status"], fresh["label"]) == ("not_started", "Not started")
    assert '<strong class="govuk-tag govuk-tag--blue">Not started</strong>' in fresh["markup"]
    assert "Due by" in fresh["markup"]
    # In progress: answered and waiting for review; and a check waiting for the participant.
    for key in ("insurance_certificate", "api_connectivity"):
        assert tasks[key]["status"] == "in_progress", key
        assert (
            '<strong class="govuk-tag govuk-tag--teal">In progress</strong>' in tasks[key]["markup"]
        )
    assert "Waiting for review by the central operator" in tasks["insurance_certificate"]["markup"]
    # Action needed: the central operator's ad hoc request, listed apart, as a red tag.
    adhoc = next(t for k, t in tasks.items() if k.startswith("adhoc-"))
    assert adhoc["status"] == "action_needed"
    assert '<strong class="govuk-tag govuk-tag--red">Action needed</strong>' in adhoc["markup"]
    assert "Requests from the central operator" in html
    assert "Send your latest accounts" in html
    # Every item but those that cannot start links to its step page.
    insurance = _req(pid, "FSP", "insurance_certificate")
    assert f'href="/participants/{pid}/entry/FSP/requests/{insurance.public_id}/"' in html
    # The case's status and its rule version.
    case = _case(pid, "FSP")
    assert f"Version {case.rule_version.number} ({case.rule_version.source_revision})" in html
    assert 'id="case-status"' in html

    # Cannot start yet: grey text, no link (99000003 is not verified yet).
    other_user, other_pid = handover
    html = _text(_signed_in(other_user).get(f"/participants/{other_pid}/entry/FSP/"))
    tasks = _tasks(html)
    waiting = tasks["insurance_certificate"]
    assert (waiting["status"], waiting["label"]) == ("cannot_start_yet", "Cannot start yet")
    assert "govuk-task-list__status--cannot-start-yet" in waiting["markup"]
    assert "<a " not in waiting["markup"]
    assert "You can start this after: Verify your organisation" in waiting["markup"]


def test_the_next_step_is_the_first_thing_to_do(brightwatt: tuple[Any, str], op: Acting) -> None:
    user, pid = brightwatt
    client = _signed_in(user)
    html = _text(client.get(f"/participants/{pid}/entry/FSP/"))
    next_step = re.search(r'<div class="govuk-inset-text" id="next-step">(.*?)</div>', html, re.S)
    assert next_step and "Upload your insurance certificate" in next_step.group(1)
    insurance = _req(pid, "FSP", "insurance_certificate")
    assert f"requests/{insurance.public_id}/" in next_step.group(1)

    # After a rejection, the step that needs action comes first, and says so.
    me = _as(user, pid, "FSP")
    framework = services.answer(
        me, _req(pid, "FSP", "framework_agreement"), document=_document(pid, user)
    )
    services.review_answer(op, framework, "reject", "The agreement is not signed.")
    html = _text(client.get(f"/participants/{pid}/entry/FSP/"))
    next_step = re.search(r'<div class="govuk-inset-text" id="next-step">(.*?)</div>', html, re.S)
    assert next_step and "Upload the signed framework agreement" in next_step.group(1)
    assert "the central operator needs something from you" in next_step.group(1)
    assert _tasks(html)["framework_agreement"]["status"] == "action_needed"


def test_the_overview_has_a_card_for_each_role_the_user_acts_for(
    brightwatt: tuple[Any, str],
) -> None:
    user, pid = brightwatt
    client = _signed_in(user)
    response = client.get(f"/participants/{pid}/entry/")
    assert response.status_code == 200
    html = _text(response)
    assert 'id="role-FSP"' in html and 'id="role-OEM"' in html
    assert f'href="/participants/{pid}/entry/FSP/"' in html
    assert f'href="/participants/{pid}/entry/OEM/"' in html
    assert "Flexibility Service Provider" in html
    assert "steps completed" in html


# --- step pages and answers ---------------------------------------------------------------------


def test_a_form_step_is_answered_and_completes_at_once(brightwatt: tuple[Any, str]) -> None:
    user, pid = brightwatt
    client = _signed_in(user)
    contact = _req(pid, "FSP", "technical_contact")
    url = f"/participants/{pid}/entry/FSP/requests/{contact.public_id}/"
    html = _text(client.get(url))
    assert '<h1 class="govuk-heading-l">Tell us your technical contact</h1>' in html
    assert f'action="{url}answer/"' in html
    for name, kind in (("name", "text"), ("email", "email"), ("phone", "tel")):
        assert f'id="{name}" name="{name}" type="{kind}"' in html, name
    assert "Network operators and market platforms need someone to call" in html  # why

    # Wrong values: an error summary linked to the fields, the values kept.
    response = client.post(f"{url}answer/", {"name": "", "email": "not-an-email", "phone": "12"})
    assert response.status_code == 200
    html = _text(response)
    links = _error_links(html)
    assert set(links) == {"#name", "#email", "#phone"}
    assert links["#name"] == "Enter full name"
    assert 'id="email-error"' in html and "govuk-input--error" in html
    assert 'value="not-an-email"' in html
    assert "<title>Error: " in html
    contact.refresh_from_db()
    assert contact.status == RequestStatus.OPEN

    response = client.post(
        f"{url}answer/",
        {"name": "Tom Tech", "email": "tom@brightwatt.example", "phone": "+447911123456"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/participants/{pid}/entry/FSP/"
    contact.refresh_from_db()
    assert contact.status == RequestStatus.ACCEPTED  # reviewed by nobody
    html = _text(client.get(response["Location"]))
    assert "govuk-notification-banner--success" in html
    assert "“Tell us your technical contact” is complete" in html
    assert _tasks(html)["technical_contact"]["status"] == "completed"
    # The history shows who answered, what, and that it was accepted.
    html = _text(client.get(url))
    assert "Tom Tech" in html and "tom@brightwatt.example" in html and "Accepted" in html
    assert user.full_name in html


def test_a_text_step_on_another_role_is_answered_without_switching(
    brightwatt: tuple[Any, str],
) -> None:
    user, pid = brightwatt
    client = _signed_in(user)  # the session acts for FSP (first in order); this is OEM's step
    product = _req(pid, "OEM", "product_information")
    url = f"/participants/{pid}/entry/OEM/requests/{product.public_id}/"
    html = _text(client.get(url))
    assert 'data-module="govuk-character-count" data-maxlength="4000"' in html
    assert "Write at least 20 characters." in html
    response = client.post(f"{url}answer/", {"text": "Too short"})
    assert _error_links(_text(response)) == {"#text": "Write at least 20 characters"}
    answer_text = "We make heat pump controllers that respond to DNO dispatch signals."
    response = client.post(f"{url}answer/", {"text": answer_text})
    assert response.status_code == 302
    product.refresh_from_db()
    assert product.status == RequestStatus.ANSWERED
    answer = Answer.objects.get(request=product)
    assert answer.text == answer_text and answer.submitted_by_id == user.pk
    html = _text(client.get(response["Location"]))
    assert "Your answer to “Describe your products and services” was sent for review" in html
    # Waiting for review: it can still be replaced, the form is folded away.
    html = _text(client.get(url))
    assert "Your answer is waiting for review" in html
    assert "Send a different answer" in html
    assert answer_text in html


def test_a_form_with_every_field_type_is_rendered_and_answered(
    brightwatt: tuple[Any, str], op: Acting
) -> None:
    user, pid = brightwatt
    request = services.raise_request(
        op,
        _case(pid, "FSP"),
        title="Tell us about your largest site",
        why="We size the framework agreement by it.",
        kind="form",
        due_days=5,
        fields=[
            {"name": "site_name", "label": "Site name", "type": "text"},
            {"name": "commissioned", "label": "Commissioning date", "type": "date"},
            {"name": "capacity_mw", "label": "Capacity in MW", "type": "number"},
            {"name": "website", "label": "Site web page", "type": "url", "required": False},
            {
                "name": "technology",
                "label": "Technology",
                "type": "select",
                "options": ["Battery", "Heat pumps", "Generator"],
            },
            {"name": "agree", "label": "I confirm these details are correct", "type": "confirm"},
        ],
    )
    client = _signed_in(user)
    url = f"/participants/{pid}/entry/FSP/requests/{request.public_id}/"
    html = _text(client.get(url))
    assert 'id="commissioned-day" name="commissioned-day"' in html
    assert 'inputmode="decimal"' in html
    assert 'type="url"' in html
    assert 'class="govuk-radios__input" id="technology" name="technology" type="radio"' in html
    assert 'class="govuk-checkboxes__input" id="agree" name="agree" type="checkbox"' in html
    assert "Due by" in html

    response = client.post(
        f"{url}answer/",
        {
            "site_name": "",
            "commissioned-day": "31",
            "commissioned-month": "2",
            "commissioned-year": "",
            "capacity_mw": "lots",
            "technology": "",
        },
    )
    links = _error_links(_text(response))
    assert links == {
        "#site_name": "Enter site name",
        "#commissioned-day": "Commissioning date must include a year",
        "#capacity_mw": "Enter a number",
        "#technology": "Select technology",
        "#agree": "Confirm this to continue",
    }
    response = client.post(
        f"{url}answer/",
        {
            "site_name": "Mill Lane",
            "commissioned-day": "31",
            "commissioned-month": "2",
            "commissioned-year": "2024",
            "capacity_mw": "2.5",
            "technology": "Battery",
            "agree": "yes",
        },
    )
    assert _error_links(_text(response)) == {
        "#commissioned-day": "Commissioning date must be a real date"
    }
    response = client.post(
        f"{url}answer/",
        {
            "site_name": "Mill Lane",
            "commissioned-day": "29",
            "commissioned-month": "2",
            "commissioned-year": "2024",
            "capacity_mw": "2.5",
            "technology": "Battery",
            "agree": "yes",
        },
    )
    assert response.status_code == 302
    answer = Answer.objects.get(request=request)
    assert answer.form_data == {
        "site_name": "Mill Lane",
        "commissioned": "2024-02-29",
        "capacity_mw": 2.5,
        "website": "",
        "technology": "Battery",
        "agree": True,
    }


def test_a_document_is_uploaded_and_its_rejection_reason_shown(
    brightwatt: tuple[Any, str], op: Acting
) -> None:
    pytest.importorskip("flexreg.entry.services_documents")
    user, pid = brightwatt
    client = _signed_in(user)
    insurance = _req(pid, "FSP", "insurance_certificate")
    url = f"/participants/{pid}/entry/FSP/requests/{insurance.public_id}/"
    html = _text(client.get(url))
    assert 'enctype="multipart/form-data"' in html
    assert 'type="file" accept=".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg"' in html
    # No file chosen.
    response = client.post(f"{url}answer/", {})
    assert _error_links(_text(response)) == {"#document": "Select a file to upload"}
    # Not a PDF, whatever its name says: refused by content.
    response = client.post(
        f"{url}answer/",
        {"document": SimpleUploadedFile("fake.pdf", b"MZ\x90\x00 not a pdf at all")},
    )
    assert response.status_code in (200, 409, 422)
    assert "#document" in _error_links(_text(response))
    assert not Answer.objects.filter(request=insurance).exists()

    response = client.post(
        f"{url}answer/",
        {"document": SimpleUploadedFile("insurance.pdf", PDF, content_type="application/pdf")},
    )
    assert response.status_code == 302, _text(response)[:3000]
    answer = Answer.objects.get(request=insurance)
    assert answer.document is not None
    assert answer.document.content_type == "application/pdf"
    assert answer.document.original_name == "insurance.pdf"
    html = _text(client.get(url))
    link = f'href="/documents/{answer.document.public_id}/"'
    assert "insurance.pdf" in html and "Malware scan: Waiting for the malware scan" in html
    assert link not in html  # handed out only once clean

    # The scan finds it clean: it can be downloaded from the history.
    Document.objects.filter(pk=answer.document.pk).update(scan_status=Document.Scan.CLEAN)
    html = _text(client.get(url))
    assert link in html
    download = client.get(f"/documents/{answer.document.public_id}/")
    assert download.status_code == 200
    assert "attachment" in download["Content-Disposition"]
    assert b"".join(download.streaming_content) == PDF  # type: ignore[attr-defined]

    # The operator rejects it: the reason is shown.
    services.review_answer(op, answer, "reject", "The certificate has expired.")
    html = _text(client.get(url))
    banner = re.search(
        r'<div class="govuk-notification-banner".*?id="rejection">(.*?)</div>\s*</div>', html, re.S
    )
    assert banner, html
    assert "Your last answer was not accepted" in banner.group(1)
    assert "The certificate has expired." in banner.group(1)
    assert "Not accepted" in html  # in the history, with the reason
    assert 'data-task-status="action_needed"' in html
    # Sent again: the history keeps both answers.
    response = client.post(
        f"{url}answer/",
        {"document": SimpleUploadedFile("insurance-2026.pdf", PDF, content_type="application/pdf")},
    )
    assert response.status_code == 302
    html = _text(client.get(url))
    assert 'id="rejection"' not in html
    assert "insurance-2026.pdf" in html and "insurance.pdf" in html


def test_the_rejection_reason_is_shown_on_the_step(brightwatt: tuple[Any, str], op: Acting) -> None:
    user, pid = brightwatt
    me = _as(user, pid, "FSP")
    answer = services.answer(
        me, _req(pid, "FSP", "insurance_certificate"), document=_document(pid, user)
    )
    services.review_answer(op, answer, "reject", "The cover is below £5 million.")
    client = _signed_in(user)
    insurance = _req(pid, "FSP", "insurance_certificate")
    html = _text(client.get(f"/participants/{pid}/entry/FSP/requests/{insurance.public_id}/"))
    assert 'id="rejection-reason">The cover is below £5 million.</p>' in html
    assert "Your last answer was not accepted" in html
    assert f'href="/documents/{answer.document.public_id}/"' in html  # type: ignore[union-attr]
    assert "By the central operator" in html
    history_status = re.findall(
        r'<strong class="govuk-tag govuk-tag--red">Not accepted</strong>', html
    )
    assert len(history_status) == 1
    # The upload form is there to send it again.
    assert 'enctype="multipart/form-data"' in html
    html = _text(client.get(f"/participants/{pid}/entry/FSP/"))
    item = _tasks(html)["insurance_certificate"]
    assert item["status"] == "action_needed"
    assert "Your answer was not accepted" in item["markup"]


def test_check_steps_explain_themselves(brightwatt: tuple[Any, str]) -> None:
    user, pid = brightwatt
    client = _signed_in(user)
    api_step = _req(pid, "FSP", "api_connectivity")
    html = _text(client.get(f"/participants/{pid}/entry/FSP/requests/{api_step.public_id}/"))
    assert "How this is checked" in html
    assert "curl -X POST http://testserver/api/v1/entry/connectivity-test" in html
    assert "Authorization: Bearer YOUR_API_TOKEN" in html
    assert 'href="/my-access/"' in html
    assert "Waiting for one of your systems to call the FlexReg API." in html
    assert '<form method="post" action=' not in html.split("<main", 1)[1].split("History")[0]
    verified = _req(pid, "FSP", "organisation_verified")
    html = _text(client.get(f"/participants/{pid}/entry/FSP/requests/{verified.public_id}/"))
    assert "This step is complete." in html
    assert "Check passed" in html and "The participant is verified." in html


def test_an_eic_check_step_has_its_form(registered: Any) -> None:
    user, body, _ = registered(organisation_payload(requested_roles=["AGGREGATOR"]))
    pid = body["participant_id"]
    client = _signed_in(user)
    eic = _req(pid, "AGGREGATOR", "eic_party_code")
    html = _text(client.get(f"/participants/{pid}/entry/AGGREGATOR/requests/{eic.public_id}/"))
    assert "ENTSO-E" in html
    assert 'id="eic" name="eic" type="text"' in html
    response = client.post(
        f"/participants/{pid}/entry/AGGREGATOR/requests/{eic.public_id}/answer/",
        {"eic": "not an eic"},
    )
    assert list(_error_links(_text(response))) == ["#eic"]


# --- conflicts and access -----------------------------------------------------------------------


def test_a_conflict_is_an_error_summary_not_a_server_error(brightwatt: tuple[Any, str]) -> None:
    user, pid = brightwatt
    client = _signed_in(user)
    verified = _req(pid, "FSP", "organisation_verified")
    response = client.post(
        f"/participants/{pid}/entry/FSP/requests/{verified.public_id}/answer/", {}
    )
    assert response.status_code == 409
    assert _error_links(_text(response)) == {"#answer": "This step is already accepted."}
    assert 'id="answer"' in _text(response)
    # Answering twice: the second finds the step already complete.
    contact = _req(pid, "FSP", "technical_contact")
    url = f"/participants/{pid}/entry/FSP/requests/{contact.public_id}/answer/"
    values = {"name": "Tom Tech", "email": "tom@brightwatt.example", "phone": "+447911123456"}
    assert client.post(url, values).status_code == 302
    response = client.post(url, values)
    assert response.status_code == 409
    assert "This step is already accepted." in _text(response)
    # A GET of the answer URL is not allowed.
    assert client.get(url).status_code == 405


def test_a_member_without_entry_answer_reads_but_cannot_answer(
    brightwatt: tuple[Any, str], make_user: Any
) -> None:
    user, pid = brightwatt
    participant = Participant.objects.get(participant_id=pid)
    reader = make_user("reader@brightwatt.example", "Rita Reader")
    services_access.grant(
        _as(user, pid, "FSP"),
        participant,
        email=reader.email,
        role="FSP",
        permissions_=["entry:read"],
    )
    client = _signed_in(reader, totp=False)
    contact = _req(pid, "FSP", "technical_contact")
    url = f"/participants/{pid}/entry/FSP/requests/{contact.public_id}/"
    assert client.get(f"/participants/{pid}/entry/FSP/").status_code == 200
    html = _text(client.get(url))
    assert "Tell us your technical contact" in html
    assert "answer/" not in html  # no form
    response = client.post(
        f"{url}answer/",
        {"name": "Rita", "email": "rita@brightwatt.example", "phone": "+447911123456"},
    )
    assert response.status_code == 403
    assert "You do not have access to this page" in _text(response)
    contact.refresh_from_db()
    assert contact.status == RequestStatus.OPEN
    # The OEM role is not theirs at all.
    assert client.get(f"/participants/{pid}/entry/OEM/").status_code == 404


def test_another_participants_pages_are_not_found(
    brightwatt: tuple[Any, str], handover: tuple[Any, str]
) -> None:
    _, pid = brightwatt
    other_user, other_pid = handover
    client = _signed_in(other_user)
    contact = _req(pid, "FSP", "technical_contact")
    for url in (
        f"/participants/{pid}/entry/",
        f"/participants/{pid}/entry/FSP/",
        f"/participants/{pid}/entry/FSP/requests/{contact.public_id}/",
        f"/participants/{other_pid}/entry/FSP/requests/{contact.public_id}/",
        f"/participants/{other_pid}/entry/FSP/requests/not-a-uuid/",
        f"/participants/{other_pid}/entry/NESO/",
    ):
        assert client.get(url).status_code == 404, url
    response = client.post(
        f"/participants/{pid}/entry/FSP/requests/{contact.public_id}/answer/",
        {"name": "Mallory", "email": "m@handover.example", "phone": "+447911123456"},
    )
    assert response.status_code == 404
    contact.refresh_from_db()
    assert contact.status == RequestStatus.OPEN and not contact.answers.exists()


def test_anonymous_users_are_sent_to_sign_in(brightwatt: tuple[Any, str]) -> None:
    _, pid = brightwatt
    url = f"/participants/{pid}/entry/FSP/"
    response = Client().get(url)
    assert response.status_code == 302 and response["Location"] == f"/sign-in/?next={url}"


def test_the_central_operator_reads_the_task_list_but_answers_nothing(
    brightwatt: tuple[Any, str], operator: Any
) -> None:
    _, pid = brightwatt
    client = _signed_in(operator[0])
    assert client.get(f"/participants/{pid}/entry/").status_code == 200
    assert client.get(f"/participants/{pid}/entry/FSP/").status_code == 200
    contact = _req(pid, "FSP", "technical_contact")
    url = f"/participants/{pid}/entry/FSP/requests/{contact.public_id}/"
    html = _text(client.get(url))
    assert "answer/" not in html
    response = client.post(
        f"{url}answer/",
        {"name": "Olive", "email": "olive@flexreg.test", "phone": "+447911123456"},
    )
    assert response.status_code in (403, 404)
    assert not Answer.objects.filter(request=contact).exists()


def test_pages_keep_to_the_layout_and_csp(brightwatt: tuple[Any, str]) -> None:
    user, pid = brightwatt
    client = _signed_in(user)
    contact = _req(pid, "FSP", "technical_contact")
    for url in (
        f"/participants/{pid}/entry/",
        f"/participants/{pid}/entry/FSP/",
        f"/participants/{pid}/entry/FSP/requests/{contact.public_id}/",
    ):
        html = _text(client.get(url))
        assert re.search(r"<title>[^<]+ – FlexReg</title>", html), url
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert "style=" not in html, url
        for form in re.findall(r'<form method="post".*?</form>', html, re.S):
            assert "csrfmiddlewaretoken" in form, url


def test_pending_answers_superseded_show_as_replaced(brightwatt: tuple[Any, str]) -> None:
    user, pid = brightwatt
    me = _as(user, pid, "FSP")
    services.answer(me, _req(pid, "FSP", "insurance_certificate"), document=_document(pid, user))
    services.answer(me, _req(pid, "FSP", "insurance_certificate"), document=_document(pid, user))
    statuses = sorted(
        Answer.objects.filter(request__step_key="insurance_certificate").values_list(
            "status", flat=True
        )
    )
    assert statuses == [AnswerStatus.PENDING_REVIEW, AnswerStatus.SUPERSEDED]
    client = _signed_in(user)
    insurance = _req(pid, "FSP", "insurance_certificate")
    html = _text(client.get(f"/participants/{pid}/entry/FSP/requests/{insurance.public_id}/"))
    assert "Replaced by a newer answer" in html and "Waiting for review" in html


def test_every_page_declares_its_permission() -> None:
    from flexreg.entry import urls_participant

    declared = {p.name: p.callback.required_permission for p in urls_participant.urlpatterns}
    assert declared == {
        "entry-overview": "entry:read",
        "entry-task-list": "entry:read",
        "entry-step": "entry:read",
        "entry-answer": "entry:answer",
    }
