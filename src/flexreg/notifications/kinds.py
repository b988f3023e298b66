"""The catalogue of notification kinds: what each is called, who gets it, its default channel.

Every ``notify(kind, ...)`` names a kind from here (an unknown kind is a programming error:
``ValueError``), and every kind has the templates ``notifications/email/<kind>.txt`` and
``.html``. A user chooses ``email`` (inbox and email) or ``inbox`` (inbox only) per kind; the
market-entry rules may make some kinds email-mandatory.

Which kinds are mandatory "now" is the *current* market-entry rules' business, and
``notifications`` sits below ``entry`` (it must not import it). So the rules register a source
at start-up: ``entry`` calls ``set_mandatory_source(...)`` (in ``entry/reminders.py``, imported
by entry's ``AppConfig.ready``) and ``mandatory_kinds()`` asks it. Without a source (entry not
installed) nothing is mandatory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

EMAIL = "email"
INBOX = "inbox"
CHANNELS = {EMAIL: "Email and inbox", INBOX: "Inbox only"}

PARTICIPANTS = "participants"
OPERATORS = "operators"


@dataclass(frozen=True)
class Kind:
    code: str
    label: str
    description: str
    audience: str  # PARTICIPANTS | OPERATORS
    default_channel: str = EMAIL


KINDS: dict[str, Kind] = {
    k.code: k
    for k in [
        Kind(
            "assets.validated",
            "Asset validation outcome",
            "An asset you registered was verified, or needs the central operator's check.",
            PARTICIPANTS,
        ),
        Kind(
            "assets.import_validated",
            "Bulk registration checked",
            "The authenticity checks of the assets you registered from a file have all finished.",
            PARTICIPANTS,
        ),
        Kind(
            "assets.decommissioned",
            "Asset decommissioned",
            "An asset you are linked to was taken out of service.",
            PARTICIPANTS,
        ),
        Kind(
            "assets.decided",
            "Central operator's decision on an asset",
            "The central operator verified or rejected an asset you registered, with a reason.",
            PARTICIPANTS,
        ),
        Kind(
            "assets.consent_revoked",
            "Consumer consent revoked",
            "A household withdrew the consent a link of yours to its asset rests on.",
            PARTICIPANTS,
        ),
        Kind(
            "assets.linked",
            "Linked to an asset",
            "Your participant was linked to an asset as its owner, operator or controlling "
            "provider.",
            PARTICIPANTS,
        ),
        Kind(
            "assets.link_ended",
            "Link to an asset ended",
            "A party's link to an asset you are linked to was ended (a provider switch, a sale).",
            PARTICIPANTS,
        ),
        Kind(
            "entry.request_raised",
            "Information requested",
            "We need a document, form or answer from you for market entry.",
            PARTICIPANTS,
        ),
        Kind(
            "entry.answer_reviewed",
            "Answer reviewed",
            "The central operator accepted or rejected something you sent.",
            PARTICIPANTS,
        ),
        Kind(
            "entry.case_qualified",
            "Role qualified",
            "A market role finished market entry and is operational.",
            PARTICIPANTS,
        ),
        Kind(
            "entry.case_rejected",
            "Application not accepted",
            "The central operator did not accept an application for a market role.",
            PARTICIPANTS,
        ),
        Kind(
            "entry.request_reminder",
            "Reminder before a due date",
            "Something we asked for is due soon.",
            PARTICIPANTS,
        ),
        Kind(
            "entry.request_overdue",
            "Overdue request",
            "Something we asked for is past its due date.",
            PARTICIPANTS,
        ),
        Kind(
            "participant.suspended",
            "Participant suspended",
            "A participant you act for was suspended.",
            PARTICIPANTS,
        ),
        Kind(
            "participant.change_reviewed",
            "Change of details reviewed",
            "A change to verified details was accepted or rejected.",
            PARTICIPANTS,
        ),
        Kind(
            "entry.case_ready",
            "Case ready for the final review",
            "Central operator: every step of a case is accepted and it waits for a decision.",
            OPERATORS,
            INBOX,
        ),
        Kind(
            "entry.request_escalated",
            "Overdue request escalated",
            "Central operator: a participant has not answered a request long after its due date.",
            OPERATORS,
        ),
        Kind(
            "participant.company_status",
            "Company no longer active",
            "Central operator: Companies House shows a verified company dissolved or in "
            "liquidation.",
            OPERATORS,
        ),
    ]
}


def get(code: str) -> Kind:
    """The kind, or ``ValueError`` (calling ``notify`` with an unknown kind is a bug)."""
    try:
        return KINDS[code]
    except KeyError:
        raise ValueError(f"unknown notification kind {code!r}") from None


# --- which kinds the current rules make email-mandatory ---------------------------------------

_mandatory_source: Callable[[], Iterable[str]] | None = None


def set_mandatory_source(source: Callable[[], Iterable[str]] | None) -> None:
    """Register the function that lists the kinds the current rules make email-mandatory."""
    global _mandatory_source
    _mandatory_source = source


def mandatory_kinds() -> frozenset[str]:
    """Kinds always sent by email under the current rules (callers without a rule version of
    their own, e.g. ``participant.suspended``, pass ``kind in mandatory_kinds()`` to notify)."""
    if _mandatory_source is None:
        return frozenset()
    return frozenset(code for code in _mandatory_source() if code in KINDS)
