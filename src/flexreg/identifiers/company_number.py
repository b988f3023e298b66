"""Companies House company numbers (the UK register of companies and similar bodies).

Sources: Companies House, *Uniform Resource Identifiers Customer Guide* (the list of
company number prefixes), the Companies House public data API (``/company/{number}``),
and ``docs/DOMAIN.md``.

A company number has 8 characters:

* 8 digits (zero-padded) for a company registered in England and Wales; or
* a 2-character prefix and 6 digits, the prefix naming the register (``SC`` Scotland,
  ``NI`` Northern Ireland, ``OC`` LLP, ``LP`` limited partnership, ``FC`` overseas
  company, ...; ``R0`` is a Northern Ireland company registered before partition);
* registered societies (``IP``, ``SP``, ``NP``, ``NO``, ``RS``) may instead carry their
  society number as 5 digits and an ``R`` suffix, e.g. ``IP00525R`` (Co-operative Group).

There is no check digit: a format check cannot prove that a number exists (the Companies
House API does). Normalisation: strip, upper-case, drop spaces, zero-pad a purely numeric
number to 8 digits and the digits after a prefix to 6 (``sc1234`` -> ``SC001234``).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Final, NamedTuple

from flexreg.identifiers.base import Identifier
from flexreg.identifiers.errors import MAX_RAW_LENGTH, IdentifierError

__all__ = [
    "COMPANY_NUMBER_PREFIXES",
    "CompanyKind",
    "CompanyNumber",
    "Jurisdiction",
    "PrefixInfo",
    "is_valid_company_number",
]


class Jurisdiction(enum.Enum):
    """The register a company number belongs to (values as the Companies House API)."""

    ENGLAND_WALES = "england-wales"
    SCOTLAND = "scotland"
    NORTHERN_IRELAND = "northern-ireland"
    #: UK-wide registers: overseas companies since 1 Oct 2009, overseas entities.
    UNITED_KINGDOM = "united-kingdom"
    #: Registered societies registered by the FCA for Great Britain.
    GREAT_BRITAIN = "great-britain"


class CompanyKind(enum.Enum):
    COMPANY = "company"
    LLP = "llp"
    LIMITED_PARTNERSHIP = "limited-partnership"
    SCOTTISH_QUALIFYING_PARTNERSHIP = "scottish-qualifying-partnership"
    OVERSEAS_COMPANY = "overseas-company"
    OVERSEAS_ENTITY = "overseas-entity"
    ROYAL_CHARTER = "royal-charter"
    #: Industrial and provident societies, co-operative and community benefit societies,
    #: credit unions.
    REGISTERED_SOCIETY = "registered-society"
    ASSURANCE_COMPANY = "assurance-company"
    UNREGISTERED_COMPANY = "unregistered-company"
    EEIG = "european-economic-interest-grouping"
    EUROPEAN_COMPANY = "european-company"
    ICVC = "investment-company-with-variable-capital"
    CIO = "charitable-incorporated-organisation"


class PrefixInfo(NamedTuple):
    jurisdiction: Jurisdiction
    kind: CompanyKind
    description: str


_EW = Jurisdiction.ENGLAND_WALES
_SC = Jurisdiction.SCOTLAND
_NI = Jurisdiction.NORTHERN_IRELAND
_K = CompanyKind

#: Prefix -> what it means. ``""`` is the unprefixed England & Wales company.
COMPANY_NUMBER_PREFIXES: Final[dict[str, PrefixInfo]] = {
    "": PrefixInfo(_EW, _K.COMPANY, "England and Wales company"),
    "SC": PrefixInfo(_SC, _K.COMPANY, "Scottish company"),
    "NI": PrefixInfo(_NI, _K.COMPANY, "Northern Ireland company"),
    "R0": PrefixInfo(_NI, _K.COMPANY, "Northern Ireland company (pre-partition)"),
    "OC": PrefixInfo(_EW, _K.LLP, "England and Wales LLP"),
    "SO": PrefixInfo(_SC, _K.LLP, "Scottish LLP"),
    "NC": PrefixInfo(_NI, _K.LLP, "Northern Ireland LLP"),
    "LP": PrefixInfo(_EW, _K.LIMITED_PARTNERSHIP, "England and Wales limited partnership"),
    "SL": PrefixInfo(_SC, _K.LIMITED_PARTNERSHIP, "Scottish limited partnership"),
    "NL": PrefixInfo(_NI, _K.LIMITED_PARTNERSHIP, "Northern Ireland limited partnership"),
    "SG": PrefixInfo(_SC, _K.SCOTTISH_QUALIFYING_PARTNERSHIP, "Scottish qualifying partnership"),
    "FC": PrefixInfo(
        Jurisdiction.UNITED_KINGDOM,
        _K.OVERSEAS_COMPANY,
        "Overseas company (UK-wide since 1 Oct 2009; England and Wales before)",
    ),
    "SF": PrefixInfo(_SC, _K.OVERSEAS_COMPANY, "Overseas company in Scotland (before 2009)"),
    "NF": PrefixInfo(_NI, _K.OVERSEAS_COMPANY, "Overseas company in N. Ireland (before 2009)"),
    "OE": PrefixInfo(
        Jurisdiction.UNITED_KINGDOM, _K.OVERSEAS_ENTITY, "Register of Overseas Entities"
    ),
    "RC": PrefixInfo(_EW, _K.ROYAL_CHARTER, "England and Wales Royal Charter company"),
    "SR": PrefixInfo(_SC, _K.ROYAL_CHARTER, "Scottish Royal Charter company"),
    "NR": PrefixInfo(_NI, _K.ROYAL_CHARTER, "Northern Ireland Royal Charter company"),
    "IP": PrefixInfo(_EW, _K.REGISTERED_SOCIETY, "Industrial and provident society"),
    "SP": PrefixInfo(_SC, _K.REGISTERED_SOCIETY, "Scottish industrial and provident society"),
    "NP": PrefixInfo(
        _NI, _K.REGISTERED_SOCIETY, "Northern Ireland industrial and provident society"
    ),
    "NO": PrefixInfo(_NI, _K.REGISTERED_SOCIETY, "Northern Ireland credit union"),
    "RS": PrefixInfo(Jurisdiction.GREAT_BRITAIN, _K.REGISTERED_SOCIETY, "Registered society"),
    "AC": PrefixInfo(_EW, _K.ASSURANCE_COMPANY, "England and Wales assurance company"),
    "SA": PrefixInfo(_SC, _K.ASSURANCE_COMPANY, "Scottish assurance company"),
    "NA": PrefixInfo(_NI, _K.ASSURANCE_COMPANY, "Northern Ireland assurance company"),
    "ZC": PrefixInfo(_EW, _K.UNREGISTERED_COMPANY, "England and Wales unregistered company"),
    "SZ": PrefixInfo(_SC, _K.UNREGISTERED_COMPANY, "Scottish unregistered company"),
    "NZ": PrefixInfo(_NI, _K.UNREGISTERED_COMPANY, "Northern Ireland unregistered company"),
    "GE": PrefixInfo(_EW, _K.EEIG, "England and Wales EEIG"),
    "GS": PrefixInfo(_SC, _K.EEIG, "Scottish EEIG"),
    "GN": PrefixInfo(_NI, _K.EEIG, "Northern Ireland EEIG"),
    "SE": PrefixInfo(_EW, _K.EUROPEAN_COMPANY, "England and Wales Societas Europaea"),
    "ES": PrefixInfo(_SC, _K.EUROPEAN_COMPANY, "Scottish Societas Europaea"),
    "EN": PrefixInfo(_NI, _K.EUROPEAN_COMPANY, "Northern Ireland Societas Europaea"),
    "IC": PrefixInfo(_EW, _K.ICVC, "England and Wales ICVC"),
    "SI": PrefixInfo(_SC, _K.ICVC, "Scottish ICVC"),
    "NV": PrefixInfo(_NI, _K.ICVC, "Northern Ireland ICVC"),
    "CE": PrefixInfo(_EW, _K.CIO, "Charitable incorporated organisation"),
    "CS": PrefixInfo(_SC, _K.CIO, "Scottish charitable incorporated organisation"),
}

#: Prefixes whose numbers may be a 5-digit society number with an ``R`` suffix.
_SOCIETY_PREFIXES: Final = frozenset({"IP", "SP", "NP", "NO", "RS"})

_NUMERIC: Final = re.compile(r"[0-9]{1,8}", re.ASCII)
_PREFIXED: Final = re.compile(r"([A-Z]{2}|R0)([0-9]{1,6})", re.ASCII)
_SOCIETY: Final = re.compile(r"([A-Z]{2})([0-9]{1,5})R", re.ASCII)
_CANONICAL: Final = re.compile(r"[0-9]{8}|(?:[A-Z]{2}|R0)[0-9]{6}|[A-Z]{2}[0-9]{5}R", re.ASCII)


def _normalise(raw: str) -> str:
    if len(raw) > MAX_RAW_LENGTH:
        raise IdentifierError("company_number.bad_length", "That is far too long.")
    value = "".join(raw.split()).upper()
    if _NUMERIC.fullmatch(value):
        return value.zfill(8)
    if match := _SOCIETY.fullmatch(value):
        return match[1] + match[2].zfill(5) + "R"
    if match := _PREFIXED.fullmatch(value):
        return match[1] + match[2].zfill(6)
    return value


def _validate(value: str) -> None:
    if not value:
        raise IdentifierError("company_number.empty")
    if len(value) > 8:
        raise IdentifierError(
            "company_number.bad_length",
            f"A company number has at most 8 characters; this has {len(value)}.",
        )
    if not _CANONICAL.fullmatch(value):
        raise IdentifierError(
            "company_number.invalid_format",
            "A company number is 8 digits, or 2 letters and 6 digits (e.g. SC123456).",
        )
    prefix = "" if value[0].isdigit() else value[:2]
    if prefix not in COMPANY_NUMBER_PREFIXES:
        raise IdentifierError(
            "company_number.unknown_prefix",
            f"{prefix!r} is not a prefix Companies House uses.",
        )
    if value.endswith("R") and prefix not in _SOCIETY_PREFIXES:
        raise IdentifierError(
            "company_number.invalid_format",
            "Only registered societies' numbers end with R.",
        )
    digits = value[len(prefix) :].removesuffix("R")
    if int(digits) == 0:
        raise IdentifierError(
            "company_number.invalid_format", "A company number is never all zeros."
        )


@dataclass(frozen=True, slots=True)
class CompanyNumber(Identifier):
    """A Companies House company number in its normalised 8-character form."""

    normalise = staticmethod(_normalise)
    validate = staticmethod(_validate)

    @property
    def prefix(self) -> str:
        """The two-character prefix, or ``""`` for a plain England and Wales company."""
        return "" if self.value[0].isdigit() else self.value[:2]

    @property
    def _info(self) -> PrefixInfo:
        return COMPANY_NUMBER_PREFIXES[self.prefix]

    @property
    def jurisdiction(self) -> Jurisdiction:
        return self._info.jurisdiction

    @property
    def kind(self) -> CompanyKind:
        return self._info.kind

    @property
    def description(self) -> str:
        return self._info.description


def is_valid_company_number(raw: str) -> bool:
    return CompanyNumber.is_valid(raw)
