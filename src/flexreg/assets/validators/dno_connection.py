"""DNO connection data: the asset's connection reference exists, belongs to its MPAN and the
asset's capacities are within the connection agreement.

Applies when the asset gives a DNO connection reference (the category schema decides when
one is required; small domestic installations notified under G98/G99 often have none).
Setting: ``ASSET_DNO_CONNECTION_URL`` (env ``FLEXREG_DNO_CONNECTION_URL``), one service for
every licence area (a DNO data hub, or one DNO's API in a pilot); optional
``ASSET_DNO_CONNECTION_API_KEY``.

Contract::

    GET {base}/connections/{connection_reference}?licence_area={MPID}&mpan={mpan_core}
        (``licence_area`` and ``mpan`` are routing hints, sent when the asset has them)

    200 {
      "connection_reference": "EPN-CON-000123",   must be the one asked for
      "dno_licence_area": "EELC",                 MPID of the licence area
      "status": "energised",                      "offered" | "accepted" | "energised" |
                                                  "terminated"
      "mpans": ["1012345678909", "1098765432109"],  meter points of the connection
      "export_capacity_kw": "10.00",              agreed maximum export (decimal string or
      "import_capacity_kw": "10.00",              number); null = none agreed
      "connection_type": "FIRM",                  optional: FIRM | NON_FIRM | DYNAMIC
      "site_postcode": "CB1 2AB"                  optional
    }
    404 {"error": "not_found", "detail": "..."}

Rules:

* an unknown reference -> ``not_found`` (``dno_connection.not_found``);
* a terminated agreement, or an offer not yet accepted -> ``failed``
  (``dno_connection.terminated``, ``dno_connection.not_accepted``);
* another licence area than the asset's MPAN says -> ``failed``
  (``dno_connection.licence_area_mismatch``);
* none of the asset's MPANs is on the connection -> ``failed``
  (``dno_connection.mpan_mismatch``);
* the asset's export (import) capacity above the agreed export (import) capacity, or any
  export (import) where none is agreed -> ``failed`` (``dno_connection.export_exceeds_agreement``,
  ``dno_connection.import_exceeds_agreement``); capacities are compared in kW, exactly;
* a connection type the asset gave that differs from the agreement's -> ``failed``
  (``dno_connection.type_mismatch``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

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
    segment,
)

NAME = "dno_connection"
LABEL = "DNO connection data service"


class ConnectionIn(Schema):
    connection_reference: str = Field(min_length=1, max_length=100)
    dno_licence_area: str | None = None
    status: Literal["offered", "accepted", "energised", "terminated"]
    mpans: list[str] = Field(default_factory=list)
    export_capacity_kw: Decimal | None = Field(default=None, ge=0)
    import_capacity_kw: Decimal | None = Field(default=None, ge=0)
    connection_type: str | None = None
    site_postcode: str | None = None


def not_applicable(facts: AssetFacts) -> str | None:
    if not facts.connection_reference:
        return "The asset has no DNO connection reference to look up."
    return None


def _within(
    kind: str, asked: Decimal | None, agreed: Decimal | None, reference: str
) -> Reason | None:
    if asked is None or asked == 0:
        return None
    if agreed is None:
        return Reason(
            f"dno_connection.{kind}_exceeds_agreement",
            f"Connection {reference} has no agreed {kind} capacity, but the asset has "
            f"{kind} of {asked:f} kW.",
        )
    if asked > agreed:
        return Reason(
            f"dno_connection.{kind}_exceeds_agreement",
            f"The asset's {kind} capacity ({asked:f} kW) is above the {agreed:f} kW agreed "
            f"for connection {reference}.",
        )
    return None


def check(facts: AssetFacts, client: ServiceClient, now: dt.datetime) -> Verdict:
    reference = facts.connection_reference
    params: dict[str, str] = {}
    if facts.dno_licence_area:
        params["licence_area"] = facts.dno_licence_area
    if facts.mpans:
        params["mpan"] = facts.mpans[0]
    found = client.get(f"/connections/{segment(reference)}", ConnectionIn, params)
    if found is None:
        return judged(
            "",
            [],
            {"connection_reference": reference, "connection": None},
            missing=[
                Reason(
                    "dno_connection.not_found",
                    f"The DNO connection data has no connection {reference}.",
                )
            ],
        )
    if found.connection_reference.strip().upper() != reference.strip().upper():
        raise ServiceUnavailable(
            "service.invalid_response",
            f"Asked the {LABEL} for connection {reference}, the answer is for "
            f"{found.connection_reference}.",
        )
    failures: list[Reason] = []
    if found.status == "terminated":
        failures.append(
            Reason("dno_connection.terminated", f"Connection {reference} has been terminated.")
        )
    elif found.status == "offered":
        failures.append(
            Reason(
                "dno_connection.not_accepted",
                f"Connection {reference} is an offer that has not been accepted.",
            )
        )
    if (
        found.dno_licence_area
        and facts.dno_licence_area
        and found.dno_licence_area.upper() != facts.dno_licence_area.upper()
    ):
        failures.append(
            Reason(
                "dno_connection.licence_area_mismatch",
                f"Connection {reference} is in licence area {found.dno_licence_area}, but the "
                f"asset's MPAN is in {facts.dno_licence_area}.",
            )
        )
    if facts.mpans and not set(facts.mpans) & set(found.mpans):
        failures.append(
            Reason(
                "dno_connection.mpan_mismatch",
                f"Connection {reference} does not include the asset's MPAN "
                f"({', '.join(facts.mpans)}).",
            )
        )
    for reason in (
        _within("export", facts.export_kw, found.export_capacity_kw, reference),
        _within("import", facts.import_kw, found.import_capacity_kw, reference),
    ):
        if reason is not None:
            failures.append(reason)
    if (
        facts.connection_type
        and found.connection_type
        and found.connection_type.upper() != facts.connection_type.upper()
    ):
        failures.append(
            Reason(
                "dno_connection.type_mismatch",
                f"Connection {reference} is {found.connection_type}, but the asset was "
                f"registered as {facts.connection_type}.",
            )
        )
    evidence = {
        "connection_reference": reference,
        "connection": found.model_dump(mode="json"),
        "asset_export_kw": plain(facts.export_kw),
        "asset_import_kw": plain(facts.import_kw),
    }
    return judged(
        f"Connection {reference} is {found.status} and the asset is within its agreed capacities.",
        failures,
        evidence,
    )


VALIDATOR = ValidatorSpec(NAME, LABEL, "ASSET_DNO_CONNECTION_URL", not_applicable, check)
