"""Replaying recorded days: the market a paper or live worker saw, rebuilt from its recordings
(`worker/cycle/recorder.py`), for `python -m worker.backtest --source recorded[:URL]`.

`RecordedWorld` serves the recorded bars, VIX and daily VIX history; `RecordedMarket` serves
them as the live market did (the price is the last completed close, VIX the value the cycle
read that minute) and prices options from the recorded quotes, not from the surface model: the
chain at a minute is the quotes recorded at that minute, and the simulated broker fills against
the newest recorded quote at or before its moment. Recordings are read from the worker's
database (DATABASE_URL, or the URL after `recorded:`); the replay writes to its own. A day is
read whole the first time any of it is asked for (worker/offline/recorded_day.py), a few days
at a time.
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
from sqlalchemy import Engine, String, select, type_coerce

from core.calendar import NY, Session, session_for
from core.market.bars import SessionBars
from core.market.sim_market import SimMarket
from core.options.chain import ChainSnapshot
from core.protocols import BarView
from core.types import OptionContract, Quote
from db.models import Bar, VixHistory
from worker.cycle.recorder import VIX_SYMBOL
from worker.offline.recorded_day import RecordedDay, epoch_micros, read_day


class RecordedWorld:
    """The recorded bars of each session and symbol, VIX per minute and the daily VIX history."""

    def __init__(self, engine: Engine, symbols: tuple[str, ...] = ("SPY", "QQQ")) -> None:
        self.engine = engine
        self.symbols = symbols
        self._days: dict[date, RecordedDay] = {}
        self._vix_paths: dict[date, np.ndarray] = {}

    def sessions(self, start: date | None = None, end: date | None = None) -> list[Session]:
        with self.engine.connect() as conn:
            times = pd.read_sql(
                select(type_coerce(Bar.time, String).label("time")).where(Bar.symbol == self.symbols[0]), conn
            )["time"]
        micros = np.unique(epoch_micros(times) // 86_400_000_000) if len(times) else np.empty(0, dtype=np.int64)
        days = [date.fromordinal(date(1970, 1, 1).toordinal() + int(d)) for d in micros]  # UTC dates
        out = []
        for d in days:
            s = session_for(d)
            if s is not None and (start is None or d >= start) and (end is None or d <= end):
                out.append(s)
        return out

    def day(self, session: Session) -> RecordedDay:
        """The session's recordings, read once (a replay walks forward: a few days are kept)."""
        found = self._days.get(session.day)
        if found is None:
            found = read_day(self.engine, session, (*self.symbols, VIX_SYMBOL))
            if len(self._days) >= 4:
                self._days.pop(next(iter(self._days)))
            self._days[session.day] = found
        return found

    def session_bars(self, session: Session, symbol: str) -> SessionBars:
        return self.day(session).bars[symbol]

    def source(self, session: Session, symbol: str) -> tuple[str, bool]:
        return self.day(session).sources[symbol]

    def vix_path(self, session: Session) -> np.ndarray:
        """Element k: the VIX the cycle read at open + k + 1 minutes (carried forward)."""
        found = self._vix_paths.get(session.day)
        if found is None:
            bars = self.session_bars(session, VIX_SYMBOL)
            path = np.full(session.minutes, np.nan)
            k = ((bars.start - session.open.timestamp()) // 60).astype(np.int64) - 1
            inside = (k >= 0) & (k < path.size)
            path[k[inside]] = bars.close[inside]
            found = pd.Series(path).ffill().to_numpy()
            if len(self._vix_paths) >= 8:
                self._vix_paths.pop(next(iter(self._vix_paths)))
            self._vix_paths[session.day] = found
        return found

    def vix_open(self, day: date) -> float:
        s = session_for(day)
        path = self.vix_path(s) if s is not None else np.empty(0)
        finite = path[np.isfinite(path)]
        return float(finite[0]) if finite.size else float("nan")

    def vix_closes_before(self, day: date, count: int = 252) -> np.ndarray:
        with self.engine.connect() as conn:
            closes = conn.execute(select(VixHistory.closes).where(VixHistory.day == day.isoformat())).scalar()
        return np.asarray(closes or [], dtype=float)[-count:]


class RecordedMarket(SimMarket):
    """MarketData over a RecordedWorld, priced from the recorded quotes."""

    def __init__(self, world: RecordedWorld) -> None:
        super().__init__(world, source="recorded")  # type: ignore[arg-type]
        self.recorded = world

    def bars(self, symbol: str, now: datetime) -> BarView:
        view = super().bars(symbol, now)
        session = self.session(now)
        if session is not None:
            view.source, view.degraded = self.recorded.source(session, symbol)
        return view

    def spot(self, symbol: str, now: datetime) -> float:
        return self.bars(symbol, now).last_close  # as the live market: the last completed close

    def spot_at(self, symbol: str, moment: datetime) -> float:
        return self.spot(symbol, moment.replace(second=0, microsecond=0))

    def chain(self, underlying: str, now: datetime, strikes_each_side: int = 12) -> ChainSnapshot | None:
        """The quotes recorded by the cycle of this very minute (None: it recorded none)."""
        session = self.session(now)
        quotes = None if session is None else self.recorded.day(session).quotes.get(underlying)
        if quotes is None:
            return None
        k = quotes.minute_at_or_before(now.timestamp())
        if k < 0 or float(quotes.minutes[k]) != now.timestamp():
            return None
        return quotes.chain(k, now)

    def quote(self, contract: OptionContract, now: datetime) -> Quote | None:
        return self.quote_at(contract, now)

    def quote_at(self, contract: OptionContract, moment: datetime) -> Quote | None:
        """The newest recorded quote of the contract at or before `moment`, from the last cycle
        that recorded quotes of its underlying."""
        session = session_for(moment.astimezone(NY).date())  # cached
        if session is None:
            return None
        quotes = self.recorded.day(session).quotes.get(contract.underlying)
        if quotes is None:
            return None
        k = quotes.minute_at_or_before(moment.timestamp())
        return None if k < 0 else quotes.quote(k, contract)
