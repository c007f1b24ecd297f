"""The simulated market: serves bars, VIX and option quotes from a synthetic or CSV world.

Only completed bars are visible; the live price at `now` is the open of the bar starting at
`now`, which no decision has seen as a bar. Option quotes are priced from that price, the
same-day volatility index (`core/options/day_vol.py`: VIX1D's open moved by the VIX since the
open) and the minutes left to the close.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

import numpy as np

from core.calendar import NY, Session, last_sessions, session_containing, sessions_between
from core.execution import intrabar_price
from core.market.bars import BAR_SECONDS, SessionBars
from core.market.realized import PRIOR_SESSIONS, SessionMoves, pooled_vol, session_moves
from core.options.chain import ChainSnapshot, build_chain, chain_grid, chain_of_quotes, quote_contract
from core.options.day_vol import DayVolInputs, day_vol
from core.options.events import events_on
from core.options.history import DayBars, OptionHistory
from core.options.history_pricing import MarketAt, history_quote
from core.options.quote_pricing import (
    REAL,
    SOURCES,
    DayQuotes,
    PricedQuotes,
    QuoteInputs,
    price_contracts,
    price_one,
)
from core.options.surface import SURFACES, SurfaceParams, surface_for
from core.protocols import BarView
from core.types import OptionContract, Quote, Right


class World(Protocol):
    symbols: tuple[str, ...]

    def session_bars(self, session: Session, symbol: str) -> SessionBars: ...

    def vix_path(self, session: Session) -> np.ndarray: ...

    def vix_open(self, day: date) -> float: ...

    def vix_closes_before(self, day: date, count: int = 252) -> np.ndarray: ...


class SimMarket:
    """MarketData over a World. `source` names the world in each decision row."""

    def __init__(
        self,
        world: World,
        source: str = "sim",
        surfaces: Mapping[str, SurfaceParams] = SURFACES,
        option_history: OptionHistory | None = None,
    ) -> None:
        self.world = world
        self.option_history = option_history  # real option bars, where the user has them
        self._anchors: dict[tuple[str, int], tuple[float, float]] = {}  # history_quote's memo per bar
        self._model_then: dict[tuple[str, date], np.ndarray] = {}  # price_contracts' memo per quote row
        self._last_spot: tuple[tuple[str, float] | None, float] = (None, float("nan"))
        self._last_day_vol: tuple[float | None, float] = (None, float("nan"))  # by minute: one index for all
        self.symbols = world.symbols
        self.source = source
        self.surfaces = surfaces  # each underlying prices from its own calibrated surface
        self._vix_hist: dict[date, np.ndarray] = {}
        self._day_inputs: dict[date, _DayInputs] = {}
        self._minute = _Minute(None, 0.0, None)

    def _at(self, now: datetime) -> _Minute:
        """Everything looked up for `now`, computed once per minute and dropped at the next."""
        minute = self._minute
        if minute.now is not now and minute.now != now:  # the cycle passes one object per minute
            minute = self._minute = _Minute(now, now.timestamp(), session_containing(now))
        return minute

    def session(self, now: datetime) -> Session | None:
        return self._at(now).session

    def _bars(self, now: datetime, symbol: str) -> SessionBars | None:
        minute = self._at(now)
        found = minute.bars.get(symbol)
        if found is None and minute.session is not None:
            found = minute.bars[symbol] = self.world.session_bars(minute.session, symbol)
        return found

    def bars(self, symbol: str, now: datetime) -> BarView:
        bars = self._bars(now, symbol)
        if bars is None:
            raise LookupError(f"no session open at {now.isoformat()}")
        return BarView(bars, bars.completed_by(self._minute.ts), self.source)

    def spot(self, symbol: str, now: datetime) -> float:
        minute = self._at(now)
        found = minute.spots.get(symbol)
        if found is None:
            bars = self._bars(now, symbol)
            found = float("nan") if bars is None else _price_at(bars, minute.ts)
            minute.spots[symbol] = found
        return found

    def spot_at(self, symbol: str, moment: datetime) -> float:
        """The underlying at any moment inside the session: on the path through the bar that
        contains it (the broker's view of time between cycles), never from a later bar."""
        session = session_containing(moment)
        if session is None:
            return float("nan")
        return _price_at(self.world.session_bars(session, symbol), moment.timestamp())

    def vix(self, now: datetime) -> float:
        minute = self._at(now)
        if minute.vix is None:
            minute.vix = float("nan")
            session = minute.session
            if session is not None:
                minute.vix = self._vix_at(session, now)
        return minute.vix

    def day_vol(self, now: datetime) -> float:
        """The same-day volatility index at `now` (VIX1D points) that the option quotes price from."""
        minute = self._at(now)
        if minute.day_vol is None:
            minute.day_vol = float("nan")
            if minute.session is not None:
                minute.day_vol = self._day_vol_at(minute.session, minute.ts, self.vix(now))
        return minute.day_vol

    def day_vol_inputs(self, session: Session, ts: float, vix_now: float) -> DayVolInputs:
        """What the same-day vol model knows at epoch second `ts`: the VIX then and at the open,
        VIX1D's open, SPY's realized moves of the earlier sessions and of this one up to `ts`
        (core/market/realized.py: only bars ended by then), the overnight gap and the day's scheduled events."""
        day = self._day_inputs.get(session.day)
        if day is None:
            if len(self._day_inputs) > 16:  # replays walk forward
                self._day_inputs.clear()
            day = self._day_inputs[session.day] = self._inputs_of_day(session)
        rv, count = day.moves.so_far(ts) if day.moves is not None else (float("nan"), 0)
        return DayVolInputs(
            vix_now, day.vix_open, day.vix1d_open, day.prior_rv, rv, count, events_on(session.day), day.gap
        )

    def _inputs_of_day(self, session: Session) -> _DayInputs:
        vix1d_open = getattr(self.world, "vix1d_open", None)  # worlds of data may have VIX1D
        symbol = "SPY" if "SPY" in self.symbols else self.symbols[0]
        before = [self._moves(s, symbol) for s in last_sessions(session.day - timedelta(days=1), PRIOR_SESSIONS)]
        today = self._moves(session, symbol)
        return _DayInputs(
            float(self.world.vix_open(session.day)),
            float(vix1d_open(session.day)) if callable(vix1d_open) else float("nan"),
            pooled_vol([m for m in before if m is not None]),
            today,
            today.gap_from(before[-1]) if today is not None and before else float("nan"),
        )

    def _moves(self, session: Session, symbol: str) -> SessionMoves | None:
        """A session's 5-minute moves of `symbol`, None where the world has no bars for it."""
        try:
            bars = self.world.session_bars(session, symbol)
        except (KeyError, LookupError, ValueError):
            return None
        if len(bars) == 0:
            return None
        return session_moves(
            session.open.timestamp(), session.close.timestamp(), bars.start, bars.open, bars.close, BAR_SECONDS
        )

    def _day_vol_at(self, session: Session, ts: float, vix_now: float) -> float:
        return day_vol(self.day_vol_inputs(session, ts, vix_now))

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
        real = self._history_day(underlying, session)
        if real is not None and real.quotes is not None:
            strikes, calls = chain_grid(spot, strikes_each_side)
            p = self._from_quotes(real.quotes, session, now, strikes, calls)
            return ChainSnapshot(
                underlying, session.day, now, spot, strikes, calls, p.bid, p.ask, p.iv, p.delta,
                p.stamp, p.bid_size, p.ask_size, tuple(SOURCES[k] for k in p.source),
            )  # fmt: skip
        if real is not None:
            strikes, calls = chain_grid(spot, strikes_each_side)
            quotes = [
                self.quote(OptionContract(underlying, session.day, float(k), Right.CALL if c else Right.PUT), now)
                for k, c in zip(strikes, calls, strict=True)
            ]
            return chain_of_quotes(underlying, session.day, now, spot, [q for q in quotes if q is not None])
        return build_chain(
            underlying,
            session.day,
            now,
            spot,
            self.day_vol(now),
            self.minutes_left(now),
            strikes_each_side,
            surface_for(underlying, self.surfaces),
        )

    def quote_at(self, contract: OptionContract, moment: datetime) -> Quote | None:
        """A contract's quote at any moment (the broker's updates between cycles), stamped with
        that moment; VIX is the value of the minute it falls in."""
        session = session_containing(moment)
        if session is None:
            return None
        real = self._history_day(contract.underlying, session)
        if (quotes := _quotes_for(contract, real)) is not None:
            return self._quote_from_quotes(contract, quotes, session, moment)
        if real is not None:  # its own spot lookup (None where there is no price)
            return self._from_history(contract, moment, session, real)
        spot = self.spot_at(contract.underlying, moment)
        if not np.isfinite(spot):
            return None
        minute = moment.replace(second=0, microsecond=0)
        vol = self._day_vol_at(session, minute.timestamp(), self._vix_at(session, minute))
        left = max((session.close - moment).total_seconds() / 60.0, 0.0)
        return quote_contract(contract, moment, spot, vol, left, surface_for(contract.underlying, self.surfaces))

    def _history_day(self, underlying: str, session: Session) -> DayBars | None:
        return None if self.option_history is None else self.option_history.day(underlying, session.day)

    def _from_history(self, contract: OptionContract, moment: datetime, session: Session, day: DayBars) -> Quote | None:
        """The contract's quote from real bars, anchored, or the model (core/options/history_pricing.py)."""

        def day_vol_at(ts: float) -> float:
            minute_ts = ts - ts % 60
            if self._last_day_vol[0] != minute_ts:
                minute = datetime.fromtimestamp(minute_ts, NY)
                self._last_day_vol = (minute_ts, self._day_vol_at(session, minute_ts, self._vix_at(session, minute)))
            return self._last_day_vol[1]

        later_sessions = 0.0  # a contract expiring after today (a vendor's file): its later sessions' minutes
        if contract.expiry > session.day:
            later_sessions = sum(s.minutes for s in sessions_between(session.day + timedelta(days=1), contract.expiry))
        market = MarketAt(
            lambda ts: self._spot_at_ts(contract.underlying, ts),
            day_vol_at,
            lambda ts: max((session.close.timestamp() - ts) / 60.0, 0.0) + later_sessions,
        )
        if len(self._anchors) > 50_000:  # a few days of contracts; replays walk forward
            self._anchors.clear()
        return history_quote(
            contract, moment, day, market, surface_for(contract.underlying, self.surfaces), self._anchors
        )

    def _quote_inputs(self, day: DayQuotes, session: Session, moment: datetime) -> tuple[QuoteInputs, np.ndarray]:
        """The market at `moment` for pricing from the day's quotes, and the day's memo."""
        ts = moment.timestamp()
        memo = self._model_then.get((day.underlying, day.day))
        if memo is None:
            if len(self._model_then) >= 8:  # a few days: replays walk forward
                self._model_then.pop(next(iter(self._model_then)))
            memo = self._model_then[(day.underlying, day.day)] = np.full(day.row_ts.size, np.nan)

        def day_vol_at(at: float) -> float:
            minute_ts = at - at % 60  # the minute's vol: its moves and VIX known then
            return self._day_vol_at(session, minute_ts, self._vix_at(session, datetime.fromtimestamp(minute_ts, NY)))

        left = max((session.close.timestamp() - ts) / 60.0, 0.0)
        return QuoteInputs(ts, self._spot_at_ts(day.underlying, ts), day_vol_at(ts), left, day_vol_at), memo

    def _from_quotes(
        self, day: DayQuotes, session: Session, moment: datetime, strikes: np.ndarray, calls: np.ndarray
    ) -> PricedQuotes:
        """Contracts priced from the day's real quotes (core/options/quote_pricing.py)."""
        inputs, memo = self._quote_inputs(day, session, moment)
        return price_contracts(day, memo, inputs, strikes, calls, surface_for(day.underlying, self.surfaces))

    def _quote_from_quotes(
        self, contract: OptionContract, day: DayQuotes, session: Session, moment: datetime
    ) -> Quote | None:
        """One contract from the day's quotes, by the chain's formulas in plain floats."""
        inputs, memo = self._quote_inputs(day, session, moment)
        if not np.isfinite(inputs.spot):
            return None
        surface = surface_for(day.underlying, self.surfaces)
        bid, ask, iv, delta, stamp, kind, bid_size, ask_size = price_one(
            day, memo, inputs, contract.strike, contract.right is Right.CALL, surface
        )
        when = datetime.fromtimestamp(stamp, UTC) if kind == REAL else moment
        return Quote(contract, bid, ask, when, iv, delta, int(bid_size), int(ask_size), SOURCES[kind])

    def _spot_at_ts(self, underlying: str, ts: float) -> float:
        """`spot_at` by epoch second, the last answer kept (a chain asks the same moment 50 times)."""
        key = (underlying, ts)
        if self._last_spot[0] != key:
            self._last_spot = (key, self.spot_at(underlying, datetime.fromtimestamp(ts, NY)))
        return self._last_spot[1]

    def _vix_at(self, session: Session, minute: datetime) -> float:
        path = self.world.vix_path(session)
        done = int((minute - session.open).total_seconds() // 60)
        return float(path[min(done, len(path)) - 1]) if done > 0 else self.world.vix_open(session.day)

    def quote(self, contract: OptionContract, now: datetime) -> Quote | None:
        minute = self._at(now)
        quotes = minute.quotes
        if contract in quotes:
            return quotes[contract]
        session = minute.session
        real = None if session is None else self._history_day(contract.underlying, session)
        if session is not None and (day_quotes := _quotes_for(contract, real)) is not None:
            quotes[contract] = self._quote_from_quotes(contract, day_quotes, session, now)
        elif session is not None and real is not None:
            quotes[contract] = self._from_history(contract, now, session, real)
        else:
            spot = self.spot(contract.underlying, now)
            quotes[contract] = (
                quote_contract(
                    contract,
                    now,
                    spot,
                    self.day_vol(now),
                    self.minutes_left(now),
                    surface_for(contract.underlying, self.surfaces),
                )
                if np.isfinite(spot)
                else None
            )
        return quotes[contract]


@dataclass(frozen=True)
class _DayInputs:
    """The same-day vol model's inputs fixed for a session: the opens, earlier moves, the day's bars."""

    vix_open: float
    vix1d_open: float
    prior_rv: float
    moves: SessionMoves | None
    gap: float = float("nan")  # the overnight gap (SessionMoves.gap_from)


@dataclass(slots=True)
class _Minute:
    """Per-minute lookups: the session, each symbol's bars and price, VIX and the quotes asked for."""

    now: datetime | None
    ts: float  # `now` in epoch seconds
    session: Session | None
    bars: dict[str, SessionBars] = field(default_factory=dict)
    spots: dict[str, float] = field(default_factory=dict)
    vix: float | None = None
    day_vol: float | None = None
    quotes: dict[OptionContract, Quote | None] = field(default_factory=dict)


def _quotes_for(contract: OptionContract, day: DayBars | None) -> DayQuotes | None:
    """The day's quotes where they list the contract (same-day expiry, a strike they quote)."""
    quotes = None if day is None else day.quotes
    if quotes is None or contract.expiry != quotes.day:
        return None
    return quotes if (contract.strike, contract.right is Right.CALL) in quotes.columns else None


def _price_at(bars: SessionBars, ts: float) -> float:
    """The price at epoch second `ts`: on the path through the bar that contains it; inside a
    gap in the bars (or after the last one), the last close before it, never a later bar's open."""
    if len(bars) == 0:
        return float("nan")
    i = bars.index_from(ts)
    if i is not None and float(bars.start[i]) == ts:
        return float(bars.open[i])
    j = (len(bars) if i is None else i) - 1  # the bar that started before ts
    if j < 0:
        return float("nan")  # before the first bar: nothing is known yet
    into = ts - float(bars.start[j])
    if into >= BAR_SECONDS:
        return float(bars.close[j])  # inside a gap: the last price known
    frac = into / BAR_SECONDS
    return intrabar_price(float(bars.open[j]), float(bars.high[j]), float(bars.low[j]), float(bars.close[j]), frac)
