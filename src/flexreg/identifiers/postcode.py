"""UK postcodes (format only).

Sources: ``docs/DOMAIN.md`` (normalisation and regular expression), Royal Mail's postcode
rules as written down in BS 7666 and the UK Government Data Standards Catalogue (which
letters are used in which position), and the ONS Postcode Directory (the authority on
which postcodes exist).

Normalisation: upper-case, drop all whitespace, then put exactly one space before the last
three characters (``sw1a1aa`` -> ``SW1A 1AA``).

Validation, in order:

1. full-match DOMAIN.md's expression (with ``fullmatch``, so the anchoring bug of the
   often-copied government expression, which accepts ``GIR 0AAX``, cannot happen);
2. the outward code has one of the six shapes ``A9``, ``A99``, ``AA9``, ``AA99``,
   ``A9A``, ``AA9A`` (DOMAIN.md's last alternative also admits ``AAA``, which no postcode
   has) -- code ``postcode.invalid_format``;
3. letters used only where Royal Mail uses them -- code ``postcode.invalid_letter``:
   never Q, V, X first; never I, J, Z second; only A B C D E F G H J K P S T U W third in
   ``A9A``; only A B E H M N P R V W X Y fourth in ``AA9A``; never C I K M O V in the last
   two letters. ``GIR 0AA`` (Girobank) is the one exception.

A valid format does not prove that the postcode exists; the ONS Postcode Directory does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from flexreg.identifiers.base import Identifier
from flexreg.identifiers.errors import MAX_RAW_LENGTH, IdentifierError

__all__ = ["DOMAIN_POSTCODE_PATTERN", "Postcode", "is_valid_postcode"]

#: The expression given in DOMAIN.md (anchors dropped: it is always used with fullmatch).
DOMAIN_POSTCODE_PATTERN: Final = re.compile(
    r"(?:GIR 0AA|(?:[A-Z][0-9]{1,2}|[A-Z][A-HJ-Y][0-9]{1,2}|[A-Z][0-9][A-Z]"
    r"|[A-Z][A-HJ-Y][0-9]?[A-Z]) [0-9][A-Z]{2})",
    re.ASCII,
)
_OUTWARD_SHAPE: Final = re.compile(
    r"[A-Z][0-9]{1,2}|[A-Z]{2}[0-9]{1,2}|[A-Z][0-9][A-Z]|[A-Z]{2}[0-9][A-Z]", re.ASCII
)
_GIROBANK: Final = "GIR 0AA"

_NOT_FIRST: Final = frozenset("QVX")
_NOT_SECOND: Final = frozenset("IJZ")
_THIRD_IN_A9A: Final = frozenset("ABCDEFGHJKPSTUW")
_FOURTH_IN_AA9A: Final = frozenset("ABEHMNPRVWXY")
_NOT_IN_UNIT: Final = frozenset("CIKMOV")


def _normalise(raw: str) -> str:
    if len(raw) > MAX_RAW_LENGTH:
        raise IdentifierError("postcode.invalid_format", "That is far too long to be a postcode.")
    compact = "".join(raw.split()).upper()
    if len(compact) <= 3:
        return compact
    return f"{compact[:-3]} {compact[-3:]}"


def _letter_error(message: str) -> IdentifierError:
    return IdentifierError("postcode.invalid_letter", message)


def _validate(value: str) -> None:
    if not value:
        raise IdentifierError("postcode.empty")
    format_error = IdentifierError(
        "postcode.invalid_format",
        f"{value!r} is not a UK postcode format (for example SW1A 1AA or M1 1AE).",
    )
    if not DOMAIN_POSTCODE_PATTERN.fullmatch(value):
        raise format_error
    if value == _GIROBANK:
        return
    outward, inward = value.split(" ")
    if not _OUTWARD_SHAPE.fullmatch(outward):
        raise format_error
    if outward[0] in _NOT_FIRST:
        raise _letter_error(f"No postcode starts with {outward[0]}.")
    if outward[1].isalpha():
        if outward[1] in _NOT_SECOND:
            raise _letter_error(f"{outward[1]} is never the second letter of a postcode.")
        if len(outward) == 4 and outward[3].isalpha() and outward[3] not in _FOURTH_IN_AA9A:
            raise _letter_error(f"{outward[3]} is never used at the end of {outward}.")
    elif len(outward) == 3 and outward[2].isalpha() and outward[2] not in _THIRD_IN_A9A:
        raise _letter_error(f"{outward[2]} is never used at the end of {outward}.")
    bad_unit = sorted(set(inward[1:]) & _NOT_IN_UNIT)
    if bad_unit:
        raise _letter_error(
            f"The last two letters of a postcode never include {', '.join(bad_unit)}."
        )


@dataclass(frozen=True, slots=True)
class Postcode(Identifier):
    """A UK postcode in normalised form, e.g. ``SW1A 1AA``."""

    normalise = staticmethod(_normalise)
    validate = staticmethod(_validate)

    @property
    def outward(self) -> str:
        """The outward code (postcode district), e.g. ``"SW1A"``."""
        return self.value.split(" ")[0]

    @property
    def inward(self) -> str:
        """The inward code (sector digit and unit letters), e.g. ``"1AA"``."""
        return self.value.split(" ")[1]

    @property
    def area(self) -> str:
        """The postcode area: the leading letters, e.g. ``"SW"`` or ``"M"``."""
        outward = self.outward
        end = 0
        while end < len(outward) and outward[end].isalpha():
            end += 1
        return outward[:end]

    @property
    def sector(self) -> str:
        """The postcode sector, e.g. ``"SW1A 1"``."""
        return self.value[:-2]


def is_valid_postcode(raw: str) -> bool:
    return Postcode.is_valid(raw)
