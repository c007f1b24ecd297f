"""Clocks for the worker: the simulated one steps from bar to bar across sessions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from core.calendar import Session, next_session, session_containing, session_for


class SimClock:
    """Simulated time: one minute per step inside a session, then the next session's first cycle.

    `next_session_after` decides which session follows (the calendar for synthetic data, the
    days present in the files for CSV replay); it returns None when there is no more data.
    """

    def __init__(self, start: datetime, next_session_after: Callable[[date], Session | None] | None = None) -> None:
        self._next = next_session_after or next_session
        self.now = start

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
