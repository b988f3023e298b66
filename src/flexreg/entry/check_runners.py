"""Runners for the market-entry checks that call outside services or registers.

``entry.checks.started`` queues these as background tasks (``entry.tasks.run_check`` ->
:func:`run`); each runner decides ``passed`` (the step is accepted), ``failed`` (the step goes
to the central operator's review with the evidence) or ``error`` (the service could not answer:
retried with backoff by the ``entry.retry_checks`` job). Outcomes are recorded through
``services.record_check_outcome``, which is idempotent, so a task that runs twice (a lost
task re-run by the sweep, two workers) does no harm.

Checks:

``eic_register``
    The EIC the participant gave is in ENTSO-E's published lists (``flexreg eic import``),
    active, a party (X) code, and held under the participant's legal name
    (``entry.eic_register.assess``). Until a list of party codes has been imported the check
    waits (``error``) and concludes once one is.
``companies_house_status``
    The participant's company is still ``active`` on Companies House. Any other status, an
    unknown number or no number at all goes to review; an unreachable, rate-limiting or
    misbehaving service is retried.

A check that cannot conclude for ``VERIFICATION_UNAVAILABLE_REVIEW_AFTER_HOURS`` goes to the
operator's review as "service unavailable" rather than waiting for ever.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any, Final

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from flexreg.core.scheduler import periodic
from flexreg.entry import eic_register, services
from flexreg.entry.models import CheckRun, RequestStatus
from flexreg.participants import companies_house as ch

logger = logging.getLogger(__name__)

PASSED: Final = CheckRun.Status.PASSED
FAILED: Final = CheckRun.Status.FAILED
ERROR: Final = CheckRun.Status.ERROR

#: Checks concluded inside FlexReg itself (verification, the connectivity test endpoint):
#: nothing to retry.
SYNCHRONOUS_CHECKS: Final = ("participant_verified", "api_connectivity")
#: A run still pending this long after it was created lost its task: the sweep runs it.
LOST_TASK_AFTER: Final = dt.timedelta(minutes=10)
#: Runs handled per sweep (the rest wait for the next one, five minutes later).
SWEEP_BATCH: Final = 200

Outcome = tuple[str, dict[str, Any]]
Runner = Callable[[CheckRun, Any, dt.datetime], Outcome]


def _backoff(attempts: int) -> dt.timedelta:
    """30 s, 1 min, 2 min, ... hourly at most (the sweep runs every five minutes)."""
    return dt.timedelta(seconds=min(30 * 2 ** max(attempts, 0), 3600))


def _review_after() -> dt.timedelta:
    return dt.timedelta(hours=float(settings.VERIFICATION_UNAVAILABLE_REVIEW_AFTER_HOURS))


def run(run_pk: int, client: Any = None, now: dt.datetime | None = None) -> str:
    """Run one check and record its outcome; returns the run's status (or ``superseded``).

    ``client`` replaces the Companies House client (the sweep shares one); ``now`` is the
    clock the retry schedule and the give-up limit use (the sweep passes its own).
    """
    now = now or timezone.now()
    run_ = CheckRun.objects.select_related(
        "request__case__participant_role__participant", "request__case__rule_version"
    ).get(pk=run_pk)
    if run_.status in (PASSED, FAILED):
        return str(run_.status)
    newer = CheckRun.objects.filter(request_id=run_.request_id, pk__gt=run_.pk).exists()
    if run_.request.status != RequestStatus.CHECKING or newer:
        # The step moved on (re-answered, cancelled, the case closed): nothing to decide.
        return "superseded"
    runner = RUNNERS.get(run_.check_name)
    if runner is None:
        services.record_check_outcome(
            run_pk,
            FAILED,
            {"detail": f"FlexReg has no runner for the check {run_.check_name!r}."},
        )
        return str(FAILED)
    status, outcome = runner(run_, client, now)
    retry_at = now + _backoff(run_.attempts) if status == ERROR else None
    if retry_at is not None:
        outcome = {**outcome, "next_attempt_at": retry_at.isoformat()}
    services.record_check_outcome(run_pk, status, outcome, retry_at=retry_at)
    return str(status)


def _unavailable(
    run_: CheckRun,
    now: dt.datetime,
    code: str,
    message: str,
    evidence: dict[str, Any] | None = None,
) -> Outcome:
    """``error`` (retry later), or ``failed`` (operator review) once the service has been
    unavailable for longer than the configured limit."""
    waited = now - run_.created_at
    attempts = run_.attempts + 1
    if waited >= _review_after():
        hours = int(waited.total_seconds() // 3600)
        return FAILED, {
            "detail": f"Service unavailable: {message} We tried {attempts} times over "
            f"{hours} hours; the central operator will check by hand.",
            "reasons": [{"code": code, "message": message}],
            "attempts": attempts,
            **(evidence or {}),
        }
    return ERROR, {
        "detail": f"{message} We will try again.",
        "reasons": [{"code": code, "message": message}],
        "attempts": attempts,
    }


# --- eic_register ---------------------------------------------------------------------------


def _eic_given(run_: CheckRun) -> str:
    request = run_.request
    name = next(
        (f["name"] for f in request.definition.get("fields", []) if f.get("type") == "eic"),
        "eic",
    )
    given = services.latest_form_data(request).get(name)
    if not given:
        given = request.case.participant_role.participant.eic_code
    return str(given or "")


def check_eic_register(run_: CheckRun, client: Any, now: dt.datetime) -> Outcome:
    participant = run_.request.case.participant_role.participant
    if not eic_register.party_register_loaded():
        return _unavailable(
            run_,
            now,
            "eic_register.not_imported",
            "ENTSO-E's list of party EIC codes has not been imported yet "
            "(flexreg eic import X_eicCodes.csv).",
            {"eic": _eic_given(run_), "legal_name": participant.legal_name},
        )
    return eic_register.assess(_eic_given(run_), participant.legal_name)


# --- companies_house_status -----------------------------------------------------------------


def _client_from_settings() -> ch.CompaniesHouseClient:
    """Like ``companies_house.client_from_settings`` but with a single in-call retry: the
    check has its own retry schedule, so a worker is not held for long while the service is
    down."""
    return ch.CompaniesHouseClient(
        base_url=str(getattr(settings, "COMPANIES_HOUSE_API_URL", ch.DEFAULT_API_URL)),
        api_key=str(getattr(settings, "COMPANIES_HOUSE_API_KEY", "") or ""),
        timeout=float(getattr(settings, "COMPANIES_HOUSE_TIMEOUT", 5.0)),
        max_retries=1,
    )


def _offline_facts(number: str) -> dict[str, Any]:
    from flexreg.participants.services import offline_company_facts

    facts = offline_company_facts(number) if number else None
    return {"offline_record": facts} if facts else {}


def _company_evidence(profile: ch.CompanyProfile, now: dt.datetime) -> dict[str, Any]:
    return {
        "company_number": profile.company_number,
        "company_name": profile.company_name,
        "company_status": profile.company_status,
        "company_status_detail": profile.company_status_detail,
        "date_of_cessation": (
            profile.date_of_cessation.isoformat() if profile.date_of_cessation else None
        ),
        "checked_at": now.isoformat(),
        "source": "companies_house",
    }


def check_companies_house_status(run_: CheckRun, client: Any, now: dt.datetime) -> Outcome:
    participant = run_.request.case.participant_role.participant
    number = participant.company_number or ""
    if not number:
        message = (
            f"{participant.legal_name} has no Companies House company number: the central "
            "operator checks the organisation's standing by hand."
        )
        return FAILED, {
            "detail": message,
            "reasons": [{"code": "company.no_number", "message": message}],
        }
    own_client = client is None
    client = client or _client_from_settings()
    try:
        profile = client.get_company(number)
    except ch.InvalidCompanyNumber as exc:
        return FAILED, {
            "detail": f"{number} is not a Companies House company number.",
            "company_number": number,
            "reasons": [{"code": exc.code, "message": exc.message}],
        }
    except ch.CompanyNotFound:
        message = f"Companies House has no company {number}."
        return FAILED, {
            "detail": message,
            "company_number": number,
            "reasons": [{"code": "company.not_found", "message": message}],
        }
    except (ch.CompaniesHouseAuthError, ch.CompaniesHouseBadRequest) as exc:
        # FlexReg is not configured for Companies House (or is refused): retrying will not help.
        message = f"Companies House refused FlexReg's request ({exc.message}); check by hand."
        return FAILED, {
            "detail": message,
            "company_number": number,
            "reasons": [{"code": "companies_house.not_configured", "message": message}],
            **_offline_facts(number),
        }
    except ch.CompaniesHouseError as exc:  # unavailable, rate limited, invalid answers
        return _unavailable(
            run_,
            now,
            exc.code,
            f"Companies House could not be used to check company {number}: {exc.message}",
            {"company_number": number, **_offline_facts(number)},
        )
    finally:
        if own_client:
            client.close()
    evidence = _company_evidence(profile, now)
    detail_code = profile.company_status_detail or ""
    if profile.is_active and "strike-off" not in detail_code:
        return PASSED, {
            "detail": f"Companies House lists {profile.company_name} ({number}) as active.",
            **evidence,
        }
    if profile.is_active:
        message = (
            f"Companies House lists {profile.company_name} ({number}) as active, but with "
            f"{detail_code.replace('-', ' ')}."
        )
        code = "company.strike_off_proposed"
    else:
        message = (
            f"Companies House lists {profile.company_name} ({number}) as "
            f"{profile.company_status.replace('-', ' ')}, not active."
        )
        code = "company.not_active"
    return FAILED, {
        "detail": message,
        "reasons": [{"code": code, "message": message}],
        **evidence,
    }


RUNNERS: dict[str, Runner] = {
    "eic_register": check_eic_register,
    "companies_house_status": check_companies_house_status,
}


# --- retries (the worker's scheduler) -------------------------------------------------------


class _SweepClient:
    """One Companies House client for a sweep that stops calling once the service is
    unavailable: the remaining runs record the same error at once instead of each waiting
    for its own timeouts."""

    def __init__(self) -> None:
        self._client: ch.CompaniesHouseClient | None = None
        self._down: ch.CompaniesHouseUnavailable | None = None

    def get_company(self, number: str) -> ch.CompanyProfile:
        if self._down is not None:
            raise ch.CompaniesHouseUnavailable(f"not tried again in this sweep ({self._down})")
        if self._client is None:
            self._client = _client_from_settings()
        try:
            return self._client.get_company(number)
        except ch.CompaniesHouseUnavailable as exc:
            self._down = exc
            raise

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def due_runs(now: dt.datetime, limit: int = SWEEP_BATCH) -> list[int]:
    """Runs to (re)try at ``now``: in error with their retry time come, or still pending long
    after they were queued (a lost task); only the latest run of a step still checking."""
    newer = CheckRun.objects.filter(request_id=OuterRef("request_id"), pk__gt=OuterRef("pk"))
    return list(
        CheckRun.objects.filter(
            Q(status=ERROR, next_attempt_at__lte=now)
            | Q(status=CheckRun.Status.PENDING, created_at__lte=now - LOST_TASK_AFTER),
            request__status=RequestStatus.CHECKING,
        )
        .exclude(check_name__in=SYNCHRONOUS_CHECKS)
        .filter(~Exists(newer))
        .order_by(Coalesce("next_attempt_at", "created_at"), "pk")
        .values_list("pk", flat=True)[:limit]
    )


@periodic("entry.retry_checks", every=dt.timedelta(minutes=5))
def retry_checks(now: dt.datetime) -> dict[str, int]:
    """Re-run the external checks that are due (see :func:`due_runs`); returns counts per
    resulting status."""
    counts: Counter[str] = Counter()
    client = _SweepClient()
    try:
        for pk in due_runs(now):
            try:
                with transaction.atomic():  # one broken run must not spoil the sweep
                    counts[run(pk, client=client, now=now)] += 1
            except Exception:
                logger.exception("entry check run %s failed", pk)
                counts["crashed"] += 1
    finally:
        client.close()
    return dict(counts)


__all__ = [
    "RUNNERS",
    "SYNCHRONOUS_CHECKS",
    "check_companies_house_status",
    "check_eic_register",
    "due_runs",
    "retry_checks",
    "run",
]
