"""Meter point registry (ECOES-like): the asset's MPANs exist, are energised and are at the
asset's site.

Applies when the asset has an import or an export MPAN. Setting: ``ASSET_METER_POINT_URL``
(env ``FLEXREG_METER_POINT_URL``); optional ``ASSET_METER_POINT_API_KEY``.

Contract (one request per MPAN core given)::

    GET {base}/meter-points/{mpan_core}

    200 {
      "mpan_core": "1012345678909",          13 digits; must be the one asked for
      "energisation_status": "energised",    "energised" | "de-energised"
      "disconnected": false,                  optional, default false: the meter point was
                                              disconnected (no longer a live supply)
      "postcode": "CB1 2AB",                  the meter point's address postcode
      "distributor_id": "10",                 optional
      "gsp_group": "_A",                      optional
      "direction": "import",                  optional: "import" | "export"
      "effective_from": "2019-04-01"          optional: date of the energisation status
    }
    404 {"error": "not_found", "detail": "..."}

Rules:

* an MPAN the registry does not know -> ``not_found`` (``meter_point.not_found``);
* a disconnected meter point -> ``failed`` (``meter_point.disconnected``);
* de-energised while the asset says it is ``CONNECTED`` -> ``failed``
  (``meter_point.not_energised``); an asset that is ``PENDING`` connection (or
  ``DISCONNECTED``) may sit behind a de-energised meter, so its energisation is evidence only;
* the registry's postcode differs from the asset's site postcode (spaces and case ignored) ->
  ``failed`` (``meter_point.postcode_mismatch``);
* an MPAN given as the export MPAN that the registry lists as an import meter point, or the
  other way round -> ``failed`` (``meter_point.direction_mismatch``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

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
    same_postcode,
    segment,
)

NAME = "meter_point"
LABEL = "meter point registry"


class MeterPointIn(Schema):
    mpan_core: str = Field(pattern=r"^\d{13}$")
    energisation_status: Literal["energised", "de-energised"]
    disconnected: bool = False
    postcode: str = Field(min_length=2, max_length=10)
    distributor_id: str | None = None
    gsp_group: str | None = None
    direction: Literal["import", "export"] | None = None
    effective_from: dt.date | None = None


def not_applicable(facts: AssetFacts) -> str | None:
    return None if facts.mpans else "The asset has no MPAN to look up."


def check(facts: AssetFacts, client: ServiceClient, now: dt.datetime) -> Verdict:
    failures: list[Reason] = []
    missing: list[Reason] = []
    evidence: dict[str, Any] = {}
    asleep: list[str] = []
    for direction, mpan in (("import", facts.import_mpan), ("export", facts.export_mpan)):
        if not mpan:
            continue
        found = client.get(f"/meter-points/{segment(mpan)}", MeterPointIn)
        if found is None:
            evidence[mpan] = None
            missing.append(
                Reason(
                    "meter_point.not_found",
                    f"The meter point registry has no MPAN {mpan} ({direction}).",
                )
            )
            continue
        if found.mpan_core != mpan:
            raise ServiceUnavailable(
                "service.invalid_response",
                f"Asked the {LABEL} for MPAN {mpan}, the answer is for {found.mpan_core}.",
            )
        evidence[mpan] = found.model_dump(mode="json")
        if found.disconnected:
            failures.append(
                Reason(
                    "meter_point.disconnected",
                    f"MPAN {mpan} is disconnected in the meter point registry.",
                )
            )
        elif found.energisation_status != "energised" and facts.connection_status == "CONNECTED":
            failures.append(
                Reason(
                    "meter_point.not_energised",
                    f"MPAN {mpan} is de-energised in the meter point registry, but the asset "
                    "is registered as connected.",
                )
            )
        if found.energisation_status != "energised":
            asleep.append(mpan)
        if not same_postcode(found.postcode, facts.postcode):
            failures.append(
                Reason(
                    "meter_point.postcode_mismatch",
                    f"The meter point registry has MPAN {mpan} at {found.postcode}, not at "
                    f"the asset's postcode {facts.postcode}.",
                )
            )
        if found.direction is not None and found.direction != direction:
            failures.append(
                Reason(
                    "meter_point.direction_mismatch",
                    f"MPAN {mpan} was given as the {direction} MPAN, but the meter point "
                    f"registry lists it as an {found.direction} meter point.",
                )
            )
    given = ", ".join(facts.mpans)
    ok = f"The meter point registry lists {given} as energised at {facts.postcode}."
    if asleep:
        ok = (
            f"The meter point registry lists {given} at {facts.postcode} "
            f"({', '.join(asleep)} de-energised; the asset's connection is "
            f"{facts.connection_status.lower()})."
        )
    return judged(
        ok,
        failures,
        {"meter_points": evidence},
        missing=missing,
    )


VALIDATOR = ValidatorSpec(NAME, LABEL, "ASSET_METER_POINT_URL", not_applicable, check)
