"""Manufacturer registry (OEM device registry): the serial number is known for the asset's
manufacturer and model, and the device is in service.

Applies when the asset gives a manufacturer and a serial number. Setting:
``ASSET_MANUFACTURER_REGISTRY_URL`` (env ``FLEXREG_MANUFACTURER_REGISTRY_URL``): one registry
(or broker) for all manufacturers; optional ``ASSET_MANUFACTURER_REGISTRY_API_KEY``.

Contract::

    GET {base}/devices?manufacturer={name as registered}&serial_number={as registered}
        (the registry matches names and serials ignoring case, spaces, dashes and dots)

    200 {
      "manufacturer": "Acme Energy Ltd",
      "model": "PowerCube 13",
      "serial_number": "PC-000001",
      "status": "in_service",        "in_service" | "reported_stolen" | "scrapped" | "recalled"
      "rated_power_kw": "5.00",      optional: the device's rated (nameplate) power
      "usable_storage_kwh": "13.50", optional: storage devices
      "manufactured_on": "2023-11-02"  optional
    }
    404 {"error": "not_found", "detail": "..."}

Rules:

* an unknown serial for that manufacturer -> ``not_found`` (``manufacturer.serial_not_found``);
* the registry has the serial under another model (letters and digits compared, case
  ignored) -> ``failed`` (``manufacturer.model_mismatch``);
* a device reported stolen, scrapped or recalled -> ``failed`` (``manufacturer.<status>``);
* the asset's installed capacity more than 10% above the device's rated power, or its
  storage more than 10% above the device's usable storage -> ``failed``
  (``manufacturer.capacity_exceeds_rating``, ``manufacturer.storage_exceeds_rating``). The
  margin allows for inverter and rounding differences; a site with several devices registers
  each device (or no serial).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Final, Literal

from pydantic import Field

from flexreg.assets.validators.base import (
    AssetFacts,
    Reason,
    Schema,
    ServiceClient,
    ValidatorSpec,
    Verdict,
    judged,
    plain,
)

NAME = "manufacturer"
LABEL = "manufacturer registry"
#: How far above the device's rating the registered capacity may be.
RATING_MARGIN: Final = Decimal("1.10")

_NON_ALNUM = re.compile(r"[^0-9A-Z]+")


class DeviceIn(Schema):
    manufacturer: str = Field(min_length=1)
    model: str = Field(min_length=1)
    serial_number: str = Field(min_length=1)
    status: Literal["in_service", "reported_stolen", "scrapped", "recalled"]
    rated_power_kw: Decimal | None = Field(default=None, ge=0)
    usable_storage_kwh: Decimal | None = Field(default=None, ge=0)
    manufactured_on: dt.date | None = None


def model_key(model: str) -> str:
    return _NON_ALNUM.sub("", model.upper())


def not_applicable(facts: AssetFacts) -> str | None:
    if not facts.serial_number or not facts.manufacturer:
        return "The asset has no manufacturer and serial number to look up."
    return None


def check(facts: AssetFacts, client: ServiceClient, now: dt.datetime) -> Verdict:
    found = client.get(
        "/devices",
        DeviceIn,
        {"manufacturer": facts.manufacturer, "serial_number": facts.serial_number},
    )
    asked = {
        "manufacturer": facts.manufacturer,
        "model": facts.model,
        "serial_number": facts.serial_number,
    }
    if found is None:
        return judged(
            "",
            [],
            {"asked": asked, "device": None},
            missing=[
                Reason(
                    "manufacturer.serial_not_found",
                    f"The manufacturer registry does not know serial number "
                    f"{facts.serial_number} for {facts.manufacturer}.",
                )
            ],
        )
    failures: list[Reason] = []
    if facts.model and model_key(found.model) != model_key(facts.model):
        failures.append(
            Reason(
                "manufacturer.model_mismatch",
                f"The manufacturer registry has serial number {facts.serial_number} as a "
                f"{found.model}, not a {facts.model}.",
            )
        )
    if found.status != "in_service":
        failures.append(
            Reason(
                f"manufacturer.{found.status}",
                f"The manufacturer registry lists serial number {facts.serial_number} as "
                f"{found.status.replace('_', ' ')}.",
            )
        )
    rated = found.rated_power_kw
    if rated is not None and facts.installed_kw > rated * RATING_MARGIN:
        failures.append(
            Reason(
                "manufacturer.capacity_exceeds_rating",
                f"The asset's installed capacity ({facts.installed_kw:f} kW) is above the "
                f"device's rated power ({rated:f} kW).",
            )
        )
    usable = found.usable_storage_kwh
    stored = facts.storage_kwh
    if usable is not None and stored is not None and stored > usable * RATING_MARGIN:
        failures.append(
            Reason(
                "manufacturer.storage_exceeds_rating",
                f"The asset's storage ({stored:f} kWh) is above the device's usable storage "
                f"({usable:f} kWh).",
            )
        )
    evidence = {
        "asked": asked,
        "device": found.model_dump(mode="json"),
        "asset_installed_kw": plain(facts.installed_kw),
    }
    return judged(
        f"The manufacturer registry knows {found.manufacturer} {found.model} serial number "
        f"{found.serial_number}, in service.",
        failures,
        evidence,
    )


VALIDATOR = ValidatorSpec(NAME, LABEL, "ASSET_MANUFACTURER_REGISTRY_URL", not_applicable, check)
