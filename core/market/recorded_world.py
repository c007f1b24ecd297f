"""What every world of recorded days shares: its sessions, a small cache of built session bars,
and the VIX known at each minute from the folder's volatility indexes.

`CsvWorld` (real 1-minute bars) and `ChainWorld` (imported same-day chains) differ only in how a
session's underlying bars are built and whether SPY's bars exist that day; the VIX path of a
session is then the same rule for both (core/market/vol_indexes.py), written here once.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from core.calendar import Session, session_for
from core.market.bars import SessionBars
from core.market.vol_indexes import VolIndexes

CACHED_SESSIONS = 8  # a few sessions at a time: replays walk forward


class RecordedWorld:
    """Sessions of recorded days with the VIX of a folder; subclasses build the bars."""

    days: list[date]
    symbols: tuple[str, ...]
    indexes: VolIndexes

    def __init__(self) -> None:
        self._built: dict[tuple[date, str], SessionBars] = {}
        self._vix_paths: dict[date, np.ndarray] = {}

    def _build(self, session: Session, symbol: str) -> SessionBars:
        """One session's bars for `symbol` (KeyError when the world has none that day)."""
        raise NotImplementedError

    def _has_spy(self, session: Session) -> bool:
        """Whether SPY's bars exist on the session's day (they move the VIX between hourly prints)."""
        return "SPY" in self.symbols

    def sessions(self, start: date | None = None, end: date | None = None) -> list[Session]:
        """The recorded days that are trading sessions, within [start, end] when given."""
        out = []
        for d in self.days:
            if (start is None or d >= start) and (end is None or d <= end):
                session = session_for(d)
                if session is not None:
                    out.append(session)
        return out

    def session_bars(self, session: Session, symbol: str) -> SessionBars:
        """One session's checked bars, built once (the market and the broker ask every minute)."""
        key = (session.day, symbol)
        found = self._built.get(key)
        if found is None:
            found = self._build(session, symbol)
            if len(self._built) >= CACHED_SESSIONS:
                self._built.pop(next(iter(self._built)))
            self._built[key] = found
        return found

    def vix_open(self, day: date) -> float:
        """The VIX known at the open (the last hourly close before it, else the daily open)."""
        session = session_for(day)
        return self.indexes.vix_open(day) if session is None else self.indexes.start_of_session(session)

    def vix1d_open(self, day: date) -> float:
        return self.indexes.vix1d_open(day)

    def vix_path(self, session: Session) -> np.ndarray:
        """VIX at the end of each minute (core/market/vol_indexes.py: hourly VIX or the daily open,
        moved by SPY)."""
        found = self._vix_paths.get(session.day)
        if found is None:
            spy = self.session_bars(session, "SPY") if self._has_spy(session) else None
            found = self._vix_paths[session.day] = self.indexes.path(session, spy)
            if len(self._vix_paths) > CACHED_SESSIONS:
                self._vix_paths.pop(next(iter(self._vix_paths)))
        return found

    def vix_closes_before(self, day: date, count: int = 252) -> np.ndarray:
        return self.indexes.vix_closes_before(day, count)
