"""Working days: Monday to Friday, less the bank holidays the rules list.

Service levels ("reviewed within two working days") and back-office ageing count working days.
``bank_holidays`` is any iterable of dates or ISO date strings (the compiled rules hold
``service_levels.bank_holidays`` as strings). Aware datetimes are counted on their local
(Europe/London) calendar date; ``add_working_days`` keeps the time of day of a datetime.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TypeVar, overload

from django.utils import timezone

When = TypeVar("When", dt.date, dt.datetime)

_MAX_DAYS = 100_000  # guards against a nonsense ``n`` looping for ever


def holidays(bank_holidays: Iterable[dt.date | str] | None) -> frozenset[dt.date]:
    """The bank holidays as a set of dates (strings parsed as YYYY-MM-DD)."""
    days: set[dt.date] = set()
    for day in bank_holidays or ():
        if isinstance(day, dt.datetime):
            days.add(day.date())
        elif isinstance(day, dt.date):
            days.add(day)
        else:
            days.add(dt.date.fromisoformat(str(day)))
    return frozenset(days)


def _day(value: dt.date | dt.datetime) -> dt.date:
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.date()
    return value


def is_working_day(day: dt.date | dt.datetime, bank_holidays: Iterable[dt.date | str]) -> bool:
    d = _day(day)
    return d.weekday() < 5 and d not in holidays(bank_holidays)


@overload
def add_working_days(
    start: dt.datetime, n: int, bank_holidays: Iterable[dt.date | str] | None = ...
) -> dt.datetime: ...
@overload
def add_working_days(
    start: dt.date, n: int, bank_holidays: Iterable[dt.date | str] | None = ...
) -> dt.date: ...
def add_working_days(
    start: dt.date | dt.datetime, n: int, bank_holidays: Iterable[dt.date | str] | None = None
) -> dt.date | dt.datetime:
    """The day ``n`` working days after ``start`` (``start`` itself is not counted).

    ``n == 0`` returns ``start`` unchanged; a negative ``n`` counts backwards. A datetime keeps
    its time of day (and time zone): Friday 16:00 plus one working day is Monday 16:00.
    """
    if abs(n) > _MAX_DAYS:
        raise ValueError(f"n must be at most {_MAX_DAYS} working days")
    off = holidays(bank_holidays)
    if isinstance(start, dt.datetime) and timezone.is_aware(start):
        local = timezone.localtime(start)
        day = local.date()
    else:
        local = None
        day = _day(start)
    step = 1 if n >= 0 else -1
    remaining = abs(n)
    while remaining:
        day += dt.timedelta(days=step)
        if day.weekday() < 5 and day not in off:
            remaining -= 1
    if isinstance(start, dt.datetime):
        if local is not None:
            moved = dt.datetime.combine(day, local.time(), tzinfo=local.tzinfo)
            return moved.astimezone(start.tzinfo)
        return dt.datetime.combine(day, start.time())
    return day


def working_days_between(
    a: dt.date | dt.datetime,
    b: dt.date | dt.datetime,
    bank_holidays: Iterable[dt.date | str] | None = None,
) -> int:
    """How many working days lie after ``a`` up to and including ``b``.

    Friday to the next Monday is 1; the same day is 0; negative when ``b`` is before ``a``.
    So ``working_days_between(x, add_working_days(x, n)) == n`` for a date ``x``.
    """
    first, last = _day(a), _day(b)
    if last < first:
        return -working_days_between(b, a, bank_holidays)
    off = holidays(bank_holidays)
    span = (last - first).days
    weeks, extra = divmod(span, 7)
    count = weeks * 5
    day = first + dt.timedelta(days=weeks * 7)
    for _ in range(extra):
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            count += 1
    count -= sum(1 for h in off if first < h <= last and h.weekday() < 5)
    return count
