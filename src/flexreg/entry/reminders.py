"""Reminders, overdue notices and escalations for information requests (periodic job).

Every 15 minutes ``run(now)`` looks at the open information requests that have a due date (on
cases in progress, and the operator's ad hoc requests on qualified cases) and,
following the rule version of each request's case (``service_levels``):

* ``before:<N>``: a reminder to the participant N days before the due date, for each N in
  ``reminder_days_before_due``; only the latest threshold passed is sent (a job that first runs
  one day before the due date sends the 1-day reminder, not the 7-day one too), none once the
  request is due, and none for a threshold passed before the request was even raised;
* ``overdue``: one notice to the participant once the due date has passed;
* ``escalation``: ``escalate_after_days`` after the due date, a notice to the central operators
  (members holding ``entry:review``); the request's ``escalated_at`` is set and the escalation
  audited (``entry_request.escalated``).

Each one is recorded in ``SentReminder`` (unique ``(request, key, due_at)``), inserted *before*
the notification in the same transaction: a second worker's insert waits for the first's commit
and then finds the row, and a restart finds it too, so nothing is sent twice. A new due date (an
answer rejected reopens the request) re-arms every reminder. The notifications carry a dedupe
key built from the same triple.

``now`` is the job's clock (``scheduler.run_due(now=...)``): tests move time by passing it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from flexreg.core.acting import Acting
from flexreg.core.scheduler import periodic
from flexreg.entry import services
from flexreg.entry.models import (
    OPEN_CASE_STATES,
    CaseStatus,
    InformationRequest,
    RequestStatus,
    RuleSetVersion,
    SentReminder,
)
from flexreg.notifications import kinds as notification_kinds

logger = logging.getLogger(__name__)

REMINDERS = Acting.system("entry.reminders")
ESCALATION = "escalation"
OVERDUE = "overdue"
BATCH = 500


# --- which kinds the current rules make email-mandatory (for the notifications app) ----------


def current_email_mandatory() -> list[str]:
    """The kinds the *current* rules always send by email (``notifications.kinds`` asks this
    through its registered source: notifications may not import entry)."""
    return list(services.compile_current()["notifications"]["email_mandatory"])


notification_kinds.set_mandatory_source(current_email_mandatory)


# --- what is due ----------------------------------------------------------------------------


def due_keys(
    levels: dict[str, Any], due_at: dt.datetime, opened_at: dt.datetime | None, now: dt.datetime
) -> list[str]:
    """The reminder keys a request due at ``due_at`` should have had by ``now``."""
    if now < due_at:
        passed = [
            n
            for n in levels.get("reminder_days_before_due", [])
            if now >= due_at - dt.timedelta(days=n)
            and (opened_at is None or opened_at < due_at - dt.timedelta(days=n))
        ]
        return [f"before:{min(passed)}"] if passed else []
    keys = [OVERDUE]
    if now >= due_at + dt.timedelta(days=levels.get("escalate_after_days", 5)):
        keys.append(ESCALATION)
    return keys


def _horizon(levels: Iterable[dict[str, Any]]) -> int:
    return max((max(sl.get("reminder_days_before_due") or [0]) for sl in levels), default=0)


def _candidates(now: dt.datetime, horizon: int) -> Any:
    escalated = SentReminder.objects.filter(
        request=OuterRef("pk"), key=ESCALATION, due_at=OuterRef("due_at")
    )
    return (
        InformationRequest.objects.filter(
            status=RequestStatus.OPEN,
            due_at__isnull=False,
            due_at__lte=now + dt.timedelta(days=horizon),
            # A qualified case may carry the operator's ad hoc requests (ongoing management).
            case__status__in=(*OPEN_CASE_STATES, CaseStatus.QUALIFIED),
        )
        .exclude(Exists(escalated))
        .select_related("case__participant_role__participant")
        .order_by("due_at", "pk")
    )


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


# --- the job --------------------------------------------------------------------------------


@periodic("entry.reminders", every=dt.timedelta(minutes=15))
def run(now: dt.datetime | None = None) -> dict[str, int]:
    """Send what is due at ``now``; returns how many of each kind were sent."""
    now = now or timezone.now()
    versions = {
        v.pk: v
        for v in RuleSetVersion.objects.filter(
            pk__in=InformationRequest.objects.filter(status=RequestStatus.OPEN)
            .values("case__rule_version_id")
            .distinct()
        )
    }
    horizon = _horizon(v.content["service_levels"] for v in versions.values())
    sent = {"reminder": 0, "overdue": 0, "escalation": 0}
    batch: list[InformationRequest] = []
    for request in _candidates(now, horizon).iterator(chunk_size=BATCH):
        batch.append(request)
        if len(batch) >= BATCH:
            _run_batch(batch, versions, now, sent)
            batch = []
    if batch:
        _run_batch(batch, versions, now, sent)
    return sent


def _run_batch(
    batch: list[InformationRequest],
    versions: dict[int, RuleSetVersion],
    now: dt.datetime,
    sent: dict[str, int],
) -> None:
    already = set(
        SentReminder.objects.filter(request__in=[r.pk for r in batch]).values_list(
            "request_id", "key", "due_at"
        )
    )
    for request in batch:
        version = versions.get(request.case.rule_version_id)
        if version is None or request.due_at is None:
            continue
        request.case.rule_version = version  # one load of the rules per version, not per case
        levels = version.content["service_levels"]
        for key in due_keys(levels, request.due_at, request.opened_at, now):
            if (request.pk, key, request.due_at) in already:
                continue
            try:
                if _send(request, key, levels, now):
                    sent["reminder" if key.startswith("before:") else key] += 1
            except Exception:  # one broken request must not stop the others' reminders
                logger.exception("reminder %s for request %s failed", key, request.public_id)


def _send(request: InformationRequest, key: str, levels: dict[str, Any], now: dt.datetime) -> bool:
    """Record the reminder first, then tell; False when another run recorded it already."""
    due_at = request.due_at
    assert due_at is not None
    with transaction.atomic():
        _, created = SentReminder.objects.get_or_create(
            request=request, key=key, due_at=due_at, defaults={"sent_at": now}
        )
        if not created:
            return False  # a restart, or another worker that got there first
        case = request.case
        held = case.participant_role
        dedupe = f"entry.reminder:{request.public_id}:{key}:{due_at.isoformat()}"
        due_day = timezone.localtime(due_at).date()
        if key.startswith("before:"):
            days = int(key.split(":", 1)[1])
            services._tell_participant(
                case,
                "entry.request_reminder",
                f"Reminder: {request.title} is due on {_day(due_day)}",
                dedupe=dedupe,
                request=request,
                due_at=due_at,
                days_before=days,
            )
        elif key == OVERDUE:
            services._tell_participant(
                case,
                "entry.request_overdue",
                f"Overdue: {request.title} was due on {_day(due_day)}",
                dedupe=dedupe,
                request=request,
                due_at=due_at,
                escalate_after_days=levels.get("escalate_after_days"),
            )
        else:
            days_overdue = (now - due_at).days
            InformationRequest.objects.filter(pk=request.pk).update(escalated_at=now)
            request.escalated_at = now
            services._audit(
                REMINDERS,
                "entry_request.escalated",
                request,
                after={
                    "step": request.step_key,
                    "due_at": due_at,
                    "days_overdue": days_overdue,
                },
            )
            services._tell_operators(
                case,
                "entry.request_escalated",
                f"Overdue {days_overdue} days: {held.participant.legal_name} ({held.role}), "
                f"{request.title}",
                dedupe=dedupe,
                request=request,
                due_at=due_at,
                days_overdue=days_overdue,
            )
        return True
