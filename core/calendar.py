"""The NYSE session calendar (holidays and 13:00 early closes) from exchange_calendars.

Times are tz-aware. Market rules are expressed in America/New_York; the database stores UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import pandas as pd

NY = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")
REGULAR_CLOSE = time(16, 0)


@dataclass(frozen=True)
class Session:
    """One trading day: its open and close as NY-aware datetimes."""

    day: date
    open: datetime
    close: datetime

    @property
    def early_close(self) -> bool:
        return self.close.timetz().replace(tzinfo=None) < REGULAR_CLOSE

    @property
    def minutes(self) -> int:
        return int((self.close - self.open).total_seconds() // 60)

    def at(self, minutes_from_open: int) -> datetime:
        return self.open + timedelta(minutes=minutes_from_open)

    def before_close(self, minutes: int) -> datetime:
        return self.close - timedelta(minutes=minutes)


@lru_cache(maxsize=1)
def _xnys():  # type: ignore[no-untyped-def]
    import exchange_calendars as xcals

    return xcals.get_calendar("XNYS", start="2000-01-01")


def _to_session(label: pd.Timestamp) -> Session:
    cal = _xnys()
    open_ = cal.session_open(label).tz_convert(NY).to_pydatetime()
    close = cal.session_close(label).tz_convert(NY).to_pydatetime()
    return Session(label.date(), open_, close)


@lru_cache(maxsize=4096)
def session_for(day: date) -> Session | None:
    """The session on `day`, or None for weekends and holidays."""
    cal = _xnys()
    label = pd.Timestamp(day)
    if label < cal.first_session or label > cal.last_session or not cal.is_session(label):
        return None
    return _to_session(label)


def sessions_between(start: date, end: date) -> list[Session]:
    """All sessions with start <= day <= end."""
    cal = _xnys()
    labels = cal.sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))
    return [session_for(lbl.date()) for lbl in labels]  # type: ignore[misc]


def last_sessions(end: date, count: int) -> list[Session]:
    """The `count` sessions ending on or before `end`, oldest first."""
    cal = _xnys()
    label = pd.Timestamp(end)
    if not cal.is_session(label):
        label = cal.date_to_session(label, direction="previous")
    labels = cal.sessions_window(label, -count)
    return [session_for(lbl.date()) for lbl in labels]  # type: ignore[misc]


def next_session(after: date) -> Session:
    """The first session strictly after `after`."""
    cal = _xnys()
    label = cal.date_to_session(pd.Timestamp(after) + pd.Timedelta(days=1), direction="next")
    return session_for(label.date())  # type: ignore[return-value]


def latest_closed(moment: datetime, grace: timedelta = timedelta(0)) -> Session:
    """The newest session whose close + `grace` is at or before `moment` (a simulated clock jumps
    from one close to the next open, so the day after a close counts as after it)."""
    day = (moment if moment.tzinfo is NY else moment.astimezone(NY)).date()
    today = session_for(day)
    if today is not None and moment >= today.close + grace:
        return today
    return last_sessions(day - timedelta(days=1), 1)[0]


def session_containing(moment: datetime) -> Session | None:
    """The session whose [open, close] contains `moment`, if any."""
    s = session_for((moment if moment.tzinfo is NY else moment.astimezone(NY)).date())
    if s is not None and s.open <= moment <= s.close:
        return s
    return None


def cycle_times(session: Session) -> list[datetime]:
    """Every cycle time of a session: one minute after the open through the close."""
    return [session.open + timedelta(minutes=m) for m in range(1, session.minutes + 1)]


@dataclass(frozen=True)
class MissedMinutes:
    """Cycle minutes of open sessions that no cycle ran for: how many, the first and the last."""

    count: int
    first: datetime | None = None
    last: datetime | None = None


def cycle_minutes_between(after: datetime, before: datetime) -> MissedMinutes:
    """The cycle minutes strictly after `after` and strictly before `before` (a worker that
    cycled at `after` and next at `before` missed these while the market was open)."""
    if before <= after:
        return MissedMinutes(0)
    start, end = after.astimezone(NY), before.astimezone(NY)
    count, first, last = 0, None, None
    for session in sessions_between(start.date(), end.date()):
        low = max(start + timedelta(minutes=1), session.open + timedelta(minutes=1))
        high = min(end - timedelta(minutes=1), session.close)
        if low.second or low.microsecond:  # the next whole minute
            low = low.replace(second=0, microsecond=0) + timedelta(minutes=1)
        high = high.replace(second=0, microsecond=0)
        if high < low:
            continue
        count += int((high - low).total_seconds() // 60) + 1
        first = first or low
        last = high
    return MissedMinutes(count, first, last)
