"""The scheduler runs each due periodic job once, whatever the number of workers, survives a
failing job, and takes "now" from its caller (how tests move time)."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from flexreg.core import scheduler
from flexreg.core.models import ScheduledJob

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def jobs(monkeypatch: Any) -> dict[str, list[dt.datetime]]:
    """Two test jobs instead of the real ones (the registry is the module's dict)."""
    ran: dict[str, list[dt.datetime]] = {"fine": [], "broken": []}
    lock = threading.Lock()

    def fine(now: dt.datetime) -> int:
        with lock:
            ran["fine"].append(now)
        return len(ran["fine"])

    def broken(now: dt.datetime) -> None:
        ran["broken"].append(now)
        raise RuntimeError("boom")

    monkeypatch.setattr(
        scheduler,
        "JOBS",
        {
            "test.fine": scheduler.Job("test.fine", dt.timedelta(minutes=10), fine),
            "test.broken": scheduler.Job("test.broken", dt.timedelta(minutes=10), broken),
        },
    )
    return ran


def test_a_due_job_runs_once_and_again_only_when_due(jobs: dict[str, list[Any]]) -> None:
    now = timezone.now()
    scheduler.run_due(now=now)
    scheduler.run_due(now=now + dt.timedelta(minutes=5))
    assert len(jobs["fine"]) == 1
    scheduler.run_due(now=now + dt.timedelta(minutes=11))
    assert jobs["fine"] == [now, now + dt.timedelta(minutes=11)]
    row = ScheduledJob.objects.get(name="test.fine")
    assert row.runs == 2 and row.next_run_at == now + dt.timedelta(minutes=21)


def test_a_failing_job_is_recorded_and_does_not_stop_the_others(
    jobs: dict[str, list[Any]],
) -> None:
    results = scheduler.run_due(now=timezone.now())
    assert isinstance(results["test.broken"], RuntimeError)
    assert results["test.fine"] == 1
    assert ScheduledJob.objects.get(name="test.broken").last_error == "RuntimeError: boom"


def test_concurrent_workers_run_each_due_job_once(jobs: dict[str, list[Any]]) -> None:
    now = timezone.now()
    scheduler.run_due(now=now - dt.timedelta(hours=1))  # create the rows
    jobs["fine"].clear()
    start = threading.Barrier(4)

    def worker() -> None:
        start.wait()
        try:
            scheduler.run_due(now=now)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert jobs["fine"] == [now]


def test_housekeeping_prunes_expired_counters_and_credentials() -> None:
    from flexreg.accounts.housekeeping import prune_expired_credentials
    from flexreg.core.housekeeping import prune_rate_limits
    from flexreg.core.models import RateLimitCounter

    now = timezone.now()
    RateLimitCounter.objects.create(
        key="old", count=1, window_start=now, expires_at=now - dt.timedelta(hours=1)
    )
    RateLimitCounter.objects.create(
        key="live", count=1, window_start=now, expires_at=now + dt.timedelta(hours=1)
    )
    assert prune_rate_limits(now) == 1
    assert list(RateLimitCounter.objects.values_list("key", flat=True)) == ["live"]
    assert prune_expired_credentials(now) == {
        "service_account_tokens": 0,
        "client_assertion_jtis": 0,
    }


def test_the_schedule_command_lists_and_runs_jobs(jobs: dict[str, list[Any]]) -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("schedule", "run", "--now", "2030-01-01T09:00:00+00:00", stdout=out)
    assert "test.fine: 1" in out.getvalue()
    assert jobs["fine"] == [dt.datetime(2030, 1, 1, 9, tzinfo=dt.UTC)]
    listing = StringIO()
    call_command("schedule", "list", stdout=listing)
    assert "test.broken" in listing.getvalue() and "RuntimeError: boom" in listing.getvalue()


def test_a_non_atomic_job_runs_after_its_claim_commits_outside_any_transaction(
    monkeypatch: Any,
) -> None:
    """``atomic=False`` (a job that calls outside services, such as the asset checks' retry
    sweep): the claim is committed first, so the job holds no lock of the scheduler's and
    runs outside any transaction; a failure is still recorded. An atomic job runs inside the
    claiming transaction."""
    seen: dict[str, Any] = {}

    def outside(now: dt.datetime) -> None:
        seen["outside"] = connection.in_atomic_block
        # Another worker finds the run claimed and rescheduled already.
        seen["next_run_at"] = ScheduledJob.objects.get(name="test.outside").next_run_at
        raise RuntimeError("service down")

    def inside(now: dt.datetime) -> None:
        seen["inside"] = connection.in_atomic_block

    monkeypatch.setattr(
        scheduler,
        "JOBS",
        {
            "test.outside": scheduler.Job("test.outside", dt.timedelta(minutes=5), outside, False),
            "test.inside": scheduler.Job("test.inside", dt.timedelta(minutes=5), inside),
        },
    )
    now = timezone.now()
    results = scheduler.run_due(now=now)
    assert seen["outside"] is False and seen["inside"] is True
    assert seen["next_run_at"] == now + dt.timedelta(minutes=5)
    assert isinstance(results["test.outside"], RuntimeError)
    row = ScheduledJob.objects.get(name="test.outside")
    assert row.last_error == "RuntimeError: service down" and row.runs == 1
    assert scheduler.run_due(now=now + dt.timedelta(minutes=1)) == {}  # not due again yet
