"""The local cache of real option minute bars: one Parquet file per underlying and trading day.

Layout: `FOLDER/UNDERLYING/YYYY-MM-DD.parquet`, columns `bar_checks.STORED_COLUMNS`, only rows
that passed `bar_checks.check_bars`; where the vendor offers trades, `YYYY-MM-DD.trades.parquet`
beside it (contract, time, price, size: each trade of the contracts that have bars that day), so
a price inside a minute is the last trade before that moment rather than a point on the bar.
A day's file is written whole (a temporary file renamed over the final name), so a download or
import stopped halfway leaves either the complete day or none of it, and a resumed one never
holds a row twice. A day with no trades is an empty file: asked and answered, not missing.

Quotes layout (whole same-day chains, `python -m worker.option_history import-chains`), beside the
bars: `YYYY-MM-DD.quotes.parquet` (`quote_checks.QUOTE_COLUMNS`: each checked quote with its own
time and the underlying's spot then), `YYYY-MM-DD.quotes.checks.json` (what the import refused
that day and why) and `YYYY-MM-DD.underlying.parquet` (the underlying's bars the spots were
checked against: the chain world's minutes are split from them, core/market/chain_world.py).
Each is written whole per day, as bars are; a day with quotes and no bars prices from the quotes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from core.options.bar_checks import STORED_COLUMNS, CheckReport, check_bars
from core.options.quote_checks import QuoteCheckReport
from core.options.quote_pricing import DayQuotes

DEFAULT_FOLDER = Path("data/option_history")


@dataclass(frozen=True)
class ContractBars:
    """One contract's bars of one day as arrays (bar starts in epoch seconds, ascending)."""

    starts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray

    def index_at(self, ts: float) -> int:
        """The last bar that started at or before `ts` (-1: none yet)."""
        return int(np.searchsorted(self.starts, ts, side="right")) - 1


TRADE_COLUMNS = ("contract", "time", "price", "size")


@dataclass(frozen=True)
class ContractTrades:
    """One contract's trades of one day (epoch seconds, ascending)."""

    times: np.ndarray
    prices: np.ndarray

    def last_at_or_before(self, ts: float, since: float) -> float | None:
        """The price of the last trade at or before `ts` and not before `since` (None: none)."""
        i = int(np.searchsorted(self.times, ts, side="right")) - 1
        return float(self.prices[i]) if i >= 0 and self.times[i] >= since else None


@dataclass(frozen=True)
class DayBars:
    """Every contract's bars of one underlying and day, and its trades where the cache has them."""

    underlying: str
    day: date
    contracts: dict[str, ContractBars]
    trades: dict[str, ContractTrades] | None = None
    quotes: DayQuotes | None = None  # the day's real quotes, where the cache has them (priced first)

    @staticmethod
    def of(underlying: str, day: date, frame: pd.DataFrame, trades: pd.DataFrame | None = None) -> DayBars:
        contracts: dict[str, ContractBars] = {}
        if not frame.empty:
            starts = pd.DatetimeIndex(frame["time"]).as_unit("ns").asi8 / 1e9
            frame = frame.assign(_ts=starts)
            for symbol, part in frame.groupby("contract", sort=False):
                part = part.sort_values("_ts")
                contracts[str(symbol)] = ContractBars(
                    part["_ts"].to_numpy(float),
                    *(part[c].to_numpy(float) for c in ("open", "high", "low", "close")),
                )
        by_contract: dict[str, ContractTrades] | None = None
        if trades is not None:
            by_contract = {}
            stamps = pd.DatetimeIndex(trades["time"]).as_unit("ns").asi8 / 1e9
            for symbol, part in trades.assign(_ts=stamps).groupby("contract", sort=False):
                part = part.sort_values("_ts", kind="stable")
                by_contract[str(symbol)] = ContractTrades(part["_ts"].to_numpy(float), part["price"].to_numpy(float))
        return DayBars(underlying, day, contracts, by_contract)


class OptionHistory:
    """Read and write the Parquet cache; a few days are kept in memory (replays walk forward)."""

    def __init__(self, folder: str | Path = DEFAULT_FOLDER) -> None:
        self.folder = Path(folder)
        self._loaded: dict[tuple[str, date], DayBars | None] = {}

    def path(self, underlying: str, day: date) -> Path:
        return self.folder / underlying / f"{day.isoformat()}.parquet"

    def trades_path(self, underlying: str, day: date) -> Path:
        return self.folder / underlying / f"{day.isoformat()}.trades.parquet"

    def quotes_path(self, underlying: str, day: date) -> Path:
        return self.folder / underlying / f"{day.isoformat()}.quotes.parquet"

    def underlying_path(self, underlying: str, day: date) -> Path:
        return self.folder / underlying / f"{day.isoformat()}.underlying.parquet"

    def checks_path(self, underlying: str, day: date) -> Path:
        return self.folder / underlying / f"{day.isoformat()}.quotes.checks.json"

    def has_day(self, underlying: str, day: date) -> bool:
        return self.path(underlying, day).is_file() or self.quotes_path(underlying, day).is_file()

    def quote_days(self, underlying: str) -> list[date]:
        """The days whose quotes were imported."""
        where = self.folder / underlying
        names = where.glob("????-??-??.quotes.parquet") if where.is_dir() else []
        return sorted(date.fromisoformat(p.name[:10]) for p in names)

    def write_quotes(
        self, underlying: str, day: date, quotes: pd.DataFrame, bars: pd.DataFrame, report: QuoteCheckReport
    ) -> Path:
        """Replace one day's quotes, its underlying bars and its check report, each atomically
        (the quotes last: a day is readable only once its bars are there)."""
        self._replace(underlying, day, self.underlying_path(underlying, day), bars)
        checks = self.checks_path(underlying, day)
        part = checks.with_suffix(".json.part")
        part.write_text(json.dumps(report.to_json(), indent=1, default=str))
        os.replace(part, checks)
        return self._replace(underlying, day, self.quotes_path(underlying, day), quotes)

    def read_checks(self, underlying: str, day: date) -> QuoteCheckReport | None:
        """What the import refused on that day (None: no quotes imported)."""
        path = self.checks_path(underlying, day)
        return QuoteCheckReport.from_json(json.loads(path.read_text())) if path.is_file() else None

    def read_underlying(self, underlying: str, day: date) -> pd.DataFrame | None:
        path = self.underlying_path(underlying, day)
        return pd.read_parquet(path) if path.is_file() else None

    def days(self, underlying: str) -> list[date]:
        where = self.folder / underlying
        if not where.is_dir():
            return []
        return sorted(date.fromisoformat(p.stem) for p in where.glob("????-??-??.parquet"))

    def write_trades(self, underlying: str, day: date, trades: pd.DataFrame) -> Path:
        """Replace one day's trades file, atomically (rows with a missing or non-positive price dropped)."""
        frame = trades.loc[:, list(TRADE_COLUMNS)]
        frame = frame[pd.to_numeric(frame["price"], errors="coerce") > 0]
        return self._replace(underlying, day, self.trades_path(underlying, day), frame)

    def read_frame(self, underlying: str, day: date) -> pd.DataFrame:
        path = self.path(underlying, day)
        return pd.read_parquet(path) if path.is_file() else pd.DataFrame(columns=list(STORED_COLUMNS))

    def write_day(self, underlying: str, day: date, bars: pd.DataFrame) -> Path:
        """Replace one day's file with `bars` (already checked), atomically."""
        return self._replace(underlying, day, self.path(underlying, day), bars.loc[:, list(STORED_COLUMNS)])

    def _replace(self, underlying: str, day: date, path: Path, frame: pd.DataFrame) -> Path:
        """Write `frame` beside `path`, then rename it over `path` (a reader sees the old file or the
        new one, never half of one), and forget the day's loaded copy."""
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_suffix(".parquet.part")
        frame.reset_index(drop=True).to_parquet(part, index=False)
        os.replace(part, path)
        self._loaded.pop((underlying, day), None)
        return path

    def add_checked(self, bars: pd.DataFrame) -> CheckReport:
        """Merge checked rows into their days' files; rows already there count as duplicates,
        the same minute at another price as conflicting (both copies leave the day)."""
        report = CheckReport()
        if bars.empty:
            return report
        for (underlying, day), part in bars.groupby([bars["underlying"], bars["time"].dt.date]):
            existing = self.read_frame(str(underlying), day)
            if existing.empty:
                merged, merge_report = part, CheckReport(rows_in=len(part), kept=len(part))
            else:
                both = pd.concat([existing, part], ignore_index=True)
                merged, merge_report = check_bars(both, str(underlying), "any")
                merge_report.rows_in, merge_report.kept = len(part), len(merged) - len(existing)
            self.write_day(str(underlying), day, merged)
            merge_report.missing_minutes = 0
            report.merge(merge_report)
        return report

    def day(self, underlying: str, day: date) -> DayBars | None:
        """One day's bars for pricing (None: this day was never fetched: price from the model)."""
        key = (underlying, day)
        if key not in self._loaded:
            if len(self._loaded) >= 8:
                self._loaded.pop(next(iter(self._loaded)))
            path, trades = self.path(underlying, day), self.trades_path(underlying, day)
            quotes = self.quotes_path(underlying, day)
            found = (
                DayBars.of(
                    underlying, day, pd.read_parquet(path), pd.read_parquet(trades) if trades.is_file() else None
                )
                if path.is_file()
                else None
            )
            if quotes.is_file():
                found = found or DayBars(underlying, day, {})
                found = DayBars(underlying, day, found.contracts, found.trades, DayQuotes.of(pd.read_parquet(quotes)))
            self._loaded[key] = found
        return self._loaded[key]


def option_history_folder(choice: str) -> str | None:
    """The cache folder `--option-history` names: 'none' is none; 'auto' the default folder when it
    holds any day (a fresh checkout has none: every option is priced by the model)."""
    if choice in ("", "none"):
        return None
    if choice == "auto":
        held = any(DEFAULT_FOLDER.glob("*/????-??-??.parquet")) or any(DEFAULT_FOLDER.glob("*/*.quotes.parquet"))
        return str(DEFAULT_FOLDER) if held else None
    if not Path(choice).is_dir():
        raise ValueError(f"--option-history {choice}: no such folder (python -m worker.option_history fills it)")
    return choice
