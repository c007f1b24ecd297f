"""The local cache of real option minute bars: one Parquet file per underlying and trading day.

Layout: `FOLDER/UNDERLYING/YYYY-MM-DD.parquet`, columns `bar_checks.STORED_COLUMNS`, only rows
that passed `bar_checks.check_bars`. A day's file is written whole (a temporary file renamed over
the final name), so a download or import stopped halfway leaves either the complete day or none
of it, and a resumed one never holds a row twice. A day with no trades is an empty file: asked
and answered, not missing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from core.options.bar_checks import STORED_COLUMNS, CheckReport, check_bars

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


@dataclass(frozen=True)
class DayBars:
    """Every contract's bars of one underlying and day."""

    underlying: str
    day: date
    contracts: dict[str, ContractBars]

    @staticmethod
    def of(underlying: str, day: date, frame: pd.DataFrame) -> DayBars:
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
        return DayBars(underlying, day, contracts)


class OptionHistory:
    """Read and write the Parquet cache; a few days are kept in memory (replays walk forward)."""

    def __init__(self, folder: str | Path = DEFAULT_FOLDER) -> None:
        self.folder = Path(folder)
        self._loaded: dict[tuple[str, date], DayBars | None] = {}

    def path(self, underlying: str, day: date) -> Path:
        return self.folder / underlying / f"{day.isoformat()}.parquet"

    def has_day(self, underlying: str, day: date) -> bool:
        return self.path(underlying, day).is_file()

    def days(self, underlying: str) -> list[date]:
        where = self.folder / underlying
        if not where.is_dir():
            return []
        return sorted(date.fromisoformat(p.stem) for p in where.glob("*.parquet"))

    def read_frame(self, underlying: str, day: date) -> pd.DataFrame:
        path = self.path(underlying, day)
        return pd.read_parquet(path) if path.is_file() else pd.DataFrame(columns=list(STORED_COLUMNS))

    def write_day(self, underlying: str, day: date, bars: pd.DataFrame) -> Path:
        """Replace one day's file with `bars` (already checked), atomically."""
        path = self.path(underlying, day)
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_suffix(".parquet.part")
        frame = bars.loc[:, list(STORED_COLUMNS)].reset_index(drop=True)
        frame.to_parquet(part, index=False)
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
            path = self.path(underlying, day)
            self._loaded[key] = DayBars.of(underlying, day, pd.read_parquet(path)) if path.is_file() else None
        return self._loaded[key]


def option_history_folder(choice: str) -> str | None:
    """The cache folder `--option-history` names: 'none' is none; 'auto' the default folder when it
    holds any day (a fresh checkout has none: every option is priced by the model)."""
    if choice in ("", "none"):
        return None
    if choice == "auto":
        return str(DEFAULT_FOLDER) if any(DEFAULT_FOLDER.glob("*/*.parquet")) else None
    if not Path(choice).is_dir():
        raise ValueError(f"--option-history {choice}: no such folder (python -m worker.option_history fills it)")
    return choice
