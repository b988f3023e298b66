"""UK postcodes: real ones, the anchoring bug, letter rules, and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flexreg.identifiers import IdentifierError, Postcode, is_valid_postcode
from flexreg.identifiers.postcode import DOMAIN_POSTCODE_PATTERN

# Real postcodes, each one of the six outward shapes (and Girobank's).
REAL_POSTCODES = {
    "SW1A 1AA": ("SW1A", "1AA", "SW"),  # Buckingham Palace, AA9A
    "EC1A 1BB": ("EC1A", "1BB", "EC"),  # AA9A
    "W1A 0AX": ("W1A", "0AX", "W"),  # BBC Broadcasting House, A9A
    "M1 1AE": ("M1", "1AE", "M"),  # A9
    "B33 8TH": ("B33", "8TH", "B"),  # A99
    "CR2 6XH": ("CR2", "6XH", "CR"),  # AA9
    "DN55 1PT": ("DN55", "1PT", "DN"),  # AA99
    "GIR 0AA": ("GIR", "0AA", "GIR"),  # Girobank, the one special case
    "SW1A 0AA": ("SW1A", "0AA", "SW"),  # Houses of Parliament
    "SW1A 2AA": ("SW1A", "2AA", "SW"),  # 10 Downing Street
    "EH99 1SP": ("EH99", "1SP", "EH"),  # Scottish Parliament
    "BT1 5GS": ("BT1", "5GS", "BT"),  # Belfast City Hall
}


@pytest.mark.parametrize("postcode", sorted(REAL_POSTCODES))
def test_real_postcodes(postcode: str) -> None:
    outward, inward, area = REAL_POSTCODES[postcode]
    parsed = Postcode.parse(postcode)
    assert str(parsed) == postcode
    assert (parsed.outward, parsed.inward, parsed.area) == (outward, inward, area)
    assert parsed.sector == f"{outward} {inward[0]}"
    assert is_valid_postcode(postcode)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("sw1a1aa", "SW1A 1AA"),
        ("  sw1a   1aa  ", "SW1A 1AA"),
        ("SW1A\t1AA", "SW1A 1AA"),
        ("s w 1 a 1 a a", "SW1A 1AA"),
        ("m11ae", "M1 1AE"),
        ("gir0aa", "GIR 0AA"),
    ],
)
def test_normalisation(raw: str, expected: str) -> None:
    assert str(Postcode.parse(raw)) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("GIR 0AAX", "postcode.invalid_format"),  # the anchoring bug of the copied regex
        ("XGIR 0AA", "postcode.invalid_format"),
        ("SW1A 1A", "postcode.invalid_format"),
        ("12345", "postcode.invalid_format"),
        ("AAA 1AA", "postcode.invalid_format"),  # DOMAIN.md's regex admits this shape
        ("SW1A 1AAA", "postcode.invalid_format"),
        ("SW1AA 1AA", "postcode.invalid_format"),
        ("S", "postcode.invalid_format"),
        ("1AA", "postcode.invalid_format"),
        ("SW1A-1AA", "postcode.invalid_format"),
        ("AI1 1AA", "postcode.invalid_format"),
        ("\u0130V1 1AA", "postcode.invalid_format"),  # dotted capital I is not ASCII
        ("Q1 1AA", "postcode.invalid_letter"),  # Q, V, X are never first
        ("V1 1AA", "postcode.invalid_letter"),
        ("XM4 5HQ", "postcode.invalid_letter"),  # Santa's non-geographic code
        ("AJ1 1AA", "postcode.invalid_letter"),  # J is never second
        ("W1I 1AA", "postcode.invalid_letter"),  # I never third in A9A
        ("SW1C 1AA", "postcode.invalid_letter"),  # C never fourth in AA9A
        ("SW1A 1AC", "postcode.invalid_letter"),  # C I K M O V never in the unit
        ("SW1A 1OA", "postcode.invalid_letter"),
        ("SW1A 1VK", "postcode.invalid_letter"),
        ("", "postcode.empty"),
        ("   ", "postcode.empty"),
        ("A" * 200, "postcode.invalid_format"),
    ],
)
def test_known_bad(raw: str, code: str) -> None:
    with pytest.raises(IdentifierError) as excinfo:
        Postcode.parse(raw)
    assert excinfo.value.code == code
    assert not is_valid_postcode(raw)


def test_domain_regex_has_no_anchoring_bug_here() -> None:
    assert DOMAIN_POSTCODE_PATTERN.fullmatch("GIR 0AA")
    assert not DOMAIN_POSTCODE_PATTERN.fullmatch("GIR 0AAX")


def test_direct_construction_validates() -> None:
    with pytest.raises(IdentifierError):
        Postcode("sw1a1aa")


# -- properties ---------------------------------------------------------------------------

_D = st.sampled_from("0123456789")
_first = st.sampled_from("ABCDEFGHIJKLMNOPRSTUWYZ")
_second = st.sampled_from("ABCDEFGHKLMNOPQRSTUVWXY")
_third_a9a = st.sampled_from("ABCDEFGHJKPSTUW")
_fourth_aa9a = st.sampled_from("ABEHMNPRVWXY")
_unit = st.sampled_from("ABDEFGHJLNPQRSTUWXYZ")

_outward = st.one_of(
    st.tuples(_first, _D).map("".join),
    st.tuples(_first, _D, _D).map("".join),
    st.tuples(_first, _second, _D).map("".join),
    st.tuples(_first, _second, _D, _D).map("".join),
    st.tuples(_first, _D, _third_a9a).map("".join),
    st.tuples(_first, _second, _D, _fourth_aa9a).map("".join),
)
_valid_postcodes = st.tuples(_outward, _D, _unit, _unit).map(lambda t: f"{t[0]} {t[1]}{t[2]}{t[3]}")


@given(_valid_postcodes)
def test_well_formed_postcodes_parse_and_normalise(postcode: str) -> None:
    assert str(Postcode.parse(postcode)) == postcode
    assert str(Postcode.parse(postcode.replace(" ", "").lower())) == postcode
    assert Postcode.parse(postcode).outward + " " + Postcode.parse(postcode).inward == postcode


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 abc", max_size=10))
def test_everything_accepted_matches_the_domain_regex(raw: str) -> None:
    try:
        parsed = Postcode.parse(raw)
    except IdentifierError:
        return
    assert DOMAIN_POSTCODE_PATTERN.fullmatch(str(parsed))


@given(_valid_postcodes, st.sampled_from("CIKMOV"), st.integers(1, 2))
def test_a_forbidden_unit_letter_is_rejected(postcode: str, letter: str, index: int) -> None:
    position = len(postcode) - 3 + index
    mutated = postcode[:position] + letter + postcode[position + 1 :]
    with pytest.raises(IdentifierError) as excinfo:
        Postcode.parse(mutated)
    assert excinfo.value.code == "postcode.invalid_letter"
