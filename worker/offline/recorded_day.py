"""One recorded session read into arrays: its bars per symbol (VIX included) and its option quotes
grouped by the minute the cycle read them.

A day is read with two queries and parsed column-wise (pandas), not row by row: a month of
recordings holds about a million quotes, and the replay must run at least as fast as the
simulated market (issue 14). Times come back as text on SQLite and as datetimes on Postgres;
both are naive UTC (db/types.py) and parse the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine, String, select, type_coerce

from core.calendar import Session
from core.market.bars import SessionBars
from core.options.chain import ChainSnapshot
from core.types import OptionContract, PriceSource, Quote, Right
from db.models import Bar, OptionQuote

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_micros(values: pd.Series) -> np.ndarray:
    """Naive-UTC times (text or datetimes) as integer microseconds since the epoch."""
    stamps = pd.to_datetime(values, utc=True, format="ISO8601")
    return stamps.dt.tz_convert(None).to_numpy(dtype="datetime64[us]").astype(np.int64)


def _read(engine: Engine, statement: object) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(statement, conn)  # type: ignore[call-overload]


@dataclass
class MinuteQuotes:
    """One underlying's recorded quotes of a day, sorted by (cycle minute, calls first, strike);
    minute k's rows are `offsets[k]:offsets[k + 1]`."""

    underlying: str
    minutes: np.ndarray  # epoch seconds of each cycle that recorded quotes, ascending
    offsets: np.ndarray
    symbols: np.ndarray  # OCC symbols (objects)
    strikes: np.ndarray
    is_call: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    iv: np.ndarray
    delta: np.ndarray
    bid_size: np.ndarray
    ask_size: np.ndarray
    quote_us: np.ndarray  # each quote's own time, epoch microseconds
    spot: np.ndarray
    _by_symbol: dict[int, dict[str, int]] = field(default_factory=dict)

    def minute_at_or_before(self, ts: float) -> int:
        """Index of the newest recorded minute at or before `ts` (-1: none yet)."""
        return int(np.searchsorted(self.minutes, ts, side="right")) - 1

    def chain(self, k: int, now: datetime) -> ChainSnapshot:
        lo, hi = int(self.offsets[k]), int(self.offsets[k + 1])
        expiry = OptionContract.from_symbol(str(self.symbols[lo])).expiry
        return ChainSnapshot(
            self.underlying,
            expiry,
            now,
            float(self.spot[lo]),
            self.strikes[lo:hi],
            self.is_call[lo:hi],
            self.bid[lo:hi],
            self.ask[lo:hi],
            self.iv[lo:hi],
            self.delta[lo:hi],
            quote_times=self.quote_us[lo:hi] / 1e6,
            bid_size=self.bid_size[lo:hi],
            ask_size=self.ask_size[lo:hi],
            source=PriceSource.RECORDED_QUOTE,
        )

    def quote(self, k: int, contract: OptionContract) -> Quote | None:
        """The contract's quote recorded at minute k (the first, should a minute hold two)."""
        rows = self._by_symbol.get(k)
        if rows is None:
            lo, hi = int(self.offsets[k]), int(self.offsets[k + 1])
            rows = self._by_symbol[k] = {}
            for i in range(lo, hi):
                rows.setdefault(str(self.symbols[i]), i)
        i = rows.get(contract.symbol)  # type: ignore[assignment]
        if i is None:
            return None
        return Quote(
            contract,
            float(self.bid[i]),
            float(self.ask[i]),
            _EPOCH + timedelta(microseconds=int(self.quote_us[i])),
            float(self.iv[i]),
            float(self.delta[i]),
            int(self.bid_size[i]),
            int(self.ask_size[i]),
            PriceSource.RECORDED_QUOTE,
        )


@dataclass
class RecordedDay:
    """A session's recordings: bars and (source, degraded) per symbol, quotes per underlying."""

    session: Session
    bars: dict[str, SessionBars]
    sources: dict[str, tuple[str, bool]]
    quotes: dict[str, MinuteQuotes]


def read_day(engine: Engine, session: Session, symbols: tuple[str, ...]) -> RecordedDay:
    """Every bar (of `symbols`) and quote recorded during `session`."""
    bar_cols = [type_coerce(Bar.time, String).label("time"), Bar.symbol, Bar.open, Bar.high, Bar.low, Bar.close]
    frame = _read(
        engine,
        select(*bar_cols, Bar.volume, Bar.source, Bar.degraded)
        .where(Bar.symbol.in_(symbols), Bar.time >= session.open, Bar.time < session.close)  # type: ignore[attr-defined]
        .order_by(Bar.symbol, Bar.time),
    )
    bars: dict[str, SessionBars] = {}
    sources: dict[str, tuple[str, bool]] = {}
    start_all = epoch_micros(frame["time"]) / 1e6 if len(frame) else np.empty(0)
    for symbol in symbols:
        mask = (frame["symbol"] == symbol).to_numpy()
        part = frame[mask]
        col = {c: part[c].to_numpy(dtype=float) for c in ("open", "high", "low", "close", "volume")}
        bars[symbol] = SessionBars.checked(
            symbol, session, start_all[mask], col["open"], col["high"], col["low"], col["close"], col["volume"]
        )
        last = part.iloc[-1] if len(part) else None
        sources[symbol] = ("recorded", True) if last is None else (str(last["source"]), bool(last["degraded"]))
    return RecordedDay(session, bars, sources, _read_quotes(engine, session))


def _read_quotes(engine: Engine, session: Session) -> dict[str, MinuteQuotes]:
    q = OptionQuote
    frame = _read(
        engine,
        select(
            type_coerce(q.time, String).label("time"),
            type_coerce(q.quote_time, String).label("quote_time"),
            q.underlying,
            q.contract,
            q.bid,
            q.ask,
            q.bid_size,
            q.ask_size,
            q.iv,
            q.delta,
            q.spot,
        )
        .where(q.time >= session.open, q.time <= session.close)
        .order_by(q.id),  # type: ignore[arg-type]
    )
    if frame.empty:
        return {}
    parsed = {s: OptionContract.from_symbol(s) for s in frame["contract"].unique()}
    frame["minute"] = epoch_micros(frame["time"]) / 1e6
    frame["quote_us"] = epoch_micros(frame["quote_time"])
    frame["strike"] = frame["contract"].map({s: c.strike for s, c in parsed.items()})
    frame["is_call"] = frame["contract"].map({s: c.right is Right.CALL for s, c in parsed.items()}).astype(bool)
    frame["put_first"] = ~frame["is_call"]
    out: dict[str, MinuteQuotes] = {}
    for underlying, part in frame.groupby("underlying", sort=False):
        part = part.sort_values(["minute", "put_first", "strike"], kind="stable")
        minutes, starts = np.unique(part["minute"].to_numpy(), return_index=True)
        out[str(underlying)] = MinuteQuotes(
            str(underlying),
            minutes,
            np.append(starts, len(part)),
            part["contract"].to_numpy(dtype=object),
            part["strike"].to_numpy(dtype=float),
            part["is_call"].to_numpy(dtype=bool),
            part["bid"].to_numpy(dtype=float),
            part["ask"].to_numpy(dtype=float),
            part["iv"].to_numpy(dtype=float, na_value=np.nan),
            part["delta"].to_numpy(dtype=float, na_value=np.nan),
            part["bid_size"].to_numpy(dtype=np.int64),
            part["ask_size"].to_numpy(dtype=np.int64),
            part["quote_us"].to_numpy(dtype=np.int64),
            part["spot"].to_numpy(dtype=float),
        )
    return out
