"""Energy Identification Codes (EIC), as issued under the ENTSO-E EIC scheme.

Source: ENTSO-E, *The Energy Identification Coding Scheme (EIC) Reference Manual*, and
``docs/DOMAIN.md`` ("Identifiers (with exact algorithms)").

An EIC has 16 characters from ``0-9``, ``A-Z`` and ``-``, upper case only:

* characters 1-2: the issuing office (``10`` = ENTSO-E's central office, ``48`` = GB,
  issued by NESO as Local Issuing Office);
* character 3: the object type (:class:`EICType`);
* characters 4-15: the code proper (padded with ``-``);
* character 16: a check character.

Check character: map ``0-9`` to 0-9, ``A-Z`` to 10-35 and ``-`` to 36; weight the first 15
characters 16, 15, ..., 2; ``S`` = sum of weight x value; the check value is
``36 - ((S - 1) mod 37)``, mapped back through the same table. A base whose check value
would be 36 (``-``) cannot be issued, so no EIC starts with it.

FlexReg does not mint EICs: it stores and validates those a Local Issuing Office issued.
Normalisation strips surrounding whitespace and upper-cases.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final, Self

from flexreg.identifiers.errors import MAX_RAW_LENGTH, IdentifierError

__all__ = ["EIC", "EIC_ALPHABET", "EICType", "eic_check_character", "is_valid_eic"]

#: The 37 symbols of an EIC, in value order (index = value).
EIC_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-"
_VALUE: Final[dict[str, int]] = {char: value for value, char in enumerate(EIC_ALPHABET)}
_LENGTH: Final = 16


class EICType(enum.Enum):
    """The object type, the third character of an EIC."""

    PARTY = "X"
    AREA = "Y"
    MEASUREMENT_POINT = "Z"
    RESOURCE = "W"
    LOCATION = "V"
    TIE_LINE = "T"
    SUBSTATION = "A"

    @property
    def label(self) -> str:
        """A human name, e.g. ``"resource object"``."""
        return _TYPE_LABELS[self]


_TYPE_LABELS: Final[dict[EICType, str]] = {
    EICType.PARTY: "party",
    EICType.AREA: "area",
    EICType.MEASUREMENT_POINT: "measurement point",
    EICType.RESOURCE: "resource object",
    EICType.LOCATION: "location",
    EICType.TIE_LINE: "tie-line",
    EICType.SUBSTATION: "substation",
}
_TYPES_BY_LETTER: Final[dict[str, EICType]] = {t.value: t for t in EICType}


def _check_base_characters(base: str) -> None:
    for position, char in enumerate(base, start=1):
        if char not in _VALUE:
            raise IdentifierError(
                "eic.bad_character",
                f"Character {position} ({char!r}) is not allowed in an EIC: "
                "use only 0-9, A-Z and '-'.",
            )


def eic_check_character(base15: str) -> str:
    """Return the check character for the first 15 characters of an EIC.

    Raises :class:`IdentifierError` (``eic.bad_length``, ``eic.bad_character``) for a
    malformed base and ``eic.invalid_base`` when the check would be ``-`` (such a base
    cannot be issued).
    """
    if len(base15) != _LENGTH - 1:
        raise IdentifierError(
            "eic.bad_length", f"An EIC base has 15 characters, not {len(base15)}."
        )
    _check_base_characters(base15)
    weights = range(16, 1, -1)
    total = sum(weight * _VALUE[char] for weight, char in zip(weights, base15, strict=True))
    check_value = 36 - ((total - 1) % 37)
    if check_value == 36:
        raise IdentifierError(
            "eic.invalid_base",
            f"No EIC can start with {base15!r}: its check character would be '-'.",
        )
    return EIC_ALPHABET[check_value]


def _normalise(raw: str) -> str:
    if len(raw) > MAX_RAW_LENGTH:
        raise IdentifierError("eic.bad_length", "That is far too long to be an EIC.")
    return raw.strip().upper()


def _validate(value: str) -> None:
    if not value:
        raise IdentifierError("eic.empty")
    if len(value) != _LENGTH:
        raise IdentifierError(
            "eic.bad_length", f"An EIC has exactly 16 characters; this has {len(value)}."
        )
    _check_base_characters(value)
    if value[2] not in _TYPES_BY_LETTER:
        raise IdentifierError(
            "eic.unknown_type",
            f"The third character of an EIC is its object type (one of X, Y, Z, W, V, T, A), "
            f"not {value[2]!r}.",
        )
    expected = eic_check_character(value[:15])
    if value[15] != expected:
        raise IdentifierError(
            "eic.bad_check_character",
            f"The check character of {value!r} is wrong: check for typing errors.",
        )


@dataclass(frozen=True, slots=True)
class EIC:
    """A validated EIC in its normalised (upper-case, 16-character) form."""

    value: str

    def __post_init__(self) -> None:
        _validate(self.value)

    @classmethod
    def parse(cls, raw: str, *, expected_type: EICType | None = None) -> Self:
        """Normalise and validate ``raw``; optionally require an object type."""
        eic = cls(_normalise(raw))
        if expected_type is not None and eic.object_type is not expected_type:
            raise IdentifierError(
                "eic.wrong_type",
                f"Expected an EIC for a {expected_type.label} "
                f"(third character {expected_type.value!r}), but {eic.value} is for a "
                f"{eic.object_type.label}.",
            )
        return eic

    @classmethod
    def is_valid(cls, raw: str, *, expected_type: EICType | None = None) -> bool:
        try:
            cls.parse(raw, expected_type=expected_type)
        except IdentifierError:
            return False
        return True

    @property
    def issuing_office(self) -> str:
        """The two-character code of the issuing office, e.g. ``"10"`` or ``"48"``."""
        return self.value[:2]

    @property
    def object_type(self) -> EICType:
        return _TYPES_BY_LETTER[self.value[2]]

    @property
    def check_character(self) -> str:
        return self.value[15]

    def __str__(self) -> str:
        return self.value


def is_valid_eic(raw: str, *, expected_type: EICType | None = None) -> bool:
    """True if ``raw`` parses as an EIC (of ``expected_type`` if given)."""
    return EIC.is_valid(raw, expected_type=expected_type)
