"""Replaying recorded days: the market a paper or live worker saw, rebuilt from its recordings
(`worker/recorder.py`), for `python -m worker.backtest --source recorded[:URL]`.

`RecordedWorld` serves the recorded bars, VIX and daily VIX history; `RecordedMarket` serves
them as the live market did (the price is the last completed close, VIX the value the cycle
read that minute) and prices options from the recorded quotes, not from the surface model: the
chain at a minute is the quotes recorded at that minute, and the simulated broker fills against
the newest recorded quote at or before its moment. Recordings are read from the worker's
database (DATABASE_URL, or the URL after `recorded:`); the replay writes to its own.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, date, datetime

import numpy as np
from sqlalchemy import Engine, select

from core.calendar import Session, session_for
from core.market.bars import SessionBars
from core.market.sim_market import SimMarket
from core.options.chain import ChainSnapshot
from core.protocols import BarView
from core.types import OptionContract, Quote, Right
from db.models import Bar, OptionQuote, VixHistory
from worker.recorder import VIX_SYMBOL


class RecordedWorld:
    """The recorded bars of each session and symbol, VIX per minute and the daily VIX history."""

    def __init__(self, engine: Engine, symbols: tuple[str, ...] = ("SPY", "QQQ")) -> None:
        self.engine = engine
        self.symbols = symbols
        self._bars: dict[tuple[date, str], SessionBars] = {}
        self._sources: dict[tuple[date, str], tuple[str, bool]] = {}

    def sessions(self, start: date | None = None, end: date | None = None) -> list[Session]:
        with self.engine.connect() as conn:
            times = conn.execute(select(Bar.time).where(Bar.symbol == self.symbols[0])).scalars().all()
        days = sorted({t.astimezone(UTC).date() for t in times})
        out = []
        for d in days:
            s = session_for(d)
            if s is not None and (start is None or d >= start) and (end is None or d <= end):
                out.append(s)
        return out

    def _rows(self, session: Session, symbol: str) -> list[Bar]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(Bar)
                    .where(Bar.symbol == symbol, Bar.time >= session.open, Bar.time < session.close)
                    .order_by(Bar.time)
                ).mappings()
            )

    def session_bars(self, session: Session, symbol: str) -> SessionBars:
        key = (session.day, symbol)
        if key not in self._bars:
            rows = self._rows(session, symbol)
            col = {c: np.array([float(r[c]) for r in rows]) for c in ("open", "high", "low", "close", "volume")}
            start = np.array([r["time"].timestamp() for r in rows])
            self._bars[key] = SessionBars.checked(
                symbol, session, start, col["open"], col["high"], col["low"], col["close"], col["volume"]
            )
            self._sources[key] = (rows[-1]["source"], bool(rows[-1]["degraded"])) if rows else ("recorded", True)
        return self._bars[key]

    def source(self, session: Session, symbol: str) -> tuple[str, bool]:
        self.session_bars(session, symbol)
        return self._sources[(session.day, symbol)]

    def vix_path(self, session: Session) -> np.ndarray:
        """Element k: the VIX the cycle read at open + k + 1 minutes (carried forward)."""
        bars = self.session_bars(session, VIX_SYMBOL)
        path = np.full(session.minutes, np.nan)
        for t, v in zip(bars.start, bars.close, strict=True):
            k = int((t - session.open.timestamp()) // 60) - 1
            if 0 <= k < path.size:
                path[k] = v
        for k in range(1, path.size):
            if not np.isfinite(path[k]):
                path[k] = path[k - 1]
        return path

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
        self._quotes_by_minute: dict[tuple[str, float], list[OptionQuote]] = {}
        self._minutes: dict[str, list[float]] = {}
        self._loaded: set[date] = set()

    def _load_day(self, day: date) -> None:
        if day in self._loaded:
            return
        self._loaded.add(day)
        session = session_for(day)
        if session is None:
            return
        with self.recorded.engine.connect() as conn:
            rows = conn.execute(
                select(OptionQuote).where(OptionQuote.time >= session.open, OptionQuote.time <= session.close)
            ).mappings()
            for r in rows:
                minute = r["time"].timestamp()
                self._quotes_by_minute.setdefault((r["underlying"], minute), []).append(r)  # type: ignore[arg-type]
        for underlying in {u for u, _ in self._quotes_by_minute}:
            self._minutes[underlying] = sorted(m for u, m in self._quotes_by_minute if u == underlying)

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

    def _recorded_at(self, underlying: str, moment: datetime) -> list[OptionQuote]:
        self._load_day(moment.date())
        minutes = self._minutes.get(underlying, [])
        i = bisect_right(minutes, moment.timestamp()) - 1
        return [] if i < 0 else self._quotes_by_minute[(underlying, minutes[i])]

    def chain(self, underlying: str, now: datetime, strikes_each_side: int = 12) -> ChainSnapshot | None:
        rows = [r for r in self._recorded_at(underlying, now) if r["time"].timestamp() == now.timestamp()]
        if not rows:
            return None
        contracts = [OptionContract.from_symbol(r["contract"]) for r in rows]
        order = sorted(range(len(rows)), key=lambda i: (contracts[i].right is not Right.CALL, contracts[i].strike))
        pick = [rows[i] for i in order]
        cs = [contracts[i] for i in order]
        day = cs[0].expiry
        return ChainSnapshot(
            underlying,
            day,
            now,
            float(pick[0]["spot"]),
            np.array([c.strike for c in cs]),
            np.array([c.right is Right.CALL for c in cs]),
            np.array([r["bid"] for r in pick], dtype=float),
            np.array([r["ask"] for r in pick], dtype=float),
            np.array([np.nan if r["iv"] is None else r["iv"] for r in pick], dtype=float),
            np.array([np.nan if r["delta"] is None else r["delta"] for r in pick], dtype=float),
            quote_times=np.array([r["quote_time"].timestamp() for r in pick]),
            bid_size=np.array([r["bid_size"] for r in pick]),
            ask_size=np.array([r["ask_size"] for r in pick]),
        )

    def quote(self, contract: OptionContract, now: datetime) -> Quote | None:
        return self.quote_at(contract, now)

    def quote_at(self, contract: OptionContract, moment: datetime) -> Quote | None:
        symbol = contract.symbol
        for r in self._recorded_at(contract.underlying, moment):
            if r["contract"] == symbol:
                return Quote(
                    contract,
                    float(r["bid"]),
                    float(r["ask"]),
                    r["quote_time"],
                    float("nan") if r["iv"] is None else float(r["iv"]),
                    float("nan") if r["delta"] is None else float(r["delta"]),
                    int(r["bid_size"]),
                    int(r["ask_size"]),
                )
        return None
