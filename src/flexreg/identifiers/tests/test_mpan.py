"""MPAN: the check digit worked by hand, the distributor table, full MPANs, and properties.

Real customers' MPANs are not used here (domestic MPANs can be personal data); the valid
examples are built and checked by hand below, and the known-bad ones are placeholders
that are widely copied.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from flexreg.identifiers import (
    DISTRIBUTORS,
    FullMPAN,
    GSPGroup,
    IdentifierError,
    MPANCore,
    is_valid_mpan,
    mpan_check_digit,
    parse_mpan,
)
from flexreg.identifiers.mpan import MPAN_PRIMES


def _weighted_sum(first12: str) -> int:
    return sum(int(d) * p for d, p in zip(first12, MPAN_PRIMES, strict=True))


def test_check_digit_worked_by_hand() -> None:
    # 1 2 3 4 5 6 7 8 9 0 1 2  x  3 5 7 13 17 19 23 29 31 37 41 43
    products = [3, 10, 21, 52, 85, 114, 161, 232, 279, 0, 41, 86]
    assert sum(products) == 1084
    assert 1084 % 11 == 6  # 11 * 98 = 1078
    assert 6 % 10 == 6
    assert mpan_check_digit("123456789012") == "6"
    core = MPANCore.parse("12 3456 7890 126")
    assert str(core) == "1234567890126"
    assert core.formatted == "12 3456 7890 126"


def test_check_digit_when_mod_11_gives_10() -> None:
    # 2*3 + 3*5 = 21; 21 mod 11 = 10; 10 mod 10 = 0
    assert _weighted_sum("230000000000") == 21
    assert mpan_check_digit("230000000000") == "0"
    assert MPANCore.parse("2300000000000").dno.name == "Yorkshire"


def test_the_mod_10_step_hides_some_single_digit_errors() -> None:
    # The documented weakness of "mod 11 then mod 10": remainders 10 and 0 both give 0.
    # 2380000000000 differs from 2300000000000 in one digit and is valid as well
    # (2*3 + 3*5 + 8*7 = 77 = 7 * 11, so the remainder is 0).
    assert _weighted_sum("238000000000") == 77
    assert MPANCore.is_valid("2380000000000")
    assert MPANCore.is_valid("2300000000000")


def test_swapping_the_check_digit_with_its_neighbour_can_go_unnoticed() -> None:
    # The scheme gives no guarantee for the check digit itself: 1234567890126 with its
    # last two digits swapped is 1234567890162, and 123456789016 has check digit 2
    # (1084 + 43 * (6 - 2) = 1256 = 11 * 114 + 2). Both are valid.
    assert _weighted_sum("123456789016") == 1256
    assert MPANCore.is_valid("1234567890126")
    assert MPANCore.is_valid("1234567890162")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        # the placeholder printed in countless "where to find your MPAN" pages
        ("1234567890123", "mpan.bad_check_digit"),
        ("12 3456 7890 123", "mpan.bad_check_digit"),
        ("S 01 801 100 12 3456 7890 123", "mpan.bad_check_digit"),
        ("1200000000000", "mpan.bad_check_digit"),  # check digit should be 2
        ("0000000000000", "mpan.unknown_distributor"),
        ("", "mpan.empty"),
        (" - / ", "mpan.empty"),
        ("123456789012", "mpan.bad_length"),
        ("12345678901266", "mpan.bad_length"),
        ("12345678901A6", "mpan.bad_character"),
        ("1" * 500, "mpan.bad_length"),
        # transpositions of the valid 1234567890126
        ("2134567890126", "mpan.bad_check_digit"),
        ("1243567890126", "mpan.bad_check_digit"),
        ("1234567890216", "mpan.bad_check_digit"),
        ("1234567809126", "mpan.bad_check_digit"),
    ],
)
def test_known_bad(raw: str, code: str) -> None:
    with pytest.raises(IdentifierError) as excinfo:
        parse_mpan(raw)
    assert excinfo.value.code == code
    assert not is_valid_mpan(raw)


@pytest.mark.parametrize("distributor_id", ["00", "09", "39", "50", "99"])
def test_unknown_distributor(distributor_id: str) -> None:
    first12 = distributor_id + "1234567890"
    core = first12 + mpan_check_digit(first12)
    with pytest.raises(IdentifierError) as excinfo:
        MPANCore.parse(core)
    assert excinfo.value.code == "mpan.unknown_distributor"


def test_full_mpan() -> None:
    for raw in [
        "018011001234567890126",
        "S 01 801 100 12 3456 7890 126",
        "s01-801-100/12-3456-7890-126",
        "S\n01 801 100\n1234567890126",
    ]:
        full = parse_mpan(raw)
        assert isinstance(full, FullMPAN)
        assert (full.profile_class, full.mtc, full.llfc) == ("01", "801", "100")
        assert full.core == MPANCore("1234567890126")
        assert str(full) == "018011001234567890126"
        assert full.formatted == "S 01 801 100 / 12 3456 7890 126"
        assert FullMPAN.parse(raw) == full
        # asking for a core accepts the full form and keeps the core
        assert MPANCore.parse(raw) == full.core


def test_full_mpan_accepts_alphanumeric_llfc() -> None:
    assert FullMPAN.parse("00845A011234567890126").llfc == "A01"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("098011001234567890126", "mpan.bad_profile_class"),
        ("A18011001234567890126", "mpan.bad_character"),
        ("01A011001234567890126", "mpan.bad_character"),
        ("018011001234567890123", "mpan.bad_check_digit"),
        ("1234567890126", "mpan.bad_length"),
        ("X018011001234567890126", "mpan.bad_length"),
    ],
)
def test_full_mpan_bad(raw: str, code: str) -> None:
    with pytest.raises(IdentifierError) as excinfo:
        FullMPAN.parse(raw)
    assert excinfo.value.code == code


def test_parse_mpan_returns_a_core_for_13_digits() -> None:
    parsed = parse_mpan("1234567890126")
    assert isinstance(parsed, MPANCore)


# DOMAIN.md's table: distributor ID -> (MPID, licence area, operator, GSP group)
DOMAIN_TABLE = {
    "10": ("EELC", "Eastern", "UKPN EPN", "_A"),
    "11": ("EMEB", "East Midlands", "NGED", "_B"),
    "12": ("LOND", "London", "UKPN LPN", "_C"),
    "13": ("MANW", "Merseyside & North Wales", "SPEN SPM", "_D"),
    "14": ("MIDE", "West Midlands", "NGED", "_E"),
    "15": ("NEEB", "North East", "NPg", "_F"),
    "16": ("NORW", "North West", "ENWL", "_G"),
    "17": ("HYDE", "North Scotland", "SSEN SHEPD", "_P"),
    "18": ("SPOW", "South Scotland", "SPEN SPD", "_N"),
    "19": ("SEEB", "South Eastern", "UKPN SPN", "_J"),
    "20": ("SOUT", "Southern", "SSEN SEPD", "_H"),
    "21": ("SWAE", "South Wales", "NGED", "_K"),
    "22": ("SWEB", "South Western", "NGED", "_L"),
    "23": ("YELG", "Yorkshire", "NPg", "_M"),
}


@pytest.mark.parametrize("distributor_id", sorted(DOMAIN_TABLE))
def test_dno_table(distributor_id: str) -> None:
    mpid, area, operator, gsp = DOMAIN_TABLE[distributor_id]
    first12 = distributor_id + "0000000000"
    core = MPANCore.parse(first12 + mpan_check_digit(first12))
    dno = core.dno
    assert (dno.mpid, dno.name, dno.operator, dno.gsp_group_id) == (mpid, area, operator, gsp)
    assert not dno.is_idno
    assert core.distributor_id == distributor_id
    assert core.gsp_group == GSPGroup(gsp)
    assert core.gsp_group is not None and core.gsp_group.name == area


def test_each_gsp_group_belongs_to_exactly_one_dno() -> None:
    groups = [d.gsp_group_id or "" for d in DISTRIBUTORS.values() if not d.is_idno]
    assert sorted(groups) == sorted(str(g) for g in GSPGroup.all())


def test_idnos() -> None:
    idnos = {k: d for k, d in DISTRIBUTORS.items() if d.is_idno}
    assert sorted(idnos) == [str(n) for n in range(24, 39)]
    assert idnos["24"].name == "IPNL"
    assert idnos["38"].name == "Indigo"
    for distributor in idnos.values():
        assert distributor.gsp_group is None
        assert distributor.mpid is None


def test_check_digit_function_rejects_bad_input() -> None:
    with pytest.raises(IdentifierError) as excinfo:
        mpan_check_digit("12345")
    assert excinfo.value.code == "mpan.bad_length"
    with pytest.raises(IdentifierError) as excinfo:
        mpan_check_digit("12345678901x")
    assert excinfo.value.code == "mpan.bad_character"


def test_direct_construction_validates() -> None:
    with pytest.raises(IdentifierError):
        MPANCore("1234567890123")
    with pytest.raises(IdentifierError) as excinfo:
        FullMPAN(profile_class="1", mtc="801", llfc="100", core=MPANCore("1234567890126"))
    assert excinfo.value.code == "mpan.bad_length"


# -- properties ---------------------------------------------------------------------------

_first12 = st.builds(
    lambda dist, rest: dist + rest,
    st.sampled_from(sorted(DISTRIBUTORS)),
    st.text(alphabet="0123456789", min_size=10, max_size=10),
)


@given(_first12)
def test_computed_check_digit_always_parses(first12: str) -> None:
    core = first12 + mpan_check_digit(first12)
    assert str(MPANCore.parse(core)) == core
    spaced = f" {core[:2]} {core[2:6]}-{core[6:10]}/{core[10:]} "
    assert MPANCore.parse(spaced) == MPANCore(core)


@given(_first12, st.sampled_from("0123456789"))
def test_any_wrong_check_digit_is_rejected(first12: str, digit: str) -> None:
    assume(digit != mpan_check_digit(first12))
    with pytest.raises(IdentifierError) as excinfo:
        MPANCore.parse(first12 + digit)
    assert excinfo.value.code == "mpan.bad_check_digit"


def _undetectable(a: str, b: str) -> bool:
    """The only way two different 12-digit prefixes share a check digit (see below)."""
    return {_weighted_sum(a) % 11, _weighted_sum(b) % 11} == {0, 10}


@given(_first12, st.integers(0, 11), st.sampled_from("0123456789"))
def test_single_digit_errors_are_caught_except_the_0_10_collision(
    first12: str, position: int, digit: str
) -> None:
    # The primes are all non-zero mod 11 and digits differ by less than 11, so a single
    # substitution always changes the sum mod 11; only the final mod 10 can hide it.
    assume(first12[position] != digit)
    mutated = first12[:position] + digit + first12[position + 1 :]
    assert _weighted_sum(mutated) % 11 != _weighted_sum(first12) % 11
    detected = mpan_check_digit(mutated) != mpan_check_digit(first12)
    assert detected != _undetectable(first12, mutated)


@given(_first12, st.integers(0, 10))
def test_adjacent_transpositions_are_caught_except_the_0_10_collision(
    first12: str, position: int
) -> None:
    # Neighbouring primes differ mod 11 (3,5,7,2,6,8,1,7,9,4,8,10), so a transposition
    # always changes the sum mod 11.
    a, b = first12[position], first12[position + 1]
    assume(a != b)
    swapped = first12[:position] + b + a + first12[position + 2 :]
    assert _weighted_sum(swapped) % 11 != _weighted_sum(first12) % 11
    detected = mpan_check_digit(swapped) != mpan_check_digit(first12)
    assert detected != _undetectable(first12, swapped)
