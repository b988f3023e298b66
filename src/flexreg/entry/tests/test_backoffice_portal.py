"""The back office's portal pages through Django's test client: the queues with their filters and
bulk actions, the dashboard, the case list, the case page and its actions, who may open them."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.test import Client
from tests.signin import helpers as signin_helpers

from conftest import PASSWORD, organisation_payload
from flexreg.accounts.acting import acting_for
from flexreg.core.acting import Acting
from flexreg.entry import services
from flexreg.entry.models import (
    Answer,
    AnswerStatus,
    CaseStatus,
    Document,
    EntryCase,
    InformationRequest,
    RequestStatus,
)
from flexreg.participants.models import Membership, Participant

pytestmark = pytest.mark.django_db

SOLAR = organisation_payload(
    company_number="OC990004",
    legal_name="Solar Commons LLP (Sample)",
    organisation_type="llp",
    declaration={
        "declarant_name": "Amira Khan",
        "declarant_is_applicant": True,
        "statement_accepted": True,
    },
    requested_roles=["FSP"],
)


def sign_in(user: Any) -> Client:
    client = Client()
    signin_helpers.verify_email(user)
    signin_helpers.sign_in(client, user, PASSWORD, totp_secret=signin_helpers.enrol_totp(user))
    return client


def html(response: Any) -> str:
    return response.content.decode()


def _document(participant: Participant, user: Any, clean: bool = True) -> Document:
    from django.core.files.base import ContentFile

    doc = Document(
        participant=participant,
        original_name="insurance.pdf",
        content_type="application/pdf",
        size=9,
        sha256="a" * 64,
        scan_status=Document.Scan.CLEAN if clean else Document.Scan.PENDING,
        uploaded_by=user,
    )
    doc.file.save("insurance.pdf", ContentFile(b"%PDF-1.4\n"), save=False)
    doc.save()
    return doc


class Applicant:
    def __init__(self, registered: Any, payload: dict[str, Any] | None = None) -> None:
        self.user, body, _ = registered(payload or organisation_payload(requested_roles=["FSP"]))
        self.participant = Participant.objects.get(participant_id=body["participant_id"])
        self.case = EntryCase.objects.get(
            participant_role__participant=self.participant, participant_role__role="FSP"
        )
        m = Membership.objects.get(user=self.user, participant_role=self.case.participant_role)
        self.acting = acting_for(self.user, m, via="session")
        self.url = f"/operator/entry/cases/{self.case.public_id}/"

    def request(self, key: str) -> InformationRequest:
        return self.case.requests.get(step_key=key)

    def upload(self, key: str, clean: bool = True) -> Answer:
        doc = _document(self.participant, self.user, clean)
        return services.answer(self.acting, self.request(key), document=doc)


@pytest.fixture
def op(operator: Any) -> Acting:
    return acting_for(operator[0], operator[1], via="session")


@pytest.fixture
def client_op(operator: Any) -> Client:
    return sign_in(operator[0])


# --- access ---------------------------------------------------------------------------------

PAGES = [
    "/operator/entry/",
    "/operator/entry/queues/reviews/",
    "/operator/entry/queues/cases/",
    "/operator/entry/queues/escalations/",
    "/operator/entry/dashboard/",
    "/operator/entry/cases/",
]


def test_pages_are_for_the_central_operator(registered: Any, client_op: Client) -> None:
    applicant = Applicant(registered)
    for url in [*PAGES, applicant.url]:
        assert Client().get(url).status_code == 302, url  # to sign in
        response = client_op.get(url)
        assert response.status_code == 200, url
        assert 'class="govuk-heading-l"' in html(response), url
    member = sign_in(applicant.user)
    for url in [*PAGES, applicant.url]:
        assert member.get(url).status_code == 403, url
    assert member.post("/operator/entry/bulk/", {}).status_code == 403
    assert client_op.get(f"/operator/entry/cases/{uuid.uuid4()}/").status_code == 404
    assert client_op.get("/operator/entry/cases/not-a-case/").status_code == 404


def test_oversight_reads_without_actions(registered: Any, make_user: Any) -> None:
    from flexreg.participants import services as participant_services

    system = Acting.system("tests")
    held = participant_services.ensure_special_participant(system, "REGULATOR", "Ofgem")
    user = make_user("auditor@ofgem.test", "Rita Regulator")
    participant_services.grant_authorised_person(system, held, user.pk)
    applicant = Applicant(registered)
    answer = applicant.upload("insurance_certificate")
    regulator = sign_in(user)
    queue = html(regulator.get("/operator/entry/queues/reviews/"))
    assert applicant.participant.legal_name in queue
    assert 'name="item"' not in queue and "/operator/entry/bulk/" not in queue
    page = regulator.get(applicant.url)
    assert page.status_code == 200
    assert "Record review" not in html(page) and "Record decision" not in html(page)
    response = regulator.post(
        f"/operator/entry/answers/{answer.public_id}/review/",
        {f"review-{answer.public_id.hex[:12]}-decision": "accept"},
    )
    assert response.status_code == 403
    dashboard = html(regulator.get("/operator/entry/dashboard/"))
    assert "Not shown to your role" in dashboard


# --- queues ---------------------------------------------------------------------------------


def test_review_queue_lists_filters_and_links_to_cases(registered: Any, client_op: Client) -> None:
    brightwatt = Applicant(registered)
    solar = Applicant(registered, SOLAR)
    brightwatt.upload("insurance_certificate")
    solar.upload("framework_agreement", clean=False)
    page = html(client_op.get("/operator/entry/queues/reviews/"))
    assert "2 items, oldest first" in page
    assert brightwatt.url in page and solar.url in page
    assert "Scan: Waiting for the malware scan" in page
    assert "/documents/" in page
    filtered = html(client_op.get("/operator/entry/queues/reviews/", {"q": "solar"}))
    assert solar.url in filtered and brightwatt.url not in filtered
    mine = html(client_op.get("/operator/entry/queues/reviews/", {"assigned": "me"}))
    assert brightwatt.url not in mine and solar.url not in mine
    overdue = html(client_op.get("/operator/entry/queues/reviews/", {"overdue": "1"}))
    assert "There are no answers waiting for review." in overdue
    # A stale page link starts again rather than failing.
    assert client_op.get("/operator/entry/queues/reviews/", {"cursor": "@@"}).status_code == 200
    overview = html(client_op.get("/operator/entry/"))
    assert re.search(r'id="queue-reviews-total">\s*2<', overview)
    assert "/operator/verifications/" in overview


def test_queue_pages_paginate(registered: Any, client_op: Client, op: Acting) -> None:
    from flexreg.entry import selectors_backoffice

    brightwatt = Applicant(registered)
    brightwatt.upload("insurance_certificate")
    brightwatt.upload("framework_agreement")
    page = selectors_backoffice.review_queue(op, limit=1)
    assert page.next_cursor
    response = client_op.get("/operator/entry/queues/reviews/", {"cursor": page.next_cursor})
    assert "First page" in html(response)


def test_bulk_accept_from_the_queue(registered: Any, client_op: Client) -> None:
    applicant = Applicant(registered)
    good = applicant.upload("insurance_certificate")
    unscanned = applicant.upload("framework_agreement", clean=False)
    response = client_op.post(
        "/operator/entry/bulk/",
        {"queue": "reviews", "action": "accept", "item": [str(good.public_id)], "filters": "q=x"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/operator/entry/queues/reviews/?q=x"
    good.refresh_from_db()
    assert good.status == AnswerStatus.ACCEPTED
    assert "Accepted 1 item" in html(client_op.get(response["Location"]))

    mixed = client_op.post(
        "/operator/entry/bulk/",
        {
            "queue": "reviews",
            "action": "accept",
            "item": [str(unscanned.public_id), str(uuid.uuid4())],
        },
    )
    assert mixed.status_code == 200
    text = html(mixed)
    assert "Some items were not done" in text
    assert "entry.document_not_scanned" in text and "not_found" in text
    assert applicant.participant.legal_name in text  # a readable label for the item
    unscanned.refresh_from_db()
    assert unscanned.status == AnswerStatus.PENDING_REVIEW

    nothing = client_op.post("/operator/entry/bulk/", {"queue": "reviews", "action": "accept"})
    assert nothing.status_code == 422 and "Select at least one item" in html(nothing)
    wrong = client_op.post(
        "/operator/entry/bulk/", {"queue": "cases", "action": "accept", "item": ["x"]}
    )
    assert wrong.status_code == 422
    assert client_op.get("/operator/entry/bulk/").status_code == 405


def test_bulk_assign_from_each_queue(
    registered: Any, client_op: Client, operator: Any, op: Acting
) -> None:
    applicant = Applicant(registered)
    answer = applicant.upload("insurance_certificate")
    tech = applicant.request("technical_contact")
    InformationRequest.objects.filter(pk=tech.pk).update(escalated_at=tech.opened_at)
    queue = html(client_op.get("/operator/entry/queues/reviews/"))
    assert f'value="{answer.public_id}"' in queue and "Assign selected" in queue
    response = client_op.post(
        "/operator/entry/bulk/",
        {"queue": "reviews", "action": "assign", "item": [str(answer.public_id)], "assignee": "me"},
    )
    assert response.status_code == 302
    assert applicant.request("insurance_certificate").assigned_to_id == operator[0].pk
    mine = html(client_op.get("/operator/entry/queues/reviews/", {"assigned": "me"}))
    assert applicant.url in mine
    response = client_op.post(
        "/operator/entry/bulk/",
        {
            "queue": "escalations",
            "action": "assign",
            "item": [str(tech.public_id)],
            "assignee": operator[0].email,
        },
    )
    assert response.status_code == 302
    assert applicant.request("technical_contact").assigned_to_id == operator[0].pk
    bad = client_op.post(
        "/operator/entry/bulk/",
        {
            "queue": "escalations",
            "action": "assign",
            "item": [str(tech.public_id)],
            "assignee": "stranger@example.test",
        },
    )
    assert bad.status_code == 422 and "Assign to a central operator reviewer" in html(bad)


# --- dashboard and case list ----------------------------------------------------------------


def test_dashboard_and_case_list(registered: Any, client_op: Client) -> None:
    applicant = Applicant(registered)
    applicant.upload("insurance_certificate")
    dashboard = html(client_op.get("/operator/entry/dashboard/"))
    assert re.search(r'id="reviews-waiting">1<', dashboard)
    assert "Flexibility Service Provider" in dashboard
    assert "No role has qualified yet." in dashboard
    listing = html(client_op.get("/operator/entry/cases/", {"status": "in_progress"}))
    assert applicant.url in listing
    empty = html(client_op.get("/operator/entry/cases/", {"status": "qualified"}))
    assert applicant.url not in empty


# --- the case page --------------------------------------------------------------------------


def test_case_page_shows_history_and_reviews_answers(registered: Any, client_op: Client) -> None:
    applicant = Applicant(registered)
    answer = applicant.upload("insurance_certificate")
    page = html(client_op.get(applicant.url))
    assert applicant.participant.legal_name in page
    assert f"/documents/{answer.document.public_id}/" in page  # type: ignore[union-attr]
    assert "Record review" in page and "Record decision" in page
    assert "Companies House" in page or "participant_verified" in page  # the check's run
    prefix = f"review-{answer.public_id.hex[:12]}"
    url = f"/operator/entry/answers/{answer.public_id}/review/"

    missing = client_op.post(url, {f"{prefix}-decision": "reject", f"{prefix}-reason": ""})
    assert missing.status_code == 200
    assert "There is a problem" in html(missing)
    assert f'href="#{prefix}-reason"' in html(missing)
    response = client_op.post(
        url, {f"{prefix}-decision": "reject", f"{prefix}-reason": "It has expired."}
    )
    assert response.status_code == 302 and response["Location"] == applicant.url
    answer.refresh_from_db()
    assert answer.status == AnswerStatus.REJECTED and answer.review_reason == "It has expired."
    assert "Rejected: Upload your insurance certificate" in html(client_op.get(applicant.url))
    again = client_op.post(url, {f"{prefix}-decision": "accept"})
    assert again.status_code == 200 and "This answer is rejected." in html(again)

    second = applicant.upload("insurance_certificate")
    prefix = f"review-{second.public_id.hex[:12]}"
    response = client_op.post(
        f"/operator/entry/answers/{second.public_id}/review/", {f"{prefix}-decision": "accept"}
    )
    assert response.status_code == 302
    second.refresh_from_db()
    assert second.status == AnswerStatus.ACCEPTED
    page = html(client_op.get(applicant.url))
    assert "It has expired." in page  # the history keeps the rejected answer


def test_raise_and_cancel_an_ad_hoc_request(registered: Any, client_op: Client) -> None:
    applicant = Applicant(registered)
    new = f"/operator/entry/cases/{applicant.case.public_id}/requests/new/"
    assert client_op.get(new).status_code == 200
    blank = client_op.post(new, {"title": "", "why": "", "kind": "", "due_days": "soon"})
    text = html(blank)
    assert blank.status_code == 200 and "There is a problem" in text
    assert "Days to answer must be a whole number" in text
    response = client_op.post(
        new,
        {
            "title": "Upload your accounts",
            "why": "To check solvency.",
            "kind": "document",
            "due_days": "10",
        },
    )
    assert response.status_code == 302 and response["Location"] == applicant.url
    adhoc = applicant.case.requests.get(title="Upload your accounts")
    assert adhoc.status == RequestStatus.OPEN and adhoc.raised_by_id is not None
    page = html(client_op.get(applicant.url))
    cancel = f"/operator/entry/requests/{adhoc.public_id}/cancel/"
    assert cancel in page and "Asked by the operator" in page
    assert client_op.get(cancel).status_code == 200
    assert "There is a problem" in html(client_op.post(cancel, {"reason": ""}))
    response = client_op.post(cancel, {"reason": "Asked in error"})
    assert response.status_code == 302
    adhoc.refresh_from_db()
    assert adhoc.status == RequestStatus.CANCELLED
    rule_step = applicant.request("insurance_certificate")
    refused = client_op.post(
        f"/operator/entry/requests/{rule_step.public_id}/cancel/", {"reason": "Try"}
    )
    assert refused.status_code == 200 and "change with the rules" in html(refused)


def test_assign_and_decide_on_the_case_page(
    registered: Any, client_op: Client, operator: Any
) -> None:
    applicant = Applicant(registered)
    assign = f"/operator/entry/cases/{applicant.case.public_id}/assign/"
    response = client_op.post(assign, {"assign-assignee": operator[0].email})
    assert response.status_code == 302
    applicant.case.refresh_from_db()
    assert applicant.case.assigned_to_id == operator[0].pk
    assert "Assigned to Olive Operator" in html(client_op.get(applicant.url))
    stranger = client_op.post(assign, {"assign-assignee": "stranger@example.test"})
    assert stranger.status_code == 422 and 'href="#assign-assignee"' in html(stranger)
    client_op.post(assign, {"assign-assignee": "unassigned"})
    applicant.case.refresh_from_db()
    assert applicant.case.assigned_to_id is None

    decision = f"/operator/entry/cases/{applicant.case.public_id}/decision/"
    early = client_op.post(decision, {"decision-decision": "qualify", "decision-reason": "OK"})
    assert early.status_code == 200 and "Every required step must be accepted" in html(early)
    assert 'href="#decision-decision"' in html(early)
    blank = client_op.post(decision, {"decision-decision": "reject", "decision-reason": ""})
    assert 'href="#decision-reason"' in html(blank)
    response = client_op.post(
        decision, {"decision-decision": "reject", "decision-reason": "Not a provider."}
    )
    assert response.status_code == 302
    applicant.case.refresh_from_db()
    assert applicant.case.status == CaseStatus.REJECTED
    page = html(client_op.get(applicant.url))
    assert "Record decision" not in page and "Not a provider." in page
