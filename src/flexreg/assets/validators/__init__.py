"""The pluggable authenticity validators, one module per outside service.

Each module exports ``VALIDATOR`` (a :class:`~flexreg.assets.validators.base.ValidatorSpec`)
and documents its request/response contract and its rules. :data:`VALIDATORS` is the
registry the pipeline (``assets.authenticity``) runs, in this order. To add a validator:
write a module with ``not_applicable(facts)`` and ``check(facts, client, now)``, give it a
``*_URL`` setting, add it here and to the stand-in (``devtools.asset_services_stub``).
"""

from __future__ import annotations

from typing import Final

from flexreg.assets.validators import consent, dno_connection, manufacturer, mcs, meter_point
from flexreg.assets.validators.base import ValidatorSpec

VALIDATORS: Final[dict[str, ValidatorSpec]] = {
    spec.name: spec
    for spec in (
        meter_point.VALIDATOR,
        dno_connection.VALIDATOR,
        manufacturer.VALIDATOR,
        mcs.VALIDATOR,
        consent.VALIDATOR,
    )
}

__all__ = ["VALIDATORS", "ValidatorSpec"]
