"""An asset's lifecycle as one explicit state machine (docs/decisions/0017).

``draft`` → ``pending_validation`` (submitted; ``query`` at once when it may duplicate another
asset) → ``verified`` or ``query`` (authenticity checks, ``assets.authenticity``) → the central
operator decides ``query`` (``verify`` / ``reject``). Any asset in service may be
``decommissioned`` by a party linked to it or by the operator; the operator may
``recommission`` one decommissioned by mistake (its checks run again). A draft the registrant
discards ends ``rejected``: its row and Asset ID are kept (IDs are never reused) and, like every
rejected asset, it claims no key.
"""

from __future__ import annotations

from typing import Final

from flexreg.assets.models import AssetStatus
from flexreg.core.statemachine import StateMachine, Transition

S = AssetStatus
#: States of an asset in service (it may be decommissioned from any of them).
IN_SERVICE: Final = frozenset({S.PENDING_VALIDATION, S.VERIFIED, S.QUERY})

LIFECYCLE: Final = StateMachine(
    "asset",
    [s.value for s in AssetStatus],
    [
        Transition("submit", frozenset({S.DRAFT}), S.PENDING_VALIDATION),
        Transition("discard", frozenset({S.DRAFT}), S.REJECTED),
        Transition("verify", frozenset({S.QUERY, S.PENDING_VALIDATION}), S.VERIFIED),
        Transition("reject", frozenset({S.QUERY, S.PENDING_VALIDATION}), S.REJECTED),
        Transition("query", frozenset({S.PENDING_VALIDATION}), S.QUERY),
        Transition("decommission", IN_SERVICE, S.DECOMMISSIONED),
        Transition("recommission", frozenset({S.DECOMMISSIONED}), S.PENDING_VALIDATION),
    ],
)
