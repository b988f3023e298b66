"""External checks inside the market-entry workflow.

``started(run)`` is called when a check step opens (or its fields are answered). Checks that
need no outside service conclude at once and return ``(status, outcome)``; the others are
queued as background tasks (``entry.tasks.run_check``) after the transaction commits and
report through ``services.record_check_outcome``. Runners for the queued checks live in
``entry.check_runners``.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from flexreg.entry.models import CheckRun, ConnectivityTest
from flexreg.participants.models import ParticipantStatus

PASSED = CheckRun.Status.PASSED
FAILED = CheckRun.Status.FAILED


def started(run: CheckRun) -> tuple[str, dict[str, Any]] | None:
    request = run.request
    held = request.case.participant_role
    if run.check_name == "participant_verified":
        if held.participant.status == ParticipantStatus.ACTIVE:
            return PASSED, {"detail": "The participant is verified."}
        return None  # concluded by the verification itself (entry.receivers)
    if run.check_name == "api_connectivity":
        call = (
            ConnectivityTest.objects.filter(participant_role=held, called_at__gte=request.opened_at)
            .order_by("-called_at")
            .first()
        )
        if call is not None:
            return PASSED, {
                "detail": "Your system called the FlexReg API.",
                "called_at": call.called_at.isoformat(),
                "via": call.via,
            }
        return None  # concluded when the participant's system calls the test endpoint
    from flexreg.entry import tasks

    transaction.on_commit(lambda: tasks.run_check.enqueue(run.pk))
    return None
