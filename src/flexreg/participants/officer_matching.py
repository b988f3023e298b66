"""Check a director-level declaration against the Companies House register.

Pure functions, no Django and no I/O: the caller fetches the profile and officers (see
``companies_house``) and passes them in.

A declaration **passes** only when all of these hold:

1. the company's status is ``active``;
2. exactly one *current* officer (no ``resigned_on``) in a role that can bind the company
   has a name that matches the declarant's confidently;
3. no other current, binding officer's name matches even partially (that would make
   the declarant ambiguous).

Anything else fails with one or more :class:`Reason` s; the caller sends a failed check to
the central operator's review queue, never silently through.

Reason codes (stable; add new ones, never rename):

``company.not_active``         the company's status is not ``active`` (status in message)
``declarant.not_found``        no officer's name matches
``declarant.resigned``         the only matching officer(s) have resigned
``declarant.role_cannot_bind`` the name matches only current officers in roles that
                               cannot bind the company (secretary, corporate officer, ...)
``declarant.ambiguous``        more than one current binding officer matches
``declarant.partial_match``    surname matches and the forename only partially (an
                               initial, a shortened name, the middle name): review

Name matching (see :func:`normalise_person_name`): case, accents, punctuation,
apostrophes, hyphens and titles are ignored; the register's ``SURNAME, Forenames`` and
the declarant's ``Forenames Surname`` (or ``Surname, Forenames``) are both understood.
A confident match needs the same surname and the same first forename; middle names may
be missing on either side, and a middle initial matches a middle name that starts with
it, but middle names that contradict each other make the match only partial.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from flexreg.participants.companies_house import STATUS_ACTIVE, CompanyProfile, Officer

__all__ = [
    "OFFICER_ROLES_THAT_BIND",
    "DeclarationCheck",
    "NameMatch",
    "Reason",
    "check_declaration",
    "match_names",
    "normalise_person_name",
    "role_can_bind",
]

# --- roles ------------------------------------------------------------------------------
#: Officer roles whose holder, a natural person, can bind the company by declaration.
#:
#: Included:
#:
#: * ``director`` and ``nominee-director`` (a nominee director is a director in law,
#:   with the same powers and duties);
#: * ``llp-member`` and ``llp-designated-member`` (every member of an LLP is its agent,
#:   s.6 Limited Liability Partnerships Act 2000);
#: * ``general-partner-in-a-limited-partnership`` (general partners manage and bind an
#:   LP; limited partners may not take part in management);
#: * ``managing-officer`` (the managing officers of a registered overseas entity);
#: * ``member-of-an-administrative-organ`` and ``member-of-a-management-organ`` (the
#:   board of an overseas company or a European company (SE) as the register records it);
#: * ``manager-of-an-eeig`` (the manager(s) represent a grouping).
#:
#: Excluded, so they go to operator review: secretaries and nominee secretaries (they
#: administer, they do not bind); every ``corporate-*`` role (a company cannot itself make
#: a personal declaration: the person acting for the corporate officer must be checked by
#: hand); ``limited-partner-in-a-limited-partnership``; ``member-of-a-supervisory-organ``
#: (supervises, does not manage); ``cic-manager`` (appointed by the CIC Regulator);
#: ``judicial-factor`` and ``receiver-and-manager`` (court or creditor appointees: real
#: authority, but rare enough and sensitive enough that a person should look at the
#: appointment); ``person-authorised-to-accept`` / ``-to-represent`` /
#: ``-to-represent-and-accept`` (an overseas company's UK establishment contacts, whose
#: authority is limited to that establishment).
OFFICER_ROLES_THAT_BIND: Final[frozenset[str]] = frozenset(
    {
        "director",
        "nominee-director",
        "llp-member",
        "llp-designated-member",
        "general-partner-in-a-limited-partnership",
        "managing-officer",
        "member-of-an-administrative-organ",
        "member-of-a-management-organ",
        "manager-of-an-eeig",
    }
)


def role_can_bind(officer_role: str) -> bool:
    return officer_role.strip().lower() in OFFICER_ROLES_THAT_BIND


# --- result types -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class DeclarationCheck:
    passed: bool
    matched_officer: Officer | None
    reasons: tuple[Reason, ...]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(reason.code for reason in self.reasons)


class NameMatch(enum.IntEnum):
    """How well two person names match; ordered so that ``max`` picks the best."""

    NONE = 0
    PARTIAL = 1
    FULL = 2


# --- normalisation ----------------------------------------------------------------------
# Letters NFKD does not decompose into "base + accent".
_SPECIAL_LETTERS: Final = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "œ": "oe",
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "\u0131": "i",  # dotless i
        "ħ": "h",
    }
)
_APOSTROPHES: Final = re.compile(r"['\u2018\u2019\u02bc\u02bb`\u00b4]")
_NOT_ALNUM: Final = re.compile(r"[^a-z0-9]+")

# Titles and honorifics dropped from the front of the forenames.
_TITLES: Final[frozenset[str]] = frozenset(
    {
        "mr", "mrs", "ms", "miss", "mx", "master", "dr", "doctor", "sir", "dame", "lord",
        "lady", "prof", "professor", "rev", "revd", "reverend", "canon", "fr", "father",
        "rt", "right", "hon", "honourable", "honorable", "the", "baron", "baroness",
        "viscount", "viscountess", "earl", "countess", "capt", "captain", "col", "colonel",
        "maj", "major", "gen", "general", "cllr", "councillor", "rabbi", "imam", "sheikh",
    }
)  # fmt: skip
# Post-nominals and generational suffixes dropped from the end of a name. Short ones
# that are also real names (e.g. "ma", "md") are deliberately not listed.
_SUFFIXES: Final[frozenset[str]] = frozenset(
    {
        "obe", "mbe", "cbe", "kbe", "dbe", "gbe", "kcb", "kcmg", "cb", "cvo", "lvo", "kc",
        "qc", "phd", "dphil", "frs", "freng", "fca", "aca", "jp", "dl", "esq", "bart",
        "bt", "jr", "jnr", "snr", "ii", "iii", "iv",
    }
)  # fmt: skip


def _fold(text: str) -> str:
    """Lower-case, strip accents and unify apostrophes/hyphens/punctuation to spaces."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.translate(_SPECIAL_LETTERS)
    text = _APOSTROPHES.sub("", text)  # O'Neill -> oneill, D'Arcy -> darcy
    return _NOT_ALNUM.sub(" ", text)  # hyphens, dots, commas... -> spaces


def _tokens(text: str) -> list[str]:
    return _fold(text).split()


def _strip_titles(tokens: list[str], *, keep: int) -> list[str]:
    while len(tokens) > keep and tokens[0] in _TITLES:
        tokens = tokens[1:]
    return tokens


def _strip_suffixes(tokens: list[str], *, keep: int) -> list[str]:
    while len(tokens) > keep and tokens[-1] in _SUFFIXES:
        tokens = tokens[:-1]
    return tokens


@dataclass(frozen=True, slots=True)
class _ParsedName:
    tokens: tuple[str, ...]
    # Index where the surname starts, when the name said so with a comma; None otherwise.
    surname_at: int | None

    def splits(self) -> Iterable[int]:
        if self.surname_at is not None:
            if 0 < self.surname_at < len(self.tokens):
                yield self.surname_at
            return
        yield from range(len(self.tokens) - 1, 0, -1)


def _parse(name: str) -> _ParsedName:
    if "," in name:
        # The register's form: "SURNAME, Forenames Middle[, Title or honours]".
        surname_part, _, rest = name.partition(",")
        forenames_part = rest.split(",", 1)[0]
        surname = _strip_suffixes(_strip_titles(_tokens(surname_part), keep=1), keep=1)
        forenames = _strip_suffixes(_strip_titles(_tokens(forenames_part), keep=0), keep=0)
        return _ParsedName(tuple(forenames + surname), len(forenames))
    tokens = _strip_suffixes(_strip_titles(_tokens(name), keep=2), keep=2)
    return _ParsedName(tuple(tokens), None)


def normalise_person_name(name: str) -> tuple[str, ...]:
    """Tokens of a person's name, forenames first, surname last.

    Lower-case; accents removed (NFKD, plus ``ß``, ``ø``, ``æ``...); apostrophes removed
    (``O'Neill`` -> ``oneill``); hyphens and other punctuation split words
    (``JONES-DAVIES`` -> ``jones``, ``davies``); leading titles (Mr, Dr, Sir, Dame, Prof,
    Rev...) and trailing honours (OBE, KC, Jr...) dropped; ``SURNAME, Forenames`` turned
    into ``forenames surname``; anything after a second comma (the register's place for
    titles and honours) dropped.

    >>> normalise_person_name("BRONTË, Anne")
    ('anne', 'bronte')
    >>> normalise_person_name("Dr John M. Smith OBE")
    ('john', 'm', 'smith')
    """
    return _parse(name).tokens


# --- matching ---------------------------------------------------------------------------
def _compatible(a: str, b: str) -> bool:
    """Same name, or one is a single-letter initial of the other."""
    if a == b:
        return True
    if len(a) == 1:
        return b.startswith(a)
    if len(b) == 1:
        return a.startswith(b)
    return False


def _is_subsequence(short: Sequence[str], long: Sequence[str]) -> bool:
    """Can ``short`` be found in order inside ``long`` (pairwise compatible)?"""
    if not short:
        return True
    if len(short) > len(long):
        return False
    head, rest = short[0], short[1:]
    return any(
        _compatible(head, candidate) and _is_subsequence(rest, long[i + 1 :])
        for i, candidate in enumerate(long[: len(long) - len(short) + 1])
    )


def _merge_first(tokens: Sequence[str], target: str) -> Sequence[str]:
    """``("jean", "paul", ...)`` -> ``("jeanpaul", ...)`` when that equals ``target``."""
    if len(tokens) >= 2 and tokens[0] + tokens[1] == target:
        return (target, *tokens[2:])
    return tokens


def _compare_forenames(register: Sequence[str], declared: Sequence[str]) -> NameMatch:
    if not register or not declared:
        return NameMatch.NONE
    register = _merge_first(register, declared[0])
    declared = _merge_first(declared, register[0])
    first_r, first_d = register[0], declared[0]
    if first_r == first_d:
        middle_r, middle_d = register[1:], declared[1:]
        if _is_subsequence(middle_r, middle_d) or _is_subsequence(middle_d, middle_r):
            return NameMatch.FULL
        return NameMatch.PARTIAL  # same first name, contradicting middle names
    if _compatible(first_r, first_d):
        return NameMatch.PARTIAL  # "J Smith" / "SMITH, J"
    shorter, longer = sorted((first_r, first_d), key=len)
    if len(shorter) >= 2 and longer.startswith(shorter):
        return NameMatch.PARTIAL  # "Jon" / "Jonathan", "Liz" is not caught: review anyway
    if first_d in register[1:] or first_r in declared[1:]:
        return NameMatch.PARTIAL  # goes by a middle name
    return NameMatch.NONE


def _match_parsed(register: _ParsedName, declared: _ParsedName) -> NameMatch:
    best = NameMatch.NONE
    for r_at in register.splits():
        r_surname = "".join(register.tokens[r_at:])
        for d_at in declared.splits():
            if "".join(declared.tokens[d_at:]) != r_surname:
                continue
            result = _compare_forenames(register.tokens[:r_at], declared.tokens[:d_at])
            best = max(best, result)
            if best is NameMatch.FULL:
                return best
    return best


def match_names(register_name: str, declared_name: str) -> NameMatch:
    """How well a declared name matches a name as written on the register."""
    return _match_parsed(_parse(register_name), _parse(declared_name))


# --- the check --------------------------------------------------------------------------
def _describe(officer: Officer) -> str:
    ended = f", resigned {officer.resigned_on.isoformat()}" if officer.resigned_on else ""
    return f"{officer.name} ({officer.officer_role}{ended})"


def _describe_all(officers: Sequence[Officer]) -> str:
    return "; ".join(_describe(officer) for officer in officers)


def _partial_reason(declarant_name: str, officers: Sequence[Officer]) -> Reason:
    return Reason(
        "declarant.partial_match",
        f"The name '{declarant_name}' only partly matches: {_describe_all(officers)}. "
        "An operator must confirm.",
    )


def check_declaration(
    profile: CompanyProfile, officers: Sequence[Officer], declarant_name: str
) -> DeclarationCheck:
    """Does ``declarant_name`` name exactly one current officer who can bind the company?"""
    reasons: list[Reason] = []
    if profile.company_status != STATUS_ACTIVE:
        reasons.append(
            Reason(
                "company.not_active",
                f"The company's status on the register is '{profile.company_status}', "
                "not 'active'.",
            )
        )

    declared = _parse(declarant_name)
    full: list[Officer] = []
    partial: list[Officer] = []
    for officer in officers:
        result = _match_parsed(_parse(officer.name), declared) if declared.tokens else None
        if result is NameMatch.FULL:
            full.append(officer)
        elif result is NameMatch.PARTIAL:
            partial.append(officer)

    def binding_current(group: Iterable[Officer]) -> list[Officer]:
        return [o for o in group if o.is_current and role_can_bind(o.officer_role)]

    full_binding = binding_current(full)
    partial_binding = binding_current(partial)
    matched: Officer | None = None

    if len(full_binding) == 1 and not partial_binding:
        matched = full_binding[0]
    elif full_binding:
        others = full_binding + partial_binding
        reasons.append(
            Reason(
                "declarant.ambiguous",
                f"The name '{declarant_name}' matches {len(others)} current officers who can "
                f"bind the company: {_describe_all(others)}.",
            )
        )
    elif full:
        current_full = [o for o in full if o.is_current]
        resigned_full = [o for o in full if not o.is_current]
        if resigned_full:
            reasons.append(
                Reason(
                    "declarant.resigned",
                    f"The name '{declarant_name}' matches only officers who have resigned: "
                    f"{_describe_all(resigned_full)}.",
                )
            )
        if current_full:
            reasons.append(
                Reason(
                    "declarant.role_cannot_bind",
                    f"The name '{declarant_name}' matches only officers whose role cannot "
                    f"bind the company: {_describe_all(current_full)}.",
                )
            )
        if partial_binding:
            reasons.append(_partial_reason(declarant_name, partial_binding))
    elif partial:
        reasons.append(_partial_reason(declarant_name, partial))
    else:
        reasons.append(
            Reason(
                "declarant.not_found",
                f"No officer of {profile.company_number} has a name matching '{declarant_name}'.",
            )
        )

    passed = matched is not None and not reasons
    return DeclarationCheck(passed=passed, matched_officer=matched, reasons=tuple(reasons))
