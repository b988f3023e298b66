"""The portal's asset pages through Django's test client: my assets (filters), registering
(category choice, the form adapted to the category, every error mapped to its field, a
duplicate, success), the asset page (policy, checks, history), who may see what, the
explanation for an unqualified role, and bulk upload with its progress and results."""

from __future__ import annotations

import html as htmllib
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from tests.signin import helpers as signin_helpers

from conftest import organisation_payload
from flexreg.assets import services
from flexreg.assets.models import Asset, AssetCheck, AssetImport
from flexreg.assets.tests import helpers_registration
from flexreg.assets.tests.helpers_registration import IMPORT_MPAN, Registrant, hvac, record

pytestmark = pytest.mark.django_db

fsp = helpers_registration.fsp
qualify = helpers_registration.qualify
rival = helpers_registration.rival

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def _client(reg: Registrant) -> Client:
    return signin_helpers.portal_client(reg.user, reg.membership)


def _text(response: Any) -> str:
    return str(response.content.decode())


def _error_links(html: str) -> dict[str, str]:
    summary = re.search(r'<div class="govuk-error-summary".*?</ul>', html, re.S)
    assert summary, "no error summary on the page"
    return {
        htmllib.unescape(href): htmllib.unescape(re.sub(r"\s+", " ", text).strip())
        for href, text in re.findall(r'<a href="([^"]+)">(.*?)</a>', summary.group(0), re.S)
    }


def _form_data(rec: dict[str, Any]) -> dict[str, str]:
    """An API record as the form posts it (dotted names, GOV.UK date parts)."""
    data: dict[str, str] = {}
    for key, value in rec.items():
        if key == "category":
            continue
        if isinstance(value, dict):
            data.update({f"{key}.{k}": str(v) for k, v in value.items()})
        elif key in ("commissioning_date", "effective_from"):
            year, month, day = str(value).split("-")
            data.update({f"{key}-day": day, f"{key}-month": month, f"{key}-year": year})
        else:
            data[key] = str(value)
    return data


# --- my assets ----------------------------------------------------------------------------------


def test_my_assets_lists_filters_and_links(fsp: Registrant) -> None:
    battery = services.register(fsp.acting, record(name="Garage battery"))
    plant = services.register(fsp.acting, hvac(name="Office chiller"))
    client = _client(fsp)

    html = _text(client.get("/assets/"))
    assert battery.asset_id in html and plant.asset_id in html
    assert 'href="/assets/register/"' in html and 'href="/assets/imports/new/"' in html
    assert "Pending validation" in html and "CB1 2AB" in html

    html = _text(client.get("/assets/?category=HVAC"))
    assert plant.asset_id in html and battery.asset_id not in html
    html = _text(client.get("/assets/?q=garage"))
    assert battery.asset_id in html and plant.asset_id not in html
    html = _text(client.get("/assets/?status=verified"))
    assert "No assets match your filters." in html


def test_my_assets_pages_by_cursor(fsp: Registrant, monkeypatch: pytest.MonkeyPatch) -> None:
    from flexreg.assets import views

    monkeypatch.setattr(views, "PAGE_SIZE", 1)
    ids = sorted(
        services.register(fsp.acting, record(name=f"Battery {n}")).asset_id for n in range(2)
    )
    client = _client(fsp)
    html = _text(client.get("/assets/"))
    assert ids[0] in html and ids[1] not in html
    found = re.search(r'href="(\?[^"]*cursor=[^"]+)" rel="next"', html)
    assert found
    next_url = htmllib.unescape(found[1])
    html = _text(client.get(f"/assets/{next_url}"))
    assert ids[1] in html and ids[0] not in html
    assert 'rel="prev"' in html


# --- who may do what ----------------------------------------------------------------------------


def test_another_participants_asset_is_not_found(fsp: Registrant, rival: Registrant) -> None:
    theirs = services.register(rival.acting, record())
    client = _client(fsp)
    assert client.get(f"/assets/{theirs.asset_id}/").status_code == 404
    assert theirs.asset_id not in _text(client.get("/assets/"))
    assert client.get("/assets/A-NOPE/").status_code == 404


def test_an_unqualified_role_is_told_how_to_qualify(registered: Any) -> None:
    from flexreg.accounts.acting import acting_for
    from flexreg.participants.models import Membership

    user, body, _ = registered(organisation_payload(requested_roles=["FSP"]))
    pid = body["participant_id"]
    membership = Membership.objects.get(user=user, participant_role__role="FSP")
    reg = Registrant(pid, 0, acting_for(user, membership, via="session"), None, user, membership)  # type: ignore[arg-type]
    client = _client(reg)
    for url in ("/assets/register/", "/assets/register/BESS/", "/assets/imports/new/"):
        response = client.get(url)
        assert response.status_code == 403, url
        html = _text(response)
        assert "You cannot register assets yet" in html
        assert f'href="/participants/{pid}/entry/FSP/"' in html
    assert client.post("/assets/register/BESS/", _form_data(record())).status_code == 403
    assert not Asset.objects.exists()
    # Reading is not an operational permission: the list still opens.
    assert client.get("/assets/").status_code == 200


def test_anonymous_users_are_sent_to_sign_in(client: Client) -> None:
    response = client.get("/assets/")
    assert response.status_code == 302 and "/sign-in/" in response["Location"]


# --- registering --------------------------------------------------------------------------------


def test_choosing_a_category(fsp: Registrant) -> None:
    client = _client(fsp)
    html = _text(client.get("/assets/register/"))
    assert 'value="BESS"' in html and "Battery energy storage system" in html
    response = client.post("/assets/register/", {})
    assert response.status_code == 400
    assert _error_links(_text(response)) == {
        "#category": "Select the kind of asset you are registering"
    }
    response = client.post("/assets/register/", {"category": "BESS"})
    assert response.status_code == 302 and response["Location"] == "/assets/register/BESS/"
    assert client.get("/assets/register/NOPE/").status_code == 404
    assert client.get("/assets/register/bess/")["Location"] == "/assets/register/BESS/"


def test_the_form_is_adapted_to_the_category(fsp: Registrant) -> None:
    client = _client(fsp)
    bess = _text(client.get("/assets/register/BESS/"))
    assert 'name="capacity.storage_kwh"' in bess and 'name="v2g"' not in bess
    assert "Storage energy in kWh</label>" in bess  # required: no "(optional)"
    assert "Export MPAN (optional)" in bess
    for legend in ("About the asset", "Capacity", "Metering", "Site", "Network connection"):
        assert f'<h2 class="govuk-fieldset__heading">{legend}</h2>' in bess
    heat_pump = _text(client.get("/assets/register/HEAT_PUMP/"))
    assert 'name="capacity.export_kw"' not in heat_pump
    assert 'name="capacity.storage_kwh"' not in heat_pump
    assert "Manufacturer</label>" in heat_pump
    hvac_form = _text(client.get("/assets/register/HVAC/"))
    assert "Manufacturer (optional)" in hvac_form
    charger = _text(client.get("/assets/register/EV_CHARGER/"))
    assert 'name="v2g"' in charger
    solar = _text(client.get("/assets/register/SOLAR_PV/"))
    assert re.search(r'name="energy_source" type="radio" value="SOLAR" checked', solar)


def test_every_error_is_mapped_to_its_field(fsp: Registrant) -> None:
    client = _client(fsp)
    data = _form_data(record())
    data.pop("capacity.storage_kwh")
    data["metering.import_mpan"] = "1012345678901"  # wrong check digit
    data["site.postcode"] = "NOT A POSTCODE"
    data["capacity.export_kw"] = "50"  # above installed (5)
    data["commissioning_date-month"] = "13"
    response = client.post("/assets/register/BESS/", data)
    assert response.status_code == 422
    html = _text(response)
    links = _error_links(html)
    assert set(links) >= {
        "#capacity-storage_kwh",
        "#capacity-export_kw",
        "#metering-import_mpan",
        "#site-postcode",
        "#commissioning_date-day",
    }, links
    assert links["#capacity-storage_kwh"] == "Enter the battery's storage energy in kWh."
    assert 'id="site-postcode-error"' in html and 'value="NOT A POSTCODE"' in html
    assert "<title>Error: Register an asset" in html
    assert not Asset.objects.exists()


def test_registering_shows_the_asset_page_with_a_banner(fsp: Registrant) -> None:
    client = _client(fsp)
    data = _form_data(record(name="Loft battery"))
    data["contract_reference"] = "CTR-42"
    response = client.post("/assets/register/BESS/", data)
    assert response.status_code == 302, _text(response)[:3000]
    asset = Asset.objects.get()
    assert response["Location"] == f"/assets/{asset.asset_id}/"
    html = _text(client.get(response["Location"]))
    assert f"Asset registered: {asset.asset_id}, validation in progress" in html
    assert "Pending validation" in html and "Loft battery" in html
    assert IMPORT_MPAN in html and "13.50 kWh" in html
    assert fsp.participant_id in html and "Controlling FSP or aggregator" in html
    assert "CTR-42" in html
    history = re.search(r'id="history-table".*?</table>', html, re.S)
    assert history and "Registered" in history.group(0)


def test_a_duplicate_is_explained(fsp: Registrant, rival: Registrant) -> None:
    rec = record()
    mine = services.register(fsp.acting, rec)
    client = _client(fsp)
    response = client.post("/assets/register/BESS/", _form_data(rec))
    assert response.status_code == 409
    html = _text(response)
    links = _error_links(html)
    assert any(f"already registered as {mine.asset_id}" in t for t in links.values()), links
    assert "#serial_number" in links
    assert "provider switch" in html and f'href="/assets/{mine.asset_id}/"' in html

    # Another participant's asset is not named.
    theirs = record()
    services.register(rival.acting, theirs)
    html = _text(client.post("/assets/register/BESS/", _form_data(theirs)))
    assert "This asset is already registered (the same manufacturer and serial number)" in html
    assert Asset.objects.count() == 2


# --- the asset page -----------------------------------------------------------------------------


def test_the_asset_page_shows_checks_and_reasons(fsp: Registrant) -> None:
    asset = services.register(fsp.acting, record())
    AssetCheck.objects.create(
        asset=asset,
        validator="meter_point",
        status=AssetCheck.Status.NOT_FOUND,
        outcome={"detail": "The MPAN is not in the meter point registry.", "service": "x"},
    )
    Asset.objects.filter(pk=asset.pk).update(
        status="query", status_reason="Checks did not pass:\n- Meter point: not found"
    )
    html = _text(_client(fsp).get(f"/assets/{asset.asset_id}/"))
    checks = re.search(r'id="checks-table".*?</table>', html, re.S)
    assert checks and "The MPAN is not in the meter point registry." in checks.group(0)
    assert "Not found by the service" in checks.group(0)
    assert "Query" in html and "Meter point: not found" in html


def test_a_former_registrant_sees_only_the_public_view(fsp: Registrant) -> None:
    from django.db.backends.postgresql.psycopg_any import DateTimeTZRange
    from django.utils import timezone

    asset = services.register(fsp.acting, record())
    link = asset.links.get()
    link.valid_during = DateTimeTZRange(link.valid_during.lower, timezone.now(), "[)")
    link.save()
    html = _text(_client(fsp).get(f"/assets/{asset.asset_id}/"))
    assert 'id="public-view"' in html
    assert IMPORT_MPAN not in html and "history-table" not in html


# --- bulk upload --------------------------------------------------------------------------------


def test_bulk_upload_progress_and_results(
    fsp: Registrant, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from flexreg.assets import conformance

    settings.TASKS = IMMEDIATE
    client = _client(fsp)
    html = _text(client.get("/assets/imports/new/"))
    assert 'href="/assets/imports/templates/bess.csv"' in html

    columns = conformance.csv_columns("BESS")
    good = {
        "name": "Bulk battery",
        "category": "BESS",
        "manufacturer": "Acme",
        "model": "M1",
        "serial_number": "BULK-1",
        "capacity.installed_kw": "5",
        "capacity.export_kw": "5",
        "capacity.import_kw": "5",
        "capacity.storage_kwh": "10",
        "flexibility_direction": "both",
        "metering.import_mpan": IMPORT_MPAN,
        "site.address_line1": "1 Road",
        "site.town": "Cambridge",
        "site.postcode": "CB1 2AB",
        "network.connection_status": "CONNECTED",
        "commissioning_date": "2024-01-01",
    }
    bad = {**good, "serial_number": "BULK-2", "site.postcode": "NOPE"}
    lines = [",".join(columns)] + [",".join(row.get(c, "") for c in columns) for row in (good, bad)]
    upload = SimpleUploadedFile("assets.csv", ("\n".join(lines) + "\n").encode(), "text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/assets/imports/new/", {"file": upload})
    assert response.status_code == 302, _text(response)[:3000]
    batch = AssetImport.objects.get()
    assert response["Location"] == f"/assets/imports/{batch.public_id}/"
    page = client.get(response["Location"])
    html = _text(page)
    assert "File uploaded: 2 assets to register" in html
    batch.refresh_from_db()
    assert batch.status == AssetImport.Status.DONE, batch.error
    assert 'id="accepted">1<' in html and 'id="rejected">1<' in html
    assert '<progress id="import-progress" max="2" value="2">' in html
    assert "Refresh" not in page
    results = client.get(f"/assets/imports/{batch.public_id}/results.csv")
    streamed: Any = results.streaming_content  # type: ignore[attr-defined]
    body = b"".join(streamed).decode()
    assert body.splitlines()[0] == "row,outcome,asset_id,errors"
    assert "accepted" in body and "rejected" in body and "site.postcode" in body


def test_bulk_upload_errors_and_running_refresh(fsp: Registrant, rival: Registrant) -> None:
    client = _client(fsp)
    response = client.post(
        "/assets/imports/new/", {"file": SimpleUploadedFile("empty.csv", b"", "text/csv")}
    )
    assert response.status_code == 422
    assert list(_error_links(_text(response))) == ["#file"]
    response = client.post("/assets/imports/new/", {})
    assert response.status_code == 422
    batch = AssetImport.objects.create(
        participant_id=fsp.participant_pk,
        role="FSP",
        file_name="big.csv",
        file_format="csv",
        sha256="0" * 64,
        total_rows=10,
        processed_rows=4,
        status=AssetImport.Status.RUNNING,
    )
    page = client.get(f"/assets/imports/{batch.public_id}/")
    assert page["Refresh"] == "3"
    assert '<progress id="import-progress" max="10" value="4">' in _text(page)
    assert _client(rival).get(f"/assets/imports/{batch.public_id}/").status_code == 404
    assert client.get("/assets/imports/not-a-uuid/").status_code == 404
