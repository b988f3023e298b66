"""The director's declaration: name matching and the pass/review decision."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flexreg.participants.companies_house import CompanyProfile, Officer
from flexreg.participants.officer_matching import (
    OFFICER_ROLES_THAT_BIND,
    NameMatch,
    check_declaration,
    match_names,
    normalise_person_name,
    role_can_bind,
)

ACTIVE = CompanyProfile(
    company_number="99000001", company_name="X (SAMPLE)", company_status="active"
)


def director(name: str, *, role: str = "director", resigned: date | None = None) -> Officer:
    return Officer(
        name=name, officer_role=role, appointed_on=date(2020, 1, 1), resigned_on=resigned
    )


# --- normalisation ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "tokens"),
    [
        ("SMITH, John Michael", ("john", "michael", "smith")),
        ("john smith", ("john", "smith")),
        ("John M. Smith", ("john", "m", "smith")),
        ("BRONTË, Anne", ("anne", "bronte")),
        ("O'NEILL, Seán", ("sean", "oneill")),
        ("O\u2019Neill, Sean", ("sean", "oneill")),
        ("JONES-DAVIES, Mary", ("mary", "jones", "davies")),
        ("Dr. Jane Smith", ("jane", "smith")),
        ("Mrs Jane   Smith", ("jane", "smith")),
        ("Prof Sir John Smith OBE", ("john", "smith")),
        ("SMITH, Dr Jane", ("jane", "smith")),
        ("MCCARTNEY, James Paul, Sir", ("james", "paul", "mccartney")),
        ("ØSTERGÅRD, Søren", ("soren", "ostergard")),
        ("STRAßE, Jürgen", ("jurgen", "strasse")),
        ("Lord Smith", ("lord", "smith")),  # never strip a name down to one word
        ("", ()),
    ],
)
def test_normalise_person_name(raw: str, tokens: tuple[str, ...]) -> None:
    assert normalise_person_name(raw) == tokens


# --- name matching ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("register", "declared"),
    [
        ("SMITH, John Michael", "john smith"),
        ("SMITH, John Michael", "John M. Smith"),
        ("SMITH, John Michael", "JOHN MICHAEL SMITH"),
        ("SMITH, John Michael", "Smith, John"),
        ("SMITH, John Michael", "Mr John Smith"),
        ("SMITH, John", "John Michael Smith"),  # extra middle name on the declarant's side
        ("SMITH, John M", "John Michael Smith"),  # initial on the register's side
        ("SMITH, John Michael David", "John David Smith"),
        ("SMITH, John Michael David", "John M D Smith"),
        ("BRONTË, Anne", "Anne Bronte"),
        ("BRONTE, Anne", "Anne Brontë"),
        ("O'NEILL, Seán", "Sean O'Neill"),
        ("O'NEILL, Seán", "sean oneill"),
        ("O'NEILL, Seán", "Sean O Neill"),
        ("JONES-DAVIES, Mary", "Mary Jones Davies"),
        ("JONES-DAVIES, Mary", "Mary Jones-Davies"),
        ("JONES DAVIES, Mary", "Mary Jones-Davies"),
        ("DUPONT, Jean-Paul", "Jean Paul Dupont"),
        ("DUPONT, Jean-Paul", "Jeanpaul Dupont"),
        ("DE LA CRUZ, María José", "Maria Jose de la Cruz"),
        ("ØSTERGÅRD, Søren", "Soren Ostergard"),
        ("MCCARTNEY, James Paul, Sir", "Sir James Paul McCartney"),
    ],
)
def test_names_that_match(register: str, declared: str) -> None:
    assert match_names(register, declared) is NameMatch.FULL


@pytest.mark.parametrize(
    ("register", "declared"),
    [
        ("SMITH, Jane", "John Smith"),
        ("SMITH, Jane Elizabeth", "Jane Jones"),
        ("SMITH, John", "Smith John"),  # surname first without a comma is not understood
        ("JONES-DAVIES, Mary", "Mary Davies"),
        ("JONES-DAVIES, Mary", "Mary Jones"),
        ("FLEXREG SAMPLE HOLDINGS LIMITED", "Jane Smith"),
        ("SMITH, Jane", ""),
        ("SMITH, Jane", "Dr"),
    ],
)
def test_names_that_do_not_match(register: str, declared: str) -> None:
    assert match_names(register, declared) is NameMatch.NONE


@pytest.mark.parametrize(
    ("register", "declared"),
    [
        ("SMITH, John Michael", "J Smith"),  # initial only
        ("SMITH, John Michael", "J. M. Smith"),
        ("SMITH, J", "John Smith"),  # the register holds only an initial
        ("SMITH, Jonathan", "Jon Smith"),  # shortened
        ("SMITH, John Michael", "Michael Smith"),  # goes by a middle name
        ("SMITH, John Michael", "John Peter Smith"),  # contradicting middle names
    ],
)
def test_names_that_match_only_partially(register: str, declared: str) -> None:
    assert match_names(register, declared) is NameMatch.PARTIAL


# --- roles ------------------------------------------------------------------------------
def test_binding_roles() -> None:
    for role in ("director", "llp-member", "llp-designated-member", "managing-officer"):
        assert role_can_bind(role)
    assert role_can_bind("general-partner-in-a-limited-partnership")
    for role in (
        "secretary",
        "nominee-secretary",
        "corporate-director",
        "corporate-llp-designated-member",
        "corporate-secretary",
        "cic-manager",
        "limited-partner-in-a-limited-partnership",
        "member-of-a-supervisory-organ",
        "judicial-factor",
    ):
        assert not role_can_bind(role)
    assert not any(role.startswith("corporate-") for role in OFFICER_ROLES_THAT_BIND)


# --- the declaration check --------------------------------------------------------------
def test_passes_with_exactly_one_current_binding_officer() -> None:
    officers = [
        director("SMITH, Jane Elizabeth"),
        director("GREEN, Oliver", role="secretary"),
        director("TAYLOR, Mark", resigned=date(2022, 3, 31)),
    ]
    check = check_declaration(ACTIVE, officers, "Jane Smith")
    assert check.passed
    assert check.matched_officer == officers[0]
    assert check.reasons == ()


def test_llp_designated_member_passes() -> None:
    llp = CompanyProfile("OC990004", "SOLAR COMMONS LLP (SAMPLE)", "active", "llp")
    officers = [director("KHAN, Amira", role="llp-designated-member")]
    assert check_declaration(llp, officers, "Amira Khan").passed


@pytest.mark.parametrize("status", ["dissolved", "liquidation", "administration", "receivership"])
def test_company_must_be_active(status: str) -> None:
    profile = CompanyProfile("99000002", "OLDGRID STORAGE LIMITED (SAMPLE)", status)
    check = check_declaration(profile, [director("SMITH, Jane")], "Jane Smith")
    assert not check.passed
    assert check.codes == ("company.not_active",)
    assert status in check.reasons[0].message
    assert check.matched_officer is not None  # still shown to the reviewer


def test_not_found() -> None:
    check = check_declaration(ACTIVE, [director("SMITH, Jane")], "John Smith")
    assert not check.passed
    assert check.codes == ("declarant.not_found",)
    assert check.matched_officer is None


def test_not_found_with_no_officers_or_no_name() -> None:
    assert check_declaration(ACTIVE, [], "Jane Smith").codes == ("declarant.not_found",)
    assert check_declaration(ACTIVE, [director("SMITH, Jane")], "  ").codes == (
        "declarant.not_found",
    )


def test_resigned() -> None:
    officers = [
        director("SMITH, Jane Elizabeth", resigned=date(2023, 4, 30)),
        director("PATEL, Arjun"),
    ]
    check = check_declaration(ACTIVE, officers, "Jane Smith")
    assert not check.passed
    assert check.codes == ("declarant.resigned",)
    assert "2023-04-30" in check.reasons[0].message


def test_role_cannot_bind() -> None:
    officers = [
        director("FLEXREG SAMPLE HOLDINGS LIMITED", role="corporate-director"),
        director("BROWN, Peter James", role="secretary"),
    ]
    check = check_declaration(ACTIVE, officers, "Peter Brown")
    assert not check.passed
    assert check.codes == ("declarant.role_cannot_bind",)
    assert "secretary" in check.reasons[0].message


def test_resigned_director_now_secretary_gives_both_reasons() -> None:
    officers = [
        director("SMITH, Jane", resigned=date(2020, 1, 1)),
        director("SMITH, Jane", role="secretary"),
    ]
    check = check_declaration(ACTIVE, officers, "Jane Smith")
    assert check.codes == ("declarant.resigned", "declarant.role_cannot_bind")


def test_ambiguous() -> None:
    officers = [director("SMITH, John"), director("SMITH, John Michael")]
    check = check_declaration(ACTIVE, officers, "John Smith")
    assert not check.passed
    assert check.codes == ("declarant.ambiguous",)
    assert check.matched_officer is None


def test_a_partial_match_with_another_director_is_ambiguous() -> None:
    officers = [director("SMITH, Jane Elizabeth"), director("SMITH, J")]
    check = check_declaration(ACTIVE, officers, "Jane Smith")
    assert check.codes == ("declarant.ambiguous",)


def test_distinct_middle_names_disambiguate() -> None:
    officers = [director("SMITH, John Michael"), director("SMITH, John Peter")]
    check = check_declaration(ACTIVE, officers, "John Peter Smith")
    # "John Peter" matches one fully and contradicts the other's middle name (partial):
    # that still needs a person to look.
    assert check.codes == ("declarant.ambiguous",)


def test_a_resigned_namesake_does_not_make_it_ambiguous() -> None:
    officers = [director("SMITH, John", resigned=date(2010, 1, 1)), director("SMITH, John")]
    check = check_declaration(ACTIVE, officers, "John Smith")
    assert check.passed
    assert check.matched_officer == officers[1]


def test_partial_match_goes_to_review() -> None:
    check = check_declaration(ACTIVE, [director("SMITH, Jane Elizabeth")], "J Smith")
    assert not check.passed
    assert check.codes == ("declarant.partial_match",)
    assert check.matched_officer is None


def test_partial_match_with_a_director_beside_a_secretary_full_match() -> None:
    officers = [director("SMITH, Jane", role="secretary"), director("SMITH, J")]
    check = check_declaration(ACTIVE, officers, "Jane Smith")
    assert check.codes == ("declarant.role_cannot_bind", "declarant.partial_match")


def test_inactive_and_not_found_together() -> None:
    profile = CompanyProfile("99000008", "WOUND DOWN BATTERIES LIMITED (SAMPLE)", "liquidation")
    check = check_declaration(profile, [director("CLARKE, Susan")], "Jane Smith")
    assert check.codes == ("company.not_active", "declarant.not_found")


# --- properties -------------------------------------------------------------------------
SURNAMES = ["SMITH", "BRONTË", "O'NEILL", "JONES-DAVIES", "MÜLLER", "DE LA CRUZ", "ØSTERGÅRD"]
FORENAMES = ["Jane", "Seán", "Anne", "Zoë", "Mary", "José", "Elizabeth", "Kwame", "Renée"]


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@st.composite
def register_and_declared(draw: st.DrawFn) -> tuple[str, str]:
    surname = draw(st.sampled_from(SURNAMES))
    forenames = draw(st.lists(st.sampled_from(FORENAMES), min_size=1, max_size=3))
    register = f"{surname}, {' '.join(forenames)}"

    declared_forenames = [forenames[0]]
    for middle in forenames[1:]:
        form = draw(st.sampled_from(["keep", "drop", "initial", "initial."]))
        if form == "keep":
            declared_forenames.append(middle)
        elif form.startswith("initial"):
            declared_forenames.append(middle[0] + ("." if form == "initial." else ""))
    declared_surname = surname.title() if draw(st.booleans()) else surname
    if draw(st.booleans()):
        declared = f"{declared_surname}, {' '.join(declared_forenames)}"
    else:
        declared = f"{' '.join(declared_forenames)} {declared_surname}"
    if draw(st.booleans()):
        declared = _strip_accents(declared)
    case = draw(st.sampled_from(["lower", "upper", "title", "as is"]))
    if case != "as is":
        declared = getattr(declared, case)()
    if draw(st.booleans()):
        declared = draw(st.sampled_from(["Mr ", "Ms ", "Dr ", "Prof. "])) + declared
    return register, declared


@settings(max_examples=100, deadline=None, database=None)
@given(register_and_declared())
def test_case_accent_order_and_middle_name_variants_always_match(pair: tuple[str, str]) -> None:
    register, declared = pair
    assert match_names(register, declared) is NameMatch.FULL, (register, declared)


@settings(max_examples=60, deadline=None, database=None)
@given(
    st.sampled_from(SURNAMES),
    st.sampled_from(["Jane", "Anne", "Mary", "Kwame"]),
    st.sampled_from(["Jane", "Anne", "Mary", "Kwame"]),
)
def test_a_different_first_forename_never_matches(surname: str, first: str, other: str) -> None:
    if first == other:
        return
    assert match_names(f"{surname}, {first}", f"{other} {surname}") is NameMatch.NONE


@settings(max_examples=100, deadline=None, database=None)
@given(st.text(max_size=40), st.text(max_size=40))
def test_matching_never_crashes_on_arbitrary_text(register: str, declared: str) -> None:
    assert match_names(register, declared) in set(NameMatch)
    check = check_declaration(ACTIVE, [director(register or "X")], declared)
    assert check.passed == (check.matched_officer is not None and not check.reasons)
