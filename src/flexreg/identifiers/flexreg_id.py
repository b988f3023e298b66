"""FlexReg's own identifiers: Participant IDs and Asset IDs.

Format (canonical form, 13 characters)::

    P-3M9QX2HDK7P
    | |         |
    | |         +-- 1 check character
    | +------------ 10 random body characters
    +-------------- kind letter: P = participant, A = asset

* Every character after the dash is from Douglas Crockford's base 32 alphabet
  ``0123456789ABCDEFGHJKMNPQRSTVWXYZ`` (no I, L, O or U: nothing that looks like another
  symbol or spells words easily); the body is drawn with :mod:`secrets`, so IDs are
  random rather than sequential and cannot be enumerated. 10 body characters give 2^50
  possible bodies per kind (about 0.97 x 10^15 usable ones): the database's unique index
  is the last word, and an insert that collides (about 1 in 100 million draws with 10
  million IDs stored) just draws again.
* The check character (Crockford-style, prime modulus 37): with ``v_i`` the Crockford
  value of the i-th character of ``kind letter + body`` (i = 1..11; ``P`` = 22,
  ``A`` = 10), the check value is ``sum(i * v_i) mod 37``, written with the Crockford
  symbol of that value. When the check value is 32..36 there is no Crockford symbol for
  it and that body is never issued (:func:`new_participant_id` draws again; parsing such a
  string always fails), so every character of an issued ID is a Crockford symbol and none
  needs ``*~$=U`` (awkward in URLs).

Why every single-character substitution is caught: changing character i from value a to
b changes the sum by ``i * (b - a)``; 37 is prime, 1 <= i <= 11 and 0 < |b - a| < 37,
so the sum changes mod 37 and the check no longer matches (a changed check character
cannot match the unchanged sum). Why every adjacent transposition is caught: swapping
characters i and i + 1 (values a != b) changes the sum by ``(i - (i + 1)) * (b - a)``,
never 0 mod 37; swapping the last body character (weight 11, value a) with the check
character (value c != a) keeps the ID valid only if ``c + 11a == a + 11c`` mod 37, i.e.
``10(c - a) == 0``, impossible. The dash is a fixed separator: moving it or replacing it
makes a string that does not parse. Jump transpositions (``abc`` -> ``cba``) are caught
too (the weights differ by 2).

Parsing normalises: strip, upper-case, drop whitespace, accept the dash missing, and map
Crockford's look-alikes after the kind letter (``O`` -> ``0``, ``I``/``L`` -> ``1``) before
checking. ``U`` is never valid.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from typing import ClassVar, Final, Self

from flexreg.identifiers.errors import MAX_RAW_LENGTH, IdentifierError

__all__ = [
    "BODY_LENGTH",
    "CROCKFORD_ALPHABET",
    "AssetId",
    "FlexRegId",
    "FlexRegIdKind",
    "ParticipantId",
    "flexreg_check_character",
    "flexreg_check_value",
    "is_valid_flexreg_id",
    "new_asset_id",
    "new_participant_id",
    "parse_flexreg_id",
]

CROCKFORD_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE: Final[dict[str, int]] = {char: value for value, char in enumerate(CROCKFORD_ALPHABET)}
_LOOKALIKES: Final = str.maketrans({"O": "0", "I": "1", "L": "1"})
_MODULUS: Final = 37
BODY_LENGTH: Final = 10
_TAIL_LENGTH: Final = BODY_LENGTH + 1  # body + check character
_CANONICAL_LENGTH: Final = 2 + _TAIL_LENGTH


class FlexRegIdKind(enum.Enum):
    PARTICIPANT = "P"
    ASSET = "A"


_KINDS_BY_LETTER: Final[dict[str, FlexRegIdKind]] = {k.value: k for k in FlexRegIdKind}
_EXAMPLES: Final = {"P": "P-3M9QX2HDK7P", "A": "A-3M9QX2HDK7A"}


def flexreg_check_value(payload: str) -> int:
    """``sum(i * value(payload[i-1])) mod 37`` over the kind letter and body (0..36)."""
    try:
        return sum(i * _VALUE[char] for i, char in enumerate(payload, start=1)) % _MODULUS
    except KeyError as exc:
        raise IdentifierError(
            "flexreg_id.bad_character", f"{exc.args[0]!r} is not a Crockford base 32 symbol."
        ) from None


def flexreg_check_character(payload: str) -> str | None:
    """The check character for ``kind letter + body``, or None if none exists.

    None means the check value is 32..36, which has no Crockford symbol: such a body is
    never issued.
    """
    value = flexreg_check_value(payload)
    return CROCKFORD_ALPHABET[value] if value < len(CROCKFORD_ALPHABET) else None


def _split(raw: str) -> tuple[FlexRegIdKind, str]:
    """Normalise ``raw`` and return (kind, body + check) without verifying the check."""
    if len(raw) > MAX_RAW_LENGTH:
        raise IdentifierError("flexreg_id.bad_length", "That is far too long to be an ID.")
    compact = "".join(raw.split()).upper()
    if not compact:
        raise IdentifierError("flexreg_id.empty")
    letter = compact[0]
    if letter not in _KINDS_BY_LETTER:
        raise IdentifierError(
            "flexreg_id.unknown_kind",
            "A FlexReg ID starts with P (participant) or A (asset).",
        )
    tail = compact[2:] if compact[1:2] == "-" else compact[1:]
    if len(tail) != _TAIL_LENGTH:
        raise IdentifierError(
            "flexreg_id.bad_length",
            f"A FlexReg ID is {letter}- followed by {_TAIL_LENGTH} characters, "
            f"e.g. {_EXAMPLES[letter]}.",
        )
    tail = tail.translate(_LOOKALIKES)
    for char in tail:
        if char not in _VALUE:
            raise IdentifierError(
                "flexreg_id.bad_character",
                f"{char!r} is not allowed in a FlexReg ID (letters and digits only, no U).",
            )
    return _KINDS_BY_LETTER[letter], tail


@dataclass(frozen=True, slots=True)
class FlexRegId:
    """A Participant ID or Asset ID in canonical form (``P-3M9QX2HDK7P``).

    Every instance is a :class:`ParticipantId` or an :class:`AssetId` (the base cannot be
    constructed). ``FlexRegId.parse`` accepts either kind and returns the matching
    subclass; ``ParticipantId.parse`` and ``AssetId.parse`` accept only their own kind
    (``flexreg_id.wrong_kind``).
    """

    value: str
    #: The kind a subclass stands for; None on the generic base.
    required_kind: ClassVar[FlexRegIdKind | None] = None

    def __post_init__(self) -> None:
        expected = type(self).required_kind
        if expected is None:
            raise TypeError("FlexRegId is abstract: use FlexRegId.parse() or a subclass.")
        if self.value != _canonical(self.value):
            raise IdentifierError(
                "flexreg_id.bad_character",
                "Construct FlexReg IDs with parse(); the constructor takes the canonical form.",
            )
        _verify(self.value)
        if self.kind is not expected:
            raise _wrong_kind(expected, self.value)

    @classmethod
    def parse(cls, raw: str) -> Self:
        kind, tail = _split(raw)
        value = f"{kind.value}-{tail}"
        target = _CLASSES[kind]
        if not issubclass(target, cls):
            raise _wrong_kind(cls.required_kind or kind, value)
        return target(value)

    @classmethod
    def is_valid(cls, raw: str) -> bool:
        try:
            cls.parse(raw)
        except IdentifierError:
            return False
        return True

    @property
    def kind(self) -> FlexRegIdKind:
        return _KINDS_BY_LETTER[self.value[0]]

    @property
    def body(self) -> str:
        """The 10 random characters."""
        return self.value[2:-1]

    @property
    def check_character(self) -> str:
        return self.value[-1]

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class ParticipantId(FlexRegId):
    required_kind: ClassVar[FlexRegIdKind | None] = FlexRegIdKind.PARTICIPANT


@dataclass(frozen=True, slots=True)
class AssetId(FlexRegId):
    required_kind: ClassVar[FlexRegIdKind | None] = FlexRegIdKind.ASSET


_CLASSES: Final[dict[FlexRegIdKind, type[FlexRegId]]] = {
    FlexRegIdKind.PARTICIPANT: ParticipantId,
    FlexRegIdKind.ASSET: AssetId,
}


def _wrong_kind(expected: FlexRegIdKind, value: str) -> IdentifierError:
    name = "a participant" if expected is FlexRegIdKind.PARTICIPANT else "an asset"
    return IdentifierError(
        "flexreg_id.wrong_kind",
        f"{value} is not {name} ID ({name.split()[-1]} IDs start with {expected.value}-).",
    )


def _canonical(value: str) -> str:
    kind, tail = _split(value)
    return f"{kind.value}-{tail}"


def _verify(value: str) -> None:
    if len(value) != _CANONICAL_LENGTH:  # pragma: no cover - guaranteed by _split
        raise IdentifierError("flexreg_id.bad_length")
    payload = value[0] + value[2:-1]
    if flexreg_check_character(payload) != value[-1]:
        raise IdentifierError(
            "flexreg_id.bad_check_character",
            f"{value} is not a valid ID: its check character does not match "
            "(check for a mistyped or swapped character).",
        )


def parse_flexreg_id(raw: str) -> ParticipantId | AssetId:
    """Parse a Participant ID or an Asset ID, whichever ``raw`` is."""
    kind, tail = _split(raw)
    value = f"{kind.value}-{tail}"
    if kind is FlexRegIdKind.PARTICIPANT:
        return ParticipantId(value)
    return AssetId(value)


def is_valid_flexreg_id(raw: str) -> bool:
    return FlexRegId.is_valid(raw)


def _new(kind: FlexRegIdKind) -> str:
    while True:
        body = "".join(secrets.choice(CROCKFORD_ALPHABET) for _ in range(BODY_LENGTH))
        check = flexreg_check_character(kind.value + body)
        if check is not None:
            return f"{kind.value}-{body}{check}"


def new_participant_id() -> ParticipantId:
    """A fresh random Participant ID (uniqueness is the database's unique index's job)."""
    return ParticipantId(_new(FlexRegIdKind.PARTICIPANT))


def new_asset_id() -> AssetId:
    """A fresh random Asset ID (uniqueness is the database's unique index's job)."""
    return AssetId(_new(FlexRegIdKind.ASSET))
