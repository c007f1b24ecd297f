"""Checks on timestamped same-day option quotes (whole chains) before any backtest prices from them.

Two input formats are read: a vendor's chain file (the CBOE book in ../shared/data/options:
quote_time, underlying, spot, expiry, type C|P, strike, bid, ask, bid_size, ask_size, ...) and the
quotes a paper or live worker recorded (`python -m db.recordings export`: time, quote_time,
underlying, contract, bid, ask, bid_size, ask_size, spot, ...). `quote_time` is the quote's own
time (naive: New York wall clock); `spot` the underlying at that instant. Every row is checked on
its own and refused with a reason, never silently used or mended:

| reason | the row |
|---|---|
| `bad_symbol` | no contract can be read from it (an OCC symbol, or underlying, expiry, type and strike) |
| `bad_time` | its quote time cannot be read |
| `outside_session` | the quote is outside its day's regular session (its closing instant is inside) |
| `wrong_underlying` | the contract is on another underlying than the one being imported |
| `wrong_expiry` | the contract does not expire on the quote's day (same-day quotes only) |
| `zero` | the ask is zero or less, or a price is missing or negative |
| `crossed` | the bid is above the ask |
| `no_bar` | no bar of the underlying covers its time, so its spot cannot be checked |
| `spot_far` | its spot is more than `SPOT_TOLERANCE` from the underlying bar's low-high range then |
| `duplicate` | the same contract and time again (an identical copy; the first is kept) |
| `conflicting_duplicate` | the same contract and time with another bid or ask (all copies refused) |
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from core.calendar import session_for
from core.options.bar_checks import CheckReport, _drop, _inside_session, _new_york_times, parse_occ
from core.types import OptionContract, Right

SPOT_TOLERANCE = 0.005  # 0.5% outside the bar's range: the quote's spot and the bars disagree
QUOTE_COLUMNS = (
    "contract",
    "underlying",
    "expiry",
    "time",
    "strike",
    "is_call",
    "bid",
    "ask",
    "bid_size",
    "ask_size",
    "spot",
)


class QuoteCheckReport(CheckReport):
    """A CheckReport whose summary speaks of quotes (no minutes without a trade)."""

    def summary(self) -> str:
        lines = [f"{self.kept} of {self.rows_in} quotes kept"]
        for reason, count in self.refused.most_common():
            lines.append(f"refused {count} quotes: {reason} (e.g. {'; '.join(self.examples.get(reason, []))})")
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        return {"rows_in": self.rows_in, "kept": self.kept, "refused": dict(self.refused), "examples": self.examples}

    @staticmethod
    def from_json(values: dict[str, object]) -> QuoteCheckReport:
        report = QuoteCheckReport(rows_in=int(values.get("rows_in", 0)), kept=int(values.get("kept", 0)))  # type: ignore[arg-type]
        report.refused.update(values.get("refused", {}))  # type: ignore[arg-type]
        report.examples = dict(values.get("examples", {}))  # type: ignore[arg-type]
        return report


def normalise_quotes(raw: pd.DataFrame) -> pd.DataFrame:
    """Either format in the vendor's own names -> contract, time, bid, ask, sizes, spot (unchecked)."""
    frame = raw.copy()
    if "quote_time" not in frame.columns:
        raise ValueError("option quotes need a quote_time column (the quote's own time)")
    if "time" in frame.columns:
        frame = frame.rename(columns={"time": "cycle_time"})
    frame = frame.rename(columns={"quote_time": "time"})
    missing = [c for c in ("bid", "ask", "spot") if c not in frame.columns]
    if missing:
        raise ValueError(f"option quotes need columns {missing}")
    if "contract" not in frame.columns:
        needed = [c for c in ("underlying", "expiry", "type", "strike") if c not in frame.columns]
        if needed:
            raise ValueError(f"option quotes need a contract column or {needed}")
        frame["contract"] = [
            _occ(u, e, t, k)
            for u, e, t, k in zip(*(frame[c] for c in ("underlying", "expiry", "type", "strike")), strict=True)
        ]
    for column in ("bid_size", "ask_size"):
        if column not in frame.columns:
            frame[column] = 0.0
    return frame


def _occ(underlying: object, expiry: object, kind: object, strike: object) -> str | None:
    try:
        right = Right.CALL if str(kind).upper().startswith("C") else Right.PUT
        return OptionContract(str(underlying), pd.Timestamp(str(expiry)).date(), float(strike), right).symbol  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return None


def check_quotes(
    raw: pd.DataFrame, bars: pd.DataFrame | None, underlying: str | None = None
) -> tuple[pd.DataFrame, QuoteCheckReport]:
    """The quotes fit to price from, in QUOTE_COLUMNS (time tz-aware New York), and the report.

    `bars`: the underlying's bars (time: bar start, tz-aware New York; minutes: bar length; low,
    high) the spots are checked against; None refuses every row as `no_bar`."""
    report = QuoteCheckReport(rows_in=len(raw))
    frame = normalise_quotes(raw)
    parsed = frame["contract"].map(lambda s: parse_occ(s) if isinstance(s, str) else None)
    frame = _drop(frame, report, "bad_symbol", parsed.isna())
    parsed = parsed[frame.index]
    frame["underlying"] = [p[0] for p in parsed]
    frame["expiry"] = [p[1] for p in parsed]
    frame["strike"] = [p[2] for p in parsed]
    frame["is_call"] = [p[3] == "C" for p in parsed]
    frame["time"] = _new_york_times(frame["time"])
    frame = _drop(frame, report, "bad_time", frame["time"].isna())
    frame = _drop(frame, report, "outside_session", ~_in_session(frame["time"]))
    if underlying is not None:
        frame = _drop(frame, report, "wrong_underlying", frame["underlying"] != underlying)
    frame = _drop(frame, report, "wrong_expiry", frame["expiry"] != frame["time"].dt.date)
    prices = frame[["bid", "ask", "spot"]].apply(pd.to_numeric, errors="coerce")
    bad_price = ~(prices["ask"] > 0) | ~(prices["bid"] >= 0) | ~(prices["spot"] > 0)
    frame = _drop(frame, report, "zero", bad_price)
    prices = prices.loc[frame.index]
    frame = _drop(frame, report, "crossed", prices["bid"] > prices["ask"])
    low, high = _bar_range(frame, bars)
    frame = _drop(frame, report, "no_bar", pd.Series(np.isnan(low), index=frame.index))
    spot = pd.to_numeric(frame["spot"], errors="coerce").to_numpy(float)
    low, high = low[~np.isnan(low)], high[~np.isnan(high)]
    off = np.maximum(np.maximum(low - spot, spot - high), 0.0) / spot
    frame = _drop(frame, report, "spot_far", pd.Series(off > SPOT_TOLERANCE, index=frame.index))
    frame = _without_duplicates(frame, report)
    out = frame.loc[:, list(QUOTE_COLUMNS)].copy()
    for column in ("strike", "bid", "ask", "bid_size", "ask_size", "spot"):
        out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
    out[["bid_size", "ask_size"]] = out[["bid_size", "ask_size"]].fillna(0.0)
    out = out.sort_values(["time", "is_call", "strike"], kind="stable").reset_index(drop=True)
    report.kept = len(out)
    return out, report


def _in_session(times: pd.Series) -> pd.Series:
    """Inside the day's regular session, its closing instant included (a worker's last cycle)."""
    inside = _inside_session(times)
    for day, stamps in times[~inside].groupby(times[~inside].dt.date):
        session = session_for(day)
        if session is not None:
            inside[stamps.index] = stamps == session.close
    return inside


def _bar_range(frame: pd.DataFrame, bars: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """The low and high of the underlying bar covering each quote's time (NaN: none covers it)."""
    n = len(frame)
    low, high = np.full(n, np.nan), np.full(n, np.nan)
    if bars is None or bars.empty or n == 0:
        return low, high
    starts = pd.DatetimeIndex(bars["time"]).as_unit("ns").asi8 / 1e9
    order = np.argsort(starts, kind="stable")
    starts, lows, highs = starts[order], bars["low"].to_numpy(float)[order], bars["high"].to_numpy(float)[order]
    ends = starts + 60.0 * bars["minutes"].to_numpy(float)[order]
    ts = pd.DatetimeIndex(frame["time"]).as_unit("ns").asi8 / 1e9
    i = np.searchsorted(starts, ts, side="right") - 1
    covered = (i >= 0) & (ts <= ends[np.clip(i, 0, None)])  # a bar covers its closing instant too
    low[covered], high[covered] = lows[i[covered]], highs[i[covered]]
    return low, high


def _without_duplicates(frame: pd.DataFrame, report: CheckReport) -> pd.DataFrame:
    key = ["contract", "time"]
    repeated = frame.duplicated(key, keep=False)
    if not repeated.any():
        return frame
    distinct = frame[repeated].drop_duplicates([*key, "bid", "ask"])
    conflicting = distinct[distinct.duplicated(key, keep=False)][key].drop_duplicates()
    conflict = frame.set_index(key).index.isin(conflicting.set_index(key).index)
    report.refuse("conflicting_duplicate", frame[conflict])
    frame = frame[~conflict]
    copies = frame.duplicated(key, keep="first")
    report.refuse("duplicate", frame[copies])
    return frame[~copies]


def quote_days(quotes: pd.DataFrame) -> list[date]:
    """The New York dates the checked quotes cover."""
    return sorted(set(quotes["time"].dt.date)) if len(quotes) else []
