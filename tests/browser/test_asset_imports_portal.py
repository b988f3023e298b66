"""Bulk registration in the portal in Chromium: a qualified FSP downloads the battery template,
uploads a small CSV written with its columns (good rows, a bad row, a row repeating an earlier
one, a row near another), watches the progress page (it refreshes itself) go from queued to
done once the import job has run, reads the counts and downloads the results; axe-core on
the upload page, the queued progress page and the finished one.

The upload's job is held back (django-tasks' dummy backend) so the queued page can be seen;
the test then runs it as a worker would (the task's ``call``), with the authenticity checks it
queues run at once (immediate backend; no checking service is configured in tests: skipped).

Reuses tests/browser's Playwright fixtures (Debian's Chromium, pytest-django's live server).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from conftest import organisation_payload
from flexreg.assets import selectors_imports
from flexreg.assets.models import Asset, AssetImport, AssetStatus
from flexreg.assets.tasks_imports import run_asset_import
from flexreg.assets.tests.test_imports import DUMMY, IMMEDIATE, battery, mpan, postcode
from flexreg.core.acting import Acting
from flexreg.participants import services as participants
from flexreg.participants.models import Membership
from tests.browser.test_assets_portal import _sign_in
from tests.browser.test_registration_journey import visit
from tests.signin import helpers as signin_helpers

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _visit_refreshing(page: Any, title: str) -> None:
    """``visit`` on a page that reloads itself every few seconds (the HTTP Refresh header):
    should a reload land while axe-core runs, check the reloaded page instead."""
    from playwright.sync_api import Error

    for attempt in range(3):
        try:
            visit(page, title)
            return
        except Error as exc:
            if attempt == 2 or "context was destroyed" not in str(exc):
                raise
            page.wait_for_load_state()


def _fsp(registered: Any) -> tuple[Any, str]:
    """A user of a verified organisation acting as its qualified FSP role, with its TOTP
    secret."""
    user, _body, _ = registered(organisation_payload(requested_roles=["FSP"]))
    membership = Membership.objects.select_related("participant_role").get(user=user)
    participants.set_role_qualified(Acting.system("t"), membership.participant_role, True, "t")
    signin_helpers.verify_email(user)
    return user, signin_helpers.enrol_totp(user)


def _rows(template_header: list[str]) -> list[dict[str, str]]:
    """Six rows in the template's columns: three good batteries, a mistyped MPAN (row 4), the
    serial number of row 2 written differently (row 5), and a battery at row 3's postcode of
    nearly its capacity (row 6: a possible duplicate)."""
    typo = mpan("10", 4)
    rows = [
        battery(1),
        battery(2),
        battery(3),
        battery(4, **{"metering.import_mpan": typo[:-1] + str((int(typo[-1]) + 1) % 10)}),
        battery(5, serial_number="sn 000002"),
        battery(6, **{"site.postcode": postcode(3), "capacity.installed_kw": "5.2"}),
    ]
    for row in rows:
        assert set(row) <= set(template_header), set(row) - set(template_header)
    return [{column: row.get(column, "") for column in template_header} for row in rows]


def _csv(header: list[str], rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def test_bulk_upload_in_the_portal(
    new_page: Any, registered: Any, settings: Any, tmp_path: Path
) -> None:
    settings.TASKS = DUMMY  # the upload's job waits until the test runs it
    user, secret = _fsp(registered)

    page = new_page()
    _sign_in(page, user, secret)
    page.goto("/assets/")
    page.get_by_role("link", name="Upload a file of assets").click()
    visit(page, "Upload a file of assets")

    # The battery template's columns (the template link itself: see the test below).
    header = list(selectors_imports.template_columns("BESS", role="FSP")[1])
    assert page.get_by_role("link", name="Battery energy storage system template").count() == 1

    # Nothing chosen: the error is summarised and linked to the file input.
    page.get_by_role("button", name="Upload and register").click()
    visit(page, "Error: Upload a file of assets")
    page.locator(".govuk-error-summary").get_by_role("link").first.click()
    assert page.evaluate("document.activeElement.id") == "file"

    upload = tmp_path / "batteries.csv"
    upload.write_bytes(_csv(header, _rows(header)))
    page.get_by_label("Upload a file").set_input_files(str(upload))
    page.get_by_role("button", name="Upload and register").click()
    _visit_refreshing(page, "Upload of batteries.csv")
    batch = AssetImport.objects.get()
    assert page.url.endswith(f"/assets/imports/{batch.public_id}/")
    banner = page.locator(".govuk-notification-banner").inner_text()
    assert "File uploaded: 6 assets to register" in banner
    assert page.locator("#import-status").inner_text().strip() == "Queued"
    assert "0 of 6 rows done (0%)" in page.locator("main").inner_text()
    assert page.locator("#results-link").count() == 0  # nothing done yet

    # A worker runs the job; the page, refreshing itself, shows it done.
    settings.TASKS = IMMEDIATE  # the checks each chunk queues run at once
    outcome = run_asset_import.call(batch.pk)
    assert outcome["status"] == "done", outcome
    # Within a few refreshes (every 3 s), without a click.
    expect(page.locator("#import-status")).to_have_text("Done", timeout=15_000)
    _visit_refreshing(page, "Upload of batteries.csv")
    assert "6 of 6 rows done (100%)" in page.locator("main").inner_text()
    counts = {
        key: page.locator(f"#{key}").inner_text() for key in ("accepted", "rejected", "flagged")
    }
    assert counts == {"accepted": "3", "rejected": "2", "flagged": "1"}
    assert page.locator("#validation-verified").inner_text() == "3"
    assert page.locator("#validation-query").inner_text() == "1"  # the possible duplicate

    with page.expect_download() as results_download:
        page.get_by_role("link", name="Download the results (CSV)").click()
    results = results_download.value
    assert results.suggested_filename == f"asset-import-{batch.public_id}.csv"
    rows = list(csv.DictReader(io.StringIO(Path(results.path()).read_text(encoding="utf-8"))))
    assert [(r["row"], r["outcome"]) for r in rows] == [
        ("1", "accepted"),
        ("2", "accepted"),
        ("3", "accepted"),
        ("4", "rejected"),
        ("5", "rejected"),
        ("6", "flagged"),
    ]
    registered_ids = {a.asset_id: a.status for a in Asset.objects.filter(import_batch=batch)}
    for r in rows[:3]:
        assert r["asset_id"] in registered_ids and r["errors"] == ""
    for r in rows[3:5]:
        assert r["asset_id"] == "" and r["errors"]
    assert "metering.import_mpan" in rows[3]["errors"]
    assert "row 2" in rows[4]["errors"].lower()
    # Registered, and flagged against row 3's asset for the central operator.
    assert rows[5]["asset_id"] in registered_ids
    assert "[asset.possible_duplicate]" in rows[5]["errors"]
    assert rows[2]["asset_id"] in rows[5]["errors"]
    assert registered_ids[rows[5]["asset_id"]] == AssetStatus.QUERY

    page.get_by_role("link", name="Your assets").click()
    visit(page, "Your assets")
    assert rows[0]["asset_id"] in page.locator("#assets-table").inner_text()


def test_the_upload_page_s_template_link_downloads_the_header_row(
    new_page: Any, registered: Any
) -> None:
    user, secret = _fsp(registered)
    page = new_page()
    _sign_in(page, user, secret)
    page.goto("/assets/imports/new/")
    visit(page, "Upload a file of assets")
    link = page.get_by_role("link", name="Battery energy storage system template")
    # The browser's own request, with the session's cookies (the API would want a token).
    answer = page.request.get(link.get_attribute("href"))
    assert answer.status == 200, (answer.status, answer.text()[:300])
    with page.expect_download() as template_download:
        link.click()
    template = template_download.value
    assert template.suggested_filename == "flexreg-assets-bess.csv"
    header_text = Path(template.path()).read_text(encoding="utf-8")
    header = next(csv.reader(io.StringIO(header_text)))
    assert header == list(selectors_imports.template_columns("BESS", role="FSP")[1])
    assert header_text.count("\n") == 1  # the header row only
