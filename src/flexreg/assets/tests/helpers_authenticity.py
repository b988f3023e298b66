"""Fixtures for the authenticity tests: the asset services stand-in over HTTP, assets made
with the ORM (independent of the registration service), and the notification kinds the
pipeline uses (registered for the test while the catalogue does not have them yet).

Import the fixtures into a test module (``from ...helpers_authenticity import ...``).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db.backends.postgresql.psycopg_any import DateTimeTZRange
from django.utils import timezone

from flexreg.assets import tasks  # noqa: F401  (registers the assets.retry_checks job)
from flexreg.assets.models import Asset, AssetLink, AssetStatus, Relationship
from flexreg.devtools.asset_services_stub import StubServer, start_stub
from flexreg.identifiers import new_asset_id
from flexreg.participants.models import Participant

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
RETRY_JOB = {"assets.retry_checks"}
TEMPLATES_DIR = Path(__file__).parent / "notification_templates"
KIND_ENTRIES = {
    "assets.validated": (
        "Asset validation outcome",
        "An asset you registered was verified, or needs the central operator's check.",
    ),
    "assets.consent_revoked": (
        "Consumer consent revoked",
        "A household withdrew the consent a link of yours to its asset rests on.",
    ),
}

_serials = itertools.count(1)

IMPORT_MPAN = "1012345678903"  # CB1 2AB, energised (stand-in fixtures)
EXPORT_MPAN = "1098765432106"
HOME_MPAN = "1234567890126"  # N1 9GU, a household


@pytest.fixture(scope="module")
def asset_stub() -> Iterator[StubServer]:
    stub = start_stub(slow_seconds=3)
    yield stub
    stub.stop()


@pytest.fixture
def services(settings: Any, asset_stub: StubServer) -> StubServer:
    """Every validator pointed at the stand-in (all up, fixtures as loaded)."""
    asset_stub.reset()
    for name, url in asset_stub.settings.items():
        setattr(settings, name, url)
    settings.ASSET_SERVICES_TIMEOUT = 1.0
    settings.ASSET_CHECK_GIVE_UP_HOURS = 24
    return asset_stub


@pytest.fixture
def kinds(monkeypatch: Any, settings: Any) -> None:
    """The notification kinds ``assets.validated`` and ``assets.consent_revoked``, with their
    email templates, while the notifications catalogue does not have them yet."""
    from flexreg.notifications import kinds as catalogue

    missing = [code for code in KIND_ENTRIES if code not in catalogue.KINDS]
    for code in missing:
        label, description = KIND_ENTRIES[code]
        monkeypatch.setitem(
            catalogue.KINDS,
            code,
            catalogue.Kind(code, label, description, catalogue.PARTICIPANTS),
        )
    if missing:
        engine = dict(settings.TEMPLATES[0])
        engine["DIRS"] = [*engine.get("DIRS", []), TEMPLATES_DIR]
        settings.TEMPLATES = [engine, *settings.TEMPLATES[1:]]


@pytest.fixture
def registrant(registered: Any) -> tuple[Any, Participant]:
    """(user, participant): Brightwatt (99000001, verified at once) with FSP and
    ASSET_OWNER roles."""
    user, body, _ = registered()
    return user, Participant.objects.get(participant_id=body["participant_id"])


def make_asset(
    participant: Participant,
    user: Any = None,
    *,
    relationship: str = Relationship.CONTROLLER,
    link_consent: str | None = None,
    **fields: Any,
) -> Asset:
    """A non-domestic BESS at CB1 2AB that every stand-in knows (meter point, connection
    EPN-CON-000123, a PowerCube 13 serial), linked to ``participant``; ``fields`` override."""
    n = next(_serials)
    values: dict[str, Any] = {
        "name": f"Battery {n}",
        "category": "BESS",
        "manufacturer": "Acme Energy Ltd",
        "manufacturer_key": "ACMEENERGY",
        "model": "PowerCube 13",
        "serial_number": f"PC-{n:06d}",
        "energy_source": "GRID",
        "installed_kw": Decimal("5.00"),
        "export_kw": Decimal("5.00"),
        "import_kw": Decimal("5.00"),
        "storage_kwh": Decimal("13.50"),
        "flexibility_direction": "both",
        "import_mpan": IMPORT_MPAN,
        "distributor_id": "10",
        "dno_licence_area": "EELC",
        "gsp_group": "_A",
        "voltage_level": "LV",
        "connection_status": "CONNECTED",
        "connection_type": "FIRM",
        "dno_connection_reference": "EPN-CON-000123",
        "commissioning_date": dt.date(2024, 1, 15),
        "effective_from": dt.date(2024, 2, 1),
        "address_line1": "1 Station Road",
        "town": "Cambridge",
        "postcode": "CB1 2AB",
        "registered_by": participant,
        "registered_by_role": "FSP",
        "created_by": user,
        "status": AssetStatus.PENDING_VALIDATION,
    }
    values.update(fields)
    values.setdefault(
        "serial_key", values["serial_number"].replace("-", "").replace(" ", "").upper()
    )
    asset = Asset.objects.create(asset_id=str(new_asset_id()), **values)
    consent = link_consent if link_consent is not None else asset.consumer_consent_reference
    AssetLink.objects.create(
        asset=asset,
        participant=participant,
        relationship=relationship,
        consent_reference=consent,
        valid_during=DateTimeTZRange(timezone.now() - dt.timedelta(days=1), None, "[)"),
    )
    return asset


def household(participant: Participant, user: Any = None, **fields: Any) -> Asset:
    """A domestic 4 kW solar PV array at N1 9GU: all five checks apply and pass."""
    values: dict[str, Any] = {
        "name": "Rooftop solar",
        "category": "SOLAR_PV",
        "manufacturer": "SunBright Inverters",
        "manufacturer_key": "SUNBRIGHTINVERTERS",
        "model": "SB-4000",
        "serial_number": "SB4K-0000123",
        "energy_source": "SOLAR",
        "installed_kw": Decimal("4.00"),
        "export_kw": Decimal("4.00"),
        "import_kw": None,
        "storage_kwh": None,
        "flexibility_direction": "down",
        "import_mpan": HOME_MPAN,
        "distributor_id": "12",
        "dno_licence_area": "LOND",
        "gsp_group": "_C",
        "dno_connection_reference": "LPN-CON-004512",
        "address_line1": "12 Canal Street",
        "town": "London",
        "postcode": "N1 9GU",
        "domestic": True,
        "consumer_consent_reference": "CNS-7F3K-92QX",
    }
    values.update(fields)
    return make_asset(participant, user, **values)


def statuses(asset: Asset) -> dict[str, str]:
    return {c.validator: str(c.status) for c in asset.checks.order_by("pk")}


def codes(asset: Asset, validator: str) -> list[str]:
    check = asset.checks.get(validator=validator)
    return [r["code"] for r in check.outcome.get("reasons", [])]
