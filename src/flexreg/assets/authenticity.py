"""Authenticity validation of a registered asset: checks against outside services, run as
background tasks after the registration commits (FMAR's "pending validation" stage).

Flow (docs/decisions/0016-asset-authenticity.md):

1. :func:`start` (called by ``services.register`` once its transaction commits) creates one
   ``AssetCheck`` per validator in ``validators.VALIDATORS``: ``pending`` where it applies
   and its service is configured, else ``skipped`` with the reason. It queues one task
   (``assets.tasks.run_check``) per pending check after its own commit. Calling it again
   creates nothing new and re-queues what is still pending.
2. :func:`run` (the task; also the retry job) asks the validator's service and records the
   verdict through :func:`record`: ``passed``, ``failed``, ``not_found``; or ``error`` when
   the service could not answer, retried by the ``assets.retry_checks`` job with backoff
   (30 s doubling to hourly). A check whose service has been unavailable for
   ``ASSET_CHECK_GIVE_UP_HOURS`` (default 24) is concluded ``failed`` with the reason
   "service unavailable", so the operator decides by hand instead of the asset waiting for
   ever. One run at a time per check (``FOR UPDATE SKIP LOCKED``).
3. :func:`record` is idempotent: a concluded check is never changed. When the last check of
   an asset concludes, the asset moves ``pending_validation`` -> ``verified`` (every check
   passed or skipped) or ``query`` (any failed or not found; the reasons go to
   ``status_reason`` for the operator's queue). An asset already in ``query`` (a possible
   duplicate) stays there with the checks' outcome added to its reason; an asset the
   operator has decided (or rejected, decommissioned) is not moved. The registrant is told
   (``assets.validated``).
4. Bulk registration (:func:`start_many`) works set-wise: the checks of a batch of assets are
   inserted at once and, where none waits for a service (none configured: development), the
   assets are concluded at once (one ``UPDATE``, one audit event per batch). Imported assets
   are not told one by one: once the import is done and the last of its assets has left
   ``pending_validation``, :func:`conclude_import` tells the importer's users once
   (``assets.import_validated``, with the counts per status).

Services are configured with ``ASSET_<SERVICE>_URL`` settings (``validators``); an unset URL
means that check is recorded ``skipped`` ("not configured") and does not hold the asset back.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from typing import Any, Final

from django.conf import settings
from django.core.checks import Tags, register
from django.core.checks import Warning as CheckWarning
from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from flexreg.assets.models import Asset, AssetCheck, AssetImport, AssetLink, AssetStatus
from flexreg.assets.validators import VALIDATORS
from flexreg.assets.validators.base import (
    DOWN_CODES,
    AssetFacts,
    ServiceClient,
    ServiceUnavailable,
    ValidatorSpec,
)
from flexreg.core import audit
from flexreg.core.acting import Acting
from flexreg.core.models import AuditEvent

logger = logging.getLogger(__name__)

SYSTEM: Final = Acting.system("assets.authenticity")
S = AssetCheck.Status
#: A concluded check never changes again.
CONCLUDED: Final = frozenset({S.PASSED, S.FAILED, S.NOT_FOUND, S.SKIPPED})
PROBLEMS: Final = frozenset({S.FAILED, S.NOT_FOUND})
#: Asset states in which checks still decide something.
OPEN_STATES: Final = frozenset({AssetStatus.PENDING_VALIDATION, AssetStatus.QUERY})
VALIDATED_KIND: Final = "assets.validated"
#: One notice per import once every check of its assets has concluded (``conclude_import``).
IMPORT_VALIDATED_KIND: Final = "assets.import_validated"
#: The import's audit event written with that notice: it marks the import told.
IMPORT_VALIDATED_ACTION: Final = "asset_import.validated"
IMPORT_OBJECT_TYPE: Final = "asset_import"
#: A check still pending this long after it was created lost its task: the sweep runs it.
LOST_TASK_AFTER: Final = dt.timedelta(minutes=10)
#: Due checks the retry sweep runs itself (``FOR UPDATE SKIP LOCKED``, in the scheduler's
#: transaction: kept small).
SWEEP_BATCH: Final = 200
#: Due checks beyond those one sweep queues for the workers (``run_checks`` tasks of
#: ``TASK_BATCH``); the next sweep, five minutes later, takes what is left.
SWEEP_QUEUE_LIMIT: Final = 20_000
#: How long a check the sweep queued is not claimed again: long enough for the queue to reach
#: it (a task that is lost or still waiting after this leaves the check to the next sweep;
#: the stale task then leaves it alone).
QUEUED_LEASE: Final = dt.timedelta(hours=1)
#: Bulk registration: assets whose checks are created per transaction, checks per task.
START_BATCH: Final = 2000
TASK_BATCH: Final = 100
DEFAULT_TIMEOUT: Final = 5.0
DEFAULT_GIVE_UP_HOURS: Final = 24.0
#: Where the checks' part of an asset's ``status_reason`` begins.
REASON_MARK: Final = "Authenticity checks"


# --- configuration --------------------------------------------------------------------------


@register(Tags.compatibility)
def configuration_warnings(app_configs: Any = None, **kwargs: Any) -> list[CheckWarning]:
    """``flexreg check`` in production: name each validator whose service is not configured
    (its checks are recorded as skipped, so assets are verified without it) and a missing
    secret for the consent service's revocation notices."""
    if getattr(settings, "DEVELOPMENT", False):
        return []
    found = [
        CheckWarning(
            f"No {spec.label} is configured ({spec.url_setting} is empty): the "
            f"'{spec.name}' authenticity check is skipped for every asset.",
            hint=f"Set FLEXREG_{spec.url_setting.removeprefix('ASSET_')}.",
            id="flexreg.W501",
        )
        for spec in VALIDATORS.values()
        if not service_url(spec)
    ]
    if not str(getattr(settings, "CONSENT_WEBHOOK_SECRET", "") or "").strip():
        found.append(
            CheckWarning(
                "CONSENT_WEBHOOK_SECRET is empty: the consumer consent service's revocation "
                "notices are refused (503) until it is set.",
                hint="Set FLEXREG_CONSENT_WEBHOOK_SECRET to the secret shared with the service.",
                id="flexreg.W502",
            )
        )
    return found


def service_url(spec: ValidatorSpec) -> str:
    return str(getattr(settings, spec.url_setting, "") or "").strip()


def service_timeout() -> float:
    return float(getattr(settings, "ASSET_SERVICES_TIMEOUT", DEFAULT_TIMEOUT) or DEFAULT_TIMEOUT)


def give_up_after() -> dt.timedelta:
    hours = getattr(settings, "ASSET_CHECK_GIVE_UP_HOURS", DEFAULT_GIVE_UP_HOURS)
    return dt.timedelta(hours=float(hours))


def backoff(attempts: int) -> dt.timedelta:
    """30 s, 1 min, 2 min, ... hourly at most (the sweep runs every five minutes)."""
    return dt.timedelta(seconds=min(30 * 2 ** max(attempts, 0), 3600))


def client_for(spec: ValidatorSpec) -> ServiceClient:
    return ServiceClient(
        spec.name,
        spec.label,
        service_url(spec),
        timeout=service_timeout(),
        api_key=str(getattr(settings, spec.key_setting, "") or ""),
    )


# --- facts ----------------------------------------------------------------------------------


def _in_force(now: dt.datetime) -> Q:
    return Q(suspended_at__isnull=True) & (
        Q(valid_during__upper_inf=True) | Q(valid_during__endswith__gt=now)
    )


def facts_of(
    asset: Asset,
    now: dt.datetime | None = None,
    links: list[tuple[str, str]] | None = None,
) -> AssetFacts:
    """The asset's facts for the validators; ``links`` ((participant ID, consent reference)
    of its links in force) when the caller fetched them for many assets at once."""
    if asset.installed_kw is None:
        raise ValueError(f"{asset.asset_id} is a draft: it has no facts to check")
    if links is None:
        links = list(
            AssetLink.objects.filter(_in_force(now or timezone.now()), asset=asset).values_list(
                "participant__participant_id", "consent_reference"
            )
        )
    linked = sorted({pid for pid, _ in links})
    consent = asset.consumer_consent_reference or next((ref for _, ref in links if ref), "")
    return AssetFacts(
        asset_id=asset.asset_id,
        category=asset.category,
        domestic=asset.domestic,
        installed_kw=asset.installed_kw,
        export_kw=asset.export_kw,
        import_kw=asset.import_kw,
        storage_kwh=asset.storage_kwh,
        import_mpan=asset.import_mpan or None,
        export_mpan=asset.export_mpan or None,
        postcode=asset.postcode,
        dno_licence_area=asset.dno_licence_area,
        connection_status=asset.connection_status,
        connection_type=asset.connection_type,
        connection_reference=asset.dno_connection_reference,
        manufacturer=asset.manufacturer,
        model=asset.model,
        serial_number=asset.serial_number,
        consent_reference=consent,
        linked_participant_ids=tuple(linked),
    )


def _skipped(code: str, detail: str) -> dict[str, Any]:
    return {"detail": detail, "reasons": [{"code": code, "message": detail}]}


def _not_configured(spec: ValidatorSpec) -> dict[str, Any]:
    return _skipped(
        "service.not_configured",
        f"Not checked: no {spec.label} is configured ({spec.url_setting} is not set).",
    )


# --- start ----------------------------------------------------------------------------------


def start(asset_pk: int) -> list[int]:
    """Create the asset's checks and queue the pending ones (after this commits); returns
    the ids of its checks not concluded yet. Idempotent."""
    with transaction.atomic():
        asset = (
            Asset.objects.select_for_update(of=("self",))
            .select_related("registered_by")
            .filter(pk=asset_pk)
            .first()
        )
        if asset is None or asset.status not in OPEN_STATES:
            return []
        now = timezone.now()
        facts = facts_of(asset, now)
        existing = set(asset.checks.values_list("validator", flat=True))
        created: dict[str, str] = {}
        for name, spec in VALIDATORS.items():
            if name in existing:
                continue
            check = _new_check(asset, spec, facts, now)
            check.save(force_insert=True)
            created[name] = str(check.status)
        if created:
            audit.record(
                SYSTEM,
                "asset.authenticity_started",
                object_type="asset",
                object_id=asset.asset_id,
                subject_participant_id=asset.registered_by.participant_id,
                after={"checks": created},
            )
        open_checks = list(
            asset.checks.exclude(status__in=CONCLUDED).order_by("pk").values_list("pk", "status")
        )
        if open_checks:
            queued = [pk for pk, status in open_checks if status == S.PENDING]
            transaction.on_commit(lambda: enqueue(queued))
        else:
            _conclude(asset.pk, now)
    return [pk for pk, _ in open_checks]


def _new_check(
    asset: Asset, spec: ValidatorSpec, facts: AssetFacts, now: dt.datetime
) -> AssetCheck:
    """A check as it starts: ``pending``, or ``skipped`` (not applicable, not configured)."""
    status, outcome = S.PENDING, {}
    reason = spec.not_applicable(facts)
    if reason is not None:
        status, outcome = S.SKIPPED, _skipped("check.not_applicable", reason)
    elif not service_url(spec):
        status, outcome = S.SKIPPED, _not_configured(spec)
    return AssetCheck(
        asset=asset,
        validator=spec.name,
        status=status,
        outcome=outcome,
        created_at=now,
        finished_at=now if status == S.SKIPPED else None,
    )


def start_many(asset_pks: Iterable[int]) -> int:
    """:func:`start` for many assets (bulk registration), set-wise: the checks of up to
    ``START_BATCH`` assets are written with one insert, one audit event per batch names the
    assets, and the pending checks are queued ``TASK_BATCH`` to a task
    (``tasks.run_checks``). Assets none of whose checks waits for a service (none is
    configured, or none applies) are concluded set-wise too (:func:`_conclude_many`). Returns
    how many checks were queued. Idempotent."""
    pks = sorted(set(asset_pks))
    queued = 0
    with _checking_imports():
        for first in range(0, len(pks), START_BATCH):
            queued += _start_batch(pks[first : first + START_BATCH])
    return queued


def _start_batch(pks: list[int]) -> int:
    with transaction.atomic():
        now = timezone.now()
        assets = list(
            Asset.objects.select_for_update(of=("self",))
            .select_related("registered_by")
            .filter(pk__in=pks, status__in=OPEN_STATES)
            .order_by("pk")
        )
        if not assets:
            return 0
        ids = [a.pk for a in assets]
        links: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for asset_pk, pid, ref in AssetLink.objects.filter(
            _in_force(now), asset_id__in=ids
        ).values_list("asset_id", "participant__participant_id", "consent_reference"):
            links[asset_pk].append((pid, ref))
        existing = set(
            AssetCheck.objects.filter(asset_id__in=ids).values_list("asset_id", "validator")
        )
        rows: list[AssetCheck] = []
        for asset in assets:
            facts = facts_of(asset, now, links[asset.pk])
            rows.extend(
                _new_check(asset, spec, facts, now)
                for name, spec in VALIDATORS.items()
                if (asset.pk, name) not in existing
            )
        AssetCheck.objects.bulk_create(rows, ignore_conflicts=True)
        if rows:
            audit.record(
                SYSTEM,
                "asset.authenticity_started",
                object_type="asset_batch",
                object_id=f"{assets[0].asset_id}..{assets[-1].asset_id}",
                after={
                    "asset_ids": sorted({r.asset.asset_id for r in rows}),
                    "checks": dict(Counter(f"{r.validator}:{r.status}" for r in rows)),
                },
            )
        open_checks = list(
            AssetCheck.objects.filter(asset_id__in=ids)
            .exclude(status__in=CONCLUDED)
            .order_by("pk")
            .values_list("pk", "asset_id", "status")
        )
        waiting = {asset_pk for _, asset_pk, _ in open_checks}
        _conclude_many([a for a in assets if a.pk not in waiting], now)  # all skipped (or done)
        pending = [pk for pk, _, status in open_checks if status == S.PENDING]
        transaction.on_commit(lambda: enqueue_batches(pending))
    return len(pending)


def enqueue_batches(check_pks: list[int], lease: dt.datetime | None = None) -> None:
    """Queue ``run_checks`` tasks of :data:`TASK_BATCH` checks (``lease``: the retry sweep's
    claim on them, see :func:`sweep`)."""
    from flexreg.assets import tasks

    for first in range(0, len(check_pks), TASK_BATCH):
        batch = check_pks[first : first + TASK_BATCH]
        try:
            if lease is None:
                tasks.run_checks.enqueue(batch)
            else:
                tasks.run_checks.enqueue(batch, lease=lease.isoformat())
        except Exception:  # the retry sweep runs them once LOST_TASK_AFTER (or the lease) passed
            logger.exception("could not queue %d authenticity checks", len(batch))


def enqueue(check_pks: Iterable[int]) -> None:
    from flexreg.assets import tasks

    for pk in check_pks:
        try:
            tasks.run_check.enqueue(pk)
        except Exception:  # the retry sweep runs it once LOST_TASK_AFTER has passed
            logger.exception("could not queue authenticity check %s", pk)


# --- run ------------------------------------------------------------------------------------


def run(
    check_pk: int,
    now: dt.datetime | None = None,
    down: dict[str, ServiceUnavailable] | None = None,
    clients: dict[str, ServiceClient] | None = None,
    *,
    early_retry: bool = True,
) -> str:
    """Run one check and record its outcome; returns its status (``busy`` when another
    worker holds it, ``gone`` when it no longer exists).

    ``early_retry=False`` (a task queued when the check was created): a check already run
    meanwhile and waiting for its retry time (the sweep took it for a lost task) is left to
    the sweep, not run again before its time (``not_due``).

    ``now`` is the clock the retry schedule and the give-up limit use (the sweep passes its
    own); ``down`` is a batch's memory of services found down (not called again in it);
    ``clients`` the batch's open HTTP clients (kept open for the next checks; the batch
    closes them).
    """
    now = now or timezone.now()
    with transaction.atomic():
        check = (
            AssetCheck.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("asset")
            .filter(pk=check_pk)
            .first()
        )
        if check is None:
            return "busy" if AssetCheck.objects.filter(pk=check_pk).exists() else "gone"
        if check.status in CONCLUDED:
            return str(check.status)
        if (
            not early_retry
            and check.status == S.ERROR
            and check.next_attempt_at is not None
            and check.next_attempt_at > now
        ):
            return "not_due"
        asset = check.asset
        if asset.status not in OPEN_STATES:
            detail = f"Not run: the asset is {asset.get_status_display().lower()}."
            record(check.pk, S.SKIPPED, _skipped("check.asset_closed", detail), now=now)
            return str(S.SKIPPED)
        spec = VALIDATORS.get(check.validator)
        if spec is None:
            detail = f"FlexReg has no validator {check.validator!r}: check by hand."
            record(check.pk, S.FAILED, _skipped("check.unknown_validator", detail), now=now)
            return str(S.FAILED)
        if not service_url(spec):
            record(check.pk, S.SKIPPED, _not_configured(spec), now=now)
            return str(S.SKIPPED)
        facts = facts_of(asset, now)
        reason = spec.not_applicable(facts)
        if reason is not None:
            record(check.pk, S.SKIPPED, _skipped("check.not_applicable", reason), now=now)
            return str(S.SKIPPED)
        try:
            if down is not None and spec.name in down:
                raise down[spec.name]
            if clients is None:
                with client_for(spec) as client:
                    verdict = spec.check(facts, client, now)
            else:
                if spec.name not in clients:
                    clients[spec.name] = client_for(spec)
                verdict = spec.check(facts, clients[spec.name], now)
        except ServiceUnavailable as exc:
            if down is not None and exc.code in DOWN_CODES:
                down[spec.name] = exc
            status, outcome, retry_at = _unavailable(check, spec, exc, now)
            record(check.pk, status, outcome, retry_at, now=now)
            return status
        outcome = {
            **verdict.outcome(),
            "service": spec.label,
            "checked_at": now.isoformat(),
            "attempts": check.attempts + 1,
        }
        record(check.pk, verdict.status, outcome, now=now)
        return verdict.status


def _unavailable(
    check: AssetCheck, spec: ValidatorSpec, exc: ServiceUnavailable, now: dt.datetime
) -> tuple[str, dict[str, Any], dt.datetime | None]:
    """``error`` with a retry time, or ``failed`` ("service unavailable") once the service
    has been unavailable for longer than the configured limit."""
    attempts = check.attempts + 1
    waited = now - check.created_at
    last = {"code": exc.code, "message": exc.message}
    if waited >= give_up_after():
        hours = int(waited.total_seconds() // 3600)
        message = (
            f"Service unavailable: the {spec.label} could not be used for {hours} hours "
            f"({attempts} attempts; last: {exc.message}). The central operator will check "
            "by hand."
        )
        return (
            str(S.FAILED),
            {
                "detail": message,
                "reasons": [{"code": "check.service_unavailable", "message": message}],
                "evidence": {"last_error": last},
                "service": spec.label,
                "checked_at": now.isoformat(),
                "attempts": attempts,
            },
            None,
        )
    retry_at = now + backoff(check.attempts)
    return (
        str(S.ERROR),
        {
            "detail": f"{exc.message} We will try again.",
            "reasons": [last],
            "service": spec.label,
            "checked_at": now.isoformat(),
            "attempts": attempts,
            "next_attempt_at": retry_at.isoformat(),
        },
        retry_at,
    )


# --- record and conclude --------------------------------------------------------------------


@transaction.atomic
def record(
    check_pk: int,
    status: str,
    outcome: dict[str, Any],
    retry_at: dt.datetime | None = None,
    *,
    now: dt.datetime | None = None,
) -> AssetCheck:
    """A check's result: concluded (``passed``, ``failed``, ``not_found``, ``skipped``) or
    ``error`` (retried at ``retry_at``). Idempotent: a concluded check is returned unchanged.
    Concluding the last open check of an asset concludes the asset."""
    now = now or timezone.now()
    check = (
        AssetCheck.objects.select_for_update(of=("self",))
        .select_related("asset__registered_by")
        .get(pk=check_pk)
    )
    if check.status in CONCLUDED:
        return check
    if status == S.ERROR:
        check.attempts += 1
        check.status = S.ERROR
        check.outcome = outcome
        check.next_attempt_at = retry_at
        check.save(update_fields=["attempts", "status", "outcome", "next_attempt_at"])
        return check
    if status not in CONCLUDED:
        raise ValueError(f"not a check status: {status!r}")
    if status != S.SKIPPED:
        check.attempts += 1
    check.status = status
    check.outcome = outcome
    check.finished_at = now
    check.next_attempt_at = None
    check.save(update_fields=["attempts", "status", "outcome", "finished_at", "next_attempt_at"])
    asset = check.asset
    audit.record(
        SYSTEM,
        "asset.check_concluded",
        object_type="asset",
        object_id=asset.asset_id,
        subject_participant_id=asset.registered_by.participant_id,
        after={
            "validator": check.validator,
            "status": status,
            "reasons": [r.get("code") for r in outcome.get("reasons", [])],
            "attempts": check.attempts,
        },
    )
    _conclude(asset.pk, now)
    return check


def _label(name: str) -> str:
    spec = VALIDATORS.get(name)
    label = spec.label if spec is not None else name
    return label[:1].upper() + label[1:]


def _summary(checks: list[AssetCheck]) -> str:
    problems = [c for c in checks if c.status in PROBLEMS]
    if not problems:
        return f"{REASON_MARK}: all passed."
    lines = [f"{REASON_MARK} did not pass:"]
    for c in problems:
        reasons = c.outcome.get("reasons") or [{"message": c.outcome.get("detail", "")}]
        for r in reasons:
            code = f" ({r['code']})" if r.get("code") else ""
            lines.append(f"- {_label(c.validator)}: {r.get('message', '')}{code}")
    return "\n".join(lines)


def _without_checks(reason: str) -> str:
    at = reason.find(REASON_MARK)
    return (reason[:at] if at >= 0 else reason).rstrip()


def _outcome(asset: Asset, checks: list[AssetCheck]) -> tuple[str, str] | None:
    """(status, status_reason) the asset moves to once every one of its checks has concluded
    (``checks``: all of them, or only those that did not pass); None when nothing changes."""
    problems = any(c.status in PROBLEMS for c in checks)
    summary = _summary(checks)
    if asset.status == AssetStatus.PENDING_VALIDATION:
        new_status = AssetStatus.QUERY if problems else AssetStatus.VERIFIED
        new_reason = summary if problems else ""
    elif asset.status == AssetStatus.QUERY:
        # A possible duplicate: the operator decides; the checks' outcome is added for them.
        new_status = AssetStatus.QUERY
        kept = _without_checks(asset.status_reason)
        new_reason = f"{kept}\n\n{summary}" if kept else summary
    else:
        return None
    if new_status == asset.status and new_reason == asset.status_reason:
        return None
    return str(new_status), new_reason


def _conclude(asset_pk: int, now: dt.datetime) -> str | None:
    """Move the asset once every check has concluded; returns its new status (None when
    nothing changed)."""
    asset = (
        Asset.objects.select_for_update(of=("self",))
        .select_related("registered_by")
        .get(pk=asset_pk)
    )
    checks = list(asset.checks.order_by("pk"))
    if not checks or any(c.status not in CONCLUDED for c in checks):
        return None
    moved = _outcome(asset, checks)
    if moved is None:
        return None
    before = {"status": asset.status, "status_reason": asset.status_reason}
    asset.status, asset.status_reason = moved
    asset.updated_at = now
    asset.save(update_fields=["status", "status_reason", "updated_at"])
    audit.record(
        SYSTEM,
        "asset.authenticity_concluded",
        object_type="asset",
        object_id=asset.asset_id,
        subject_participant_id=asset.registered_by.participant_id,
        before=before,
        after={"status": asset.status, "status_reason": asset.status_reason},
        only_changed=False,
    )
    _tell_registrant(asset, checks)
    if asset.import_batch_id is not None:
        _import_touched(asset.import_batch_id)
    return str(asset.status)


#: One statement moves a batch of assets, each to its own status and reason.
_CONCLUDE_MANY_SQL: Final = f"""
UPDATE "{Asset._meta.db_table}" AS a
   SET status = v.status, status_reason = v.reason, updated_at = %s
  FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v(id, status, reason)
 WHERE a.id = v.id
"""  # noqa: S608 (the table's own name; the values are parameters)


def _conclude_many(assets: list[Asset], now: dt.datetime) -> None:
    """:func:`_conclude` for many assets, set-wise: ``assets`` are locked by the caller (with
    ``registered_by``) and every check of theirs has concluded. One query reads the checks
    that did not pass, one ``UPDATE`` moves each asset to its outcome and one audit event
    (``asset_batch``) records every move with its reason. Registrants of assets registered
    one by one are told as :func:`_conclude` tells them; imported assets are told per import
    (:func:`conclude_import`)."""
    if not assets:
        return
    problems: dict[int, list[AssetCheck]] = defaultdict(list)
    for check in AssetCheck.objects.filter(
        asset_id__in=[a.pk for a in assets], status__in=PROBLEMS
    ).order_by("pk"):
        problems[check.asset_id].append(check)
    moves: list[tuple[Asset, str, str]] = []
    for asset in assets:
        moved = _outcome(asset, problems[asset.pk])
        if moved is not None:
            moves.append((asset, *moved))
    if not moves:
        return
    with connection.cursor() as cur:
        cur.execute(
            _CONCLUDE_MANY_SQL,
            [
                now,
                [a.pk for a, _, _ in moves],
                [status for _, status, _ in moves],
                [reason for _, _, reason in moves],
            ],
        )
    transitions: dict[str, list[str]] = defaultdict(list)
    for asset, status, _ in moves:
        transitions[f"{asset.status}->{status}"].append(asset.asset_id)
    registrants = {asset.registered_by.participant_id for asset, _, _ in moves}
    audit.record(
        SYSTEM,
        "asset.authenticity_concluded",
        object_type="asset_batch",
        object_id=f"{moves[0][0].asset_id}..{moves[-1][0].asset_id}",
        subject_participant_id=next(iter(registrants)) if len(registrants) == 1 else "",
        after={
            "assets": len(moves),
            "transitions": dict(transitions),
            "status_reasons": {asset.asset_id: reason for asset, _, reason in moves if reason},
        },
        only_changed=False,
    )
    for asset, status, reason in moves:
        asset.status, asset.status_reason, asset.updated_at = status, reason, now
    singles = [asset for asset, _, _ in moves if asset.import_batch_id is None]
    if singles:
        checks_of: dict[int, list[AssetCheck]] = defaultdict(list)
        for check in AssetCheck.objects.filter(asset_id__in=[a.pk for a in singles]).order_by("pk"):
            checks_of[check.asset_id].append(check)
        for asset in singles:
            _tell_registrant(asset, checks_of[asset.pk])
    for import_pk in sorted({a.import_batch_id for a, _, _ in moves if a.import_batch_id}):
        _import_touched(import_pk)


# --- telling the registrant -----------------------------------------------------------------


def registrant_recipients(asset: Asset) -> list[int]:
    """The registering role's members who may see assets, and the person who registered it
    (else the participant's Authorised Persons)."""
    return _role_recipients(asset.registered_by_id, asset.registered_by_role, asset.created_by_id)


def _role_recipients(participant_pk: int, role: str, user_id: int | None) -> list[int]:
    from flexreg.participants import selectors_recipients
    from flexreg.participants.models import ParticipantRole

    users: set[int] = set()
    held = (
        ParticipantRole.objects.select_related("participant")
        .filter(participant_id=participant_pk, role=role)
        .first()
    )
    if held is not None:
        users.update(selectors_recipients.role_members(held, "assets:read"))
    if user_id is not None:
        from django.contrib.auth import get_user_model

        if get_user_model().objects.filter(pk=user_id, is_active=True).exists():
            users.add(user_id)
    return sorted(users) or selectors_recipients.authorised_persons(participant_pk)


def _tell_registrant(asset: Asset, checks: list[AssetCheck]) -> None:
    from flexreg.notifications import kinds
    from flexreg.notifications.services import notify

    if asset.import_batch_id is not None:
        return  # bulk registration: told once per import (conclude_import), not per asset
    if VALIDATED_KIND not in kinds.KINDS:
        logger.warning(
            "notification kind %s is not in the catalogue: the registrant of %s is not told",
            VALIDATED_KIND,
            asset.asset_id,
        )
        return
    verified = asset.status == AssetStatus.VERIFIED
    subject = (
        f"Asset verified: {asset.name} ({asset.asset_id})"
        if verified
        else f"Asset needs checking: {asset.name} ({asset.asset_id})"
    )
    notify(
        VALIDATED_KIND,
        registrant_recipients(asset),
        subject=subject,
        context={
            "asset_id": asset.asset_id,
            "asset_name": asset.name,
            "verified": verified,
            "status": asset.get_status_display(),
            "status_reason": asset.status_reason,
            "checks": [
                {
                    "label": _label(c.validator),
                    "status": c.get_status_display(),
                    "detail": str(c.outcome.get("detail", "")),
                }
                for c in checks
            ],
        },
        link=f"/assets/{asset.asset_id}/",
        participant_id=asset.registered_by.participant_id,
        dedupe_key=f"{VALIDATED_KIND}:{asset.asset_id}:{asset.status}",
    )


# --- batches: the bulk task and the retry job -------------------------------------------------


def run_batch(
    check_pks: Iterable[int], now: dt.datetime | None = None, lease: dt.datetime | None = None
) -> dict[str, int]:
    """Run checks one after the other, each in its own transaction, sharing HTTP clients and
    not calling again a service found down; returns counts per resulting status.

    ``lease``: the checks were queued by the retry sweep (:func:`sweep`) with this claim in
    their ``next_attempt_at``; a check whose claim is no longer this one (it was run
    meanwhile, or claimed again once the lease ran out) is left alone and counted
    ``released``, so a check queued twice runs once."""
    counts: Counter[str] = Counter()
    down: dict[str, ServiceUnavailable] = {}
    clients: dict[str, ServiceClient] = {}
    try:
        with _checking_imports():  # an import is looked at once per batch, not per asset
            for pk in check_pks:
                try:
                    with transaction.atomic():  # one broken check must not spoil the batch
                        if lease is not None and not _still_claimed(pk, lease):
                            counts["released"] += 1
                            continue
                        # Queued at creation (no lease): not before a retry time.
                        early = lease is not None
                        counts[run(pk, now=now, down=down, clients=clients, early_retry=early)] += 1
                except Exception:
                    logger.exception("asset authenticity check %s failed", pk)
                    counts["crashed"] += 1
    finally:
        for client in clients.values():
            client.close()
    return dict(counts)


def _still_claimed(check_pk: int, lease: dt.datetime) -> bool:
    """Lock the check if it still holds the sweep's claim ``lease``. Waits for a worker that
    holds it (not skipped: a check briefly locked by, say, its asset's decision must not wait
    for its lease to run out), then reads it again: a run meanwhile changed the claim."""
    return (
        AssetCheck.objects.select_for_update(of=("self",))
        .filter(pk=check_pk, next_attempt_at=lease, status__in=[S.PENDING, S.ERROR])
        .values_list("pk", flat=True)
        .first()
        is not None
    )


def batch_outcome(import_pk: int) -> dict[str, int]:
    """How the assets of a bulk registration stand (``{status: count}``, one grouped query):
    imported assets are not told one by one; the import's page and progress resource show
    this, and :func:`conclude_import` tells the importer once at the end."""
    return dict(
        Asset.objects.filter(import_batch_id=import_pk)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )


# --- an import's assets all checked: telling the importer once --------------------------------

#: Imports whose assets concluded inside a :func:`_checking_imports` block (None outside one).
_touched_imports: contextvars.ContextVar[set[int] | None] = contextvars.ContextVar(
    "assets_touched_imports", default=None
)


def _import_touched(import_pk: int) -> None:
    """An asset of the import concluded: look at the import once this transaction commits
    (inside a :func:`_checking_imports` block: once, after the block)."""
    collecting = _touched_imports.get()
    if collecting is not None:
        collecting.add(import_pk)
    else:
        transaction.on_commit(functools.partial(conclude_import, import_pk), robust=True)


@contextlib.contextmanager
def _checking_imports() -> Iterator[None]:
    """Collect the imports whose assets conclude inside the block and look at each once after
    it (after the commit of the transaction around it, if any): a batch of checks or a bulk
    start concludes many assets of one import."""
    if _touched_imports.get() is not None:
        yield  # an enclosing block looks at them
        return
    touched: set[int] = set()
    token = _touched_imports.set(touched)
    try:
        yield
    finally:
        _touched_imports.reset(token)
    for import_pk in sorted(touched):
        transaction.on_commit(functools.partial(conclude_import, import_pk), robust=True)


def import_validated_at(public_id: str) -> dt.datetime | None:
    """When the importer was told that every check of the import's assets had concluded
    (its ``asset_import.validated`` audit event); None until then."""
    return (
        AuditEvent.objects.filter(
            object_type=IMPORT_OBJECT_TYPE, object_id=public_id, action=IMPORT_VALIDATED_ACTION
        )
        .order_by("seq")
        .values_list("occurred_at", flat=True)
        .first()
    )


def _assets_pending(import_pk: int) -> bool:
    """Whether an asset of the import still waits for its checks (``pending_validation``).

    Asked of the assets rather than of their checks: its cost is bounded by the import's size
    (its ``import_batch`` index) whatever the size of the check table, where a query on the
    open checks joined to the import was planned as a merge join over every check."""
    return Asset.objects.filter(
        import_batch_id=import_pk, status=AssetStatus.PENDING_VALIDATION
    ).exists()


def conclude_import(import_pk: int) -> bool:
    """Tell the importer's users, once, that the authenticity checks of an import's assets
    have all concluded: the import is done and none of its assets waits in
    ``pending_validation`` any more (every one is ``verified`` or ``query``, or was decided
    since). An asset flagged as a possible duplicate is in ``query`` from the start: the
    outcome of its checks changes no count, so it is not waited for. One notification
    (``assets.import_validated``, emailed by the recipients' choice) with the counts per
    status and a link to the import's page goes to the importing role's members who may see
    assets and the person who uploaded the file.

    Idempotent and safe under concurrency: called after each commit that concluded one of its
    assets (so whichever commits last sees them all concluded) and when the import finishes,
    it decides under the import's row lock, and the audit event ``asset_import.validated`` it
    writes with the notice marks the import told (the notice's dedupe key guards each
    recipient too). Returns True when it told them now."""
    public_id = (
        AssetImport.objects.filter(pk=import_pk, status=AssetImport.Status.DONE)
        .values_list("public_id", flat=True)
        .first()
    )
    if public_id is None or import_validated_at(str(public_id)) or _assets_pending(import_pk):
        return False
    with transaction.atomic():
        batch = (
            AssetImport.objects.select_for_update(of=("self",))
            .select_related("participant")
            .filter(pk=import_pk, status=AssetImport.Status.DONE)
            .first()
        )
        if batch is None or import_validated_at(str(batch.public_id)):
            return False
        counts = batch_outcome(import_pk)
        if not counts or counts.get(AssetStatus.PENDING_VALIDATION):
            return False  # nothing registered, or an asset concluded back meanwhile
        audit.record(
            SYSTEM,
            IMPORT_VALIDATED_ACTION,
            object_type=IMPORT_OBJECT_TYPE,
            object_id=str(batch.public_id),
            subject_participant_id=batch.participant.participant_id,
            after={"assets": dict(sorted(counts.items()))},
            only_changed=False,
        )
        _tell_importer(batch, counts)
    return True


#: The order and wording of the counts in the importer's notice.
IMPORT_STATUS_LABELS: Final = (
    (AssetStatus.VERIFIED, "Verified"),
    (AssetStatus.QUERY, "In query: with the central operator"),
    (AssetStatus.REJECTED, "Rejected by the central operator"),
    (AssetStatus.DECOMMISSIONED, "Decommissioned"),
)


def _tell_importer(batch: AssetImport, counts: dict[str, int]) -> None:
    from flexreg.notifications import kinds
    from flexreg.notifications.services import notify

    if IMPORT_VALIDATED_KIND not in kinds.KINDS:
        logger.warning(
            "notification kind %s is not in the catalogue: the importer of %s is not told",
            IMPORT_VALIDATED_KIND,
            batch.public_id,
        )
        return
    total = sum(counts.values())
    verified = counts.get(AssetStatus.VERIFIED, 0)
    notify(
        IMPORT_VALIDATED_KIND,
        _role_recipients(batch.participant_id, batch.role, batch.created_by_id),
        subject=f"Checks finished for your upload: {verified:,} of {total:,} assets verified",
        context={
            "file_name": batch.file_name,
            "uploaded_at": batch.created_at,
            "total": total,
            "verified": verified,
            "query": counts.get(AssetStatus.QUERY, 0),
            "counts": [
                {"label": label, "count": counts[status]}
                for status, label in IMPORT_STATUS_LABELS
                if counts.get(status)
            ],
        },
        link=f"/assets/imports/{batch.public_id}/",
        participant_id=batch.participant.participant_id,
        dedupe_key=f"{IMPORT_VALIDATED_KIND}:{batch.public_id}",
    )


# --- what the retry job runs ------------------------------------------------------------------


def _due(now: dt.datetime) -> QuerySet[AssetCheck]:
    """Checks to (re)try at ``now``, oldest due first: in error with their retry time come, or
    still pending long after they were created (a lost task) and not queued by a sweep since
    (its claim, in ``next_attempt_at``, has run out)."""
    return AssetCheck.objects.filter(
        Q(status=S.ERROR, next_attempt_at__lte=now)
        | (
            Q(status=S.PENDING, created_at__lte=now - LOST_TASK_AFTER)
            & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        )
    ).order_by(Coalesce("next_attempt_at", "created_at"), "pk")


def due_checks(now: dt.datetime, limit: int = SWEEP_BATCH) -> list[int]:
    """The first ``limit`` checks to (re)try at ``now`` (a plain read: :func:`sweep` claims
    its own)."""
    return list(_due(now).values_list("pk", flat=True)[:limit])


def sweep(
    now: dt.datetime, *, batch: int | None = None, queue_limit: int | None = None
) -> dict[str, int]:
    """The retry job: the checks due at ``now``, claimed with ``SELECT ... FOR UPDATE SKIP
    LOCKED`` (a check another sweep or a task holds is skipped) and leased: their
    ``next_attempt_at`` is set to now + :data:`QUEUED_LEASE` in one short transaction, so no
    sweep takes them again meanwhile, and a run goes ahead only while the lease is still that
    one (:func:`run_batch`'s ``lease``): a check is never run twice. The first ``batch``
    (default :data:`SWEEP_BATCH`) run here, after that transaction has committed, each in
    a transaction of its own (the job is not atomic: no lock is held while a service
    answers); the next ``queue_limit`` (default :data:`SWEEP_QUEUE_LIMIT`) are queued for the
    workers, :data:`TASK_BATCH` per ``run_checks`` task, so a backlog after an outage is worked
    through in parallel and not 200 checks per five minutes. A lease that runs out (a lost
    task, a crashed worker) leaves the check due again. The retry schedule is unchanged: a run
    that finds the service still down sets the next attempt from its own clock and the
    backoff. Returns counts per resulting status, and ``queued``.
    """
    batch = batch or SWEEP_BATCH
    queue_limit = SWEEP_QUEUE_LIMIT if queue_limit is None else queue_limit
    lease = now + QUEUED_LEASE
    with transaction.atomic():
        claimed = list(
            _due(now)
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)[: batch + queue_limit]
        )
        if claimed:
            AssetCheck.objects.filter(pk__in=claimed).update(next_attempt_at=lease)
        here, queued = claimed[:batch], claimed[batch:]
        if queued:
            transaction.on_commit(functools.partial(enqueue_batches, queued, lease))
    counts = run_batch(here, now=now, lease=lease) if here else {}
    if queued:
        counts["queued"] = len(queued)
    return counts


__all__ = [
    "CONCLUDED",
    "IMPORT_VALIDATED_KIND",
    "VALIDATED_KIND",
    "backoff",
    "batch_outcome",
    "conclude_import",
    "due_checks",
    "facts_of",
    "give_up_after",
    "import_validated_at",
    "record",
    "registrant_recipients",
    "run",
    "run_batch",
    "start",
    "start_many",
    "sweep",
]
