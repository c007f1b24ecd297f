"""A same-day chain day replays through the worker's cycle (`--source chains:PATH`): options priced
from its quotes and labelled, fills recording their source, the underlying split from 5-minute
bars and saying so; the same days priced by the model alone for the side by side."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from core.calendar import NY, session_for
from core.market.chain_world import ChainWorld
from core.market.sim_market import SimMarket
from core.market.synthetic import SyntheticWorld
from core.options.chain_import import import_chains
from core.options.history import OptionHistory
from core.types import PriceSource
from db.recordings import export
from tests.chain_helpers import DAY, REAL_CHAINS, SHARED, write_chain_day
from tests.conftest import ACTIVE_PARAMS, with_params
from worker.offline.backtest import BacktestResult, format_result, run_backtest
from worker.runtime import RunOptions

QUOTED = {"real_quote", "quote_anchored", "model"}
PRICED = "SELECT price_source, count(*) FROM decision WHERE price_source IS NOT NULL GROUP BY price_source"


def _run(tmp_path: Path, name: str, source: str, day: date) -> tuple[str, BacktestResult]:
    url = f"sqlite:///{tmp_path / name}"
    with_params(url, **ACTIVE_PARAMS)
    options = RunOptions(db=url, source=source, seed=5, flush_every=60)
    return url, run_backtest(options, day, day)


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with create_engine(url).connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql)).all()]


def test_a_chain_day_replays_through_the_cycle_priced_from_its_quotes(tmp_path: Path) -> None:
    day = write_chain_day(tmp_path / "data")
    source = f"chains:{day.chains},vix={day.data},bars={day.bars}"
    url, result = _run(tmp_path, "real.db", source, DAY)
    assert result.sessions == 1 and result.bars == 390
    assert _rows(url, "SELECT DISTINCT data_source FROM decision") == [("chains_5min_split",)]
    decided = dict(_rows(url, PRICED))
    assert set(decided) <= QUOTED and decided.get("real_quote", 0) > 0 and decided.get("quote_anchored", 0) > 0
    fills = _rows(url, "SELECT price_source FROM fill")
    assert fills and {f[0] for f in fills} <= QUOTED, "every fill says how it was priced"
    report = format_result(result, 100_000.0)
    assert "split from coarser bars" in report and "chains_5min_split" in report

    model_url, model = _run(tmp_path, "model.db", f"{source},pricing=model", DAY)
    assert _rows(model_url, "SELECT DISTINCT data_source FROM decision") == [("chains_5min_split",)]
    assert set(model.decision_sources) == {"model"} and model.bars == result.bars, "the same minutes, model prices"


@pytest.mark.skipif(not REAL_CHAINS.is_file(), reason=f"no shared chain file at {REAL_CHAINS} (issue 32's data)")
def test_a_real_chain_day_replays_end_to_end(tmp_path: Path) -> None:
    source = f"chains:{REAL_CHAINS},vix={SHARED},bars={SHARED / '5min'}"
    real_day = date(2026, 7, 17)
    url, result = _run(tmp_path, "real.db", source, real_day)
    assert result.sessions == 1 and result.bars == 390
    decided = dict(_rows(url, PRICED))
    assert decided and set(decided) <= QUOTED and decided.get("quote_anchored", 0) > 0, decided
    assert _rows(url, "SELECT DISTINCT data_source FROM decision") == [("chains_5min_split",)]
    assert {f[0] for f in _rows(url, "SELECT price_source FROM fill")} <= QUOTED
    spots = _rows(url, "SELECT underlying_price FROM decision WHERE underlying_price IS NOT NULL ORDER BY time LIMIT 1")
    assert spots and 700 < float(spots[0][0]) < 800, "SPY from the chain's own days, not the synthetic world"


def test_the_quotes_a_worker_records_import_as_chains_and_price_as_real_quotes(tmp_path: Path) -> None:
    """A day recorded as a paper worker records it (bars, near-the-money quotes each minute),
    exported by db.recordings, imports as chains and replays priced from those quotes."""
    folder = tmp_path / "world"
    folder.mkdir()
    one = SyntheticWorld(5).session_bars(session_for(DAY), "SPY")  # type: ignore[arg-type]
    stamps = pd.to_datetime(one.start, unit="s", utc=True).tz_convert("America/New_York").tz_localize(None)
    pd.DataFrame(
        {"datetime": stamps, "open": one.open, "high": one.high, "low": one.low, "close": one.close,
         "volume": one.volume}
    ).to_csv(folder / "SPY_1min.csv", index=False)  # fmt: skip
    write_chain_day(tmp_path / "vix")
    shutil.copy(tmp_path / "vix" / "VIX_daily.csv", folder / "VIX_daily.csv")
    url = f"sqlite:///{tmp_path / 'paper.db'}"
    run_backtest(RunOptions(db=url, source=f"csv:{folder}", seed=5, flush_every=60, record=True), DAY, DAY)
    export(create_engine(url), DAY, DAY, tmp_path / "rec")
    history = OptionHistory(tmp_path / "cache")
    result = import_chains(history, [tmp_path / "rec" / "quotes.parquet"], tmp_path / "rec" / "bars.parquet")
    assert list(result.days) == [DAY] and result.total.kept == result.total.rows_in > 1000, result.summary()
    world = ChainWorld(history, folder)
    assert world.bar_source == "chains_1min_split"
    market = SimMarket(world, option_history=history)
    chain = market.chain("SPY", datetime(2026, 3, 2, 11, 0, tzinfo=NY))
    assert chain is not None and chain.sources is not None and PriceSource.REAL_QUOTE in chain.sources
