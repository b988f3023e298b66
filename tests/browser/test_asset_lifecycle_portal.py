"""An asset's lifecycle in the portal in Chromium: a half-filled battery form saved as a draft,
the draft's page, the draft continued (shown again as entered) and submitted, then the asset
decommissioned (an error first, then the status); axe-core on every page on the way.

Reuses tests/browser's Playwright fixtures (Debian's Chromium, pytest-django's live server).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from conftest import organisation_payload
from flexreg.assets import role_rules
from flexreg.assets.models import Asset, AssetStatus
from flexreg.core.acting import Acting
from flexreg.participants import services as participants
from flexreg.participants.models import Membership
from tests.browser.test_assets_portal import MPAN, _sign_in
from tests.browser.test_registration_journey import visit
from tests.signin import helpers as signin_helpers

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _answer_role_fields(page: Any) -> None:
    """Whatever the FSP's asset rules ask for (docs/rules.md), answered."""
    for field in role_rules.rules_for("FSP").fields:
        label = str(field["label"])
        kind = field.get("type", "text")
        if kind == "confirm":
            page.get_by_label(label).check()
        elif kind == "select":
            page.get_by_label(label).select_option(str((field.get("options") or [""])[0]))
        elif kind == "date":
            group = page.get_by_role("group", name=label)
            group.get_by_label("Day").fill("1")
            group.get_by_label("Month").fill("1")
            group.get_by_label("Year").fill("2024")
        else:
            page.get_by_label(label).fill("REF-1")


def test_draft_submit_and_decommission_in_the_portal(new_page: Any, registered: Any) -> None:
    user, _body, _ = registered(organisation_payload(requested_roles=["FSP"]))
    membership = Membership.objects.select_related("participant_role").get(user=user)
    participants.set_role_qualified(Acting.system("t"), membership.participant_role, True, "t")
    signin_helpers.verify_email(user)
    secret = signin_helpers.enrol_totp(user)

    page = new_page()
    _sign_in(page, user, secret)
    page.goto("/assets/register/BESS/")
    page.wait_for_load_state()
    page.get_by_label("Name of the asset").fill("Garage battery")
    page.get_by_label("Installed capacity in kW").fill("5")
    page.get_by_role("button", name="Save as a draft").click()
    draft = Asset.objects.get(status=AssetStatus.DRAFT)
    visit(page, f"Asset {draft.asset_id}")
    assert "Draft saved" in page.locator(".govuk-notification-banner").inner_text()

    page.get_by_role("link", name="Continue the draft").click()
    visit(page, "Register an asset: Battery energy storage system")
    assert page.get_by_label("Name of the asset").input_value() == "Garage battery"
    assert page.get_by_label("Installed capacity in kW").input_value() == "5"
    page.get_by_label("Manufacturer").fill("Acme Energy Ltd")
    page.get_by_label("Model").fill("PowerCube 13")
    page.get_by_label("Serial number").fill("PC-LIFECYCLE-1")
    page.get_by_label("Export capacity in kW").fill("5")
    page.get_by_label("Import capacity in kW").fill("5")
    page.get_by_label("Storage energy in kWh").fill("13.5")
    page.get_by_label("Import MPAN (optional)").fill(MPAN)
    page.get_by_role("group", name="Direction of flexibility").get_by_label(
        "Both", exact=True
    ).check()
    page.get_by_label("Address line 1").fill("1 Station Road")
    page.get_by_label("Town or city").fill("Cambridge")
    page.get_by_label("Postcode").fill("CB1 2AB")
    page.get_by_role("group", name="Connection status").get_by_label(
        "Connected", exact=True
    ).check()
    dates = page.get_by_role("group", name="Commissioning date (optional)")
    dates.get_by_label("Day").fill("15")
    dates.get_by_label("Month").fill("1")
    dates.get_by_label("Year").fill("2024")
    _answer_role_fields(page)
    page.get_by_role("button", name="Submit the registration").click()
    visit(page, f"Asset {draft.asset_id}")
    # Submitted: validation ran at once (no checking service is configured in tests).
    assert Asset.objects.get(pk=draft.pk).status == AssetStatus.VERIFIED

    page.get_by_role("link", name="Decommission this asset").click()
    visit(page, f"Decommission asset {draft.asset_id}")
    page.get_by_role("button", name="Decommission the asset").click()
    visit(page, f"Error: Decommission asset {draft.asset_id}")
    summary = page.locator(".govuk-error-summary").inner_text()
    assert "Enter the date it went out of service" in summary
    today = dt.date.today()
    on = page.get_by_role("group", name="When did it go out of service?")
    on.get_by_label("Day").fill(str(today.day))
    on.get_by_label("Month").fill(str(today.month))
    on.get_by_label("Year").fill(str(today.year))
    page.get_by_label("Why is it decommissioned?").fill("Moved to a new house")
    page.get_by_role("button", name="Decommission the asset").click()
    visit(page, f"Asset {draft.asset_id}")
    assert "Decommissioned" in page.locator("#asset-status").inner_text()
    assert Asset.objects.get(pk=draft.pk).status == AssetStatus.DECOMMISSIONED
