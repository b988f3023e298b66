"""notify(): one inbox row per recipient and event, emails after commit, sent exactly once,
channel choices respected within what the rules make mandatory."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection

from flexreg.notifications import kinds, services
from flexreg.notifications.models import EmailStatus, Notification, NotificationPreference

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def immediate_tasks(settings: Any) -> None:
    settings.TASKS = IMMEDIATE


def _notify(recipients: list[int], **kw: Any) -> int:
    kw.setdefault("subject", "Your FSP role is qualified")
    kw.setdefault("context", {"role": "FSP", "reason": "All in order."})
    kw.setdefault("link", "/participants/")
    return services.notify("entry.case_qualified", recipients, **kw)


@pytest.mark.django_db
def test_an_unknown_kind_is_a_programming_error(make_user: Any) -> None:
    with pytest.raises(ValueError, match="unknown notification kind"):
        services.notify("entry.no_such_thing", [make_user().pk], subject="x")


def test_every_kind_has_a_text_and_an_html_template() -> None:
    for code in kinds.KINDS:
        text, html = services.render(code, f"Subject of {code}", {}, "/somewhere/")
        assert "/somewhere/" in text and "/somewhere/" in html, code
        assert html.lstrip().startswith("<!DOCTYPE html>"), code


@pytest.mark.django_db
def test_the_same_event_is_told_once_per_recipient(make_user: Any) -> None:
    a, b = make_user(), make_user()
    assert _notify([a.pk, b.pk, a.pk], dedupe_key="qualified:1") == 2
    assert _notify([a.pk, b.pk], dedupe_key="qualified:1") == 0
    assert Notification.objects.filter(dedupe_key="qualified:1").count() == 2
    # without a key every call is a new notification; another key is another event
    assert _notify([a.pk]) == 1 and _notify([a.pk]) == 1
    assert _notify([a.pk], dedupe_key="qualified:2") == 1
    assert Notification.objects.filter(recipient=a).count() == 4


@pytest.mark.django_db
def test_nothing_for_nobody_and_unknown_users_are_skipped(make_user: Any) -> None:
    assert _notify([]) == 0
    user = make_user()
    assert _notify([user.pk, 987654321]) == 1


@pytest.mark.django_db
def test_bodies_are_rendered_with_html_escaped_and_text_not(make_user: Any) -> None:
    user = make_user()
    _notify([user.pk], context={"role": "FSP", "reason": "<script>alert(1)</script> & more"})
    n = Notification.objects.get(recipient=user)
    assert "<script>" not in n.body_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in n.body_html
    assert "<script>alert(1)</script> & more" in n.body_text  # plain text is not escaped
    assert "http://" in n.body_text and "/participants/" in n.body_text  # absolute link


@pytest.mark.django_db(transaction=True)
def test_an_email_is_sent_after_commit_once_with_text_and_html(
    make_user: Any, immediate_tasks: None
) -> None:
    user = make_user("pat@example.test")
    mail.outbox.clear()
    assert _notify([user.pk], dedupe_key="e1") == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["pat@example.test"]
    assert message.subject == "FlexReg: Your FSP role is qualified"
    assert "All in order." in message.body
    assert message.alternatives[0].mimetype == "text/html"  # type: ignore[attr-defined]
    assert "All in order." in message.alternatives[0].content  # type: ignore[attr-defined]
    n = Notification.objects.get(recipient=user)
    assert n.email_status == EmailStatus.SENT and n.emailed_at and n.email_attempts == 1
    # the same notification again (a duplicate task, the retry sweep): nothing more is sent
    assert services.deliver(n.pk) == "skipped"
    _notify([user.pk], dedupe_key="e1")
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_rolled_back_caller_queues_no_email(
    make_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    user = make_user()
    with django_capture_on_commit_callbacks() as callbacks:
        _notify([user.pk])
    assert len(callbacks) == 1  # queued for after the commit, not before
    n = Notification.objects.get(recipient=user)
    assert n.email_status == EmailStatus.PENDING


@pytest.mark.django_db
def test_inbox_only_is_respected_unless_the_rules_make_email_mandatory(
    make_user: Any, django_capture_on_commit_callbacks: Any, immediate_tasks: None
) -> None:
    quiet, loud = make_user(), make_user()
    NotificationPreference.objects.create(user=quiet, kind="entry.case_qualified", channel="inbox")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        _notify([quiet.pk, loud.pk], dedupe_key="q")
    assert [m.to for m in mail.outbox] == [[loud.email]]
    assert Notification.objects.get(recipient=quiet).email_status == EmailStatus.NONE
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        _notify([quiet.pk], dedupe_key="q2", email_mandatory=True)
    assert [m.to for m in mail.outbox] == [[quiet.email]]


@pytest.mark.django_db
def test_inactive_users_get_the_inbox_only(make_user: Any) -> None:
    gone = make_user()
    gone.is_active = False
    gone.save()
    _notify([gone.pk], email_mandatory=True)
    assert Notification.objects.get(recipient=gone).email_status == EmailStatus.NONE


@pytest.mark.django_db
def test_the_default_channel_of_a_kind_applies_without_a_choice(make_user: Any) -> None:
    user = make_user()
    services.notify("entry.case_ready", [user.pk], subject="Ready")  # operators: inbox default
    assert Notification.objects.get(recipient=user).email_status == EmailStatus.NONE


class _Broken(EmailBackend):
    def send_messages(self, messages: Any) -> int:
        raise ConnectionRefusedError("mail server down")


@pytest.mark.django_db
def test_a_failed_send_is_retried_with_backoff_up_to_a_cap(make_user: Any, settings: Any) -> None:
    import datetime as dt

    from django.utils import timezone

    user = make_user()
    _notify([user.pk])
    n = Notification.objects.get(recipient=user)
    now = timezone.now()
    assert services.due_for_retry(now) == []  # its task is queued: not the sweep's yet
    assert services.due_for_retry(now + services.PENDING_GRACE) == [n.pk]  # task lost: sweep
    settings.EMAIL_BACKEND = f"{__name__}._Broken"
    assert services.deliver(n.pk, now) == "failed"
    n.refresh_from_db()
    assert n.email_status == EmailStatus.FAILED and "mail server down" in n.email_error
    assert services.due_for_retry(now) == []
    later = now + dt.timedelta(minutes=5)
    assert services.due_for_retry(later) == [n.pk]
    for _ in range(services.MAX_EMAIL_ATTEMPTS - 1):
        assert services.deliver(n.pk, later) == "failed"
    n.refresh_from_db()
    assert n.email_attempts == services.MAX_EMAIL_ATTEMPTS and n.email_next_attempt_at is None
    assert services.due_for_retry(later + dt.timedelta(days=30)) == []  # given up
    assert services.deliver(n.pk, later) == "gave up"


@pytest.mark.django_db
def test_the_retry_sweep_sends_what_failed(
    make_user: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    import datetime as dt

    from django.utils import timezone

    from flexreg.core import scheduler

    user = make_user()
    _notify([user.pk])
    n = Notification.objects.get(recipient=user)
    settings.EMAIL_BACKEND = f"{__name__}._Broken"
    services.deliver(n.pk)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.TASKS = IMMEDIATE
    mail.outbox.clear()
    later = timezone.now() + dt.timedelta(hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        results = scheduler.run_due(now=later, only={"notifications.email_retry"})
    assert results == {"notifications.email_retry": 1}
    assert len(mail.outbox) == 1
    n.refresh_from_db()
    assert n.email_status == EmailStatus.SENT and n.email_attempts == 2


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_send_the_same_email_twice(make_user: Any) -> None:
    user = make_user()
    _notify([user.pk])  # default task backend: queued in the database, not run
    n = Notification.objects.get(recipient=user)
    mail.outbox.clear()
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def worker() -> None:
        try:
            start.wait()
            outcomes.append(services.deliver(n.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["sent", "skipped"]
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_the_database_worker_sends_the_queued_email(make_user: Any) -> None:
    from django.core.management import call_command

    user = make_user()
    mail.outbox.clear()
    _notify([user.pk])  # committed at once (no transaction): the task is in the queue
    assert mail.outbox == []
    call_command("db_worker", batch=True, interval=0, reload=False, verbosity=0)
    assert len(mail.outbox) == 1
    assert Notification.objects.get(recipient=user).email_status == EmailStatus.SENT
