"""Working days: weekends and the rules' bank holidays are skipped."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from flexreg.entry.working_days import add_working_days, is_working_day, working_days_between

LONDON = ZoneInfo("Europe/London")
XMAS = ["2026-12-25", "2026-12-28", "2027-01-01"]


def test_friday_plus_one_is_monday() -> None:
    assert add_working_days(dt.date(2026, 11, 27), 1, []) == dt.date(2026, 11, 30)


def test_zero_days_is_the_same_day() -> None:
    assert add_working_days(dt.date(2026, 11, 28), 0, []) == dt.date(2026, 11, 28)


def test_bank_holidays_are_skipped_given_as_strings_or_dates() -> None:
    # Thu 24 Dec + 2 working days: Fri 25 (holiday), Mon 28 (holiday) -> Tue 29, Wed 30.
    assert add_working_days(dt.date(2026, 12, 24), 2, XMAS) == dt.date(2026, 12, 30)
    as_dates = [dt.date.fromisoformat(d) for d in XMAS]
    assert add_working_days(dt.date(2026, 12, 24), 2, as_dates) == dt.date(2026, 12, 30)


def test_negative_counts_backwards() -> None:
    assert add_working_days(dt.date(2026, 11, 30), -1, []) == dt.date(2026, 11, 27)
    assert add_working_days(dt.date(2026, 12, 29), -1, XMAS) == dt.date(2026, 12, 24)


def test_a_datetime_keeps_its_time_of_day_across_a_clock_change() -> None:
    # Fri 23 Oct 2026 16:00 BST + 2 working days -> Tue 27 Oct 16:00 GMT (clocks went back).
    start = dt.datetime(2026, 10, 23, 16, 0, tzinfo=LONDON).astimezone(dt.UTC)
    moved = add_working_days(start, 2, [])
    assert moved.astimezone(LONDON) == dt.datetime(2026, 10, 27, 16, 0, tzinfo=LONDON)
    assert moved.tzinfo == dt.UTC


def test_an_aware_datetime_counts_on_the_london_calendar_day() -> None:
    # 23:30 UTC on Friday 5 June is 00:30 on Saturday in London: not a working day.
    late = dt.datetime(2026, 6, 5, 23, 30, tzinfo=dt.UTC)
    assert not is_working_day(late, [])
    assert is_working_day(dt.datetime(2026, 6, 5, 12, 0, tzinfo=dt.UTC), [])


def test_working_days_between() -> None:
    assert working_days_between(dt.date(2026, 11, 27), dt.date(2026, 11, 30), []) == 1
    assert working_days_between(dt.date(2026, 11, 30), dt.date(2026, 11, 30), []) == 0
    assert working_days_between(dt.date(2026, 11, 30), dt.date(2026, 11, 27), []) == -1
    assert working_days_between(dt.date(2026, 12, 24), dt.date(2026, 12, 31), XMAS) == 3
    assert working_days_between(dt.date(2026, 11, 1), dt.date(2026, 11, 29), []) == 20


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 7, 10, 23, 60])
@pytest.mark.parametrize("start", [dt.date(2026, 12, 19) + dt.timedelta(days=i) for i in range(8)])
def test_between_inverts_add(start: dt.date, n: int) -> None:
    assert working_days_between(start, add_working_days(start, n, XMAS), XMAS) == n
