"""Managed market entry end to end in Chromium (issue 4's "Done when").

1. An organisation (Brightwatt, company 99000001, declarant Jane Smith) registers in the portal
   for the Flexibility Service Provider role and is verified at once. Jane uploads the insurance
   certificate and the framework agreement, gives a technical contact, and her own system calls
   the API connectivity test with a token. The central operator rejects the certificate; Jane
   sees why but leaves it. Time moves: a reminder before the new due date, an overdue notice,
   then an escalation in the operator's queue. Jane resubmits, the operator accepts it and
   qualifies the role in the final review.
2. A private individual (Alex Householder) registers for the FSP role, proves their identity
   with GOV.UK One Login (the test identity provider), answers the steps; the operator rejects
   the framework agreement (resubmitted) and asks for something else with a due date, which
   is reminded, goes overdue and is escalated before Alex answers; the operator qualifies.

The browser does what a person does; what a worker process would do (run queued tasks, run the
scheduler's jobs at a later time) the test does explicitly (``entry_helpers``), on the same
database as the live server. Time is moved by passing a later ``now`` to the scheduler.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from flexreg.accounts.oidc_config import ProviderConfig
from flexreg.devtools import oidc_idp
from tests.browser import entry_helpers as h
from tests.browser import test_registration_journey as registration
from tests.browser.test_registration_journey import (
    check_accessibility,
    create_account,
    participant_id_of,
    register_organisation,
    set_up_totp,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FSP = "Flexibility Service Provider"
TASKS = f"Market entry: {FSP}"
INSURANCE = "Upload your insurance certificate"
FRAMEWORK = "Upload the signed framework agreement"
CONTACT = "Tell us your technical contact"
CONNECTIVITY = "Test your connection to the FlexReg API"


def _password(pytestconfig: pytest.Config) -> str:
    root = pytestconfig.pluginmanager.get_plugin(str(pytestconfig.rootpath / "conftest.py"))
    assert root is not None
    return str(root.PASSWORD)


@pytest.fixture(autouse=True)
def _registration_password(pytestconfig: pytest.Config) -> None:
    """``create_account`` uses the root conftest's password (its module sets it per test)."""
    registration.PASSWORD = _password(pytestconfig)


@pytest.fixture
def operator_signed_in(operator: Any, pytestconfig: pytest.Config) -> Any:
    """sign_in(page): the central operator (TOTP enrolled, email verified) signs in."""
    from tests.signin.helpers import enrol_totp, verify_email

    user = operator[0]
    verify_email(user)
    secret = enrol_totp(user)
    password = _password(pytestconfig)

    def sign_in(page: Any) -> None:
        h.sign_in_with_code(page, user.email, password, secret)

    return sign_in


@pytest.fixture
def onelogin(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[oidc_idp.TestIdP]:
    """GOV.UK One Login, played by the Python test identity provider (real OIDC over HTTP, a
    signed coreIdentityJWT at P2), configured as FlexReg's only provider."""
    private_pem, public_pem = oidc_idp.private_key_pair()
    idp = oidc_idp.start_idp("/onelogin")
    idp.register_client("flexreg-onelogin", public_key_pem=public_pem)
    idp.user = {"sub": "urn:fdc:gov.uk:2022:alex-householder", "email": "alex@home.example"}
    monkeypatch.setenv("FLEXREG_TEST_ONELOGIN_KEY", private_pem)
    config = ProviderConfig(
        id="onelogin",
        name="GOV.UK One Login",
        kind="onelogin",
        issuer=idp.issuer,
        client_id="flexreg-onelogin",
        token_auth_method="private_key_jwt",
        private_key_env="FLEXREG_TEST_ONELOGIN_KEY",
        private_key_id="flexreg-1",
        scopes=("openid", "email"),
        vtr=("Cl.Cm",),
        identity_vtr=("Cl.Cm.P2",),
        identity_issuer=idp.identity_issuer,
        identity_did_url=idp.identity_did_url,
    )
    settings.OIDC_PROVIDERS = [config]
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            "provider_class": "flexreg.accounts.oidc.FlexRegOIDCProvider",
            "APPS": [config.allauth_app()],
        }
    }
    yield idp
    idp.stop()


def _request(participant_id: str, step: str) -> Any:
    """The request behind a step, read only to know its due date (to move the clock to)."""
    from flexreg.entry.models import InformationRequest

    return InformationRequest.objects.get(
        case__participant_role__participant__participant_id=participant_id,
        case__participant_role__role="FSP",
        step_key=step,
    )


def _day(when: dt.datetime) -> str:
    from django.utils import timezone

    return timezone.localtime(when).strftime("%-d %B %Y")


def _inbox_subjects(page: Any) -> list[str]:
    page.goto("/inbox/")
    h.arrive(page, "Your notifications")
    titles = page.locator(".govuk-summary-card__title").all_inner_texts()
    return [re.sub(r"^Unread\s+", "", t.strip()) for t in titles]


# --- 1. an FSP organisation --------------------------------------------------------------------


def test_fsp_organisation_from_registration_to_qualified(
    new_page: Any, operator_signed_in: Any, live_server: Any, tmp_path: Path
) -> None:
    from flexreg.accounts.services import issue_token
    from flexreg.core.acting import Acting
    from flexreg.participants.models import Membership

    legal_name = "Brightwatt Flex Limited (Sample)"
    jane_email = "jane@brightwatt.example"

    # --- Jane registers Brightwatt; Companies House and her declaration verify it at once ----
    page = new_page()
    create_account(page, "Jane Smith", jane_email)
    register_organisation(
        page,
        legal_name=legal_name,
        company_number="99000001",
        declarant="Jane Smith",
        roles=[FSP],
    )
    pid = participant_id_of(page)
    assert page.locator("#participant-status").inner_text() == "Active"

    page.get_by_role("link", name="Market entry").click()
    h.arrive(page, f"Market entry: {legal_name}", axe=True)
    page.get_by_role("link", name=f"View tasks for {FSP}").click()
    h.arrive(page, TASKS, axe=True)
    assert h.task_status(page, "organisation_verified") == "Completed"
    assert h.task_status(page, "insurance_certificate") == "Not started"
    assert h.task_status(page, "framework_agreement") == "Not started"
    assert h.task_status(page, "technical_contact") == "Not started"
    assert h.task_status(page, "api_connectivity") == "In progress"
    assert "Waiting for your system to call the FlexReg API" in h.task_hint(
        page, "api_connectivity"
    )
    assert h.case_status(page) == "In progress"
    assert page.locator("#progress").inner_text() == "You have completed 1 of 5 steps."

    # --- the steps: two uploads, a form, and a real API call from "her system" ----------------
    h.upload(page, INSURANCE, h.pdf(tmp_path, "insurance-2025.pdf"), TASKS)
    h.upload(page, FRAMEWORK, h.pdf(tmp_path, "framework-signed.pdf"), TASKS)
    assert h.task_status(page, "insurance_certificate") == "In progress"
    assert "Waiting for review" in h.task_hint(page, "insurance_certificate")

    h.open_step(page, CONTACT)
    page.get_by_label("Full name").fill("Tech Desk")
    page.get_by_label("Email address").fill("tech@brightwatt.example")
    page.get_by_label("Telephone number").fill("+44 20 7946 0001")
    page.get_by_role("button", name="Send your answer").click()
    h.arrive(page, TASKS)
    assert f"“{CONTACT}” is complete" in h.banner(page)
    assert h.task_status(page, "technical_contact") == "Completed"

    h.open_step(page, CONNECTIVITY)
    example = page.locator("#connectivity-example").inner_text()
    url = re.search(r"https?://\S+/api/v1/entry/connectivity-test", example)
    assert url and url.group(0).startswith(live_server.url), example
    membership = Membership.objects.get(
        user__email=jane_email, participant_role__participant__participant_id=pid
    )
    _, token = issue_token(
        Acting.system("tests"), membership.user, name="Dispatch system", membership=membership
    )
    called = httpx.post(
        url.group(0),
        headers={"Authorization": f"Bearer {token}", "User-Agent": "brightwatt-dispatch/1.0"},
        timeout=10,
    )
    assert called.status_code == 200, called.text
    assert called.json()["participant_id"] == pid
    page.reload()
    h.arrive(page, CONNECTIVITY)
    assert "This step is complete." in page.locator("main").inner_text()
    page.get_by_role("link", name="Back to the task list").first.click()
    h.arrive(page, TASKS)
    assert h.task_status(page, "api_connectivity") == "Completed"
    assert h.case_status(page) == "Submitted"  # everything sent: with the central operator

    # A worker scans the uploads (no ClamAV configured in tests: they are marked clean).
    h.run_worker()

    # --- the central operator rejects the certificate, accepts the agreement -------------------
    operator_page = new_page()
    operator_signed_in(operator_page)
    operator_page.get_by_role("navigation", name="Menu").get_by_role(
        "link", name="Market entry"
    ).click()
    h.arrive(operator_page, "Market entry queues", axe=True)
    assert operator_page.locator("#queue-reviews-total").inner_text() == "2"
    operator_page.locator("main table").get_by_role("link", name="Information reviews").click()
    h.arrive(operator_page, "Information reviews", axe=True)
    queue = operator_page.locator("#queue-table").inner_text()
    assert INSURANCE in queue and FRAMEWORK in queue and "insurance-2025.pdf" in queue
    h.open_case(operator_page, legal_name)
    h.arrive(operator_page, f"{legal_name} (FSP): market entry", axe=True)
    reason = "The certificate expired on 31 March. Upload the renewed certificate."
    h.review(operator_page, INSURANCE, "Reject: ask for it again", reason)
    h.review(operator_page, FRAMEWORK, "Accept")

    # --- Jane sees "Action needed" and why ---------------------------------------------------
    page.reload()
    h.arrive(page, TASKS, axe=True)
    assert h.task_status(page, "insurance_certificate") == "Action needed"
    assert "Your answer was not accepted" in h.task_hint(page, "insurance_certificate")
    assert h.task_status(page, "framework_agreement") == "Completed"
    assert h.case_status(page) == "Changes requested"
    assert INSURANCE in page.locator("#next-step").inner_text()
    h.open_step(page, INSURANCE)
    check_accessibility(page)
    assert page.locator("#rejection-reason").inner_text() == reason
    due = _request(pid, "insurance_certificate").due_at
    assert _day(due) in page.locator("#due-date").inner_text()
    subjects = _inbox_subjects(page)
    assert f"{INSURANCE}: please look again" in subjects
    assert f"{FRAMEWORK}: accepted" in subjects

    # --- time moves: a reminder the day before the due date ----------------------------------
    sent = h.move_time_to(due - dt.timedelta(hours=12))
    assert sent == {"reminder": 1, "overdue": 0, "escalation": 0}, sent
    reminder = f"Reminder: {INSURANCE} is due on {_day(due)}"
    subjects = _inbox_subjects(page)
    assert subjects[0] == reminder, subjects
    check_accessibility(page)
    mails = h.emails_to(jane_email, reminder)
    assert len(mails) == 1, [m.subject for m in h.emails_to(jane_email, "")]
    assert h.link_in(mails[0].body) == f"/participants/{pid}/entry/FSP/"
    assert "(1 day from now)" in mails[0].body

    # The same job running again (a restart, a second worker) sends nothing twice.
    assert h.move_time_to(due - dt.timedelta(hours=6)) == {
        "reminder": 0,
        "overdue": 0,
        "escalation": 0,
    }

    # --- past the due date: an overdue notice; five days on: escalated to the operator -------
    assert h.move_time_to(due + dt.timedelta(hours=1))["overdue"] == 1
    overdue = f"Overdue: {INSURANCE} was due on {_day(due)}"
    assert _inbox_subjects(page)[0] == overdue
    assert len(h.emails_to(jane_email, overdue)) == 1  # email-mandatory under the rules
    assert h.move_time_to(due + dt.timedelta(days=5, hours=1))["escalation"] == 1

    operator_page.goto("/operator/entry/queues/escalations/")
    h.arrive(operator_page, "Escalations", axe=True)
    escalated = operator_page.locator("#queue-table").inner_text()
    assert legal_name in escalated and INSURANCE in escalated
    operator_subjects = _inbox_subjects(operator_page)
    assert f"Overdue 5 days: {legal_name} (FSP), {INSURANCE}" in operator_subjects
    assert h.emails_to("operator@flexreg.test", "Overdue 5 days")

    # --- Jane follows the reminder from her inbox and resubmits ------------------------------
    page.goto("/inbox/")
    h.arrive(page, "Your notifications")
    page.get_by_role("button", name=f"Open {reminder}").click()
    h.arrive(page, TASKS)
    h.upload(page, INSURANCE, h.pdf(tmp_path, "insurance-2026.pdf"), TASKS)
    assert h.task_status(page, "insurance_certificate") == "In progress"
    h.run_worker()

    operator_page.goto("/operator/entry/queues/escalations/")
    h.arrive(operator_page, "Escalations")
    assert operator_page.locator("#queue-empty").is_visible()

    # --- the operator accepts it and qualifies the role in the final review ------------------
    operator_page.goto("/operator/entry/queues/reviews/")
    h.arrive(operator_page, "Information reviews")
    assert "insurance-2026.pdf" in operator_page.locator("#queue-table").inner_text()
    h.open_case(operator_page, legal_name)
    h.arrive(operator_page, f"{legal_name} (FSP): market entry")
    h.review(operator_page, INSURANCE, "Accept")
    assert "ready for the final decision" in operator_page.locator("#case-status").inner_text()
    operator_page.goto("/operator/entry/queues/cases/")
    h.arrive(operator_page, "Cases awaiting a decision", axe=True)
    h.open_case(operator_page, legal_name)
    h.arrive(operator_page, f"{legal_name} (FSP): market entry")
    operator_page.get_by_label("Qualify the role").check()
    operator_page.get_by_label("Reason for your decision").fill(
        "Every step accepted; insurance renewed to 2026."
    )
    operator_page.get_by_role("button", name="Record decision").click()
    h.arrive(operator_page, f"{legal_name} (FSP): market entry")
    assert f"Qualified: {legal_name} (FSP)" in h.banner(operator_page)

    # --- Jane's role is qualified --------------------------------------------------------------
    page.goto(f"/participants/{pid}/entry/FSP/")
    h.arrive(page, TASKS, axe=True)
    assert h.case_status(page) == "Qualified"
    assert page.locator("#progress").inner_text() == "You have completed 5 of 5 steps."
    for step in ("insurance_certificate", "framework_agreement", "api_connectivity"):
        assert h.task_status(page, step) == "Completed", step
    assert _inbox_subjects(page)[0] == "Your FSP role is qualified"
    h.run_worker()
    assert len(h.emails_to(jane_email, "Your FSP role is qualified")) == 1


# --- 2. a private individual -------------------------------------------------------------------


def test_private_individual_from_registration_to_qualified(
    new_page: Any, operator_signed_in: Any, onelogin: oidc_idp.TestIdP, tmp_path: Path
) -> None:
    name = "Alex Householder"
    alex_email = "alex@home.example"

    # --- Alex registers as a private individual for the FSP role -----------------------------
    page = new_page()
    create_account(page, name, alex_email)
    page.get_by_role("link", name="register as a private individual").click()
    h.arrive(page, "Register as a private individual", axe=True)
    page.get_by_label("Given name").fill("Alex")
    page.get_by_label("Family name").fill("Householder")
    page.get_by_label("Address line 1").fill("2 Home Lane")
    page.get_by_label("Town or city").fill("Leeds")
    page.get_by_label("Postcode").fill("LS1 1AA")
    page.get_by_label("Email address").fill(alex_email)
    page.get_by_label("Phone number").fill("+44 7911 123457")
    page.get_by_label(FSP).check()
    page.get_by_role("button", name="Register").click()
    h.arrive(page, name)
    assert "Registered: your Participant ID is" in h.banner(page)
    pid = participant_id_of(page)
    assert page.locator("#participant-status").inner_text() == "Pending verification"

    page.goto(f"/participants/{pid}/entry/FSP/")
    h.arrive(page, TASKS, axe=True)
    assert h.task_status(page, "identity_proven") == "In progress"
    assert h.task_status(page, "insurance_certificate") == "Cannot start yet"
    assert "You can start this after: Prove your identity" in h.task_hint(
        page, "insurance_certificate"
    )
    assert h.task_status(page, "technical_contact") == "Not started"
    assert h.task(page, "api_connectivity").count() == 0  # organisations only

    # --- identity proven with GOV.UK One Login (the test identity provider, P2) --------------
    page.goto("/my-access/")
    page.wait_for_load_state()
    page.get_by_role("button", name="Prove your identity with GOV.UK One Login").click()
    page.wait_for_url(re.compile(r"/(participants/[^/?]+|accounts/2fa/totp/activate)/(\?.*)?$"))
    if page.title().startswith("Set up an authenticator app"):
        set_up_totp(page, name)  # now an Authorised Person after a password sign-in
    h.arrive(page, name)
    assert page.locator("#participant-status").inner_text() == "Active"
    assert onelogin.requests[-1]["vtr"] == '["Cl.Cm.P2"]'

    page.goto(f"/participants/{pid}/entry/FSP/")
    h.arrive(page, TASKS)
    assert h.task_status(page, "identity_proven") == "Completed"
    assert h.task_status(page, "insurance_certificate") == "Not started"

    h.upload(page, INSURANCE, h.pdf(tmp_path, "home-insurance.pdf"), TASKS)
    h.upload(page, FRAMEWORK, h.pdf(tmp_path, "framework-unsigned.pdf"), TASKS)
    h.open_step(page, CONTACT)
    page.get_by_label("Full name").fill("Alex Householder")
    page.get_by_label("Email address").fill(alex_email)
    page.get_by_label("Telephone number").fill("+447911123457")
    page.get_by_role("button", name="Send your answer").click()
    h.arrive(page, TASKS)
    h.run_worker()  # the malware scan of both uploads

    # --- the operator rejects the agreement and asks for something else, due in 5 days ------
    operator_page = new_page()
    operator_signed_in(operator_page)
    operator_page.goto("/operator/entry/queues/reviews/")
    h.arrive(operator_page, "Information reviews")
    h.open_case(operator_page, name)
    h.arrive(operator_page, f"{name} (FSP): market entry", axe=True)
    assert "individual" in operator_page.locator("#case-summary").inner_text()
    reason = "The agreement is not signed. Sign page 4 and upload it again."
    h.review(operator_page, FRAMEWORK, "Reject: ask for it again", reason)
    h.review(operator_page, INSURANCE, "Accept")
    operator_page.get_by_role("link", name="Ask for something else").click()
    h.arrive(operator_page, f"Ask {name} for something", axe=True)
    asked = "Tell us your battery's make and model"
    operator_page.get_by_label("What do you need?").fill(asked)
    operator_page.get_by_label("Why do you need it?").fill(
        "We check that home batteries are on the approved device list."
    )
    operator_page.get_by_label("Write a text answer").check()
    operator_page.get_by_label("Days to answer").fill("5")
    operator_page.get_by_role("button", name="Send the request").click()
    h.arrive(operator_page, f"{name} (FSP): market entry")
    assert f"Request raised: {asked}" in h.banner(operator_page)

    # --- Alex resubmits the signed agreement; the operator's request waits -------------------
    page.reload()
    h.arrive(page, TASKS, axe=True)
    assert h.task_status(page, "framework_agreement") == "Action needed"
    assert h.task_status(page, "adhoc-1", list_id="request-list") == "Action needed"
    h.open_step(page, FRAMEWORK)
    assert page.locator("#rejection-reason").inner_text() == reason
    page.get_by_label("Upload a file").set_input_files(h.pdf(tmp_path, "framework-signed.pdf"))
    page.get_by_role("button", name="Upload and send").click()
    h.arrive(page, TASKS)
    assert h.task_status(page, "framework_agreement") == "In progress"
    h.run_worker()

    # --- time moves: a reminder, then overdue and escalated (lighter: one jump) -------------
    due = _request(pid, "adhoc-1").due_at
    assert h.move_time_to(due - dt.timedelta(hours=12))["reminder"] == 1
    assert h.move_time_to(due + dt.timedelta(days=5, hours=1)) == {
        "reminder": 0,
        "overdue": 1,
        "escalation": 1,
    }
    subjects = _inbox_subjects(page)
    check_accessibility(page)
    assert f"Reminder: {asked} is due on {_day(due)}" in subjects
    assert f"Overdue: {asked} was due on {_day(due)}" in subjects
    assert h.emails_to(alex_email, f"Reminder: {asked}")
    assert h.emails_to(alex_email, f"Overdue: {asked}")

    operator_page.goto("/operator/entry/queues/escalations/")
    h.arrive(operator_page, "Escalations")
    escalated = operator_page.locator("#queue-table").inner_text()
    assert name in escalated and asked in escalated

    # --- Alex answers; the operator accepts everything and qualifies -------------------------
    page.goto(f"/participants/{pid}/entry/FSP/")
    h.arrive(page, TASKS)
    h.open_step(page, asked, list_id="request-list")
    page.get_by_label("Your answer").fill("GivEnergy All in One, 13.5 kWh, installed 2024.")
    page.get_by_role("button", name="Send your answer").click()
    h.arrive(page, TASKS)
    assert h.task_status(page, "adhoc-1", list_id="request-list") == "In progress"

    operator_page.goto("/operator/entry/queues/escalations/")
    h.arrive(operator_page, "Escalations")
    assert operator_page.locator("#queue-empty").is_visible()
    operator_page.goto("/operator/entry/queues/reviews/")
    h.arrive(operator_page, "Information reviews")
    h.open_case(operator_page, name)
    h.arrive(operator_page, f"{name} (FSP): market entry")
    h.review(operator_page, FRAMEWORK, "Accept")
    h.review(operator_page, asked, "Accept")
    operator_page.get_by_label("Qualify the role").check()
    operator_page.get_by_label("Reason for your decision").fill("Identity proven; all accepted.")
    operator_page.get_by_role("button", name="Record decision").click()
    h.arrive(operator_page, f"{name} (FSP): market entry")
    assert f"Qualified: {name} (FSP)" in h.banner(operator_page)

    page.reload()
    h.arrive(page, TASKS, axe=True)
    assert h.case_status(page) == "Qualified"
    assert h.task_status(page, "framework_agreement") == "Completed"
    assert h.task_status(page, "adhoc-1", list_id="request-list") == "Completed"
    assert _inbox_subjects(page)[0] == "Your FSP role is qualified"
