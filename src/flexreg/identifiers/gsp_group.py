"""Grid Supply Point (GSP) group IDs.

Source: Elexon Market Domain Data (the 14 GSP groups of GB, one per DNO licence area)
and ``docs/DOMAIN.md``. GSP group IDs are exactly ``_A`` to ``_P`` without ``_I`` and
``_O``.

Normalisation: strip, upper-case, and accept the bare letter (``"a"`` or ``"A"`` becomes
``"_A"``), as many tariff and price feeds write the region letter on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Self

from flexreg.identifiers.base import Identifier
from flexreg.identifiers.errors import MAX_RAW_LENGTH, IdentifierError

__all__ = ["GSP_GROUP_NAMES", "GSPGroup", "is_valid_gsp_group"]

#: GSP group ID -> the name of its area (same order and names as DOMAIN.md's table).
GSP_GROUP_NAMES: Final[dict[str, str]] = {
    "_A": "Eastern",
    "_B": "East Midlands",
    "_C": "London",
    "_D": "Merseyside & North Wales",
    "_E": "West Midlands",
    "_F": "North East",
    "_G": "North West",
    "_H": "Southern",
    "_J": "South Eastern",
    "_K": "South Wales",
    "_L": "South Western",
    "_M": "Yorkshire",
    "_N": "South Scotland",
    "_P": "North Scotland",
}


def _normalise(raw: str) -> str:
    if len(raw) > MAX_RAW_LENGTH:
        raise IdentifierError("gsp_group.unknown", "That is far too long to be a GSP group.")
    value = raw.strip().upper()
    if len(value) == 1:
        value = "_" + value
    return value


def _validate(value: str) -> None:
    if not value:
        raise IdentifierError("gsp_group.empty")
    if value not in GSP_GROUP_NAMES:
        raise IdentifierError(
            "gsp_group.unknown",
            f"{value!r} is not a GSP group: use _A to _P (there is no _I or _O).",
        )


@dataclass(frozen=True, slots=True, order=True)
class GSPGroup(Identifier):
    """A GSP group, e.g. ``_C`` (London)."""

    normalise = staticmethod(_normalise)
    validate = staticmethod(_validate)

    @classmethod
    def all(cls) -> tuple[Self, ...]:
        """The 14 GSP groups in ID order."""
        return tuple(cls(group_id) for group_id in GSP_GROUP_NAMES)

    @property
    def id(self) -> str:
        """The GSP group ID, e.g. ``"_C"`` (same as ``value``)."""
        return self.value

    @property
    def letter(self) -> str:
        """The region letter without the underscore, e.g. ``"C"``."""
        return self.value[1]

    @property
    def name(self) -> str:
        return GSP_GROUP_NAMES[self.value]


def is_valid_gsp_group(raw: str) -> bool:
    return GSPGroup.is_valid(raw)
