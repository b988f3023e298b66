"""The participant's market-entry pages in Chromium, each checked with axe-core: the overview,
the task list, step pages (an upload, a form with every kind of field and its errors, a check,
a step reopened after a rejection) and the success banner after answering.

Reuses tests/browser's Playwright fixtures (Debian's Chromium, pytest-django's live server).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import PASSWORD, organisation_payload
from flexreg.accounts.acting import acting_for
from flexreg.entry import services
from flexreg.entry.models import Document, EntryCase, InformationRequest
from tests.browser.test_registration_journey import screenshot, visit
from tests.signin import helpers as signin_helpers

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _req(pid: str, role: str, key: str) -> InformationRequest:
    case = EntryCase.objects.get(
        participant_role__participant__participant_id=pid, participant_role__role=role
    )
    return case.requests.get(step_key=key)


def _sign_in(page: Any, user: Any, secret: str) -> None:
    page.goto("/sign-in/")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()
    page.get_by_label("Code from your authenticator app").fill(signin_helpers.totp_code(secret))
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()


def test_market_entry_pages_are_accessible(
    new_page: Any,
    registered: Any,
    operator: Any,
    tmp_path: Path,
) -> None:
    user, body, _ = registered(organisation_payload(requested_roles=["FSP"]))
    pid = body["participant_id"]
    signin_helpers.verify_email(user)
    secret = signin_helpers.enrol_totp(user)
    op = acting_for(operator[0], operator[1], via="session")
    case = EntryCase.objects.get(
        participant_role__participant__participant_id=pid, participant_role__role="FSP"
    )
    adhoc = services.raise_request(
        op,
        case,
        title="Tell us about your largest site",
        why="We size the framework agreement by it.",
        kind="form",
        due_days=5,
        fields=[
            {"name": "site_name", "label": "Site name", "type": "text"},
            {"name": "commissioned", "label": "Commissioning date", "type": "date"},
            {"name": "capacity_mw", "label": "Capacity in MW", "type": "number"},
            {
                "name": "technology",
                "label": "Technology",
                "type": "select",
                "options": ["Battery", "Heat pumps", "Generator"],
            },
            {"name": "agree", "label": "I confirm these details are correct", "type": "confirm"},
        ],
    )

    page = new_page()
    _sign_in(page, user, secret)

    page.goto(f"/participants/{pid}/entry/")
    visit(page, "Market entry: Brightwatt Flex Limited (Sample)")
    page.get_by_role("link", name="View tasks for Flexibility Service Provider").click()
    visit(page, "Market entry: Flexibility Service Provider")
    assert page.locator(".govuk-task-list").count() == 2
    screenshot(page, "entry-task-list")
    # The central operator's request comes first.
    assert "Tell us about your largest site" in page.locator("#next-step").inner_text()

    # An upload, sent for review.
    page.locator("#task-list").get_by_role("link", name="Upload your insurance certificate").click()
    visit(page, "Upload your insurance certificate")
    pdf = tmp_path / "insurance.pdf"
    pdf.write_bytes(PDF)
    page.get_by_label("Upload a file").set_input_files(str(pdf))
    page.get_by_role("button", name="Upload and send").click()
    visit(page, "Market entry: Flexibility Service Provider")
    assert "was sent for review" in page.locator(".govuk-notification-banner").inner_text()

    # A form with every kind of field, first with errors.
    page.locator("#request-list").get_by_role(
        "link", name="Tell us about your largest site"
    ).click()
    visit(page, "Tell us about your largest site")
    page.get_by_role("button", name="Send your answer").click()
    visit(page, "Error: Tell us about your largest site")
    screenshot(page, "entry-form-errors")
    summary = page.locator(".govuk-error-summary")
    summary.get_by_role("link", name="Enter site name").click()
    assert page.evaluate("document.activeElement.id") == "site_name"
    page.get_by_label("Site name").fill("Mill Lane")
    page.get_by_label("Day").fill("29")
    page.get_by_label("Month").fill("2")
    page.get_by_label("Year").fill("2024")
    page.get_by_label("Capacity in MW").fill("2.5")
    page.get_by_label("Battery").check()
    page.get_by_label("I confirm these details are correct").check()
    page.get_by_role("button", name="Send your answer").click()
    visit(page, "Market entry: Flexibility Service Provider")

    # A check step: how to call the connectivity test.
    page.locator("#task-list").get_by_role(
        "link", name="Test your connection to the FlexReg API"
    ).click()
    visit(page, "Test your connection to the FlexReg API")
    assert "/api/v1/entry/connectivity-test" in page.locator("#connectivity-example").inner_text()
    screenshot(page, "entry-step-check")

    # The operator rejects the upload: the step shows why, prominently.
    answer = _req(pid, "FSP", "insurance_certificate").answers.get()
    assert answer.document is not None
    assert answer.document.content_type == "application/pdf"  # sniffed from the content
    Document.objects.filter(pk=answer.document.pk).update(scan_status=Document.Scan.CLEAN)
    services.review_answer(op, answer, "reject", "The certificate has expired.")
    page.goto(f"/participants/{pid}/entry/FSP/")
    visit(page, "Market entry: Flexibility Service Provider")
    page.locator("#task-list").get_by_role("link", name="Upload your insurance certificate").click()
    visit(page, "Upload your insurance certificate")
    assert "The certificate has expired." in page.locator("#rejection").inner_text()
    screenshot(page, "entry-step-rejected")
    assert adhoc.answers.count() == 1
