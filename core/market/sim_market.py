"""The simulated market: serves bars, VIX and option quotes from a synthetic or CSV world.

Only completed bars are visible; the live price at `now` is the open of the bar starting at
`now`, which no decision has seen as a bar. Option quotes are priced from that price, VIX and
the minutes left to the close.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

import numpy as np

from core.calendar import Session, session_containing
from core.market.bars import SessionBars
from core.options.chain import ChainSnapshot, build_chain, quote_contract
from core.options.surface import DEFAULT_SURFACE, SurfaceParams
from core.protocols import BarView
from core.types import OptionContract, Quote


class World(Protocol):
    symbols: tuple[str, ...]

    def session_bars(self, session: Session, symbol: str) -> SessionBars: ...

    def vix_path(self, session: Session) -> np.ndarray: ...

    def vix_open(self, day: date) -> float: ...

    def vix_closes_before(self, day: date, count: int = 252) -> np.ndarray: ...


class SimMarket:
    """MarketData over a World. `source` names the world in each decision row."""

    def __init__(self, world: World, source: str = "sim", surface: SurfaceParams = DEFAULT_SURFACE) -> None:
        self.world = world
        self.symbols = world.symbols
        self.source = source
        self.surface = surface
        self._vix_hist: dict[date, np.ndarray] = {}
        self._last: tuple[datetime | None, Session | None] = (None, None)
        self._quotes: dict[tuple[OptionContract, datetime], Quote | None] = {}
        self._bars_memo: tuple[datetime | None, dict[str, SessionBars]] = (None, {})
        self._vix_memo: tuple[datetime | None, float] = (None, float("nan"))

    def session(self, now: datetime) -> Session | None:
        if self._last[0] != now:
            self._last = (now, session_containing(now))
        return self._last[1]

    def _bars(self, now: datetime, symbol: str) -> SessionBars | None:
        if self._bars_memo[0] != now:
            self._bars_memo = (now, {})
        found = self._bars_memo[1].get(symbol)
        if found is None:
            session = self.session(now)
            if session is None:
                return None
            found = self._bars_memo[1][symbol] = self.world.session_bars(session, symbol)
        return found

    def bars(self, symbol: str, now: datetime) -> BarView:
        bars = self._bars(now, symbol)
        if bars is None:
            raise LookupError(f"no session open at {now.isoformat()}")
        return BarView(bars, bars.completed_count(now), self.source)

    def spot(self, symbol: str, now: datetime) -> float:
        bars = self._bars(now, symbol)
        if bars is None or len(bars) == 0:
            return float("nan")
        i = bars.index_at_or_after(now)
        return float(bars.open[i]) if i is not None else float(bars.close[-1])

    def vix(self, now: datetime) -> float:
        if self._vix_memo[0] == now:
            return self._vix_memo[1]
        session = self.session(now)
        value = float("nan")
        if session is not None:
            path = self.world.vix_path(session)
            done = int((now - session.open).total_seconds() // 60)
            value = float(path[min(done, len(path)) - 1]) if done > 0 else self.world.vix_open(session.day)
        self._vix_memo = (now, value)
        return value

    def vix_history(self, day: date) -> np.ndarray:
        if day not in self._vix_hist:
            self._vix_hist[day] = self.world.vix_closes_before(day, 252)
        return self._vix_hist[day]

    def minutes_left(self, now: datetime) -> float:
        session = self.session(now)
        return 0.0 if session is None else max((session.close - now).total_seconds() / 60.0, 0.0)

    def chain(self, underlying: str, now: datetime, strikes_each_side: int = 12) -> ChainSnapshot | None:
        session = self.session(now)
        spot = self.spot(underlying, now)
        if session is None or not np.isfinite(spot):
            return None
        return build_chain(
            underlying, session.day, now, spot, self.vix(now), self.minutes_left(now), strikes_each_side, self.surface
        )

    def quote(self, contract: OptionContract, now: datetime) -> Quote | None:
        key = (contract, now)
        if key in self._quotes:
            return self._quotes[key]
        spot = self.spot(contract.underlying, now)
        quote = None
        if np.isfinite(spot):
            quote = quote_contract(contract, now, spot, self.vix(now), self.minutes_left(now), self.surface)
        if len(self._quotes) > 256:  # only the current minute's quotes are ever asked for again
            self._quotes.clear()
        self._quotes[key] = quote
        return quote
