"""Clocks for the worker: the simulated one steps from bar to bar across sessions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from core.calendar import NY, Session, next_session, session_containing, session_for


class SimClock:
    """Simulated time: one minute per step inside a session, then the next session's first cycle.

    `next_session_after` decides which session follows (the calendar for synthetic data, the
    days present in the files for CSV replay); it returns None when there is no more data.
    The clock only moves past a minute whose cycle committed: `commit()` after a cycle's rows
    are written, `rewind()` after a failed cycle, so the next `advance()` retries that minute.
    """

    finite = True  # advance() returning None means the data has run out

    def __init__(self, start: datetime, next_session_after: Callable[[date], Session | None] | None = None) -> None:
        self._next = next_session_after or next_session
        self.now = start
        self.committed = start  # the last minute whose cycle committed (or the start)

    @staticmethod
    def at_session_start(day: date, next_session_after: Callable[[date], Session | None] | None = None) -> SimClock:
        """A clock before the first cycle of the first session on or after `day`."""
        session = session_for(day) or (next_session_after or next_session)(day)
        if session is None:
            raise ValueError(f"no session on or after {day}")
        return SimClock(session.open, next_session_after)

    def advance(self) -> datetime | None:
        """Move to the next cycle time; None when the data has run out."""
        session = session_containing(self.now)
        if session is not None and self.now < session.close:
            self.now = self.now + timedelta(minutes=1)
            return self.now
        following = self._next(self.now.date())
        if following is None:
            return None
        self.now = following.open + timedelta(minutes=1)
        return self.now

    def commit(self) -> None:
        """The cycle at `now` committed: the clock may move past it."""
        self.committed = self.now

    def rewind(self) -> None:
        """The cycle at `now` failed: the next advance() runs that minute again."""
        self.now = self.committed


class BrokerClock:
    """Real time from the broker's clock: one cycle per new minute while the market is open.

    The cycle for minute t runs once the broker's time has passed t by `settle_s` (bar
    publication lags the minute by a moment). Paper and live only; the broker's clock is the
    authority on whether the market is open (holidays, early closes).
    """

    finite = False

    def __init__(self, read_clock: Callable[[], tuple[datetime, bool]], settle_s: float = 2.0) -> None:
        self._read = read_clock
        self.settle = timedelta(seconds=settle_s)
        self.now: datetime | None = None
        self._last: datetime | None = None

    def advance(self) -> datetime | None:
        """The next cycle time, or None when there is nothing to run yet (or the market is shut)."""
        stamp, is_open = self._read()
        self.now = stamp.astimezone(NY)
        if not is_open:
            return None
        minute = (self.now - self.settle).replace(second=0, microsecond=0)
        if self._last is not None and minute <= self._last:
            return None
        self._last = minute
        return minute

    def commit(self) -> None:
        """Real time does not wait: a committed minute changes nothing here."""

    def rewind(self) -> None:
        """A failed minute of real time is not retried (the market moved on); the worker records
        the hole as a `worker_gap` event when the next cycle commits."""
