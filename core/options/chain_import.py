"""Importing files of timestamped same-day quotes (whole chains) into the option-history cache.

Quotes: a vendor's chain file (.parquet or .csv, the CBOE format in ../shared/data/options) or the
quotes a worker recorded (`python -m db.recordings export`: quotes.parquet). Underlying bars, the
spots are checked against and the replay's minutes are split from: a bar CSV
(`datetime,open,high,low,close,volume`, New York bar start, any bar length: the shared 5-minute
file), a folder of them (`SYMBOL_*.csv`), or the recordings' bars.parquet (symbol, time in UTC).
Each day is checked on its own (core/options/quote_checks.py) and written whole with its report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from core.calendar import NY
from core.options.bar_checks import _new_york_times
from core.options.history import OptionHistory
from core.options.quote_checks import QuoteCheckReport, check_quotes

BAR_FIELDS = ("open", "high", "low", "close", "volume")


@dataclass
class ImportResult:
    """What an import kept and refused, in all and per day written."""

    total: QuoteCheckReport = field(default_factory=QuoteCheckReport)
    days: dict[date, QuoteCheckReport] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [self.total.summary(), f"{len(self.days)} days written"]
        for day, report in sorted(self.days.items()):
            refused = ", ".join(f"{r} {n}" for r, n in report.refused.most_common()) or "none refused"
            lines.append(f"  {day}: {report.kept} of {report.rows_in} quotes kept ({refused})")
        return "\n".join(lines)


def read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def read_underlying_bars(path: Path, symbol: str) -> pd.DataFrame:
    """time (bar start, New York), minutes (bar length), open, high, low, close, volume; sorted."""
    if path.is_dir():
        files = sorted(p for p in path.glob(f"{symbol}_*.csv") if "daily" not in p.name.lower())
        if not files:
            raise FileNotFoundError(f"{path}: no bar files named {symbol}_*.csv")
        frame = pd.concat([read_table(p) for p in files], ignore_index=True)
    else:
        frame = read_table(path)
    if "symbol" in frame.columns:  # recordings: every symbol in one file, times in UTC
        frame = frame[frame["symbol"] == symbol]
        times = pd.to_datetime(frame["time"], utc=True).dt.tz_convert(NY)
    else:
        column = "datetime" if "datetime" in frame.columns else "time"
        times = pd.to_datetime(frame[column])
        times = times.dt.tz_localize(NY) if times.dt.tz is None else times.dt.tz_convert(NY)
    missing = [c for c in BAR_FIELDS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: underlying bars need columns {missing}")
    out = frame.loc[:, list(BAR_FIELDS)].astype(float).assign(time=times.to_numpy())
    out = out.dropna(subset=["time"]).sort_values("time", kind="stable")
    out = out[~out["time"].duplicated(keep="last")].reset_index(drop=True)
    out["minutes"] = bar_minutes(out["time"])
    return out


def bar_minutes(times: pd.Series) -> int:
    """The bars' length in minutes: the smallest step between two bars of one day (1 when unknown)."""
    if len(times) < 2:
        return 1
    stamps = pd.DatetimeIndex(times)
    steps = np.diff(stamps.asi8) / 60e9
    same_day = stamps.date[1:] == stamps.date[:-1]
    steps = steps[same_day & (steps > 0)]
    return max(round(float(steps.min())), 1) if steps.size else 1


def import_chains(
    history: OptionHistory, files: list[Path], bars_path: Path, underlying: str | None = None
) -> ImportResult:
    """Check every file's quotes day by day and write each day whole (quotes, its underlying's
    bars, its report) into `history`. A day in two files is checked as one."""
    raw = pd.concat([read_table(p) for p in files], ignore_index=True)
    if "quote_time" not in raw.columns:
        raise ValueError("option quotes need a quote_time column (the quote's own time)")
    result = ImportResult()
    result.total.rows_in = len(raw)
    day_of = _new_york_times(raw["quote_time"]).dt.date
    unread = raw[day_of.isna()]
    if len(unread):
        _, report = check_quotes(unread, None, underlying)
        result.total.merge(report)
    symbols = underlying or _only_underlying(raw)
    bars = read_underlying_bars(bars_path, symbols)
    for day, part in raw[day_of.notna()].groupby(day_of[day_of.notna()]):
        day_bars = bars[bars["time"].dt.date == day]
        kept, report = check_quotes(part, day_bars, underlying or symbols)
        result.total.merge(report)
        result.days[day] = report
        if len(kept):
            history.write_quotes(str(kept["underlying"].iloc[0]), day, kept, day_bars.reset_index(drop=True), report)
    result.total.rows_in = len(raw)
    return result


def _only_underlying(raw: pd.DataFrame) -> str:
    """The one underlying a file of quotes is on (an import is one underlying at a time)."""
    if "underlying" in raw.columns:
        names = raw["underlying"].dropna().astype(str).unique()
    else:
        names = raw["contract"].astype(str).str.extract(r"^(?:O:)?([A-Z]+)\d")[0].dropna().unique()
    if len(names) != 1:
        raise ValueError(f"quotes on {sorted(names)[:5]}: import one underlying at a time (--underlying)")
    return str(names[0])
