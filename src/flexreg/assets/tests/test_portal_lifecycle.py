"""The portal's asset lifecycle pages through Django's test client: save the registration form
as a draft, continue it (shown again as entered), submit it (errors on the form, the draft
kept), discard it; decommission an asset (date and reason checked, then the status)."""

from __future__ import annotations

import datetime as dt

import pytest

from flexreg.assets import services
from flexreg.assets.models import Asset, AssetStatus
from flexreg.assets.tests import helpers_registration
from flexreg.assets.tests.helpers_registration import Registrant, record
from flexreg.assets.tests.test_portal import _client, _error_links, _form_data, _text

pytestmark = pytest.mark.django_db

fsp = helpers_registration.fsp
qualify = helpers_registration.qualify
rival = helpers_registration.rival


def _draft_of(fsp: Registrant) -> Asset:
    return Asset.objects.get(registered_by_id=fsp.participant_pk, status=AssetStatus.DRAFT)


def _role_data(fsp: Registrant) -> dict[str, str]:
    """Whatever the acting role's asset rules ask for (answered)."""
    from flexreg.assets import role_rules

    data: dict[str, str] = {}
    for field in role_rules.rules_for(fsp.acting.role).fields:
        kind = field.get("type", "text")
        options = field.get("options") or []
        value = "yes" if kind == "confirm" else options[0] if options else "REF-1"
        data[f"role_details.{field['name']}"] = str(value)
    return data


def test_a_half_filled_form_is_saved_as_a_draft_and_shown_again(fsp: Registrant) -> None:
    client = _client(fsp)
    response = client.post(
        "/assets/register/BESS/",
        {"action": "draft", "name": "Half-done battery", "capacity.installed_kw": "5"},
    )
    assert response.status_code == 302, _text(response)
    draft = _draft_of(fsp)
    assert response["Location"] == f"/assets/{draft.asset_id}/"
    page = _text(client.get(response["Location"]))
    assert "Continue the draft" in page and "Discard the draft" in page
    assert "Decommission" not in page
    form = _text(client.get(f"/assets/{draft.asset_id}/draft/"))
    assert 'value="Half-done battery"' in form and 'value="5"' in form
    assert f"Draft {draft.asset_id}" in form


def test_submitting_a_draft_shows_its_errors_then_registers_it(fsp: Registrant) -> None:
    client = _client(fsp)
    client.post("/assets/register/BESS/", {"action": "draft", "name": "Battery"})
    draft = _draft_of(fsp)
    path = f"/assets/{draft.asset_id}/draft/"
    refused = client.post(path, {"action": "register", "name": "Battery"})
    assert refused.status_code == 422
    assert "#capacity-installed_kw" in " ".join(_error_links(_text(refused)))
    assert Asset.objects.get(pk=draft.pk).status == AssetStatus.DRAFT

    data = {**_form_data(record()), **_role_data(fsp), "action": "register"}
    submitted = client.post(path, data)
    assert submitted.status_code == 302, _text(submitted)
    asset = Asset.objects.get(pk=draft.pk)
    assert asset.status == AssetStatus.PENDING_VALIDATION
    assert asset.asset_id == draft.asset_id


def test_a_draft_is_discarded(fsp: Registrant, rival: Registrant) -> None:
    client = _client(fsp)
    client.post("/assets/register/BESS/", {"action": "draft", "name": "Mistake"})
    draft = _draft_of(fsp)
    assert _client(rival).post(f"/assets/{draft.asset_id}/discard/").status_code == 404
    assert client.get(f"/assets/{draft.asset_id}/discard/").status_code == 405
    response = client.post(f"/assets/{draft.asset_id}/discard/")
    assert response.status_code == 302
    assert Asset.objects.get(pk=draft.pk).status == AssetStatus.REJECTED
    assert client.get(f"/assets/{draft.asset_id}/draft/").status_code == 404


def test_an_asset_is_decommissioned_with_a_date_and_a_reason(
    fsp: Registrant, rival: Registrant
) -> None:
    asset = services.register(fsp.acting, record(commissioning_date="2024-01-15"))
    client = _client(fsp)
    page = _text(client.get(f"/assets/{asset.asset_id}/"))
    assert f"/assets/{asset.asset_id}/decommission/" in page
    path = f"/assets/{asset.asset_id}/decommission/"
    assert client.get(path).status_code == 200
    assert _client(rival).get(path).status_code == 404

    refused = client.post(path, {"on-day": "31", "on-month": "12", "on-year": "2023"})
    assert refused.status_code == 422
    links = _error_links(_text(refused))
    assert "#on-day" in links and "#reason" in links
    today = dt.date.today()
    done = client.post(
        path,
        {
            "on-day": str(today.day),
            "on-month": str(today.month),
            "on-year": str(today.year),
            "reason": "Removed from the site",
        },
    )
    assert done.status_code == 302, _text(done)
    asset.refresh_from_db()
    assert asset.status == AssetStatus.DECOMMISSIONED and asset.decommissioned_on == today
    page = _text(client.get(f"/assets/{asset.asset_id}/"))
    assert "Decommissioned" in page and "Removed from the site" in page
    assert client.get(path).status_code == 404


def test_an_impossible_decommission_year_is_an_error_not_a_crash(fsp: Registrant) -> None:
    asset = services.register(fsp.acting, record())
    response = _client(fsp).post(
        f"/assets/{asset.asset_id}/decommission/",
        {"on-day": "1", "on-month": "1", "on-year": "9" * 30, "reason": "Gone"},
    )
    assert response.status_code == 422
    assert "#on-day" in _error_links(_text(response))


def test_a_draft_saved_with_a_nul_byte_in_the_form_is_an_error_not_a_crash(
    fsp: Registrant,
) -> None:
    response = _client(fsp).post(
        "/assets/register/BESS/", {"action": "draft", "name": "Battery", "site.town": "A\x00B"}
    )
    assert response.status_code == 422
    assert not Asset.objects.exists()
