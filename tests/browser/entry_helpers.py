"""Helpers for the market-entry journeys in Chromium (tests/browser/test_market_entry_journey.py).

What a user does in the browser lives in the test; what a worker process (``flexreg worker``)
would do in production is done here explicitly, from the test process, on the same database
as the live server: running the queued background tasks (malware scans, emails) and the
scheduler's periodic jobs at a moved clock (reminders, overdue notices, escalations).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from tests.browser.test_registration_journey import check_accessibility

# A real (tiny) PDF: uploads are checked by content, not by name.
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def pdf(tmp_path: Path, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(PDF)
    return str(path)


def arrive(page: Any, title: str, *, axe: bool = False) -> None:
    """We are on the page titled ``title`` (GOV.UK layout, scripts ran); axe-core if asked."""
    page.wait_for_load_state()
    assert page.title() == f"{title} – FlexReg", page.title()
    assert page.locator("main#main-content").count() == 1
    assert page.locator("body.govuk-frontend-supported").count() == 1
    if axe:
        check_accessibility(page)


def banner(page: Any) -> str:
    return str(page.locator(".govuk-notification-banner").first.inner_text())


# --- the participant's task list -------------------------------------------------------------


def task(page: Any, step: str, *, list_id: str = "task-list") -> Any:
    return page.locator(f'#{list_id} [data-step="{step}"]')


def task_status(page: Any, step: str, *, list_id: str = "task-list") -> str:
    """The status the user reads next to a step ("Completed", "Action needed", ...)."""
    status = task(page, step, list_id=list_id).locator(".govuk-task-list__status")
    return str(status.inner_text()).strip()


def task_hint(page: Any, step: str, *, list_id: str = "task-list") -> str:
    hint = task(page, step, list_id=list_id).locator(".govuk-task-list__hint")
    return str(hint.inner_text()).strip() if hint.count() else ""


def case_status(page: Any) -> str:
    return str(page.locator("#case-status").inner_text()).strip()


def open_step(page: Any, title: str, *, list_id: str = "task-list") -> None:
    page.locator(f"#{list_id}").get_by_role("link", name=title).click()
    arrive(page, title)


def upload(page: Any, title: str, file: str, then: str) -> None:
    """Open a document step from the task list, upload ``file`` and send it."""
    open_step(page, title)
    page.get_by_label("Upload a file").set_input_files(file)
    page.get_by_role("button", name="Upload and send").click()
    arrive(page, then)
    assert f"Your answer to “{title}” was sent for review" in banner(page), banner(page)


# --- signing in ------------------------------------------------------------------------------


def sign_in_with_code(
    page: Any, email: str, password: str, secret: str, then: str | None = None
) -> None:
    """Password, then the code from the authenticator app (TOTP enrolled beforehand)."""
    from tests.signin.helpers import totp_code

    page.goto("/sign-in/")
    arrive(page, "Sign in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()
    page.get_by_label("Code from your authenticator app").fill(totp_code(secret))
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()
    assert "/sign-in/" not in page.url and "/2fa/" not in page.url, page.url
    if then:
        arrive(page, then)


# --- the operator's back office --------------------------------------------------------------


def open_case(page: Any, participant_name: str) -> None:
    """From a back-office queue: open the (first) case of ``participant_name``."""
    # The link reads "<name>: open the case" (the last words visually hidden; Chromium puts a
    # space before them in the accessible name).
    name = re.compile(rf"^{re.escape(participant_name)}\s*: open the case$")
    page.locator("#queue-table").get_by_role("link", name=name).first.click()
    page.wait_for_load_state()


def review(page: Any, title: str, decision: str, reason: str = "") -> None:
    """On the back office's case page: review the answer waiting in the section ``title``."""
    section = page.get_by_role("region", name=title)
    section.get_by_label(decision, exact=True).check()
    if reason:
        section.get_by_label("Reason", exact=True).fill(reason)
    section.get_by_role("button", name="Record review").click()
    page.wait_for_load_state()
    verb = "Accepted" if decision == "Accept" else "Rejected"
    assert f"{verb}: {title}" in banner(page), banner(page)


# --- what a worker would do ------------------------------------------------------------------


def run_worker() -> None:
    """Run every queued background task once, as ``flexreg worker --batch`` does: the malware
    scans queued after uploads (no ClamAV in tests, so the scan marks files clean) and the
    emails queued by notifications (sent through the test's locmem backend: ``mail.outbox``).
    Tests do not run tasks by themselves: the task backend is the database queue."""
    from django.core.management import call_command

    call_command(
        "db_worker",
        batch=True,
        interval=0,
        startup_delay=False,
        reload=False,
        verbosity=0,
        queue_name="*",
    )


def move_time_to(now: dt.datetime) -> dict[str, int]:
    """The worker's scheduler runs at ``now`` (time moved by the test, never waited for); then
    the worker sends what the jobs queued. Returns what the reminders job sent."""
    from flexreg.core import scheduler

    results = scheduler.run_due(now=now)
    sent = results.get("entry.reminders")
    assert isinstance(sent, dict), f"entry.reminders did not run at {now}: {results}"
    run_worker()
    return sent


def emails_to(address: str, subject_contains: str) -> list[Any]:
    from django.core import mail

    return [
        m for m in mail.outbox if address.lower() in m.to and subject_contains in str(m.subject)
    ]


def link_in(body: str) -> str:
    found = re.search(r"https?://[^/\s]+(/participants/[^\s]+/entry/[^\s]+/)", body)
    assert found, body
    return found.group(1)
