"""The central operator's queue of assets waiting for a decision in Chromium: from the
navigation to the queue (its rows summarising failing checks and possible duplicates), the
filter, an asset's page with the decision form, an error (nothing chosen) with its summary
linked to the fields, then the decision and the queue again with its banner; axe-core on
every page.

Reuses tests/browser's Playwright fixtures (Debian's Chromium, pytest-django's live server).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from conftest import organisation_payload
from flexreg.assets.models import AssetCheck, AssetStatus, DuplicateFlag
from flexreg.assets.tests.helpers_authenticity import make_asset
from flexreg.participants.models import Participant
from tests.browser.test_assets_portal import _sign_in
from tests.browser.test_registration_journey import visit
from tests.signin import helpers as signin_helpers

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _listed(page: Any) -> list[str]:
    """The Asset IDs of the queue's rows, in order."""
    links = page.locator("#queue-table").get_by_role("link", name="open the asset to decide")
    return [text.split(":")[0].strip() for text in links.all_inner_texts()]


def test_the_operator_decides_an_asset_in_query(
    new_page: Any, registered: Any, operator: Any
) -> None:
    _user, body, _ = registered(organisation_payload(requested_roles=["FSP"]))
    fsp = Participant.objects.get(participant_id=body["participant_id"])
    long_ago = timezone.now() - dt.timedelta(days=3)
    failing = make_asset(
        fsp,
        name="Garage battery",
        status=AssetStatus.QUERY,
        status_reason="Authenticity checks did not pass:\n- Meter point registry: not found",
        created_at=long_ago,
    )
    AssetCheck.objects.create(
        asset=failing,
        validator="meter_point",
        status=AssetCheck.Status.NOT_FOUND,
        outcome={"service": "meter point registry", "detail": "No such meter point."},
        finished_at=long_ago,
    )
    verified = make_asset(fsp, status=AssetStatus.VERIFIED, created_at=long_ago)
    flagged = make_asset(
        fsp,
        name="Shed battery",
        status=AssetStatus.QUERY,
        created_at=long_ago + dt.timedelta(minutes=5),
    )
    DuplicateFlag.objects.create(asset=flagged, candidate=verified, rule="near_location")
    stuck = make_asset(
        fsp,
        status=AssetStatus.PENDING_VALIDATION,
        created_at=long_ago - dt.timedelta(days=1),
        updated_at=long_ago - dt.timedelta(days=1),
    )

    user, _membership = operator
    signin_helpers.verify_email(user)
    secret = signin_helpers.enrol_totp(user)
    page = new_page()
    _sign_in(page, user, secret)
    page.get_by_role("link", name="Assets in query").click()
    visit(page, "Assets waiting for a decision")
    table = page.locator("#queue-table")
    ids = [stuck.asset_id, failing.asset_id, flagged.asset_id]
    assert _listed(page) == ids
    text = table.inner_text()
    assert "Meter point registry: Not found by the service. No such meter point." in text
    assert f"{verified.asset_id} (near location)" in text
    assert "Stuck in validation" in text

    page.get_by_label("Why the asset waits").select_option("duplicate")
    page.get_by_role("button", name="Apply filter").click()
    visit(page, "Assets waiting for a decision")
    assert _listed(page) == [flagged.asset_id]
    page.get_by_role("link", name="Clear filter").click()
    visit(page, "Assets waiting for a decision")

    page.locator("#queue-table").get_by_role("link", name=failing.asset_id).click()
    visit(page, f"Asset {failing.asset_id}")
    assert "not found" in page.locator("#status-reasons").inner_text()
    page.get_by_role("button", name="Record the decision").click()
    visit(page, f"Error: Decide on asset {failing.asset_id}")
    summary = page.locator(".govuk-error-summary")
    assert summary.get_by_role("link").all_inner_texts() == [
        "Select verify or reject",
        "Enter the reason (it is kept with the asset's history).",
    ]
    summary.get_by_role("link", name="Select verify or reject").click()
    assert page.evaluate("document.activeElement.id") == "decision"
    summary.get_by_role(
        "link", name="Enter the reason (it is kept with the asset's history)."
    ).click()
    assert page.evaluate("document.activeElement.id") == "reason"

    page.get_by_label("Verify").check()
    page.get_by_label("Reason").fill("Meter point confirmed by the DNO by phone")
    page.get_by_role("button", name="Record the decision").click()
    visit(page, "Assets waiting for a decision")
    banner = page.locator(".govuk-notification-banner").inner_text()
    assert f"Asset {failing.asset_id} verified" in banner
    assert failing.asset_id not in page.locator("#queue-table").inner_text()
    failing.refresh_from_db()
    assert failing.status == AssetStatus.VERIFIED
