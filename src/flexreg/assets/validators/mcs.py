"""Installer certification (MCS installation database): a certificate for the installation
at the asset's site, by a certified installer, for about the asset's capacity.

**Where it applies** (decision 0016): domestic sites (``domestic`` is true) with a solar PV
array, a heat pump, a battery or a wind turbine of at most 50 kW installed capacity. Those are
the technologies and the size MCS certifies (MCS covers microgeneration up to 50 kW; battery
storage since MIS 3012) and a household installation of them needs an MCS certificate for
the Smart Export Guarantee and grants, so its absence is a real signal. Larger, commercial or
other technologies are not MCS's business: the check is recorded as skipped with the reason.

Setting: ``ASSET_MCS_URL`` (env ``FLEXREG_MCS_URL``); optional ``ASSET_MCS_API_KEY``.

Contract::

    GET {base}/installations?postcode={site postcode}&technology={technology}
        technology: "solar_pv" | "heat_pump" | "battery_storage" | "wind_turbine"

    200 {
      "items": [
        {
          "certificate_number": "MCS-00123456",
          "technology": "solar_pv",
          "postcode": "CB1 2AB",
          "installed_capacity_kw": "4.00",
          "commissioned_on": "2023-06-01",          optional
          "installer": {"name": "...", "mcs_number": "NAP-12345", "certified": true}
        }
      ],
      "total": 1
    }

An empty ``items`` list is "no certificate" (a 404 ``{"error": "not_found"}`` is read the
same way).

Rules:

* no certificate for the postcode and technology -> ``not_found`` (``mcs.not_found``);
* no certificate whose capacity is within 10% of the asset's installed capacity ->
  ``failed`` (``mcs.capacity_mismatch``);
* the matching certificate's installer is not (or no longer) certified -> ``failed``
  (``mcs.installer_not_certified``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Final, Literal

from pydantic import Field

from flexreg.assets.validators.base import (
    AssetFacts,
    Reason,
    Schema,
    ServiceClient,
    ServiceUnavailable,
    ValidatorSpec,
    Verdict,
    judged,
    plain,
    same_postcode,
)

NAME = "mcs"
LABEL = "MCS installation database"
#: Asset category -> the MCS technology searched for.
TECHNOLOGIES: Final = {
    "SOLAR_PV": "solar_pv",
    "HEAT_PUMP": "heat_pump",
    "BESS": "battery_storage",
    "WIND_TURBINE": "wind_turbine",
}
#: MCS certifies microgeneration up to this installed capacity.
MAX_KW: Final = Decimal("50")
#: How far a certificate's capacity may be from the asset's installed capacity.
CAPACITY_TOLERANCE: Final = Decimal("0.10")


class InstallerIn(Schema):
    name: str = Field(min_length=1)
    mcs_number: str | None = None
    certified: bool


class InstallationIn(Schema):
    certificate_number: str = Field(min_length=1)
    technology: Literal["solar_pv", "heat_pump", "battery_storage", "wind_turbine"]
    postcode: str = Field(min_length=2)
    installed_capacity_kw: Decimal = Field(ge=0)
    commissioned_on: dt.date | None = None
    installer: InstallerIn


class InstallationsIn(Schema):
    items: list[InstallationIn]
    total: int | None = Field(default=None, ge=0)


def not_applicable(facts: AssetFacts) -> str | None:
    if not facts.domestic:
        return "MCS certificates are checked for domestic installations only."
    if facts.category not in TECHNOLOGIES:
        return f"MCS does not certify {facts.category} installations."
    if facts.installed_kw > MAX_KW:
        return f"MCS certifies installations up to {MAX_KW} kW; this one is larger."
    return None


def _close(certificate: Decimal, installed: Decimal) -> bool:
    return abs(certificate - installed) <= installed * CAPACITY_TOLERANCE


def check(facts: AssetFacts, client: ServiceClient, now: dt.datetime) -> Verdict:
    technology = TECHNOLOGIES[facts.category]
    found = client.get(
        "/installations",
        InstallationsIn,
        {"postcode": facts.postcode, "technology": technology},
    )
    asked = {"postcode": facts.postcode, "technology": technology}
    items = [] if found is None else found.items
    if any(
        i.technology != technology or not same_postcode(i.postcode, facts.postcode) for i in items
    ):
        raise ServiceUnavailable(
            "service.invalid_response",
            f"The {LABEL} answered with certificates for another postcode or technology.",
        )
    if not items:
        return judged(
            "",
            [],
            {"asked": asked, "certificates": []},
            missing=[
                Reason(
                    "mcs.not_found",
                    f"The MCS installation database has no {technology.replace('_', ' ')} "
                    f"certificate at {facts.postcode}.",
                )
            ],
        )
    certificates = [i.model_dump(mode="json") for i in items]
    evidence = {
        "asked": asked,
        "certificates": certificates,
        "asset_installed_kw": plain(facts.installed_kw),
    }
    close = [i for i in items if _close(i.installed_capacity_kw, facts.installed_kw)]
    if not close:
        listed = ", ".join(f"{i.installed_capacity_kw:f} kW" for i in items)
        return judged(
            "",
            [
                Reason(
                    "mcs.capacity_mismatch",
                    f"The MCS certificates at {facts.postcode} are for {listed}, not about "
                    f"{facts.installed_kw:f} kW.",
                )
            ],
            evidence,
        )
    certified = [i for i in close if i.installer.certified]
    if not certified:
        best = close[0]
        return judged(
            "",
            [
                Reason(
                    "mcs.installer_not_certified",
                    f"MCS certificate {best.certificate_number} was issued by "
                    f"{best.installer.name}, who is not MCS certified.",
                )
            ],
            {**evidence, "matched": best.certificate_number},
        )
    best = certified[0]
    return judged(
        f"MCS certificate {best.certificate_number} covers a "
        f"{best.installed_capacity_kw:f} kW {technology.replace('_', ' ')} installation at "
        f"{facts.postcode} by {best.installer.name}.",
        [],
        {**evidence, "matched": best.certificate_number},
    )


VALIDATOR = ValidatorSpec(NAME, LABEL, "ASSET_MCS_URL", not_applicable, check)
