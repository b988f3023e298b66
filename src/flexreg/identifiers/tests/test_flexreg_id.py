"""FlexReg Participant IDs and Asset IDs.

The check character must catch every single-character substitution and every adjacent
transposition anywhere in the ID. This is shown three ways: the arithmetic argument run
as a test, an exhaustive sweep over fixed IDs (every position x every symbol, every
adjacent pair), and hypothesis properties over random IDs.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from flexreg.identifiers import (
    AssetId,
    FlexRegId,
    FlexRegIdKind,
    IdentifierError,
    ParticipantId,
    is_valid_flexreg_id,
    new_asset_id,
    new_participant_id,
    parse_flexreg_id,
)
from flexreg.identifiers.flexreg_id import (
    BODY_LENGTH,
    CROCKFORD_ALPHABET,
    flexreg_check_character,
    flexreg_check_value,
)

# IDs produced by new_participant_id()/new_asset_id() when this module was written: they
# pin the format and the check algorithm (changing either would orphan issued IDs).
PINNED_IDS = [
    "P-XVAKNDBJKCC",
    "A-QM3MZM425HV",
    "P-ARGD4DZDK2A",
    "A-QSB7FM5HTZD",
    "P-MHVYJYCZ101",
    "A-J0PMW5MMB9R",
    "P-0000000000P",
    "A-0000000000A",
    "P-ZZZZZZZZZZ2",
    "P-3M9QX2HDK7P",  # the example in the docstring and error messages
    "A-3M9QX2HDK7A",
]

#: Every symbol that can appear in canonical form.
CANONICAL_SYMBOLS = CROCKFORD_ALPHABET + "-"
#: What a person might type: canonical symbols, look-alikes, U, lower case, punctuation.
TYPED_SYMBOLS = CANONICAL_SYMBOLS + "ILOU" + "abcxyz" + "ilou" + "*~$=_. "


def _mutations(value: str) -> list[tuple[int, str, str]]:
    """(position, symbol, mutated string) for every single-character substitution."""
    return [
        (i, symbol, value[:i] + symbol + value[i + 1 :])
        for i in range(len(value))
        for symbol in TYPED_SYMBOLS
        if symbol != value[i]
    ]


def _transpositions(value: str) -> list[str]:
    return [
        value[:i] + value[i + 1] + value[i] + value[i + 2 :]
        for i in range(len(value) - 1)
        if value[i] != value[i + 1]
    ]


def _same_after_normalising(original: str, typed: str, position: int) -> bool:
    """True if ``typed`` differs from ``original`` only by case or a Crockford look-alike."""
    wanted, got = original[position], typed[position].upper()
    lookalikes = {"O": "0", "I": "1", "L": "1"}
    if position == 0:
        return got == wanted
    if position == 1:  # the dash may be left out or typed as a space
        return got in {"-"} or got.isspace()
    return lookalikes.get(got, got) == wanted


# -- the format and the worked examples --------------------------------------------------


def test_format() -> None:
    pid = ParticipantId.parse("P-XVAKNDBJKCC")
    assert pid.kind is FlexRegIdKind.PARTICIPANT
    assert pid.body == "XVAKNDBJKC"
    assert pid.check_character == "C"
    assert str(pid) == "P-XVAKNDBJKCC"
    assert len(str(pid)) == 13


def test_check_character_worked_by_hand() -> None:
    # payload "P0000000000": 1 * value('P') = 1 * 22 = 22; 22 mod 37 = 22 -> 'P'
    assert CROCKFORD_ALPHABET.index("P") == 22
    assert flexreg_check_value("P0000000000") == 22
    assert CROCKFORD_ALPHABET[22] == "P"
    # payload "PZZZZZZZZZZ": 22 + 31 * (2 + 3 + ... + 11) = 22 + 31 * 65 = 2037
    # 2037 = 37 * 55 + 2 -> '2'
    assert flexreg_check_value("PZZZZZZZZZZ") == 2037 % 37 == 2
    assert flexreg_check_character("PZZZZZZZZZZ") == "2"


@pytest.mark.parametrize("value", PINNED_IDS)
def test_pinned_ids_parse(value: str) -> None:
    parsed = FlexRegId.parse(value)
    assert str(parsed) == value
    expected = ParticipantId if value[0] == "P" else AssetId
    assert type(parsed) is expected
    assert type(parse_flexreg_id(value)) is expected
    assert expected.parse(value) == parsed
    assert is_valid_flexreg_id(value)


def test_generated_ids() -> None:
    participants = {new_participant_id() for _ in range(2000)}
    assets = {new_asset_id() for _ in range(2000)}
    assert len(participants) == 2000 and len(assets) == 2000
    for pid in participants:
        assert isinstance(pid, ParticipantId)
        assert str(pid).startswith("P-")
        assert set(str(pid)[2:]) <= set(CROCKFORD_ALPHABET)
        assert ParticipantId.parse(str(pid)) == pid
    for aid in assets:
        assert isinstance(aid, AssetId)
        assert AssetId.parse(str(aid).lower()) == aid


def test_check_values_without_a_symbol_are_never_valid() -> None:
    # Find bodies whose check value is 32..36 (no Crockford symbol): no ID can use them.
    bodies = ("".join(p) for p in itertools.product("0123456789", repeat=BODY_LENGTH))
    found = 0
    for body in bodies:
        if flexreg_check_character("P" + body) is None:
            found += 1
            assert flexreg_check_value("P" + body) >= 32
            for check in CROCKFORD_ALPHABET:
                assert not is_valid_flexreg_id(f"P-{body}{check}")
            if found == 5:
                break
    assert found == 5


# -- normalisation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "P-MHVYJYCZ101",
        "p-mhvyjycz101",
        "PMHVYJYCZ101",
        "  p mhvy jycz 101 ",
        "P-MHVYJYCZ1O1",  # letter O for zero
        "P-MHVYJYCZI01",  # I for one
        "P-MHVYJYCZl0l",  # lower-case L for one
        "P- MHVYJ YCZ10 1",
    ],
)
def test_normalisation(raw: str) -> None:
    assert str(ParticipantId.parse(raw)) == "P-MHVYJYCZ101"


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "flexreg_id.empty"),
        ("  ", "flexreg_id.empty"),
        ("X-XVAKNDBJKCC", "flexreg_id.unknown_kind"),
        ("-PXVAKNDBJKCC", "flexreg_id.unknown_kind"),
        ("0-XVAKNDBJKCC", "flexreg_id.unknown_kind"),
        ("P-XVAKNDBJKC", "flexreg_id.bad_length"),
        ("P-XVAKNDBJKCCC", "flexreg_id.bad_length"),
        ("P", "flexreg_id.bad_length"),
        ("P-", "flexreg_id.bad_length"),
        ("P--XVAKNDBJKC", "flexreg_id.bad_character"),
        ("P-XVAKNDBJKUC", "flexreg_id.bad_character"),
        ("P-XVAKNDBJK*C", "flexreg_id.bad_character"),
        ("P-XVAKNDBJKCD", "flexreg_id.bad_check_character"),
        ("P-XVAKNDBJCKC", "flexreg_id.bad_check_character"),
        ("P-" + "X" * 200, "flexreg_id.bad_length"),
    ],
)
def test_known_bad(raw: str, code: str) -> None:
    with pytest.raises(IdentifierError) as excinfo:
        FlexRegId.parse(raw)
    assert excinfo.value.code == code
    assert not is_valid_flexreg_id(raw)


def test_wrong_kind() -> None:
    with pytest.raises(IdentifierError) as excinfo:
        ParticipantId.parse("A-QM3MZM425HV")
    assert excinfo.value.code == "flexreg_id.wrong_kind"
    with pytest.raises(IdentifierError) as excinfo:
        AssetId.parse("P-XVAKNDBJKCC")
    assert excinfo.value.code == "flexreg_id.wrong_kind"
    with pytest.raises(IdentifierError) as excinfo:
        AssetId("P-XVAKNDBJKCC")
    assert excinfo.value.code == "flexreg_id.wrong_kind"
    assert not AssetId.is_valid("P-XVAKNDBJKCC")
    assert ParticipantId.is_valid("P-XVAKNDBJKCC")


def test_constructor_takes_the_canonical_form_only() -> None:
    with pytest.raises(IdentifierError):
        ParticipantId("p-xvakndbjkcc")
    with pytest.raises(IdentifierError):
        ParticipantId("PXVAKNDBJKCC")
    assert ParticipantId("P-XVAKNDBJKCC") == ParticipantId.parse("pxvakndbjkcc")


def test_the_base_class_is_abstract() -> None:
    with pytest.raises(TypeError):
        FlexRegId("P-XVAKNDBJKCC")
    parsed = FlexRegId.parse("P-XVAKNDBJKCC")
    assert parsed == ParticipantId("P-XVAKNDBJKCC")
    assert hash(parsed) == hash(ParticipantId("P-XVAKNDBJKCC"))


# -- the guarantee, as arithmetic ----------------------------------------------------------


def test_the_argument_for_the_guarantee() -> None:
    weights = range(1, BODY_LENGTH + 2)  # kind letter and body: 1..11
    values = range(len(CROCKFORD_ALPHABET))
    differences = [a - b for a, b in itertools.product(values, values) if a != b]
    # a substitution at weight w changes the sum by w * d
    assert all((w * d) % 37 for w in weights for d in differences)
    # an adjacent transposition changes it by (w - (w + 1)) * d
    assert all((-1 * d) % 37 for d in differences)
    # last body character (weight 11) swapped with the check character (c != a):
    # valid again only if c + 11a == a + 11c (mod 37), i.e. 10 * (c - a) == 0
    assert all((10 * d) % 37 for d in differences)


# -- the guarantee, exhaustively on fixed IDs ---------------------------------------------


@pytest.mark.parametrize("value", PINNED_IDS)
def test_every_single_substitution_is_rejected_exhaustively(value: str) -> None:
    original = FlexRegId.parse(value)
    for position, symbol, mutated in _mutations(value):
        try:
            parsed = FlexRegId.parse(mutated)
        except IdentifierError:
            continue
        # Accepted only if it is the same ID typed differently (case, look-alike, space).
        assert _same_after_normalising(value, mutated, position), (position, symbol)
        assert parsed == original
        assert symbol not in CANONICAL_SYMBOLS


@pytest.mark.parametrize("value", PINNED_IDS)
def test_every_adjacent_transposition_is_rejected_exhaustively(value: str) -> None:
    for mutated in _transpositions(value):
        assert not is_valid_flexreg_id(mutated), mutated


@pytest.mark.parametrize("value", PINNED_IDS)
def test_every_deletion_and_insertion_is_rejected(value: str) -> None:
    for i in range(len(value)):
        assert not is_valid_flexreg_id(value[:i] + value[i + 1 :]) or i == 1
        for symbol in CANONICAL_SYMBOLS:
            assert not is_valid_flexreg_id(value[:i] + symbol + value[i:]) or (
                i in {1, 2} and symbol == "-"
            )


# -- the guarantee, as properties over random IDs -----------------------------------------

_bodies = st.text(alphabet=CROCKFORD_ALPHABET, min_size=BODY_LENGTH, max_size=BODY_LENGTH)
_kinds = st.sampled_from(list(FlexRegIdKind))


def _build(kind: FlexRegIdKind, body: str) -> str:
    check = flexreg_check_character(kind.value + body)
    assume(check is not None)
    return f"{kind.value}-{body}{check}"


@given(_kinds, _bodies)
def test_built_ids_always_parse(kind: FlexRegIdKind, body: str) -> None:
    value = _build(kind, body)
    parsed = parse_flexreg_id(value)
    assert str(parsed) == value
    assert parsed.kind is kind
    assert parsed.body == body


@given(_kinds, _bodies, st.integers(0, 12), st.sampled_from(CANONICAL_SYMBOLS))
def test_any_single_substitution_is_rejected(
    kind: FlexRegIdKind, body: str, position: int, symbol: str
) -> None:
    value = _build(kind, body)
    assume(value[position] != symbol)
    mutated = value[:position] + symbol + value[position + 1 :]
    with pytest.raises(IdentifierError):
        FlexRegId.parse(mutated)


@given(_kinds, _bodies, st.integers(0, 11))
def test_any_adjacent_transposition_is_rejected(
    kind: FlexRegIdKind, body: str, position: int
) -> None:
    value = _build(kind, body)
    assume(value[position] != value[position + 1])
    swapped = value[:position] + value[position + 1] + value[position] + value[position + 2 :]
    with pytest.raises(IdentifierError):
        FlexRegId.parse(swapped)


@given(_kinds, _bodies, st.data())
def test_normalisation_round_trip(kind: FlexRegIdKind, body: str, data: st.DataObject) -> None:
    value = _build(kind, body)
    typed = []
    for i, char in enumerate(value):
        if i == 1 and data.draw(st.booleans(), label="drop dash"):
            continue
        typed.append(data.draw(st.sampled_from([char, char.lower()]), label="case"))
        typed.append(data.draw(st.sampled_from(["", "", " ", "  "]), label="space"))
    raw = data.draw(st.sampled_from(["", " ", "\t"])) + "".join(typed) + " "
    assert str(FlexRegId.parse(raw)) == value
