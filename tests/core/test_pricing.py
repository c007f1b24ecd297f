"""The option price model: each underlying's own IV level, one-cent spreads where the market
quotes them, and the CSV world's intraday VIX that never sees a later bar."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from core.calendar import NY, session_for
from core.market.csv_source import CsvWorld
from core.market.sim_market import SimMarket
from core.market.vol_indexes import VIX_ELASTICITY
from core.options.chain import build_chain, price_arrays
from core.options.surface import SURFACES, TICK, spread_ticks, surface_for
from core.types import OptionContract, Right

DAY = date(2026, 2, 12)


def test_out_of_the_money_quotes_are_one_cent_wide_and_the_spread_widens_into_the_money() -> None:
    p = SURFACES["SPY"]
    assert spread_ticks(np.array([0.1, 0.3, 0.45]), 300.0, p).tolist() == [1.0, 1.0, 1.0]
    widths = spread_ticks(np.array([0.6, 0.75, 0.9]), 300.0, p)
    assert (np.diff(widths) > 0).all() and widths[0] >= 1
    assert (spread_ticks(np.array([0.75]), 10.0, p) > spread_ticks(np.array([0.75]), 300.0, p)).all(), "wider late"
    chain = build_chain("SPY", DAY, datetime(2026, 2, 12, 11, 0, tzinfo=NY), 690.4, 17.5, 300.0, p=p)
    otm = np.abs(chain.delta) < 0.45
    assert np.allclose(chain.ask[otm] - chain.bid[otm], TICK), "the model no longer widens every quote outward"
    assert np.allclose(np.round(chain.bid * 100), chain.bid * 100)


def test_each_underlying_prices_from_its_own_level() -> None:
    spy, qqq = surface_for("SPY"), surface_for("QQQ")
    assert qqq.level > spy.level * 1.2, "QQQ's implied vol runs well above SPY's at the same VIX"
    assert surface_for("IWM") == spy, "an uncalibrated underlying falls back to SPY's surface"
    strikes, calls = np.array([600.0]), np.array([True])
    _, _, iv_spy, _ = price_arrays(600.0, strikes, calls, 18.0, 200.0, spy)
    _, _, iv_qqq, _ = price_arrays(600.0, strikes, calls, 18.0, 200.0, qqq)
    assert iv_qqq[0] / iv_spy[0] > 1.2


def _write_day(folder: Path, symbol: str, closes: list[float]) -> None:
    session = session_for(DAY)
    assert session is not None
    stamps = [session.at(i).replace(tzinfo=None) for i in range(len(closes))]
    pd.DataFrame(
        {"datetime": stamps, "open": closes, "high": closes, "low": closes, "close": closes, "volume": 100.0}
    ).to_csv(folder / f"{symbol}_1min.csv", index=False)


def test_the_csv_worlds_vix_moves_against_spy_through_the_day_without_seeing_later_bars(tmp_path: Path) -> None:
    falling = [600.0 - 0.1 * i for i in range(390)]
    _write_day(tmp_path, "SPY", falling)
    _write_day(tmp_path, "QQQ", [500.0] * 390)
    pd.DataFrame({"date": [DAY.isoformat()], "open": [18.0], "high": [25.0], "low": [17.0], "close": [24.0]}).to_csv(
        tmp_path / "VIX_daily.csv", index=False
    )
    world = CsvWorld(tmp_path)
    session = session_for(DAY)
    assert session is not None
    path = world.vix_path(session)
    assert path.size == session.minutes and (np.diff(path) > 0).all(), "SPY falls all day: VIX rises"
    expected = 18.0 * np.exp(VIX_ELASTICITY * np.log(falling[99] / falling[0]) - 0.0098 * 100 / 390)
    assert abs(path[99] - expected) < 1e-9
    market = SimMarket(world)
    at_ten = session.at(30)
    assert market.vix(at_ten) == path[29], "the value through the last completed minute"
    _write_day(tmp_path, "SPY", falling[:200] + [900.0] * 190)  # a different future
    assert CsvWorld(tmp_path).vix_path(session)[:200].tolist() == path[:200].tolist()
    quote = market.quote_at(OptionContract("QQQ", DAY, 500.0, Right.CALL), at_ten)
    assert quote is not None and quote.ask - quote.bid >= TICK - 1e-9
