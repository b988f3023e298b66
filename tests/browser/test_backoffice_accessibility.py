"""The back office's pages in Chromium, each checked with axe-core: the queues (with rows, filters
and the bulk form), the dashboard, the case list, the case page with its review and decision
forms (and their errors), the ad hoc request and cancel pages.

Reuses tests/browser's Playwright fixtures (Debian's Chromium, pytest-django's live server).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from conftest import PASSWORD, organisation_payload
from flexreg.accounts.acting import acting_for
from flexreg.entry import services
from flexreg.entry.models import Document, EntryCase, InformationRequest
from flexreg.participants.models import Membership
from tests.browser.test_registration_journey import screenshot, visit
from tests.signin import helpers as signin_helpers

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page: Any, user: Any, secret: str) -> None:
    page.goto("/sign-in/")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()
    page.get_by_label("Code from your authenticator app").fill(signin_helpers.totp_code(secret))
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()


def test_back_office_pages_are_accessible(
    new_page: Any,
    registered: Any,
    operator: Any,
) -> None:
    user, body, _ = registered(organisation_payload(requested_roles=["FSP"]))
    case = EntryCase.objects.select_related("participant_role__participant").get(
        participant_role__participant__participant_id=body["participant_id"]
    )
    name = case.participant_role.participant.legal_name
    member = Membership.objects.get(user=user, participant_role=case.participant_role)
    me = acting_for(user, member, via="session")
    doc = Document(
        participant=case.participant_role.participant,
        original_name="insurance.pdf",
        content_type="application/pdf",
        size=9,
        sha256="b" * 64,
        scan_status=Document.Scan.CLEAN,
        uploaded_by=user,
    )
    doc.file.save("insurance.pdf", ContentFile(b"%PDF-1.4\n"), save=False)
    doc.save()
    services.answer(me, case.requests.get(step_key="insurance_certificate"), document=doc)
    InformationRequest.objects.filter(case=case, step_key="framework_agreement").update(
        escalated_at=timezone.now(), due_at=timezone.now() - dt.timedelta(days=6)
    )
    op = acting_for(operator[0], operator[1], via="session")
    adhoc = services.raise_request(
        op, case, title="Upload your accounts", why="Solvency.", kind="document", due_days=5
    )

    operator_user = operator[0]
    signin_helpers.verify_email(operator_user)
    secret = signin_helpers.enrol_totp(operator_user)
    page = new_page()
    _sign_in(page, operator_user, secret)

    page.goto("/operator/entry/")
    visit(page, "Market entry queues")
    page.get_by_role("link", name="Information reviews").first.click()
    visit(page, "Information reviews")
    assert name in page.locator("#queue-table").inner_text()
    screenshot(page, "backoffice-reviews")
    page.get_by_label("Participant name or ID").fill("brightwatt")
    page.get_by_role("button", name="Apply filters").click()
    visit(page, "Information reviews")
    page.goto("/operator/entry/queues/escalations/")
    visit(page, "Escalations")
    page.goto("/operator/entry/queues/cases/")
    visit(page, "Cases awaiting a decision")
    page.goto("/operator/entry/dashboard/")
    visit(page, "Market entry dashboard")
    screenshot(page, "backoffice-dashboard")
    page.goto("/operator/entry/cases/")
    visit(page, "All market-entry cases")

    page.get_by_role("link", name=name).click()
    visit(page, f"{name} (FSP): market entry")
    screenshot(page, "backoffice-case")
    # A rejection without a reason: the error summary links to the field.
    page.get_by_label("Reject: ask for it again").check()
    page.get_by_role("button", name="Record review").click()
    visit(page, f"Error: {name} (FSP): market entry")
    page.locator(".govuk-error-summary").get_by_role("link").first.click()
    assert page.evaluate("document.activeElement.tagName") == "TEXTAREA"
    page.get_by_role("button", name="Record decision").click()
    visit(page, f"Error: {name} (FSP): market entry")

    page.goto(f"/operator/entry/cases/{case.public_id}/requests/new/")
    visit(page, f"Ask {name} for something")
    page.get_by_role("button", name="Send the request").click()
    visit(page, f"Error: Ask {name} for something")
    page.goto(f"/operator/entry/requests/{adhoc.public_id}/cancel/")
    visit(page, "Cancel the request: Upload your accounts")
