"""Bulk registration use cases: start an import from an uploaded file, run it (the background
task), resume imports a lost worker left behind.

``start`` checks the file by its content (size, UTF-8 text, CSV with the template's header or
JSON Lines, at most :data:`~flexreg.assets.imports.MAX_ROWS` records), hashes it, stores it
through Django's storage under a random name and queues the task after the commit. The same
file (same SHA-256) uploaded again by the same participant returns the import it already
started: nothing is registered twice. ``run`` processes the file set-wise
(``flexreg.assets.imports``) with the importer's *current* authority, chunk by chunk; a re-run
resumes after the last chunk that committed. Once it is done and none of its assets waits for
its authenticity checks, the importer is told once (``conclude_checks`` ->
``authenticity.conclude_import``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import importlib
import logging
import os
import re
import uuid
from typing import Any, Final

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import CharField, Exists, OuterRef
from django.db.models.functions import Cast
from django.utils import timezone

from flexreg.assets import imports
from flexreg.assets.catalogue import Catalogue
from flexreg.assets.models import Asset, AssetCheck, AssetImport, AssetStatus
from flexreg.core import audit, permissions
from flexreg.core.acting import Acting
from flexreg.core.errors import DomainError
from flexreg.participants.models import (
    Membership,
    ParticipantRole,
    ParticipantStatus,
    RoleStatus,
)
from flexreg.participants.policies import effective_permissions

logger = logging.getLogger(__name__)

REGISTER: Final = imports.REGISTER
DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024
#: First key of the advisory lock that serialises uploads of one file by one participant.
UPLOAD_LOCK_NAMESPACE: Final = 0x464C_5855
#: An import queued or running this long without a worker holding it is queued again.
STALL_AFTER: Final = dt.timedelta(minutes=10)
HEAD_BYTES: Final = 4096
#: Imported assets without checks are looked for in the imports of this last period.
CHECKS_LOOKBACK: Final = dt.timedelta(days=2)
MISSING_CHECKS_BATCH: Final = 20_000
_UNSAFE_NAME: Final = re.compile(r"[\x00-\x1f\x7f/\\]+")


def max_bytes() -> int:
    """The largest file accepted (``ASSET_IMPORT_MAX_BYTES``; 64 MiB holds 100,000 rows)."""
    return int(getattr(settings, "ASSET_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES))


def too_large() -> imports.FileProblem:
    limit = max_bytes()
    return imports.FileProblem(
        "asset_import.too_large",
        f"The selected file must be smaller than {limit // (1024 * 1024)} MB.",
    )


def _safe_name(raw: str | None) -> str:
    name = os.path.basename(_UNSAFE_NAME.sub("_", raw or "")).strip() or "assets"
    return name[-255:]


def _registrant(acting: Acting) -> int:
    if acting.participant_pk is None or acting.role is None:
        raise DomainError(
            code="asset.registrant_required",
            detail="Assets are registered by a participant role: act for one.",
        )
    return acting.participant_pk


def _digest(uploaded: UploadedFile) -> tuple[str, int, bytes]:
    """(SHA-256, size, first bytes) read in chunks, refusing a file over the limit."""
    limit = max_bytes()
    sha = hashlib.sha256()
    size = 0
    head = b""
    for part in uploaded.chunks():
        size += len(part)
        if size > limit:
            raise too_large()
        if len(head) < HEAD_BYTES:
            head += part[: HEAD_BYTES - len(head)]
        sha.update(part)
    return sha.hexdigest(), size, head


def _lock_upload(participant_pk: int, sha256: str) -> None:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
            [UPLOAD_LOCK_NAMESPACE, f"{participant_pk}:{sha256}"],
        )


def _audit(acting: Acting, action: str, batch: AssetImport, after: dict[str, Any]) -> None:
    audit.record(
        acting,
        action,
        object_type=imports.OBJECT_TYPE,
        object_id=str(batch.public_id),
        subject_participant_id=batch.participant.participant_id,
        after=after,
        personal=["file_name"] if "file_name" in after else (),
        only_changed=False,
    )


@transaction.atomic
def start(acting: Acting, uploaded: UploadedFile) -> tuple[AssetImport, bool]:
    """Start a bulk registration of the file for the acting participant role: ``(import,
    True)``, or ``(the import already started with this file, False)``. The file is refused
    (422, ``asset_import.*``) if it is too large, empty, not UTF-8 text, a CSV without the
    template's header, or has more than 100,000 records."""
    permissions.require(acting, REGISTER)
    participant_pk = _registrant(acting)
    declared = getattr(uploaded, "size", None)
    if declared is not None and declared > max_bytes():
        raise too_large()
    sha256, size, head = _digest(uploaded)
    if size == 0:
        raise imports.FileProblem("asset_import.empty", "The selected file is empty.")
    _lock_upload(participant_pk, sha256)
    existing = (
        AssetImport.objects.select_related("participant")
        .filter(participant_id=participant_pk, sha256=sha256)
        .order_by("created_at", "pk")
        .first()
    )
    if existing is not None:
        if existing.status == AssetImport.Status.FAILED:
            _requeue(acting, existing)
        return existing, False
    file_format = imports.sniff(head)
    uploaded.seek(0)
    total = imports.count_records(uploaded, file_format, acting.role)
    if total == 0:
        raise imports.FileProblem("asset_import.no_rows", "The file has no asset rows.")
    if total > imports.MAX_ROWS:
        raise imports.FileProblem(
            "asset_import.too_many_rows",
            f"The file has {total:,} rows: upload at most {imports.MAX_ROWS:,} per file.",
        )
    batch = AssetImport(
        participant_id=participant_pk,
        role=acting.role or "",
        created_by_id=acting.user_id,
        file_name=_safe_name(uploaded.name),
        file_format=file_format,
        sha256=sha256,
        total_rows=total,
    )
    uploaded.seek(0)
    batch.file.save(f"{uuid.uuid4().hex}.{file_format}", uploaded, save=False)
    try:
        batch.save()
        batch = AssetImport.objects.select_related("participant").get(pk=batch.pk)
        _audit(
            acting,
            "asset_import.started",
            batch,
            {
                "file_name": batch.file_name,
                "file_format": file_format,
                "sha256": sha256,
                "size": size,
                "total_rows": total,
                "role": batch.role,
            },
        )
    except BaseException:
        batch.file.storage.delete(str(batch.file.name))
        raise
    _queue_after_commit(batch.pk)
    return batch, True


def _requeue(acting: Acting, batch: AssetImport) -> None:
    AssetImport.objects.filter(pk=batch.pk).update(
        status=AssetImport.Status.QUEUED, error="", finished_at=None
    )
    batch.refresh_from_db()
    _audit(acting, "asset_import.resumed", batch, {"processed_rows": batch.processed_rows})
    _queue_after_commit(batch.pk)


def _queue_after_commit(batch_pk: int) -> None:
    transaction.on_commit(lambda: queue(batch_pk), robust=True)


def queue(batch_pk: int) -> None:
    from flexreg.assets import tasks_imports

    tasks_imports.run_asset_import.enqueue(batch_pk)


# --- running ------------------------------------------------------------------------------


def importer(batch: AssetImport) -> Acting:
    """The importer's authority now (the job runs with it, never with more): its membership's
    effective permissions, or for an import started by the system the role's qualification.
    Raises ``asset_import.not_permitted`` if it may no longer register assets."""
    participant = batch.participant
    base: dict[str, Any] = {
        "participant_pk": participant.pk,
        "participant_id": participant.participant_id,
        "role": batch.role,
    }
    acting: Acting
    if batch.created_by_id is None:
        held = ParticipantRole.objects.filter(participant=participant, role=batch.role).first()
        ok = (
            held is not None
            and held.qualified_at is not None
            and held.status == RoleStatus.ACTIVE
            and participant.status == ParticipantStatus.ACTIVE
        )
        acting = Acting(
            user_id=None,
            user_label="system:asset-import",
            via="system",
            permissions=frozenset({REGISTER}) if ok else frozenset(),
            **base,
        )
    else:
        membership = (
            Membership.objects.select_related("user", "participant_role__participant")
            .filter(
                user_id=batch.created_by_id,
                participant_role__participant=participant,
                participant_role__role=batch.role,
                is_active=True,
            )
            .first()
        )
        acting = Acting(
            user_id=batch.created_by_id,
            user_label=membership.user.email if membership is not None else "",
            via="system",
            membership_id=membership.pk if membership is not None else None,
            permissions=effective_permissions(membership) if membership else frozenset(),
            **base,
        )
    if not acting.has(REGISTER):
        raise DomainError(
            code="asset_import.not_permitted",
            detail=(
                "The import stopped: whoever started it may no longer register assets for "
                f"{participant.participant_id} as {batch.role}."
            ),
            status=403,
        )
    return acting


def _begin(batch_pk: int) -> AssetImport | None:
    with transaction.atomic():
        batch = (
            AssetImport.objects.select_for_update()
            .select_related("participant")
            .filter(pk=batch_pk)
            .first()
        )
        if batch is None or batch.status == AssetImport.Status.DONE:
            return None
        batch.status = AssetImport.Status.RUNNING
        batch.started_at = batch.started_at or timezone.now()
        batch.error = ""
        batch.save(update_fields=["status", "started_at", "error"])
        return batch


def _finish(acting: Acting, batch_pk: int) -> None:
    with transaction.atomic():
        batch = (
            AssetImport.objects.select_for_update().select_related("participant").get(pk=batch_pk)
        )
        batch.status = AssetImport.Status.DONE
        batch.finished_at = timezone.now()
        batch.save(update_fields=["status", "finished_at"])
        _audit(
            acting,
            "asset_import.finished",
            batch,
            {
                "rows": batch.processed_rows,
                "accepted": batch.accepted,
                "rejected": batch.rejected,
                "flagged": batch.flagged,
            },
        )
        # The checks of its assets may all have concluded while it ran (no checking service
        # configured): the importer is then told now rather than by the last check.
        transaction.on_commit(functools.partial(conclude_checks, batch_pk), robust=True)


def conclude_checks(batch_pk: int) -> bool:
    """Tell the importer once every check of the import's assets has concluded
    (``authenticity.conclude_import``; idempotent). True when told now."""
    from flexreg.assets import authenticity

    return authenticity.conclude_import(batch_pk)


def _fail(batch_pk: int, message: str) -> None:
    with transaction.atomic():
        batch = (
            AssetImport.objects.select_for_update().select_related("participant").get(pk=batch_pk)
        )
        batch.status = AssetImport.Status.FAILED
        batch.error = message
        batch.finished_at = timezone.now()
        batch.save(update_fields=["status", "error", "finished_at"])
        _audit(
            Acting.system("asset-import"),
            "asset_import.failed",
            batch,
            {"processed_rows": batch.processed_rows, "error": message},
        )


def run(
    batch_pk: int,
    *,
    chunk_size: int = imports.CHUNK_SIZE,
    catalogue: Catalogue | None = None,
    today: dt.date | None = None,
) -> AssetImport:
    """Process an import (the task's body). Idempotent: a finished import is left alone, a
    re-run resumes after the rows already done, and a second worker on the same import
    returns at once."""
    with imports.run_lock(batch_pk) as held:
        if held:
            _run(batch_pk, chunk_size, catalogue, today)
    return AssetImport.objects.select_related("participant").get(pk=batch_pk)


def _run(
    batch_pk: int, chunk_size: int, catalogue: Catalogue | None, today: dt.date | None
) -> None:
    batch = _begin(batch_pk)
    if batch is None:
        return
    try:
        acting = importer(batch)
        engine = imports.Engine(batch, acting, catalogue, today)
        with batch.file.open("rb") as handle:
            imports.process_file(
                engine, handle, start_after=batch.processed_rows, chunk_size=chunk_size
            )
        _finish(acting, batch_pk)
    except DomainError as exc:
        _fail(batch_pk, exc.detail)
    except Exception:
        logger.exception("asset import %s stopped", batch.public_id)
        _fail(
            batch_pk,
            "The import stopped on an internal error. Upload the same file again to resume it "
            "after the last rows it completed.",
        )
        raise


def start_checks(asset_pks: list[int]) -> int:
    """Start the authenticity checks of imported assets, set-wise
    (``authenticity.start_many``; idempotent). Returns how many checks were queued."""
    try:
        module = importlib.import_module("flexreg.assets.authenticity")
    except ModuleNotFoundError as exc:
        if exc.name != "flexreg.assets.authenticity":
            raise
        return 0
    start_many = getattr(module, "start_many", None)
    if start_many is None:
        logger.warning(
            "authenticity.start_many is missing: %d imported assets wait", len(asset_pks)
        )
        return 0
    return int(start_many(asset_pks) or 0)


def start_missing_checks(now: dt.datetime | None = None) -> int:
    """Start the checks of assets imported in the last :data:`CHECKS_LOOKBACK` that have none
    yet (their start task was lost). Returns how many assets."""
    now = now or timezone.now()
    recent = AssetImport.objects.filter(
        created_at__gte=now - CHECKS_LOOKBACK, processed_rows__gt=0
    ).values_list("pk", flat=True)
    pks = list(
        Asset.objects.filter(
            import_batch_id__in=list(recent),
            status__in=[AssetStatus.PENDING_VALIDATION, AssetStatus.QUERY],
            created_at__lte=now - STALL_AFTER,
        )
        .filter(~Exists(AssetCheck.objects.filter(asset_id=OuterRef("pk"))))
        .values_list("pk", flat=True)[:MISSING_CHECKS_BATCH]
    )
    if pks:
        start_checks(pks)
    return len(pks)


def conclude_finished(now: dt.datetime | None = None) -> int:
    """The safety net of :func:`conclude_checks` (which runs after each commit that concludes
    an imported asset, and a process may die before it): look again at the imports done in the
    last :data:`CHECKS_LOOKBACK` whose importer has not been told yet. Returns how many were
    told now."""
    from flexreg.assets import authenticity
    from flexreg.core.models import AuditEvent

    now = now or timezone.now()
    told = AuditEvent.objects.filter(
        object_type=imports.OBJECT_TYPE,
        object_id=Cast(OuterRef("public_id"), output_field=CharField()),
        action=authenticity.IMPORT_VALIDATED_ACTION,
    )
    waiting = (
        AssetImport.objects.filter(
            status=AssetImport.Status.DONE,
            created_at__gte=now - CHECKS_LOOKBACK,
            finished_at__lte=now - STALL_AFTER,
        )
        .exclude(accepted=0, flagged=0)
        .filter(~Exists(told))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return sum(1 for pk in waiting if authenticity.conclude_import(pk))


def resume_stalled(now: dt.datetime | None = None) -> int:
    """Queue again the imports left queued or running by a lost task or worker: started over
    :data:`STALL_AFTER` ago and held by no worker now. Returns how many. (A task still waiting
    in a long queue may run twice: the second finds the import done, or resumes it.)"""
    now = now or timezone.now()
    cutoff = now - STALL_AFTER
    candidates = AssetImport.objects.filter(
        status__in=[AssetImport.Status.QUEUED, AssetImport.Status.RUNNING],
        created_at__lt=cutoff,
    ).values_list("pk", flat=True)
    count = 0
    for pk in candidates:
        with imports.run_lock(pk) as free:
            if free:
                queue(pk)
                count += 1
    return count
