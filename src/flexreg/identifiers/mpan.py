"""Meter Point Administration Numbers (MPAN), GB electricity.

Sources: Elexon Master Registration Agreement / MPAS and Market Domain Data (distributor
IDs, profile classes), and ``docs/DOMAIN.md`` ("Identifiers (with exact algorithms)").

The **core** (13 digits) identifies the meter point: distributor ID (2), unique number
(8), 2 more digits, and a check digit. Check digit: the sum of the first 12 digits times
the primes 3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43, then mod 11, then mod 10.

The **full MPAN** (21 characters, the "S number" printed on bills) puts the supplementary
("top line") data first: profile class (2 digits, ``00`` to ``08``), meter timeswitch
code (3 digits) and line loss factor class (3 characters; digits in practice, but Market
Domain Data defines it as 3 alphanumeric characters, so letters are accepted).

Normalisation: upper-case, drop whitespace, ``-``, ``/`` and ``.``; a leading ``S`` (the
box printed to the left of the two lines on a bill) is dropped from a 22-character input.

Caution: MPANs of domestic premises are treated as personal data by some DNOs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Self

from flexreg.identifiers.base import Identifier
from flexreg.identifiers.errors import MAX_RAW_LENGTH, IdentifierError
from flexreg.identifiers.gsp_group import GSP_GROUP_NAMES, GSPGroup

__all__ = [
    "DISTRIBUTORS",
    "MPAN_PRIMES",
    "Distributor",
    "FullMPAN",
    "MPANCore",
    "is_valid_mpan",
    "mpan_check_digit",
    "parse_mpan",
]

MPAN_PRIMES: Final = (3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43)
_CORE_LENGTH: Final = 13
_FULL_LENGTH: Final = 21
_SEPARATORS: Final = re.compile(r"[\s\-/.]+")
_DIGITS: Final = frozenset("0123456789")
_ALNUM: Final = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_PROFILE_CLASSES: Final = frozenset(f"{n:02d}" for n in range(9))


@dataclass(frozen=True, slots=True)
class Distributor:
    """A distributor (DNO licence area or IDNO) identified by the first two MPAN digits."""

    distributor_id: str
    #: Licence area for a DNO (e.g. ``"Eastern"``); the company's name for an IDNO.
    name: str
    #: Who operates it today, e.g. ``"UKPN EPN"``, ``"NGED"``, or the IDNO.
    operator: str
    #: The Market Participant ID of a DNO licence area; None for IDNOs (not tabulated here).
    mpid: str | None
    #: The GSP group of a DNO licence area; None for IDNOs, which operate across areas.
    gsp_group_id: str | None
    is_idno: bool

    @property
    def gsp_group(self) -> GSPGroup | None:
        return GSPGroup(self.gsp_group_id) if self.gsp_group_id is not None else None


def _dno(distributor_id: str, mpid: str, operator: str, gsp_group_id: str) -> Distributor:
    return Distributor(
        distributor_id=distributor_id,
        name=GSP_GROUP_NAMES[gsp_group_id],
        operator=operator,
        mpid=mpid,
        gsp_group_id=gsp_group_id,
        is_idno=False,
    )


def _idno(distributor_id: str, name: str) -> Distributor:
    return Distributor(
        distributor_id=distributor_id,
        name=name,
        operator=name,
        mpid=None,
        gsp_group_id=None,
        is_idno=True,
    )


#: Distributor ID -> distributor. DNO rows are DOMAIN.md's table; IDNO rows are its list
#: plus 28 (UK Power Networks' IDNO business, formerly EDF Energy's), which DOMAIN.md
#: omits. Elexon's Market Domain Data is the authority: extend this table from it.
DISTRIBUTORS: Final[dict[str, Distributor]] = {
    d.distributor_id: d
    for d in (
        _dno("10", "EELC", "UKPN EPN", "_A"),
        _dno("11", "EMEB", "NGED", "_B"),
        _dno("12", "LOND", "UKPN LPN", "_C"),
        _dno("13", "MANW", "SPEN SPM", "_D"),
        _dno("14", "MIDE", "NGED", "_E"),
        _dno("15", "NEEB", "NPg", "_F"),
        _dno("16", "NORW", "ENWL", "_G"),
        _dno("17", "HYDE", "SSEN SHEPD", "_P"),
        _dno("18", "SPOW", "SPEN SPD", "_N"),
        _dno("19", "SEEB", "UKPN SPN", "_J"),
        _dno("20", "SOUT", "SSEN SEPD", "_H"),
        _dno("21", "SWAE", "NGED", "_K"),
        _dno("22", "SWEB", "NGED", "_L"),
        _dno("23", "YELG", "NPg", "_M"),
        _idno("24", "IPNL"),
        _idno("25", "ESP"),
        _idno("26", "Last Mile"),
        _idno("27", "GTC"),
        _idno("28", "UK Power Networks (IDNO)"),
        _idno("29", "Harlaxton"),
        _idno("30", "Leep"),
        _idno("31", "UK Power Distribution"),
        _idno("32", "Energy Assets"),
        _idno("33", "Eclipse"),
        _idno("34", "Murphy"),
        _idno("35", "Fulcrum"),
        _idno("36", "Vattenfall"),
        _idno("37", "Optimal"),
        _idno("38", "Indigo"),
    )
}


def mpan_check_digit(first12: str) -> str:
    """The check digit for the first 12 digits of an MPAN core (a single digit string)."""
    if len(first12) != _CORE_LENGTH - 1 or not set(first12) <= _DIGITS:
        raise IdentifierError(
            "mpan.bad_length" if len(first12) != _CORE_LENGTH - 1 else "mpan.bad_character",
            "The check digit is computed from exactly 12 digits.",
        )
    total = sum(int(digit) * prime for digit, prime in zip(first12, MPAN_PRIMES, strict=True))
    return str(total % 11 % 10)


def _normalise(raw: str) -> str:
    if len(raw) > MAX_RAW_LENGTH:
        raise IdentifierError("mpan.bad_length", "That is far too long to be an MPAN.")
    value = _SEPARATORS.sub("", raw).upper()
    if len(value) == _FULL_LENGTH + 1 and value.startswith("S"):
        value = value[1:]
    return value


def _require_digits(value: str, what: str) -> None:
    if not set(value) <= _DIGITS:
        raise IdentifierError("mpan.bad_character", f"The {what} must be digits only.")


def _validate_core(value: str) -> None:
    if not value:
        raise IdentifierError("mpan.empty")
    if len(value) != _CORE_LENGTH:
        raise IdentifierError(
            "mpan.bad_length", f"An MPAN core has 13 digits; this has {len(value)} characters."
        )
    _require_digits(value, "MPAN core")
    if value[:2] not in DISTRIBUTORS:
        raise IdentifierError(
            "mpan.unknown_distributor",
            f"{value[:2]} is not a known distributor ID (the first two digits of the core).",
        )
    if mpan_check_digit(value[:12]) != value[12]:
        raise IdentifierError(
            "mpan.bad_check_digit",
            "The MPAN's check digit (its last digit) does not match: check for typing errors.",
        )


@dataclass(frozen=True, slots=True)
class MPANCore(Identifier):
    """The 13-digit MPAN core, the unique identifier of a meter point."""

    normalise = staticmethod(_normalise)
    validate = staticmethod(_validate_core)

    @classmethod
    def parse(cls, raw: str) -> Self:
        """Parse a core; a full MPAN is accepted too and its core returned."""
        value = _normalise(raw)
        if len(value) == _FULL_LENGTH:
            return cls(FullMPAN.parse(value).core.value)
        return cls(value)

    @property
    def distributor_id(self) -> str:
        return self.value[:2]

    @property
    def dno(self) -> Distributor:
        """The distributor (DNO licence area or IDNO) of this meter point."""
        return DISTRIBUTORS[self.distributor_id]

    @property
    def gsp_group(self) -> GSPGroup | None:
        """The GSP group, where the distributor ID determines it (DNOs only)."""
        return self.dno.gsp_group

    @property
    def check_digit(self) -> str:
        return self.value[12]

    @property
    def formatted(self) -> str:
        """The grouping used on bills: ``"12 3456 7890 126"``."""
        v = self.value
        return f"{v[:2]} {v[2:6]} {v[6:10]} {v[10:]}"


@dataclass(frozen=True, slots=True)
class FullMPAN:
    """A full 21-character MPAN: supplementary data and core."""

    profile_class: str
    mtc: str
    llfc: str
    core: MPANCore

    def __post_init__(self) -> None:
        if len(self.profile_class) != 2 or len(self.mtc) != 3 or len(self.llfc) != 3:
            raise IdentifierError(
                "mpan.bad_length",
                "A full MPAN has a 2-digit profile class, a 3-digit meter timeswitch code "
                "and a 3-character line loss factor class before the 13-digit core.",
            )
        _require_digits(self.profile_class, "profile class")
        if self.profile_class not in _PROFILE_CLASSES:
            raise IdentifierError(
                "mpan.bad_profile_class",
                f"The profile class (first two digits) must be 00 to 08, not {self.profile_class}.",
            )
        _require_digits(self.mtc, "meter timeswitch code")
        if not set(self.llfc) <= _ALNUM:
            raise IdentifierError(
                "mpan.bad_character", "The line loss factor class must be letters or digits."
            )

    @classmethod
    def parse(cls, raw: str) -> Self:
        value = _normalise(raw)
        if not value:
            raise IdentifierError("mpan.empty")
        if len(value) != _FULL_LENGTH:
            raise IdentifierError(
                "mpan.bad_length",
                f"A full MPAN has 21 characters; this has {len(value)}.",
            )
        # Validate the core first: a wrong check digit is the most useful message.
        core = MPANCore(value[8:])
        return cls(profile_class=value[:2], mtc=value[2:5], llfc=value[5:8], core=core)

    @classmethod
    def is_valid(cls, raw: str) -> bool:
        try:
            cls.parse(raw)
        except IdentifierError:
            return False
        return True

    @property
    def value(self) -> str:
        return f"{self.profile_class}{self.mtc}{self.llfc}{self.core.value}"

    @property
    def formatted(self) -> str:
        """The bill layout on one line: ``"S 01 801 100 / 12 3456 7890 126"``."""
        return f"S {self.profile_class} {self.mtc} {self.llfc} / {self.core.formatted}"

    def __str__(self) -> str:
        return self.value


def parse_mpan(raw: str) -> MPANCore | FullMPAN:
    """Parse either a 13-digit core or a full 21-character MPAN."""
    value = _normalise(raw)
    if len(value) == _FULL_LENGTH:
        return FullMPAN.parse(value)
    return MPANCore.parse(value)


def is_valid_mpan(raw: str) -> bool:
    """True if ``raw`` is a valid MPAN core or full MPAN."""
    try:
        parse_mpan(raw)
    except IdentifierError:
        return False
    return True
