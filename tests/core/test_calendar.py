"""Market minutes that no cycle ran for: only minutes of open sessions count."""

from __future__ import annotations

from datetime import date, timedelta

from core.calendar import cycle_minutes_between, session_for


def test_missed_minutes_count_only_open_market_minutes() -> None:
    tuesday, wednesday = session_for(date(2026, 3, 10)), session_for(date(2026, 3, 11))
    assert tuesday is not None and wednesday is not None
    assert cycle_minutes_between(tuesday.at(30), tuesday.at(31)).count == 0, "consecutive cycles"
    missed = cycle_minutes_between(tuesday.at(30), tuesday.at(35))
    assert (missed.count, missed.first, missed.last) == (4, tuesday.at(31), tuesday.at(34))
    assert cycle_minutes_between(tuesday.close, wednesday.at(1)).count == 0, "the night is not a gap"
    overnight = cycle_minutes_between(tuesday.close - timedelta(minutes=10), wednesday.at(3))
    assert (overnight.count, overnight.first, overnight.last) == (12, tuesday.at(381), wednesday.at(2))
    friday, monday = session_for(date(2026, 3, 6)), session_for(date(2026, 3, 9))
    assert friday is not None and monday is not None
    assert cycle_minutes_between(friday.close, monday.at(1)).count == 0, "the weekend is not a gap"
    assert cycle_minutes_between(monday.at(5), monday.at(5)).count == 0
