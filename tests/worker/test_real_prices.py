"""A backtest on a day the option cache holds prices its options from the real bars (anchored
between them), records where each price came from, and pays those prices."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, text

from bench._option_bars import model_option_bars
from core.calendar import last_sessions, session_for
from core.market.csv_source import CsvWorld
from core.market.sim_market import SimMarket
from core.market.synthetic import SyntheticWorld
from core.types import OptionContract
from tests.conftest import ACTIVE_PARAMS, with_params
from worker.offline.backtest import describe_sources, format_result, run_backtest
from worker.runtime import RunOptions

DAY = date(2026, 3, 2)
DEARER = 1.3  # the "real" market prices options 30% above the model


def _world_folder(folder: Path) -> CsvWorld:
    """One real-looking session (the seeded synthetic world's bars) written in the CSV format."""
    folder.mkdir()
    synthetic = SyntheticWorld(5)
    session = session_for(DAY)
    assert session is not None
    for symbol in ("SPY", "QQQ"):
        bars = synthetic.session_bars(session, symbol)
        stamps = pd.to_datetime(bars.start, unit="s", utc=True).tz_convert("America/New_York").tz_localize(None)
        pd.DataFrame(
            {"datetime": stamps, "open": bars.open, "high": bars.high, "low": bars.low, "close": bars.close,
             "volume": bars.volume}
        ).to_csv(folder / f"{symbol}_1min.csv", index=False)  # fmt: skip
    days = [s.day for s in last_sessions(DAY, 40)]
    vix = [synthetic.vix_open(d) for d in days]
    pd.DataFrame({"date": days, "open": vix, "high": vix, "low": vix, "close": vix}).to_csv(
        folder / "VIX_daily.csv", index=False
    )
    return CsvWorld(folder)


def _real_bars(world: CsvWorld, cache: Path) -> None:
    """Trade bars at DEARER times the model's mid, in most minutes, near the money."""
    session = session_for(DAY)
    assert session is not None
    report = model_option_bars(world, [session], cache, factor=DEARER, traded=0.5)
    assert not report.refused and report.kept > 10_000


def _options(tmp_path: Path, name: str, world: Path, cache: Path | None, end: str | None = None) -> RunOptions:
    url = f"sqlite:///{tmp_path / name}"
    with_params(url, **ACTIVE_PARAMS)
    history = None if cache is None else str(cache)
    return RunOptions(db=url, source=f"csv:{world}", seed=5, flush_every=60, option_history=history, error_band_end=end)


def _run(tmp_path: Path, name: str, world: Path, cache: Path | None) -> str:
    options = _options(tmp_path, name, world, cache)
    result = run_backtest(options, DAY, DAY)
    return f"{options.db}\n{format_result(result, options.cash)}"


def _entry_cost(tmp_path: Path, name: str, world: Path, cache: Path | None, end: str) -> float:
    """What the day's first entry paid per contract, priced at one end of the error band."""
    options = _options(tmp_path, name, world, cache, end)
    run_backtest(options, DAY, DAY)
    with create_engine(str(options.db)).connect() as conn:
        return float(conn.execute(text("SELECT entry_avg FROM trade ORDER BY id LIMIT 1")).scalar_one())


def test_a_backtest_prices_from_the_cached_bars_and_says_so(tmp_path: Path) -> None:
    world = _world_folder(tmp_path / "world")
    cache = tmp_path / "cache"
    _real_bars(world, cache)
    real_url, real_report = _run(tmp_path, "real.db", tmp_path / "world", cache).split("\n", 1)
    _, model_report = _run(tmp_path, "model.db", tmp_path / "world", None).split("\n", 1)
    with create_engine(real_url).connect() as conn:
        decided = dict(conn.execute(text("SELECT price_source, count(*) FROM decision GROUP BY price_source")).all())
        fills = conn.execute(
            text("SELECT f.price_source, f.side, f.price, f.time, f.contract FROM fill f ORDER BY f.id")
        ).all()
    assert decided.get("real_bar", 0) > 0 and decided.get("anchored", 0) > 0, decided
    assert {f[0] for f in fills} <= {"real_bar", "anchored", "model"} and fills, "every fill says how it was priced"
    assert "option prices     decisions: " in real_report and "real_bar" in real_report
    assert "decisions: model 100%" in model_report, "without the cache the model prices everything, and says so"
    model = SimMarket(CsvWorld(tmp_path / "world"))
    ratios = []
    for source, side, price, at, contract in fills:
        if side != "buy" or source == "model":
            continue
        moment = pd.Timestamp(at).tz_localize("UTC").to_pydatetime() if pd.Timestamp(at).tzinfo is None else at
        quote = model.quote_at(OptionContract.from_symbol(contract), pd.Timestamp(moment).to_pydatetime())
        assert quote is not None
        ratios.append(price / quote.mid)
    assert ratios and np.median(ratios) > 1.15, f"the fills paid the dearer real prices: {ratios}"


def test_the_error_band_moves_model_prices_and_leaves_real_ones(tmp_path: Path) -> None:
    world = _world_folder(tmp_path / "world")
    cache = tmp_path / "cache"
    _real_bars(world, cache)
    folder = tmp_path / "world"
    model_low = _entry_cost(tmp_path, "ml.db", folder, None, "low")
    model_high = _entry_cost(tmp_path, "mh.db", folder, None, "high")
    real_low = _entry_cost(tmp_path, "rl.db", folder, cache, "low")
    real_high = _entry_cost(tmp_path, "rh.db", folder, cache, "high")
    assert model_high > model_low * 1.05, "the model's prices follow the scaled implied vol"
    assert abs(real_high - real_low) < 0.5 * (model_high - model_low), "real bars do not move with the model"
    assert describe_sources({}) == "none"
