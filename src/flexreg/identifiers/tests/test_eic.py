"""EIC: real published codes, known-bad ones, and the check character's guarantees."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from flexreg.identifiers import EIC, EICType, IdentifierError, eic_check_character, is_valid_eic
from flexreg.identifiers.eic import EIC_ALPHABET

# Codes published by ENTSO-E (Transparency Platform area codes and the EIC registry).
# Each one was checked to pass the check-character algorithm.
REAL_AREA_CODES = {
    "10YGB----------A": "GB bidding zone / control area (National Grid)",
    "10Y1001A1001A92E": "United Kingdom",
    "10Y1001A1001A016": "Northern Ireland",
    "10YIE-1001A00010": "Ireland",
    "10Y1001A1001A59C": "Ireland (SEM) bidding zone",
    "10YFR-RTE------C": "France (RTE)",
    "10YBE----------2": "Belgium (Elia)",
    "10YNL----------L": "Netherlands (TenneT NL)",
    "10YDE-VE-------2": "50Hertz control area",
    "10Y1001A1001A83F": "Germany",
    "10Y1001A1001A82H": "DE-LU bidding zone",
    "10YCB-GERMANY--8": "Germany (control block)",
    "10YAT-APG------L": "Austria (APG)",
    "10YCH-SWISSGRIDZ": "Switzerland (Swissgrid)",
    "10YCZ-CEPS-----N": "Czech Republic (CEPS)",
    "10YPL-AREA-----S": "Poland (PSE)",
    "10YES-REE------0": "Spain (REE)",
    "10YPT-REN------W": "Portugal (REN)",
    "10YIT-GRTN-----B": "Italy (Terna)",
    "10YDK-1--------W": "Denmark DK1",
    "10YDK-2--------M": "Denmark DK2",
    "10YNO-0--------C": "Norway",
    "10YSE-1--------K": "Sweden",
    "10YFI-1--------U": "Finland",
    "10Y1001A1001A39I": "Estonia",
    "10YLV-1001A00074": "Latvia",
    "10YLT-1001A0008Q": "Lithuania",
    "10YSK-SEPS-----K": "Slovakia (SEPS)",
    "10YHU-MAVIR----U": "Hungary (MAVIR)",
    "10YSI-ELES-----O": "Slovenia (ELES)",
    "10YHR-HEP------M": "Croatia (HOPS)",
    "10YRO-TEL------P": "Romania (Transelectrica)",
    "10YCA-BULGARIA-R": "Bulgaria (ESO)",
    "10YGR-HTSO-----Y": "Greece (IPTO)",
    "10YCS-SERBIATSOV": "Serbia (EMS)",
    "10YLU-CEGEDEL-NQ": "Luxembourg (Creos)",
    "10YDOM-REGION-1V": "CWE region",
    "10YEU-CONT-SYNC0": "Continental Europe synchronous area",
}
REAL_PARTY_CODES = {
    "10X1001A1001A450": "ENTSO-E (the Transparency Platform's party code)",
    "10XFR-RTE------Q": "RTE",
    "10XDE-VE-TRANSMK": "50Hertz Transmission",
}


@pytest.mark.parametrize("code", sorted(REAL_AREA_CODES))
def test_real_area_codes_parse(code: str) -> None:
    eic = EIC.parse(code)
    assert str(eic) == code
    assert eic.issuing_office == "10"
    assert eic.object_type is EICType.AREA
    assert eic.check_character == code[-1]
    assert eic_check_character(code[:15]) == code[15]


@pytest.mark.parametrize("code", sorted(REAL_PARTY_CODES))
def test_real_party_codes_parse(code: str) -> None:
    eic = EIC.parse(code, expected_type=EICType.PARTY)
    assert eic.object_type is EICType.PARTY


def test_gb_bidding_zone_worked_example() -> None:
    # Values: 1, 0, Y=34, G=16, B=11, then ten '-' (36) weighted 11, 10, ..., 2.
    total = 1 * 16 + 0 * 15 + 34 * 14 + 16 * 13 + 11 * 12 + 36 * sum(range(2, 12))
    assert total == 16 + 0 + 476 + 208 + 132 + 2340 == 3172
    assert (total - 1) % 37 == 26  # 3171 = 37 * 85 + 26
    assert 36 - 26 == 10
    assert EIC_ALPHABET[10] == "A"
    assert eic_check_character("10YGB----------") == "A"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("10ygb----------a", "10YGB----------A"),
        ("  10YGB----------A\n", "10YGB----------A"),
        ("\t10yfr-rte------c ", "10YFR-RTE------C"),
    ],
)
def test_normalisation(raw: str, expected: str) -> None:
    assert str(EIC.parse(raw)) == expected
    assert is_valid_eic(raw)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "eic.empty"),
        ("   ", "eic.empty"),
        ("10YGB----------", "eic.bad_length"),
        ("10YGB----------AA", "eic.bad_length"),
        ("10YGB---------A", "eic.bad_length"),
        ("10YGB_---------A", "eic.bad_character"),
        ("10YGB ---------A", "eic.bad_character"),
        ("10YGB---------éA", "eic.bad_character"),
        ("10BGB----------A", "eic.unknown_type"),
        ("10-GB----------A", "eic.unknown_type"),
        # single-character changes of real codes
        ("10YGB----------B", "eic.bad_check_character"),
        ("10YGC----------A", "eic.bad_check_character"),
        ("11YGB----------A", "eic.bad_check_character"),
        ("10YFR-RTE------D", "eic.bad_check_character"),
        ("10Y1001A1001A92F", "eic.bad_check_character"),
        # adjacent transpositions of real codes
        ("10Y1001A1001A29E", "eic.bad_check_character"),
        ("01YGB----------A", "eic.bad_check_character"),
        ("10YGB---------A-", "eic.bad_check_character"),
        ("x" * 1000, "eic.bad_length"),
    ],
)
def test_known_bad(raw: str, code: str) -> None:
    with pytest.raises(IdentifierError) as excinfo:
        EIC.parse(raw)
    assert excinfo.value.code == code
    assert excinfo.value.message
    assert not is_valid_eic(raw)


def test_wrong_type() -> None:
    with pytest.raises(IdentifierError) as excinfo:
        EIC.parse("10YGB----------A", expected_type=EICType.RESOURCE)
    assert excinfo.value.code == "eic.wrong_type"
    assert "resource object" in excinfo.value.message
    assert not EIC.is_valid("10YGB----------A", expected_type=EICType.RESOURCE)
    assert EIC.is_valid("10YGB----------A", expected_type=EICType.AREA)


def _base_with_dash_check() -> str:
    for char in EIC_ALPHABET:
        base = "48W0000000000" + char + "0"
        try:
            eic_check_character(base)
        except IdentifierError as error:
            assert error.code == "eic.invalid_base"
            return base
    raise AssertionError("weights 16..2 cover every residue: some base must give '-'")


def test_base_whose_check_would_be_dash_is_invalid() -> None:
    base = _base_with_dash_check()
    for char in EIC_ALPHABET:
        with pytest.raises(IdentifierError) as excinfo:
            EIC.parse(base + char)
        assert excinfo.value.code == "eic.invalid_base"


def test_check_character_function_rejects_bad_input() -> None:
    with pytest.raises(IdentifierError, match="15 characters"):
        eic_check_character("10YGB")
    with pytest.raises(IdentifierError) as excinfo:
        eic_check_character("10ygb----------")
    assert excinfo.value.code == "eic.bad_character"


def test_direct_construction_validates() -> None:
    with pytest.raises(IdentifierError):
        EIC("10ygb----------a")  # the constructor takes the normalised form only
    assert EIC("10YGB----------A") == EIC.parse("10ygb----------a")


def test_types() -> None:
    assert {t.value for t in EICType} == set("XYZWVTA")
    assert EICType.RESOURCE.label == "resource object"


# -- properties ---------------------------------------------------------------------------

_TYPE_LETTERS = "".join(t.value for t in EICType)
_bases = st.builds(
    lambda office, letter, rest: office + letter + rest,
    st.text(alphabet=EIC_ALPHABET[:36], min_size=2, max_size=2),
    st.sampled_from(_TYPE_LETTERS),
    st.text(alphabet=EIC_ALPHABET, min_size=12, max_size=12),
)


def _valid_eic(base: str) -> str | None:
    try:
        return base + eic_check_character(base)
    except IdentifierError:
        return None


@given(_bases)
def test_every_base_gets_a_check_unless_it_would_be_dash(base: str) -> None:
    code = _valid_eic(base)
    if code is None:
        return
    assert code[15] != "-"
    assert str(EIC.parse(code.lower())) == code


@given(_bases, st.integers(0, 15), st.sampled_from(EIC_ALPHABET))
def test_every_single_substitution_is_detected(base: str, position: int, char: str) -> None:
    code = _valid_eic(base)
    assume(code is not None and code[position] != char)
    assert code is not None
    mutated = code[:position] + char + code[position + 1 :]
    assert not is_valid_eic(mutated)


@given(_bases, st.integers(0, 14))
def test_every_adjacent_transposition_is_detected(base: str, position: int) -> None:
    code = _valid_eic(base)
    assume(code is not None and code[position] != code[position + 1])
    assert code is not None
    chars = list(code)
    chars[position], chars[position + 1] = chars[position + 1], chars[position]
    assert not is_valid_eic("".join(chars))
