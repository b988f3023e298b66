"""Market-entry state machine and small named rules used by the services."""

from __future__ import annotations

from flexreg.core.errors import Conflict, DomainError, IllegalTransition
from flexreg.core.statemachine import StateMachine, Transition
from flexreg.entry.models import OPEN_CASE_STATES, CaseStatus, EntryCase, RequestStatus

C = CaseStatus
_OPEN = frozenset(OPEN_CASE_STATES)

CASE_LIFECYCLE = StateMachine(
    "entry_case",
    [s.value for s in CaseStatus],
    [
        Transition("start", frozenset({C.NOT_STARTED}), C.IN_PROGRESS),
        # Everything asked for is answered (or being checked): over to the reviewers.
        Transition(
            "submit", frozenset({C.NOT_STARTED, C.IN_PROGRESS, C.CHANGES_REQUESTED}), C.SUBMITTED
        ),
        # A reviewer took the case or decided a first answer; or all is accepted and the rules
        # ask for the operator's final review.
        Transition(
            "begin_review",
            frozenset({C.NOT_STARTED, C.IN_PROGRESS, C.SUBMITTED, C.CHANGES_REQUESTED}),
            C.UNDER_REVIEW,
        ),
        # An answer was rejected, or an operator asked for more.
        Transition(
            "request_changes",
            frozenset({C.NOT_STARTED, C.IN_PROGRESS, C.SUBMITTED, C.UNDER_REVIEW}),
            C.CHANGES_REQUESTED,
        ),
        # Some of what was asked for is answered again, not all of it yet; or new steps opened.
        Transition(
            "resume",
            frozenset({C.SUBMITTED, C.UNDER_REVIEW, C.CHANGES_REQUESTED}),
            C.IN_PROGRESS,
        ),
        Transition("qualify", _OPEN, C.QUALIFIED),
        Transition("reject", _OPEN, C.REJECTED),
        Transition("withdraw", _OPEN | {C.QUALIFIED}, C.WITHDRAWN),
        # The role was asked for again: the case starts over under the current rules.
        Transition("reopen", frozenset({C.REJECTED, C.WITHDRAWN}), C.NOT_STARTED),
    ],
)


def transition_to(state: str, target: str) -> str:
    """The name of the transition from ``state`` to ``target`` (a coded error if none)."""
    for name in CASE_LIFECYCLE.allowed(state):
        if CASE_LIFECYCLE.transitions[name].target == target:
            return name
    raise IllegalTransition("entry_case", f"to_{target}", state)


def case_is_open(case: EntryCase) -> None:
    if case.status not in _OPEN:
        raise Conflict(
            "entry.case_closed",
            f"This market-entry case is {case.status}: nothing more can be done on it.",
        )


def case_takes_answers(case: EntryCase, ad_hoc: bool) -> None:
    """An open case takes answers and reviews; a qualified one only for ad hoc requests."""
    if case.status not in _OPEN and not (case.status == C.QUALIFIED and ad_hoc):
        case_is_open(case)


def request_answerable(status: str) -> None:
    if status not in (RequestStatus.OPEN, RequestStatus.ANSWERED):
        details: dict[str, str] = {
            RequestStatus.WAITING: "This step cannot start yet: earlier steps come first.",
            RequestStatus.CHECKING: "This step's check is running; wait for its outcome.",
            RequestStatus.ACCEPTED: "This step is already accepted.",
            RequestStatus.CANCELLED: "This request was cancelled.",
        }
        detail = details.get(status, f"This request is {status}.")
        raise Conflict("entry.request_not_open", detail)


def reason_given(reason: str) -> None:
    if not reason or not reason.strip():
        raise DomainError(code="entry.reason_required", detail="Give a reason for the decision.")
