"""Reminders before the due date, an overdue notice, escalation to the central operator: each
sent once, whatever restarts or concurrent workers do; time moved by passing ``now``."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from flexreg.core import scheduler
from flexreg.core.models import AuditEvent
from flexreg.entry import reminders
from flexreg.entry.models import EntryCase, InformationRequest, RequestStatus, SentReminder
from flexreg.notifications.models import EmailStatus, Notification, NotificationPreference

DAY = dt.timedelta(days=1)
T0 = dt.datetime(2027, 2, 1, 9, 0, tzinfo=dt.UTC)
IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def _only_request(participant_id: str, due_at: dt.datetime, opened_at: dt.datetime) -> Any:
    """The FSP case's technical-contact request, the only open one with a due date."""
    case = EntryCase.objects.get(
        participant_role__participant__participant_id=participant_id,
        participant_role__role="FSP",
    )
    InformationRequest.objects.exclude(case=case, step_key="technical_contact").update(due_at=None)
    request = case.requests.get(step_key="technical_contact")
    assert request.status == RequestStatus.OPEN
    request.due_at, request.opened_at = due_at, opened_at
    request.save(update_fields=["due_at", "opened_at"])
    return request


def _kinds(user: Any) -> list[str]:
    return list(
        Notification.objects.filter(recipient=user, kind__startswith="entry.request_")
        .exclude(kind="entry.request_raised")
        .order_by("pk")
        .values_list("kind", flat=True)
    )


@pytest.fixture
def fsp(registered: Any) -> tuple[Any, Any]:
    user, body, _ = registered()  # 99000001: verified at once, FSP steps open
    request = _only_request(body["participant_id"], due_at=T0 + 10 * DAY, opened_at=T0)
    return user, request


@pytest.mark.django_db
def test_reminders_then_overdue_then_escalation_each_once(fsp: Any, operator: Any) -> None:
    user, request = fsp
    op_user, _ = operator
    assert reminders.run(T0 + 2 * DAY) == {"reminder": 0, "overdue": 0, "escalation": 0}
    assert reminders.run(T0 + 3 * DAY + dt.timedelta(hours=1))["reminder"] == 1  # 7 days before
    assert reminders.run(T0 + 3 * DAY + dt.timedelta(hours=2))["reminder"] == 0  # restart
    assert _kinds(user) == ["entry.request_reminder"]
    reminders.run(T0 + 9 * DAY + dt.timedelta(hours=1))  # 1 day before
    reminders.run(T0 + 10 * DAY + dt.timedelta(hours=1))  # due: overdue
    assert _kinds(user) == [
        "entry.request_reminder",
        "entry.request_reminder",
        "entry.request_overdue",
    ]
    request.refresh_from_db()
    assert request.escalated_at is None and _kinds(op_user) == []

    late = T0 + 15 * DAY + dt.timedelta(hours=1)  # escalate_after_days = 5 in the default rules
    assert reminders.run(late)["escalation"] == 1
    assert _kinds(op_user) == ["entry.request_escalated"]
    request.refresh_from_db()
    assert request.escalated_at == late
    event = AuditEvent.objects.filter(action="entry_request.escalated").get()
    assert event.object_id == str(request.public_id)
    assert reminders.run(late + 30 * DAY) == {"reminder": 0, "overdue": 0, "escalation": 0}
    assert list(
        SentReminder.objects.filter(request=request)
        .order_by("sent_at")
        .values_list("key", flat=True)
    ) == ["before:7", "before:1", "overdue", "escalation"]
    assert len(_kinds(user)) == 3 and len(_kinds(op_user)) == 1


@pytest.mark.django_db
def test_a_first_run_after_the_due_date_sends_only_the_overdue_notice(fsp: Any) -> None:
    user, _ = fsp
    assert reminders.run(T0 + 11 * DAY) == {"reminder": 0, "overdue": 1, "escalation": 0}
    assert _kinds(user) == ["entry.request_overdue"]


@pytest.mark.django_db
def test_a_first_run_on_the_last_day_sends_only_the_one_day_reminder(fsp: Any) -> None:
    user, request = fsp
    reminders.run(T0 + 9 * DAY + dt.timedelta(hours=1))
    assert list(SentReminder.objects.filter(request=request).values_list("key", flat=True)) == [
        "before:1"
    ]
    assert _kinds(user) == ["entry.request_reminder"]


@pytest.mark.django_db
def test_no_reminder_for_a_threshold_passed_before_the_request_was_raised(registered: Any) -> None:
    _, body, _ = registered()
    _only_request(body["participant_id"], due_at=T0 + 5 * DAY, opened_at=T0)  # raised 5 days out
    assert reminders.run(T0 + DAY)["reminder"] == 0  # not "due in 7 days"
    assert reminders.run(T0 + 4 * DAY + dt.timedelta(hours=1))["reminder"] == 1  # 1 day before


@pytest.mark.django_db
def test_a_new_due_date_rearms_the_reminders(fsp: Any) -> None:
    user, request = fsp
    reminders.run(T0 + 11 * DAY)
    request.due_at, request.opened_at = T0 + 30 * DAY, T0 + 12 * DAY  # answer rejected: reopened
    request.save(update_fields=["due_at", "opened_at"])
    assert reminders.run(T0 + 29 * DAY + dt.timedelta(hours=1))["reminder"] == 1
    assert reminders.run(T0 + 31 * DAY)["overdue"] == 1
    assert _kinds(user).count("entry.request_overdue") == 2


@pytest.mark.django_db
def test_answered_requests_get_no_reminder(fsp: Any) -> None:
    _, request = fsp
    InformationRequest.objects.filter(pk=request.pk).update(status=RequestStatus.ANSWERED)
    assert reminders.run(T0 + 20 * DAY) == {"reminder": 0, "overdue": 0, "escalation": 0}


@pytest.mark.django_db
def test_the_overdue_notice_is_emailed_even_to_inbox_only_users(
    fsp: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    user, _ = fsp
    settings.TASKS = IMMEDIATE
    for kind in ("entry.request_reminder", "entry.request_overdue"):
        NotificationPreference.objects.create(user=user, kind=kind, channel="inbox")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        reminders.run(T0 + 9 * DAY + dt.timedelta(hours=1))  # reminder: inbox only
        reminders.run(T0 + 10 * DAY + dt.timedelta(hours=1))  # overdue: mandatory by the rules
    sent = Notification.objects.filter(recipient=user, kind__in=["entry.request_reminder"]).get()
    assert sent.email_status == EmailStatus.NONE
    assert [m.subject for m in mail.outbox] == [
        f"FlexReg: Overdue: Tell us your technical contact was due on "
        f"{timezone.localtime(T0 + 10 * DAY).day} February 2027"
    ]


@pytest.mark.django_db
def test_the_scheduler_runs_the_job_when_due(fsp: Any) -> None:
    results = scheduler.run_due(now=T0 + 11 * DAY, only={"entry.reminders"})
    assert results["entry.reminders"]["overdue"] == 1
    # not due again for 15 minutes
    again = scheduler.run_due(now=T0 + 11 * DAY + dt.timedelta(minutes=5))
    assert "entry.reminders" not in again


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return bool(cur.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_send_one_reminder(registered: Any, settings: Any) -> None:
    user, body, _ = registered()
    request = _only_request(body["participant_id"], due_at=T0 + 10 * DAY, opened_at=T0)
    settings.TASKS = IMMEDIATE
    mail.outbox.clear()
    now = T0 + 11 * DAY
    first_ran, release = threading.Event(), threading.Event()
    results: dict[str, Any] = {}

    def first() -> None:
        try:
            with transaction.atomic():  # a worker that has sent but not yet committed
                results["first"] = reminders.run(now)
                first_ran.set()
                release.wait(30)
        finally:
            connection.close()

    def second() -> None:
        try:
            first_ran.wait(30)
            results["second"] = reminders.run(now)  # its insert waits for the first's commit
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    first_ran.wait(30)
    waited = False
    for _ in range(3000):  # until the second worker really waits on the first's row
        waited = _waiting_on_a_lock()
        if waited:
            break
        threading.Event().wait(0.01)
    release.set()
    for t in threads:
        t.join(60)
    assert waited, "the second run never met the first one's uncommitted reminder"
    assert results["first"]["overdue"] == 1
    assert results["second"]["overdue"] == 0
    assert SentReminder.objects.filter(request=request).count() == 1
    assert _kinds(user) == ["entry.request_overdue"]
    assert [m.to for m in mail.outbox] == [[user.email]]


@pytest.mark.django_db(transaction=True)
def test_two_workers_started_together_send_one_reminder(registered: Any) -> None:
    user, body, _ = registered()
    request = _only_request(body["participant_id"], due_at=T0 + 10 * DAY, opened_at=T0)
    start = threading.Barrier(2)
    results: list[dict[str, int]] = []

    def worker() -> None:
        try:
            start.wait()
            results.append(reminders.run(T0 + 9 * DAY + dt.timedelta(hours=1)))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(r["reminder"] for r in results) == [0, 1]
    assert SentReminder.objects.filter(request=request).count() == 1
    assert _kinds(user) == ["entry.request_reminder"]


@pytest.mark.django_db
def test_an_open_request_on_a_qualified_case_is_reminded_too(fsp: Any) -> None:
    """The operator's ad hoc requests on a qualified case (ongoing management) get reminders
    and overdue notices like any other; a rejected case's do not."""
    user, request = fsp
    EntryCase.objects.filter(pk=request.case_id).update(status="qualified")
    assert reminders.run(T0 + 11 * DAY)["overdue"] == 1
    assert _kinds(user) == ["entry.request_overdue"]
    EntryCase.objects.filter(pk=request.case_id).update(status="rejected")
    assert reminders.run(T0 + 30 * DAY) == {"reminder": 0, "overdue": 0, "escalation": 0}
