"""Checks on historical option minute bars before any backtest prices from them.

A bar is one contract's trades in one minute (open, high, low, close, volume; vwap and the trade
count where the vendor gives them), as Alpaca's option bars and vendors' minute files serve them.
Every row is checked on its own and refused with a reason, never silently used or mended:

| reason | the row |
|---|---|
| `bad_symbol` | its contract is not an OCC option symbol (a vendor's `O:` prefix is accepted) |
| `bad_time` | its time cannot be read |
| `outside_session` | it starts outside its day's regular session (09:30-16:00 ET; SPY and QQQ options |
|  | trade to 16:15, the product does not) |
| `wrong_expiry` | the contract does not expire as asked (by default the trading day: same-day options) |
| `wrong_underlying` | the contract is on another underlying than the one being imported |
| `non_positive_price` | a price is zero, negative or missing |
| `crossed` | low above high, or open or close outside the low-high range |
| `bad_volume` | volume missing or negative |
| `duplicate` | the same contract and minute again (an identical copy; the first is kept) |
| `conflicting_duplicate` | the same contract and minute with different prices (all copies refused) |

Minutes without a bar are normal for trade bars (no trade that minute); they are counted per
contract (`missing_minutes`) and priced from the model anchored to the last real bar.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from core.calendar import NY, session_for

BAR_FIELDS = ("open", "high", "low", "close", "volume")
STORED_COLUMNS = (
    "contract",
    "underlying",
    "expiry",
    "time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "vwap",
    "trades",
)
_OCC = re.compile(r"^(?:O:)?([A-Z]{1,6})(\d{6})([CP])(\d{8})$")


@dataclass
class CheckReport:
    """What a check kept and refused: counts by reason and a few example rows per reason."""

    rows_in: int = 0
    kept: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    missing_minutes: int = 0  # minutes between a contract's first and last bar with no trade

    def refuse(self, reason: str, rows: pd.DataFrame) -> None:
        if rows.empty:
            return
        self.refused[reason] += len(rows)
        shown = self.examples.setdefault(reason, [])
        for _, row in rows.head(3 - len(shown)).iterrows():
            shown.append(f"{row.get('contract', '?')} {row.get('time', '?')}")

    def merge(self, other: CheckReport) -> None:
        self.rows_in += other.rows_in
        self.kept += other.kept
        self.refused.update(other.refused)
        self.missing_minutes += other.missing_minutes
        for reason, rows in other.examples.items():
            self.examples.setdefault(reason, []).extend(rows[: 3 - len(self.examples[reason])])

    def summary(self) -> str:
        """One line per reason: 'refused 12 rows: crossed (e.g. SPY... 2025-...)'."""
        lines = [f"{self.kept} of {self.rows_in} rows kept; {self.missing_minutes} minutes without a trade"]
        for reason, count in self.refused.most_common():
            lines.append(f"refused {count} rows: {reason} (e.g. {'; '.join(self.examples.get(reason, []))})")
        return "\n".join(lines)


def parse_occ(symbol: str) -> tuple[str, date, float, str] | None:
    """(underlying, expiry, strike, C|P) of an OCC symbol, or None."""
    match = _OCC.match(str(symbol).strip())
    if match is None:
        return None
    root, ymd, right, strike = match.groups()
    try:
        expiry = pd.Timestamp(f"20{ymd[:2]}-{ymd[2:4]}-{ymd[4:]}").date()
    except ValueError:
        return None
    return root, expiry, int(strike) / 1000.0, right


def check_bars(
    raw: pd.DataFrame, underlying: str | None = None, expiry: date | str = "same_day"
) -> tuple[pd.DataFrame, CheckReport]:
    """The rows fit to price from, in STORED_COLUMNS (time tz-aware New York), and the report.

    `raw` needs contract, time (or datetime: bar start; naive means New York), open, high, low,
    close, volume; vwap and trades (or transactions) are kept where present. `expiry` is
    "same_day" (the contract expires on the bar's day), "any", or one date."""
    report = CheckReport(rows_in=len(raw))
    frame = raw.rename(columns={"datetime": "time", "transactions": "trades", "n": "trades"}).copy()
    missing = [c for c in ("contract", "time", *BAR_FIELDS) if c not in frame.columns]
    if missing:
        raise ValueError(f"option bars need columns {missing}; expected contract,time,open,high,low,close,volume")
    parsed = frame["contract"].map(parse_occ)
    bad = parsed.isna()
    report.refuse("bad_symbol", frame[bad])
    frame, parsed = frame[~bad], parsed[~bad]
    frame["contract"] = frame["contract"].astype(str).str.strip().str.removeprefix("O:")
    frame["underlying"] = [p[0] for p in parsed]
    frame["expiry"] = [p[1] for p in parsed]
    frame["time"] = _new_york_times(frame["time"])
    report.refuse("bad_time", frame[frame["time"].isna()])
    frame = frame[frame["time"].notna()]
    frame = _drop(frame, report, "outside_session", ~_inside_session(frame["time"]))
    if underlying is not None:
        frame = _drop(frame, report, "wrong_underlying", frame["underlying"] != underlying)
    if expiry == "same_day":
        frame = _drop(frame, report, "wrong_expiry", frame["expiry"] != frame["time"].dt.date)
    elif expiry != "any":
        wanted = expiry if isinstance(expiry, date) else date.fromisoformat(str(expiry))
        frame = _drop(frame, report, "wrong_expiry", frame["expiry"] != wanted)
    prices = frame[["open", "high", "low", "close"]].apply(pd.to_numeric, errors="coerce")
    frame = _drop(frame, report, "non_positive_price", ~(prices > 0).all(axis=1))
    prices = prices.loc[frame.index]
    crossed = (prices["low"] > prices["high"]) | ~prices["open"].between(prices["low"], prices["high"])
    crossed |= ~prices["close"].between(prices["low"], prices["high"])
    frame = _drop(frame, report, "crossed", crossed)
    volume = pd.to_numeric(frame["volume"], errors="coerce")
    frame = _drop(frame, report, "bad_volume", ~(volume >= 0))
    frame = _without_duplicates(frame, report)
    for column in ("vwap", "trades"):
        if column not in frame.columns:
            frame[column] = np.nan
    out = frame.loc[:, list(STORED_COLUMNS)].copy()
    for column in ("open", "high", "low", "close", "volume", "vwap", "trades"):
        out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
    out = out.sort_values(["contract", "time"], kind="stable").reset_index(drop=True)
    report.kept = len(out)
    report.missing_minutes = _missing_minutes(out)
    return out, report


def _new_york_times(column: pd.Series) -> pd.Series:
    """Bar starts as New York times: naive ones are New York wall clock, aware ones are converted."""
    if column.dtype == object and column.map(lambda v: getattr(v, "tzinfo", None) is not None).any():
        return pd.to_datetime(column, errors="coerce", utc=True).dt.tz_convert(NY)  # aware, mixed zones
    times = pd.to_datetime(column, errors="coerce")
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        return times.dt.tz_convert(NY)
    if pd.api.types.is_datetime64_dtype(times.dtype):
        return times.dt.tz_localize(NY, ambiguous="NaT", nonexistent="NaT")
    return pd.to_datetime(column, errors="coerce", utc=True).dt.tz_convert(NY)  # strings with offsets


def _drop(frame: pd.DataFrame, report: CheckReport, reason: str, bad: pd.Series) -> pd.DataFrame:
    report.refuse(reason, frame[bad])
    return frame[~bad]


def _inside_session(times: pd.Series) -> pd.Series:
    """Whether each bar starts inside its day's regular session."""
    inside = pd.Series(False, index=times.index)
    for day, stamps in times.groupby(times.dt.date):
        session = session_for(day)
        if session is not None:
            inside[stamps.index] = (stamps >= session.open) & (stamps < session.close)
    return inside


def _without_duplicates(frame: pd.DataFrame, report: CheckReport) -> pd.DataFrame:
    key = ["contract", "time"]
    repeated = frame.duplicated(key, keep=False)
    if not repeated.any():
        return frame
    values = ["open", "high", "low", "close", "volume"]
    distinct = frame[repeated].drop_duplicates([*key, *values]).duplicated(key, keep=False)
    conflicting_keys = frame[repeated].drop_duplicates([*key, *values])[distinct][key].drop_duplicates()
    conflict = frame.set_index(key).index.isin(conflicting_keys.set_index(key).index)
    report.refuse("conflicting_duplicate", frame[conflict])
    frame = frame[~conflict]
    copies = frame.duplicated(key, keep="first")
    report.refuse("duplicate", frame[copies])
    return frame[~copies]


def _missing_minutes(bars: pd.DataFrame) -> int:
    if bars.empty:
        return 0
    spans = bars.groupby("contract")["time"].agg(["min", "max", "count"])
    minutes = (spans["max"] - spans["min"]).dt.total_seconds() // 60 + 1
    return int((minutes - spans["count"]).clip(lower=0).sum())
