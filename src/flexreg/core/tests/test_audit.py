"""The audit log: written in the service's transaction, hash-chained, append-only, erasable."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.utils import InternalError, ProgrammingError

from flexreg.core import audit
from flexreg.core.acting import Acting
from flexreg.core.models import AuditEvent, AuditPersonalValue

pytestmark = pytest.mark.django_db


def _write(n: int = 3) -> list[AuditEvent]:
    acting = Acting(
        user_id=7,
        user_label="u@example.test",
        via="token",
        participant_id="P-X",
        role="FSP",
        request_id="req-123456",
    )
    events = []
    for i in range(n):
        with transaction.atomic():
            events.append(
                audit.record(
                    acting,
                    "thing.changed",
                    object_type="thing",
                    object_id=str(i),
                    before={"size": i, "name": "old"},
                    after={"size": i + 1, "name": "old", "email": f"p{i}@x.test"},
                    personal=("email",),
                )
            )
    return events


def _tamper(sql: str, params: list[Any]) -> None:
    """Change rows behind the service's back, as an attacker with table access would."""
    with connection.cursor() as cur:
        cur.execute("SET session_replication_role = replica")  # triggers off (superuser only)
        cur.execute(sql, params)
        cur.execute("SET session_replication_role = DEFAULT")


def test_record_keeps_only_changed_fields_and_who_acted() -> None:
    event = _write(1)[0]
    event.refresh_from_db()
    assert event.seq == 1 and event.prev_hash == audit.GENESIS
    assert event.changes["before"] == {"size": 0, "email": None}
    assert event.changes["after"] == {"size": 1, "email": "__personal__"}
    assert (event.actor_user_id, event.acting_participant_id, event.acting_role) == (
        7,
        "P-X",
        "FSP",
    )
    assert event.request_id == "req-123456"
    assert audit.personal_values(event) == {"after.email": "p0@x.test"}


def test_record_refuses_to_run_outside_a_transaction() -> None:
    # pytest-django wraps each test in a transaction; leave it to reach autocommit mode.
    with pytest.raises(RuntimeError):
        connection.in_atomic_block = False
        try:
            audit.record(Acting.system("t"), "x", object_type="t", object_id="1")
        finally:
            connection.in_atomic_block = True


def test_a_clean_chain_verifies(capsys: Any) -> None:
    _write(5)
    result = audit.verify()
    assert result.ok and result.checked == 5 and result.head_seq == 5
    call_command("audit", "verify")
    assert "audit log OK: 5 rows checked" in capsys.readouterr().out


def test_update_and_delete_are_refused_by_the_database() -> None:
    event = _write(1)[0]
    for statement in (
        "UPDATE core_auditevent SET action = 'forged' WHERE id = %s",
        "DELETE FROM core_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises((InternalError, ProgrammingError)) as info,
            transaction.atomic(),
            connection.cursor() as cur,
        ):
            cur.execute(statement, [event.pk])
        assert "append-only" in str(info.value)
    with pytest.raises((InternalError, ProgrammingError)), transaction.atomic():
        AuditPersonalValue.objects.filter(event=event).update(value="forged")


def test_an_altered_row_is_detected() -> None:
    events = _write(3)
    _tamper(
        'UPDATE core_auditevent SET changes = \'{"after": {"size": 99}}\' WHERE id = %s',
        [events[1].pk],
    )
    result = audit.verify()
    assert [(p.seq, p.code) for p in result.problems] == [(2, "audit.altered")]
    with pytest.raises(CommandError, match="FAILED"):
        call_command("audit", "verify")


def test_a_removed_row_is_detected() -> None:
    events = _write(3)
    _tamper("DELETE FROM core_auditpersonalvalue WHERE event_id = %s", [events[1].pk])
    _tamper("DELETE FROM core_auditevent WHERE id = %s", [events[1].pk])
    codes = {p.code for p in audit.verify().problems}
    assert {"audit.gap", "audit.broken_link"} <= codes


def test_reordered_rows_are_detected() -> None:
    events = _write(3)
    _tamper("UPDATE core_auditevent SET seq = -1 WHERE id = %s", [events[0].pk])
    _tamper("UPDATE core_auditevent SET seq = 1 WHERE id = %s", [events[1].pk])
    _tamper("UPDATE core_auditevent SET seq = 2 WHERE id = %s", [events[0].pk])
    assert not audit.verify().ok


def test_removing_the_newest_rows_is_detected_against_a_published_head() -> None:
    events = _write(3)
    head = audit.verify()
    _tamper("DELETE FROM core_auditpersonalvalue WHERE event_id = %s", [events[2].pk])
    _tamper("DELETE FROM core_auditevent WHERE id = %s", [events[2].pk])
    assert audit.verify().ok  # a chain alone cannot see a truncated tail ...
    result = audit.verify(expect_head=(head.head_seq, head.head_hash))
    assert [p.code for p in result.problems] == ["audit.head_missing"]  # ... an anchor can


def test_an_altered_personal_value_is_detected() -> None:
    events = _write(2)
    _tamper(
        "UPDATE core_auditpersonalvalue SET value = '\"evil@x.test\"' WHERE event_id = %s",
        [events[0].pk],
    )
    assert [p.code for p in audit.verify().problems] == ["audit.personal_altered"]


def test_erasing_personal_values_keeps_the_chain_verifiable() -> None:
    _write(2)
    with transaction.atomic():
        erased = audit.erase_personal_values(
            Acting.system("dpo"), object_type="thing", object_id="0", reason="Art. 17 request"
        )
    assert erased == 1
    assert not AuditPersonalValue.objects.filter(event__object_id="0").exists()
    result = audit.verify()
    assert result.ok and result.erased_values == 1 and result.checked == 3


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_write_leaves_no_audit_row_and_no_gap() -> None:
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        audit.record(Acting.system("t"), "x", object_type="t", object_id="1", after={"a": 1})
        _ = 1 / 0
    assert AuditEvent.objects.count() == 0
    with transaction.atomic():
        event = audit.record(Acting.system("t"), "x", object_type="t", object_id="2")
    assert event.seq == 1 and audit.verify().ok
