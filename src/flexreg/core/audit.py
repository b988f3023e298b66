"""Write and verify the append-only, hash-chained audit log.

``record`` is called by services inside their transaction, so the audit row commits or rolls
back with the write it describes. Rows are chained: ``row_hash = SHA-256(prev_hash || canonical
content)``. Chaining is serialised by a transaction-scoped advisory lock so ``seq`` is
contiguous and the chain has one order (see docs/decisions/0004-audit-log.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from flexreg.core.acting import Acting
from flexreg.core.models import AuditEvent, AuditPersonalValue

GENESIS = "0" * 64
_LOCK_KEY = 0x666C_7872_6567  # "flxreg": one chain, one writer at a time
_REDACTED = "__personal__"


def _plain(value: Any) -> Any:
    """Reduce a value to JSON that survives a jsonb round trip unchanged (no floats)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(v) for v in value]
        return sorted(items, key=canonical) if isinstance(value, set | frozenset) else items
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date | Decimal | float):
        return str(value)
    return str(value)


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\x1f")
    return h.hexdigest()


def diff(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that changed, as (before, after)."""
    keys = set(before) | set(after)
    changed = sorted(k for k in keys if _plain(before.get(k)) != _plain(after.get(k)))
    return {k: before.get(k) for k in changed}, {k: after.get(k) for k in changed}


@dataclass(frozen=True)
class _Content:
    seq: int
    occurred_at: str
    actor_user_id: int | None
    actor_label: str
    via: str
    acting_participant_id: str
    acting_role: str
    on_behalf_of: str
    request_id: str
    action: str
    object_type: str
    object_id: str
    subject_participant_id: str
    changes: Any
    personal_digests: Any

    @classmethod
    def of(cls, e: AuditEvent) -> _Content:
        return cls(
            seq=e.seq,
            occurred_at=_plain(e.occurred_at),
            actor_user_id=e.actor_user_id,
            actor_label=e.actor_label,
            via=e.via,
            acting_participant_id=e.acting_participant_id,
            acting_role=e.acting_role,
            on_behalf_of=e.on_behalf_of,
            request_id=e.request_id,
            action=e.action,
            object_type=e.object_type,
            object_id=e.object_id,
            subject_participant_id=e.subject_participant_id,
            changes=e.changes,
            personal_digests=e.personal_digests,
        )

    def hash(self, prev_hash: str) -> str:
        return _digest(prev_hash, canonical(self.__dict__))


def record(
    acting: Acting,
    action: str,
    *,
    object_type: str,
    object_id: str,
    subject_participant_id: str = "",
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    personal: Iterable[str] = (),
    on_behalf_of: str = "",
    only_changed: bool = True,
) -> AuditEvent:
    """Append one event. Must run inside the service's transaction.

    ``personal`` names fields of ``before``/``after`` that hold personal data: their values go
    to ``AuditPersonalValue`` and only salted digests enter the chain.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("audit.record must run inside the service's transaction")
    before = dict(before or {})
    after = dict(after or {})
    if only_changed and before and after:
        before, after = diff(before, after)
    changes: dict[str, Any] = {}
    if before:
        changes["before"] = _plain(before)
    if after:
        changes["after"] = _plain(after)
    personal_fields = set(personal)
    held: list[tuple[str, Any, str, str]] = []
    digests: dict[str, str] = {}
    for side in ("before", "after"):
        for name in sorted(personal_fields & set(changes.get(side, {}))):
            path = f"{side}.{name}"
            value = changes[side][name]
            if value is None:
                continue
            salt = secrets.token_hex(16)
            digest = _digest(salt, canonical(value))
            changes[side][name] = _REDACTED
            digests[path] = digest
            held.append((path, value, salt, digest))

    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
    last = AuditEvent.objects.order_by("-seq").values_list("seq", "row_hash").first()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
    event = AuditEvent(
        seq=seq,
        occurred_at=timezone.now(),
        actor_user_id=acting.user_id,
        actor_label=acting.user_label,
        via=acting.via,
        # A platform acting for a client: the platform is the actor, the client is named in
        # ``on_behalf_of`` (docs/decisions/0009-delegation-and-service-accounts.md).
        acting_participant_id=(
            acting.platform_participant_id if acting.is_delegated else acting.participant_id
        )
        or "",
        acting_role=(acting.platform_role if acting.is_delegated else acting.role) or "",
        on_behalf_of=on_behalf_of or acting.on_behalf_of,
        request_id=acting.request_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        subject_participant_id=subject_participant_id,
        changes=changes,
        personal_digests=digests,
        prev_hash=prev_hash,
    )
    event.row_hash = _Content.of(event).hash(prev_hash)
    event.save(force_insert=True)
    AuditPersonalValue.objects.bulk_create(
        AuditPersonalValue(event=event, path=p, value=v, salt=s, digest=d) for p, v, s, d in held
    )
    return event


def personal_values(event: AuditEvent) -> dict[str, Any]:
    """The personal values an event recorded that have not been erased, by path."""
    return {p.path: p.value for p in event.personal.all()}


@transaction.atomic
def erase_personal_values(acting: Acting, *, object_type: str, object_id: str, reason: str) -> int:
    """Erase (UK GDPR art. 17) the personal values recorded about one object; chain unaffected."""
    rows = AuditPersonalValue.objects.filter(
        event__object_type=object_type, event__object_id=object_id
    )
    count = rows.count()
    rows.delete()
    record(
        acting,
        "audit.personal_values_erased",
        object_type=object_type,
        object_id=object_id,
        after={"erased": count, "reason": reason},
    )
    return count


@dataclass
class Problem:
    seq: int
    code: str
    message: str


@dataclass
class VerifyResult:
    checked: int = 0
    erased_values: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(expect_head: tuple[int, str] | None = None, chunk: int = 2000) -> VerifyResult:
    """Re-compute the whole chain; report altered, removed, inserted or reordered rows.

    ``expect_head`` (a previously published ``seq`` and hash) also detects removal of the most
    recent rows, which a chain alone cannot.
    """
    result = VerifyResult()
    prev_hash, expected_seq = GENESIS, 1
    personal: dict[int, list[AuditPersonalValue]] = {}
    events = AuditEvent.objects.order_by("seq")
    last_seq = 0
    while True:
        batch = list(events.filter(seq__gt=last_seq)[:chunk])
        if not batch:
            break
        personal = {}
        for pv in AuditPersonalValue.objects.filter(event__in=batch):
            personal.setdefault(pv.event_id, []).append(pv)
        for e in batch:
            result.checked += 1
            if e.seq != expected_seq:
                result.problems.append(
                    Problem(e.seq, "audit.gap", f"expected row {expected_seq}, found {e.seq}")
                )
            if e.prev_hash != prev_hash:
                result.problems.append(
                    Problem(e.seq, "audit.broken_link", "prev_hash does not match the row before")
                )
            if _Content.of(e).hash(e.prev_hash) != e.row_hash:
                result.problems.append(
                    Problem(e.seq, "audit.altered", "row content does not match its hash")
                )
            present = {pv.path: pv for pv in personal.get(e.pk, [])}
            result.erased_values += len(set(e.personal_digests) - set(present))
            for path, pv in present.items():
                if e.personal_digests.get(path) != pv.digest or pv.digest != _digest(
                    pv.salt, canonical(pv.value)
                ):
                    result.problems.append(
                        Problem(e.seq, "audit.personal_altered", f"personal value {path} altered")
                    )
            prev_hash, expected_seq = e.row_hash, e.seq + 1
            last_seq = e.seq
    result.head_seq, result.head_hash = last_seq, prev_hash
    if expect_head is not None:
        seq, digest = expect_head
        row = AuditEvent.objects.filter(seq=seq).values_list("row_hash", flat=True).first()
        if row is None:
            result.problems.append(Problem(seq, "audit.head_missing", "published head row is gone"))
        elif row != digest:
            result.problems.append(
                Problem(seq, "audit.head_mismatch", "published head hash differs")
            )
    return result
