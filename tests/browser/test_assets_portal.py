"""Registering a battery (BESS) in the portal in Chromium: the list, the category choice, the
form with an error first (every error summarised, linked to its field) then success, and the
asset page with its banner; axe-core on the list, the form (with errors) and the asset page.

Reuses tests/browser's Playwright fixtures (Debian's Chromium, pytest-django's live server).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from conftest import PASSWORD, organisation_payload
from flexreg.accounts.acting import acting_for
from flexreg.assets.models import Asset
from flexreg.core.acting import Acting
from flexreg.identifiers import mpan_check_digit
from flexreg.participants import services as participants
from flexreg.participants.models import Membership
from tests.browser.test_registration_journey import visit
from tests.signin import helpers as signin_helpers

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MPAN = "101234567890" + mpan_check_digit("101234567890")


def _sign_in(page: Any, user: Any, secret: str) -> None:
    page.goto("/sign-in/")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()
    page.get_by_label("Code from your authenticator app").fill(signin_helpers.totp_code(secret))
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()


def test_register_a_battery_in_the_portal(new_page: Any, registered: Any) -> None:
    user, _body, _ = registered(organisation_payload(requested_roles=["FSP"]))
    membership = Membership.objects.select_related("participant_role").get(user=user)
    participants.set_role_qualified(Acting.system("t"), membership.participant_role, True, "t")
    membership = Membership.objects.select_related("participant_role__participant").get(user=user)
    assert acting_for(user, membership, via="session").has("assets:register")
    signin_helpers.verify_email(user)
    secret = signin_helpers.enrol_totp(user)

    page = new_page()
    _sign_in(page, user, secret)
    page.goto("/assets/")
    visit(page, "Your assets")
    assert "You have no assets yet." in page.locator("main").inner_text()
    page.get_by_role("link", name="Register an asset").click()
    page.wait_for_load_state()
    page.get_by_label("Battery energy storage system").check()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state()
    assert page.title() == "Register an asset: Battery energy storage system – FlexReg"

    page.get_by_label("Name of the asset").fill("Garage battery")
    page.get_by_label("Manufacturer").fill("Acme Energy Ltd")
    page.get_by_label("Model").fill("PowerCube 13")
    page.get_by_label("Serial number").fill("PC-BROWSER-1")
    page.get_by_label("Installed capacity in kW").fill("5")
    page.get_by_label("Export capacity in kW").fill("5")
    page.get_by_label("Import capacity in kW").fill("5")
    # The storage energy is left out and the MPAN mistyped: two errors at once.
    page.get_by_label("Import MPAN (optional)").fill("1012345678901")
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
    page.get_by_role("button", name="Register the asset").click()
    visit(page, "Error: Register an asset: Battery energy storage system")
    summary = page.locator(".govuk-error-summary")
    assert "Enter the battery's storage energy in kWh." in summary.inner_text()
    assert summary.get_by_role("link").count() >= 2
    summary.get_by_role("link", name=re.compile("storage energy")).click()
    assert page.evaluate("document.activeElement.id") == "capacity-storage_kwh"
    assert not Asset.objects.exists()

    page.get_by_label("Storage energy in kWh").fill("13.5")
    page.get_by_label("Import MPAN (optional)").fill(MPAN)
    page.get_by_role("button", name="Register the asset").click()
    page.wait_for_load_state()
    asset = Asset.objects.get()
    visit(page, f"Asset {asset.asset_id}")
    banner = page.locator(".govuk-notification-banner").inner_text()
    assert f"Asset registered: {asset.asset_id}, validation in progress" in banner
    assert "Garage battery" in page.locator("h1").inner_text()
    assert "Registered" in page.locator("#history-table").inner_text()

    page.get_by_role("link", name="Back to your assets").click()
    visit(page, "Your assets")
    assert asset.asset_id in page.locator("#assets-table").inner_text()
