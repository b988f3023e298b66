"""An asset's parties in the portal in Chromium: its provider adds the owner (an error summary
first), sees the parties, then ends its own link from a later day (an error first, then the
date on the list); axe-core on every page on the way.

Reuses tests/browser's Playwright fixtures (Debian's Chromium, pytest-django's live server).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from conftest import organisation_payload
from flexreg.accounts.acting import acting_for
from flexreg.assets import services
from flexreg.assets.models import AssetLink
from flexreg.assets.tests.helpers_registration import DECLARATION, record
from flexreg.core.acting import Acting
from flexreg.participants import services as participants
from flexreg.participants.models import Membership
from tests.browser.test_assets_portal import _sign_in
from tests.browser.test_registration_journey import screenshot, visit
from tests.signin import helpers as signin_helpers

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_add_a_party_and_end_a_link_in_the_portal(new_page: Any, registered: Any) -> None:
    user, _body, _ = registered(organisation_payload(requested_roles=["FSP"]))
    membership = Membership.objects.select_related("participant_role__participant").get(user=user)
    participants.set_role_qualified(Acting.system("t"), membership.participant_role, True, "t")
    membership.refresh_from_db()
    provider_id = membership.participant_role.participant.participant_id
    asset = services.register(acting_for(user, membership, via="session"), record())
    _, owner_body, _ = registered(
        organisation_payload(
            company_number="99000006",
            legal_name="Bronte Heat Co-operative Limited (Sample)",
            declaration={**DECLARATION, "declarant_name": "Anne Bronte"},
            requested_roles=["ASSET_OWNER"],
        )
    )
    owner_id = owner_body["participant_id"]
    signin_helpers.verify_email(user)
    secret = signin_helpers.enrol_totp(user)

    page = new_page()
    _sign_in(page, user, secret)
    page.goto(f"/assets/{asset.asset_id}/")
    visit(page, f"Asset {asset.asset_id}")
    page.get_by_role("link", name="Add a party").click()
    visit(page, f"Add a party to asset {asset.asset_id}")
    page.get_by_role("button", name="Add the party").click()
    visit(page, f"Error: Add a party to asset {asset.asset_id}")
    summary = page.locator(".govuk-error-summary").inner_text()
    assert "Participant ID" in summary and "Select the relationship" in summary
    page.locator(".govuk-error-summary a").first.click()  # the summary leads to the field
    assert page.evaluate("document.activeElement.id") == "participant_id"
    screenshot(page, "asset-party-add-errors")

    page.get_by_label("Participant ID").fill(owner_id)
    page.get_by_role("group", name="Relationship to the asset").get_by_label(
        "Legal owner", exact=True
    ).check()
    page.get_by_label("Contract reference (optional)").fill("OWN-1")
    page.get_by_role("button", name="Add the party").click()
    visit(page, f"Parties of asset {asset.asset_id}")
    assert (
        f"{owner_id} linked as legal owner"
        in page.locator(".govuk-notification-banner").inner_text()
    )
    table = page.locator("#parties-table").inner_text()
    assert owner_id in table and "OWN-1" in table
    screenshot(page, "asset-parties")

    page.get_by_role(
        "link", name=f"End this link of {provider_id} as controlling fsp or aggregator"
    ).click()
    visit(page, f"End a link to asset {asset.asset_id}")
    when = page.get_by_role("group", name="When does the link end?")
    when.get_by_label("Day").fill("")
    page.get_by_role("button", name="End the link").click()
    visit(page, f"Error: End a link to asset {asset.asset_id}")
    summary = page.locator(".govuk-error-summary").inner_text()
    assert "Enter the date the link ends" in summary and "Enter the reason" in summary
    screenshot(page, "asset-link-end-errors")

    later = dt.date.today() + dt.timedelta(days=14)
    when = page.get_by_role("group", name="When does the link end?")
    when.get_by_label("Day").fill(str(later.day))
    when.get_by_label("Month").fill(str(later.month))
    when.get_by_label("Year").fill(str(later.year))
    page.get_by_label("Why does it end?").fill("The owner switches provider")
    page.get_by_role("button", name="End the link").click()
    visit(page, f"Parties of asset {asset.asset_id}")
    assert f"{later:%-d %B %Y}" in page.locator("#parties-table").inner_text()
    mine = AssetLink.objects.get(asset=asset, participant__participant_id=provider_id)
    assert mine.valid_during.upper is not None
