"""Choosing a market world (synthetic or CSV replay) and the sessions of a date range in it."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from core.calendar import Session, last_sessions, sessions_between
from core.market.chain_world import ChainSource, ChainWorld, open_chains
from core.market.csv_source import CsvWorld
from core.market.synthetic import SyntheticWorld
from core.options.history import OptionHistory


def make_world(source: str, seed: int) -> SyntheticWorld | CsvWorld | ChainWorld:
    """`synthetic` (seeded), `csv:DIR` (real bars and VIX from a folder) or `chains:PATH` (imported
    same-day chains, core/market/chain_world.py; a chain file is imported into a scratch folder
    removed at exit)."""
    if source == "synthetic":
        return SyntheticWorld(seed)
    if source.startswith("csv:"):
        return CsvWorld(source.removeprefix("csv:"))
    if source.startswith("chains:"):
        scratch = Path(tempfile.mkdtemp(prefix="chains-"))
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
        return open_chains(source, scratch)[0]
    raise ValueError(f"unknown --source {source!r}: use 'synthetic', 'csv:DIR' or 'chains:PATH'")


def pricing_history(world: object, source: str, folder: str | None) -> OptionHistory | None:
    """The option history a market over `world` prices from: a chain world's own imported quotes
    (none with `pricing=model`: the surface alone on the same days), else the `folder` cache."""
    if isinstance(world, ChainWorld):
        return world.history if ChainSource.parse(source).pricing == "quotes" else None
    return OptionHistory(folder) if folder else None


def market_name(world: object, source: str) -> str:
    """The data source each decision records: synthetic, csv, or how a chain day's minutes were made."""
    if isinstance(world, ChainWorld):
        return world.bar_source
    return "synthetic" if source == "synthetic" else "csv"


def pick_sessions(world: Any, start: date | None, end: date | None, days: int | None) -> list[Session]:
    """Sessions between start and end (inclusive); with only `days`, the last `days` sessions up to
    `end` (a CSV world: the last ones it has; a synthetic world: up to today)."""
    listed = getattr(world, "sessions", None)  # worlds of data (CSV files, recordings) list their sessions
    if callable(listed):
        sessions = listed(start, end)
        return sessions[-days:] if days and not start else sessions
    if start and end:
        return sessions_between(start, end)
    end = end or date.today()
    if start:
        return [s for s in last_sessions(end, 10_000) if s.day >= start]
    return last_sessions(end, days or 20)
