"""The periodic re-check of every verified company against Companies House.

Every ``COMPANIES_HOUSE_RECHECK_HOURS`` the scheduler queues ``run`` (``participants.tasks``):
active and suspended participants with a company number whose last successful check (or, for
the first one, their verification) is older than the interval are checked, in batches, one
company profile request each. HTTP calls happen outside transactions; each answer is recorded
in its own short transaction under the participant's row lock.

What the register's status leads to (docs/decisions/0013-company-status-recheck.md):

* dissolved, in liquidation, receivership, administration or insolvency proceedings,
  converted/closed or removed: the participant is suspended (``services.transition``, acting
  as the system with ``participants:transition``), its Authorised Persons are told
  (``participant.suspended``, email) and the central operator alerted
  (``participant.company_status``);
* any other status that is not plainly active (a voluntary arrangement, a proposal to strike
  off, a status we do not know, or no company under the number): the operator is alerted,
  nothing is suspended;
* Companies House unreachable: nothing changes, the company stays due and the next run retries
  it. A run stops early after ``MAX_CONSECUTIVE_FAILURES`` failures in a row.

Idempotent: a suspended participant is not suspended again, an alert goes out once per
register status (``CompanyRecheck.alerted_status`` under the row lock, and ``dedupe_key``).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from flexreg.core import audit
from flexreg.core.acting import Acting
from flexreg.participants import rules_changes, selectors_recipients, services
from flexreg.participants.models import Participant, ParticipantStatus
from flexreg.participants.models_changes import CompanyRecheck, RecheckOutcome

logger = logging.getLogger(__name__)

JOB_NAME = "participants.companies_house_recheck"
BATCH_SIZE = 100
MAX_CONSECUTIVE_FAILURES = 5
SYSTEM_PERMISSIONS = frozenset({"participants:transition"})


def interval() -> dt.timedelta:
    return dt.timedelta(hours=float(settings.COMPANIES_HOUSE_RECHECK_HOURS))


def _system() -> Acting:
    return Acting.system("companies-house-recheck", SYSTEM_PERMISSIONS)


@dataclass
class RunReport:
    checked: int = 0
    ok: int = 0
    suspended: int = 0
    already_suspended: int = 0
    watch: int = 0
    not_found: int = 0
    unavailable: int = 0
    aborted: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def due(now: dt.datetime) -> Any:
    """Participants whose company is due for a re-check at ``now``."""
    cutoff = now - interval()
    return (
        Participant.objects.filter(
            status__in=[ParticipantStatus.ACTIVE, ParticipantStatus.SUSPENDED],
            company_number__isnull=False,
        )
        .annotate(baseline=Coalesce(F("company_recheck__last_checked_at"), F("verified_at")))
        .filter(Q(baseline__isnull=True) | Q(baseline__lte=cutoff))
    )


def run(now: dt.datetime | None = None, client: Any = None) -> dict[str, Any]:
    """Re-check every company due at ``now`` (call outside a transaction). Returns counts."""
    from flexreg.participants import companies_house as ch

    now = now or timezone.now()
    report = RunReport()
    own_client = client is None
    client = client or ch.client_from_settings()
    failures_in_a_row = 0
    last_pk = 0
    try:
        while not report.aborted:
            batch = list(
                due(now)
                .filter(pk__gt=last_pk)
                .order_by("pk")
                .values_list("pk", "company_number")[:BATCH_SIZE]
            )
            if not batch:
                break
            for pk, number in batch:
                last_pk = pk
                outcome = check_one(pk, number or "", now, client)
                report.checked += 1
                if outcome == RecheckOutcome.UNAVAILABLE:
                    report.unavailable += 1
                    failures_in_a_row += 1
                    if failures_in_a_row >= MAX_CONSECUTIVE_FAILURES:
                        report.aborted = True
                        logger.warning(
                            "companies house re-check stopped after %d failures in a row; "
                            "the rest is retried next run",
                            failures_in_a_row,
                        )
                        break
                    continue
                failures_in_a_row = 0
                if outcome == RecheckOutcome.OK:
                    report.ok += 1
                elif outcome == RecheckOutcome.SUSPENDED:
                    report.suspended += 1
                elif outcome == RecheckOutcome.ALREADY_SUSPENDED:
                    report.already_suspended += 1
                elif outcome == RecheckOutcome.NOT_FOUND:
                    report.not_found += 1
                else:
                    report.watch += 1
    finally:
        if own_client:
            client.close()
    logger.info("companies house re-check: %s", report.as_dict())
    return report.as_dict()


def check_one(participant_pk: int, number: str, now: dt.datetime, client: Any) -> str:
    """Ask Companies House about one company (no transaction open) and record the answer."""
    from flexreg.participants import companies_house as ch

    try:
        profile = client.get_company(number)
    except ch.CompanyNotFound:
        return _record(participant_pk, number, now, status="not_found", detail="")
    except ch.CompaniesHouseError as exc:  # unreachable, refused, invalid answer
        _record_failure(participant_pk, number, now, exc)
        return RecheckOutcome.UNAVAILABLE
    return _record(
        participant_pk,
        number,
        now,
        status=profile.company_status,
        detail=profile.company_status_detail or "",
        snapshot=asdict(profile),
    )


def _row(participant: Participant, number: str) -> CompanyRecheck:
    row, _ = CompanyRecheck.objects.select_for_update().get_or_create(
        participant=participant, defaults={"company_number": number}
    )
    if row.company_number != number:  # the company number changed: start afresh
        row.company_number = number
        row.alerted_status = ""
        row.last_status = ""
        row.last_status_detail = ""
    return row


@transaction.atomic
def _record_failure(participant_pk: int, number: str, now: dt.datetime, exc: Exception) -> None:
    participant = Participant.objects.select_for_update().get(pk=participant_pk)
    if participant.company_number != number:
        return
    row = _row(participant, number)
    row.last_attempt_at = now
    row.last_outcome = RecheckOutcome.UNAVAILABLE
    row.last_error = f"{getattr(exc, 'code', 'error')}: {exc}"[:300]
    row.consecutive_failures += 1
    row.save()


@transaction.atomic
def _record(
    participant_pk: int,
    number: str,
    now: dt.datetime,
    *,
    status: str,
    detail: str,
    snapshot: dict[str, Any] | None = None,
) -> str:
    participant = Participant.objects.select_for_update().get(pk=participant_pk)
    if participant.company_number != number:
        return RecheckOutcome.OK  # changed while we asked: the new number is checked next run
    row = _row(participant, number)
    before = {"status": row.last_status, "detail": row.last_status_detail}
    label = rules_changes.status_label(status, detail)
    if status == "not_found":
        verdict, outcome = "watch", RecheckOutcome.NOT_FOUND
    else:
        verdict = rules_changes.status_verdict(status, detail)
        outcome = {"ok": RecheckOutcome.OK, "watch": RecheckOutcome.WATCH}.get(
            verdict, RecheckOutcome.SUSPENDED
        )
    acting = _system()
    suspended_now = False
    if verdict == "suspend":
        if participant.status == ParticipantStatus.ACTIVE:
            participant = services.transition(
                acting,
                participant,
                "suspend",
                f"Companies House shows company {number} as {label} (checked {now:%d %B %Y}).",
            )
            suspended_now = True
        else:
            outcome = RecheckOutcome.ALREADY_SUSPENDED
    row.last_checked_at = now
    row.last_attempt_at = now
    row.last_status = status[:40]
    row.last_status_detail = detail[:100]
    row.last_outcome = outcome
    row.last_error = ""
    row.consecutive_failures = 0
    alert = verdict != "ok" and row.alerted_status != label
    if verdict == "ok":
        row.alerted_status = ""  # a later bad status alerts again
    elif alert:
        row.alerted_status = label[:150]
    row.save()
    changed = bool(before["status"]) and before != {
        "status": row.last_status,
        "detail": row.last_status_detail,
    }
    if changed or alert or suspended_now:
        audit.record(
            acting,
            "participant.company_rechecked",
            object_type="participant",
            object_id=participant.participant_id,
            subject_participant_id=participant.participant_id,
            before={"company_status": before["status"], "status_detail": before["detail"]}
            if before["status"]
            else None,
            after={
                "company_number": number,
                "company_status": status,
                "status_detail": detail,
                "outcome": outcome,
                "participant_status": participant.status,
                "company_name": (snapshot or {}).get("company_name", ""),
            },
            only_changed=False,
        )
    if alert:
        _alert(participant, number, label, verdict, suspended_now, now)
    return outcome


def _alert(
    participant: Participant,
    number: str,
    label: str,
    verdict: str,
    suspended_now: bool,
    now: dt.datetime,
) -> None:
    from flexreg.notifications.services import notify

    pid = participant.participant_id
    key = f"company_recheck:{pid}:{number}:{label}"
    context = {
        "participant": participant,
        "company_number": number,
        "company_status": label,
        "suspended": suspended_now,
        "reason": participant.status_reason if suspended_now else "",
        "checked_at": now.isoformat(),
    }
    if suspended_now:
        notify(
            "participant.suspended",
            selectors_recipients.authorised_persons(participant.pk),
            subject=f"{participant.legal_name} is suspended: Companies House shows the company "
            f"as {label}",
            context=context,
            link=f"/participants/{pid}/",
            participant_id=pid,
            dedupe_key=key,
            email_mandatory=True,
        )
    if label == "not_found":
        subject = f"Company {number} of {pid} is not on the Companies House register"
    elif suspended_now:
        subject = f"{pid} suspended: company {number} is {label}"
    else:
        subject = f"Company {number} of {pid} is {label} on the register"
    notify(
        "participant.company_status",
        selectors_recipients.operators("participants:transition"),
        subject=subject,
        context={**context, "verdict": verdict},
        link=f"/participants/{pid}/",
        participant_id=pid,
        dedupe_key=key,
    )
