"""Factories for the single-registration tests: qualified registrants and valid records.

Import the fixtures into a test module (``from ...helpers_registration import fsp, ...``).
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from typing import Any

import pytest

from conftest import Api, organisation_payload
from flexreg.core.acting import Acting
from flexreg.identifiers import mpan_check_digit

_serials = itertools.count(1)

DECLARATION = {
    "declarant_name": "Jane Smith",
    "declarant_is_applicant": True,
    "statement_accepted": True,
}
OTHER_COMPANY = {
    "company_number": "OC990004",
    "legal_name": "Solar Commons LLP (Sample)",
    "organisation_type": "llp",
    "declaration": {**DECLARATION, "declarant_name": "Amira Khan"},
    "requested_roles": ["FSP", "ASSET_OWNER"],
}


def mpan(distributor: str = "10", body: str = "1234567890") -> str:
    base = distributor + body
    return base + mpan_check_digit(base)


IMPORT_MPAN = mpan("10", "1234567890")
EXPORT_MPAN = mpan("10", "9876543210")


def record(**overrides: Any) -> dict[str, Any]:
    """A valid home battery (BESS) record; ``overrides`` replace top-level keys, and
    ``capacity``/``metering``/``site``/``network`` dicts are merged into their sections."""
    rec: dict[str, Any] = {
        "name": "Home battery",
        "category": "BESS",
        "manufacturer": "Acme Energy Ltd",
        "model": "PowerCube 13",
        "serial_number": f"PC-{next(_serials):06d}",
        "capacity": {
            "installed_kw": "5",
            "export_kw": "5",
            "import_kw": "5",
            "storage_kwh": "13.5",
        },
        "flexibility_direction": "both",
        "metering": {"import_mpan": IMPORT_MPAN},
        "site": {"address_line1": "1 Station Road", "town": "Cambridge", "postcode": "CB1 2AB"},
        "network": {"connection_status": "CONNECTED"},
        "commissioning_date": "2024-01-15",
    }
    for key, value in overrides.items():
        if key in ("capacity", "metering", "site", "network") and isinstance(value, dict):
            rec[key] = {**rec[key], **value}
        else:
            rec[key] = value
    return copy.deepcopy(rec)


def hvac(**overrides: Any) -> dict[str, Any]:
    """A valid HVAC record without a serial number (the meter rule applies)."""
    rec = record(category="HVAC", capacity={"installed_kw": "12", "import_kw": "12"})
    for key in ("manufacturer", "model", "serial_number"):
        rec.pop(key)
    rec["capacity"].pop("export_kw")
    rec["capacity"].pop("storage_kwh")
    for key, value in overrides.items():
        if key in ("capacity", "metering", "site", "network") and isinstance(value, dict):
            rec[key] = {**rec[key], **value}
        else:
            rec[key] = value
    return rec


@dataclass
class Registrant:
    participant_id: str
    participant_pk: int
    acting: Acting
    api: Api
    user: Any
    membership: Any


def _qualified(user: Any, participant_id: str, role: str, api_for: Any) -> Registrant:
    from django.db import transaction

    from flexreg.accounts.acting import acting_for
    from flexreg.participants import services
    from flexreg.participants.models import Membership

    membership = Membership.objects.select_related("participant_role__participant").get(
        user=user,
        participant_role__participant__participant_id=participant_id,
        participant_role__role=role,
    )
    with transaction.atomic():
        services.set_role_qualified(
            Acting.system("tests"), membership.participant_role, True, "test"
        )
    membership.refresh_from_db()
    held = membership.participant_role
    held.refresh_from_db()
    return Registrant(
        participant_id=participant_id,
        participant_pk=held.participant_id,
        acting=acting_for(user, membership, via="session"),
        api=api_for(user, membership),
        user=user,
        membership=membership,
    )


@pytest.fixture
def qualify(api_for: Any) -> Any:
    """qualify(user, participant_id, role) -> a Registrant acting for that qualified role."""

    def make(user: Any, participant_id: str, role: str = "FSP") -> Registrant:
        return _qualified(user, participant_id, role, api_for)

    return make


@pytest.fixture
def fsp(registered: Any, qualify: Any) -> Registrant:
    """Brightwatt (verified) acting as its qualified FSP role."""
    user, body, _ = registered()
    return qualify(user, body["participant_id"], "FSP")


@pytest.fixture
def rival(registered: Any, qualify: Any) -> Registrant:
    """Solar Commons (another verified participant) acting as its qualified FSP role."""
    user, body, _ = registered(organisation_payload(**OTHER_COMPANY))
    return qualify(user, body["participant_id"], "FSP")
