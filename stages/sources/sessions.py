"""Exchange sessions from exchange_calendars; a calendar built for a window of years serves every window inside it."""

from __future__ import annotations

from datetime import date, timedelta

import exchange_calendars as xcals  # type: ignore[import-untyped]
import pandas as pd  # type: ignore[import-untyped]
import polars as pl

#: slack around a requested window so previous/next session lookups stay inside the calendar
_PAD = timedelta(days=15)
#: the calendars built so far, by (name, first year, last year)
_BUILT: dict[tuple[str, int, int], xcals.ExchangeCalendar] = {}


def _calendar(name: str, first: date, last: date) -> xcals.ExchangeCalendar:
    """A calendar covering first..last, widened to whole years so ingest, audit and postflight share one build.

    A calendar already built over a wider window is reused: building one costs a quarter of a second
    (holiday rules), and a run asks for a few nested windows.
    """
    for (built, first_year, last_year), cal in _BUILT.items():
        if built == name and first_year <= first.year and last.year <= last_year:
            return cal
    return _build(name, first.year, last.year)


def _build(name: str, first_year: int, last_year: int) -> xcals.ExchangeCalendar:
    start, end = date(first_year, 1, 1) - _PAD, date(last_year, 12, 31) + _PAD
    if len(_BUILT) >= 16:
        _BUILT.clear()
    cal = _BUILT[name, first_year, last_year] = xcals.get_calendar(
        name, start=pd.Timestamp(start), end=pd.Timestamp(end)
    )
    return cal


def sessions_between(name: str, first: date, last: date) -> pl.Series:
    """Every session of the calendar from first to last, inclusive, as a pl.Date series."""
    cal = _calendar(name, first, last)
    found = cal.sessions_in_range(pd.Timestamp(first), pd.Timestamp(last))
    naive = found.tz_localize(None) if found.tz is not None else found
    return pl.Series("date", naive.to_numpy().astype("datetime64[D]")).cast(pl.Date)


def sessions_from(name: str, start: date, count: int) -> pl.Series:
    """The first `count` sessions on or after start (raises ValueError if the calendar has fewer)."""
    last = start + timedelta(days=int(count * 1.5) + 30)  # ~252 sessions a 365-day year
    found = sessions_between(name, start, last)
    if found.len() < count:
        raise ValueError(f"calendar {name} has only {found.len()} sessions from {start}, {count} requested")
    return found.head(count)


def previous_session(name: str, day: date) -> date:
    """The last session strictly before day (by the calendar: a Monday after a holiday Friday gives Thursday)."""
    cal = _calendar(name, day - timedelta(days=30), day)
    stamp = pd.Timestamp(day)
    found: date = (
        cal.previous_session(stamp) if cal.is_session(stamp) else cal.date_to_session(stamp, direction="previous")
    ).date()
    return found
