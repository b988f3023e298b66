"""Companies House company numbers: real numbers, normalisation, prefixes, known-bad ones."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flexreg.identifiers import (
    COMPANY_NUMBER_PREFIXES,
    CompanyKind,
    CompanyNumber,
    IdentifierError,
    Jurisdiction,
    is_valid_company_number,
)

# Numbers on the Companies House register (company name for reference).
REAL_NUMBERS = {
    "00445790": ("TESCO PLC", Jurisdiction.ENGLAND_WALES, CompanyKind.COMPANY),
    "03977902": ("GOOGLE UK LIMITED", Jurisdiction.ENGLAND_WALES, CompanyKind.COMPANY),
    "04031152": ("NATIONAL GRID PLC", Jurisdiction.ENGLAND_WALES, CompanyKind.COMPANY),
    "03033654": ("CENTRICA PLC", Jurisdiction.ENGLAND_WALES, CompanyKind.COMPANY),
    "08030289": ("THE OPEN DATA INSTITUTE", Jurisdiction.ENGLAND_WALES, CompanyKind.COMPANY),
    "SC117119": ("SSE PLC", Jurisdiction.SCOTLAND, CompanyKind.COMPANY),
    "OC300001": ("ERNST & YOUNG LLP", Jurisdiction.ENGLAND_WALES, CompanyKind.LLP),
    "OC301540": ("KPMG LLP", Jurisdiction.ENGLAND_WALES, CompanyKind.LLP),
    "OC303525": ("PRICEWATERHOUSECOOPERS LLP", Jurisdiction.ENGLAND_WALES, CompanyKind.LLP),
    "IP00525R": (
        "CO-OPERATIVE GROUP LIMITED",
        Jurisdiction.ENGLAND_WALES,
        CompanyKind.REGISTERED_SOCIETY,
    ),
}


@pytest.mark.parametrize("number", sorted(REAL_NUMBERS))
def test_real_numbers(number: str) -> None:
    _name, jurisdiction, kind = REAL_NUMBERS[number]
    parsed = CompanyNumber.parse(number)
    assert str(parsed) == number
    assert parsed.jurisdiction is jurisdiction
    assert parsed.kind is kind
    assert is_valid_company_number(number)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("445790", "00445790"),
        ("  00445790 ", "00445790"),
        ("004 457 90", "00445790"),
        ("1", "00000001"),
        ("sc117119", "SC117119"),
        ("sc1234", "SC001234"),
        ("SC 1234", "SC001234"),
        ("oc300001", "OC300001"),
        ("ni 11322", "NI011322"),
        ("ip525r", "IP00525R"),
        ("IP 00525 R", "IP00525R"),
        ("r0123", "R0000123"),
        ("fc12345", "FC012345"),
    ],
)
def test_normalisation(raw: str, expected: str) -> None:
    assert str(CompanyNumber.parse(raw)) == expected


@pytest.mark.parametrize(
    ("number", "prefix", "jurisdiction", "kind"),
    [
        ("00445790", "", Jurisdiction.ENGLAND_WALES, CompanyKind.COMPANY),
        ("NI011322", "NI", Jurisdiction.NORTHERN_IRELAND, CompanyKind.COMPANY),
        ("R0000123", "R0", Jurisdiction.NORTHERN_IRELAND, CompanyKind.COMPANY),
        ("SO300123", "SO", Jurisdiction.SCOTLAND, CompanyKind.LLP),
        ("NC000123", "NC", Jurisdiction.NORTHERN_IRELAND, CompanyKind.LLP),
        ("LP012345", "LP", Jurisdiction.ENGLAND_WALES, CompanyKind.LIMITED_PARTNERSHIP),
        ("SL012345", "SL", Jurisdiction.SCOTLAND, CompanyKind.LIMITED_PARTNERSHIP),
        ("FC012345", "FC", Jurisdiction.UNITED_KINGDOM, CompanyKind.OVERSEAS_COMPANY),
        ("OE012345", "OE", Jurisdiction.UNITED_KINGDOM, CompanyKind.OVERSEAS_ENTITY),
        ("RC000123", "RC", Jurisdiction.ENGLAND_WALES, CompanyKind.ROYAL_CHARTER),
        ("SP01234R", "SP", Jurisdiction.SCOTLAND, CompanyKind.REGISTERED_SOCIETY),
        ("RS007018", "RS", Jurisdiction.GREAT_BRITAIN, CompanyKind.REGISTERED_SOCIETY),
        ("CE010135", "CE", Jurisdiction.ENGLAND_WALES, CompanyKind.CIO),
        ("GE000123", "GE", Jurisdiction.ENGLAND_WALES, CompanyKind.EEIG),
    ],
)
def test_prefix_meaning(
    number: str, prefix: str, jurisdiction: Jurisdiction, kind: CompanyKind
) -> None:
    parsed = CompanyNumber.parse(number)
    assert parsed.prefix == prefix
    assert parsed.jurisdiction is jurisdiction
    assert parsed.kind is kind
    assert parsed.description


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "company_number.empty"),
        ("   ", "company_number.empty"),
        ("123456789", "company_number.bad_length"),
        ("SC1234567", "company_number.bad_length"),
        ("ZZ123456", "company_number.unknown_prefix"),
        ("AB12", "company_number.unknown_prefix"),
        ("XY000001", "company_number.unknown_prefix"),
        ("00000000", "company_number.invalid_format"),
        ("SC000000", "company_number.invalid_format"),
        ("SC12345X", "company_number.invalid_format"),
        ("SC01234R", "company_number.invalid_format"),  # only societies end in R
        ("1234-567", "company_number.invalid_format"),
        ("S1234567", "company_number.invalid_format"),
        ("SC", "company_number.invalid_format"),
        ("12345678", None),
        ("x" * 200, "company_number.bad_length"),
    ],
)
def test_known_bad(raw: str, code: str | None) -> None:
    if code is None:  # control row: a plain 8-digit number is fine
        assert is_valid_company_number(raw)
        return
    with pytest.raises(IdentifierError) as excinfo:
        CompanyNumber.parse(raw)
    assert excinfo.value.code == code
    assert not is_valid_company_number(raw)


def test_documented_prefixes_are_present() -> None:
    for prefix in ["SC", "NI", "OC", "SO", "NC", "LP", "SL", "FC", "RC", "IP", "R0"]:
        assert prefix in COMPANY_NUMBER_PREFIXES


def test_direct_construction_validates() -> None:
    with pytest.raises(IdentifierError):
        CompanyNumber("445790")


@given(st.integers(1, 99_999_999))
def test_any_numeric_number_pads_to_eight_digits(n: int) -> None:
    parsed = CompanyNumber.parse(str(n))
    assert str(parsed) == f"{n:08d}"
    assert CompanyNumber.parse(f"{n:08d}") == parsed


@given(
    st.sampled_from(sorted(p for p in COMPANY_NUMBER_PREFIXES if p)),
    st.integers(1, 999_999),
)
def test_any_prefix_with_digits_round_trips(prefix: str, n: int) -> None:
    parsed = CompanyNumber.parse(f" {prefix.lower()} {n} ")
    assert str(parsed) == f"{prefix}{n:06d}"
    assert parsed.prefix == prefix
    assert parsed.jurisdiction is COMPANY_NUMBER_PREFIXES[prefix].jurisdiction
    assert CompanyNumber.parse(str(parsed)) == parsed
