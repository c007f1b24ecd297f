"""Recorded market inputs: exported to Parquet and pruned by date, from the command a user runs."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import create_engine, insert, text

from db.models import Bar, OptionQuote
from db.recordings import export, prune
from tests.support import ROOT


def _seed(url: str) -> None:
    subprocess.run([sys.executable, "-m", "db.migrate", "--db", url], cwd=ROOT, check=True, capture_output=True)
    engine = create_engine(url)
    with engine.begin() as conn:
        for day in (2, 3):
            at = datetime(2026, 3, day, 15, 0, tzinfo=UTC)
            conn.execute(
                insert(Bar).values(
                    symbol="SPY",
                    time=at,
                    open=1,
                    high=2,
                    low=0.5,
                    close=1.5,
                    volume=10,
                    source="alpaca",
                    degraded=False,
                )
            )
            conn.execute(
                insert(OptionQuote).values(
                    time=at,
                    quote_time=at,
                    underlying="SPY",
                    contract="SPY260302C00600000",
                    bid=1.0,
                    ask=1.01,
                    bid_size=5,
                    ask_size=7,
                    iv=0.2,
                    delta=0.5,
                    spot=600.0,
                    source="alpaca",
                    degraded=False,
                )
            )
    engine.dispose()


def test_recordings_export_to_parquet_and_prune_by_date(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rec.db'}"
    _seed(url)
    engine = create_engine(url)
    assert export(engine, datetime(2026, 3, 3).date(), None, tmp_path / "out") == (1, 1)
    quotes = pd.read_parquet(tmp_path / "out" / "quotes.parquet")
    assert list(quotes["ask_size"]) == [7] and list(quotes["contract"]) == ["SPY260302C00600000"]
    assert prune(engine, datetime(2026, 3, 3).date()) == (1, 1)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM bar")).scalar() == 1
    out = subprocess.run(
        [sys.executable, "-m", "db.recordings", "summary", "--db", url],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "bars: 1" in out and "option quotes: 1" in out
