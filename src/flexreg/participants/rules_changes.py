"""Small named rules for change requests and the Companies House re-check.

Pure functions except where noted: the caller fetches what Companies House says and passes it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flexreg.participants import companies_house as ch

# --- which register statuses end a participant's standing (docs/decisions/0013) -------------

#: The company has ceased to exist or is being wound up: its participant is suspended.
SUSPEND_STATUSES: frozenset[str] = frozenset(
    {
        ch.STATUS_DISSOLVED,
        ch.STATUS_LIQUIDATION,
        ch.STATUS_RECEIVERSHIP,
        ch.STATUS_ADMINISTRATION,
        ch.STATUS_INSOLVENCY_PROCEEDINGS,
        ch.STATUS_CONVERTED_CLOSED,
        ch.STATUS_CLOSED,
        ch.STATUS_REMOVED,
    }
)
#: The company still trades normally on the register.
GOOD_STATUSES: frozenset[str] = frozenset({ch.STATUS_ACTIVE, ch.STATUS_OPEN, ch.STATUS_REGISTERED})
# Anything else (``voluntary-arrangement``, a status the register adds later, or a good status
# with a ``company_status_detail`` such as ``active-proposal-to-strike-off``) is "watch":
# the central operator is alerted, the participant is not suspended.


def status_verdict(company_status: str, status_detail: str | None) -> str:
    """``"suspend"``, ``"watch"`` or ``"ok"`` for what the register says about a company."""
    status = (company_status or "").strip().lower()
    if status in SUSPEND_STATUSES:
        return "suspend"
    if status in GOOD_STATUSES and not (status_detail or "").strip():
        return "ok"
    return "watch"


def status_label(company_status: str, status_detail: str | None) -> str:
    detail = (status_detail or "").strip()
    return f"{company_status} ({detail})" if detail else company_status


# --- addresses ------------------------------------------------------------------------------

_ABBREVIATIONS = {
    "st": "street",
    "rd": "road",
    "ave": "avenue",
    "av": "avenue",
    "ln": "lane",
    "dr": "drive",
    "ct": "court",
    "pl": "place",
    "sq": "square",
    "cres": "crescent",
    "ter": "terrace",
    "terr": "terrace",
    "bldg": "building",
    "ho": "house",
    "pk": "park",
    "est": "estate",
    "ind": "industrial",
    "flr": "floor",
}


def _fold(text: str | None) -> str:
    folded = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().lower()
    folded = folded.replace("&", " and ")
    words = re.sub(r"[^a-z0-9]+", " ", folded).split()
    return " ".join(_ABBREVIATIONS.get(w, w) for w in words)


def normalise_postcode(postcode: str | None) -> str:
    return re.sub(r"\s+", "", (postcode or "").upper())


@dataclass(frozen=True)
class Mismatch:
    code: str
    message: str


def _register_first_lines(address: Mapping[str, Any]) -> set[str]:
    """Ways the register's first line may be written: "premises address_line_1" and parts."""
    premises = _fold(address.get("premises"))
    line1 = _fold(address.get("address_line_1"))
    candidates = {line1, f"{premises} {line1}".strip()}
    if premises and not line1:
        candidates.add(premises)
    return {c for c in candidates if c}


def address_mismatches(
    ours: Mapping[str, Any], register: Mapping[str, Any] | None
) -> list[Mismatch]:
    """Does a registered address match the register's registered office? Postcode equal and
    the first line equal (case, punctuation and common abbreviations folded). Our first line
    may hold the premises and street together, or the premises with the street on line 2."""
    if not register:
        return [Mismatch("change.no_register_address", "The register gives no registered office.")]
    problems: list[Mismatch] = []
    if normalise_postcode(ours.get("postcode")) != normalise_postcode(register.get("postal_code")):
        problems.append(
            Mismatch(
                "change.postcode_mismatch",
                f"The postcode given ({ours.get('postcode') or 'none'}) differs from the "
                f"register's ({register.get('postal_code') or 'none'}).",
            )
        )
    ours_first = {_fold(ours.get("line1"))}
    ours_first.add(f"{_fold(ours.get('line1'))} {_fold(ours.get('line2'))}".strip())
    if not (ours_first & _register_first_lines(register)):
        shown = ", ".join(
            str(register[k]) for k in ("premises", "address_line_1") if register.get(k)
        )
        problems.append(
            Mismatch(
                "change.address_line_mismatch",
                f"The first line given ({ours.get('line1') or 'none'}) differs from the "
                f"register's ({shown or 'none'}).",
            )
        )
    return problems


def register_address_as_ours(register: Mapping[str, Any] | None) -> dict[str, str]:
    """The register's registered office in our address shape (for display and tests)."""
    register = register or {}
    line1 = " ".join(
        str(register[k]) for k in ("premises", "address_line_1") if register.get(k)
    ).strip()
    return {
        "line1": line1,
        "line2": str(register.get("address_line_2") or ""),
        "town": str(register.get("locality") or ""),
        "county": str(register.get("region") or ""),
        "postcode": str(register.get("postal_code") or ""),
        "country": "GB",
    }


def same_value(field: str, old: Any, new: Any) -> bool:
    """Is the change asked for no change at all?"""
    if field == "registered_address":
        keys = ("line1", "line2", "town", "county", "postcode", "country")
        return all(
            str((old or {}).get(k) or "").strip() == str((new or {}).get(k) or "").strip()
            for k in keys
        )
    if field == "declaration":
        return False  # a declaration is new evidence even when it names the same officer
    return str(old or "").strip() == str(new or "").strip()
