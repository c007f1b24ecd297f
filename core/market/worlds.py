"""Choosing a market world (synthetic or CSV replay) and the sessions of a date range in it."""

from __future__ import annotations

from datetime import date
from typing import Any

from core.calendar import Session, last_sessions, sessions_between
from core.market.csv_source import CsvWorld
from core.market.synthetic import SyntheticWorld


def make_world(source: str, seed: int) -> SyntheticWorld | CsvWorld:
    """`synthetic` (seeded) or `csv:DIR` (real bars and VIX from a folder)."""
    if source == "synthetic":
        return SyntheticWorld(seed)
    if source.startswith("csv:"):
        return CsvWorld(source.removeprefix("csv:"))
    raise ValueError(f"unknown --source {source!r}: use 'synthetic' or 'csv:DIR'")


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
