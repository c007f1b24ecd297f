"""The synthetic market, the calendar, option quotes and the no-lookahead feature engine."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from core.calendar import session_for, sessions_between
from core.features import FEATURE_NAMES, FeatureEngine
from core.market.csv_source import CsvDataError, CsvWorld
from core.market.sim_market import SimMarket
from core.market.synthetic import SyntheticWorld
from core.options.chain import build_chain, price_arrays, quote_contract
from core.protocols import BarView
from core.types import OptionContract, Right
from tests.conftest import SHARED_DATA

DAY = date(2026, 3, 10)


def test_calendar_knows_holidays_and_early_closes() -> None:
    assert session_for(date(2025, 12, 25)) is None
    assert session_for(date(2025, 11, 28)).minutes == 210  # type: ignore[union-attr]
    assert session_for(DAY).minutes == 390  # type: ignore[union-attr]
    assert len(sessions_between(date(2025, 12, 22), date(2025, 12, 26))) == 4


def test_world_is_deterministic_and_correlated() -> None:
    session = session_for(DAY)
    a, b = SyntheticWorld(9), SyntheticWorld(9)
    spy, qqq = a.session_bars(session, "SPY"), a.session_bars(session, "QQQ")  # type: ignore[arg-type]
    assert np.array_equal(spy.close, b.session_bars(session, "SPY").close)  # type: ignore[arg-type]
    assert not np.array_equal(spy.close, SyntheticWorld(10).session_bars(session, "SPY").close)  # type: ignore[arg-type]
    r1, r2 = np.diff(np.log(spy.close)), np.diff(np.log(qqq.close))
    assert np.corrcoef(r1, r2)[0, 1] > 0.6
    assert (spy.high >= np.maximum(spy.open, spy.close)).all() and (spy.low <= np.minimum(spy.open, spy.close)).all()
    u_shape = spy.volume[:30].mean() > spy.volume[150:240].mean() < spy.volume[-30:].mean()
    assert u_shape


def test_a_later_range_does_not_change_a_day() -> None:
    session = session_for(DAY)
    one = SyntheticWorld(4)
    one.session_bars(session_for(date(2026, 6, 1)), "SPY")  # type: ignore[arg-type]
    other = SyntheticWorld(4)
    assert np.array_equal(one.session_bars(session, "SPY").close, other.session_bars(session, "SPY").close)  # type: ignore[arg-type]


def test_chain_grid_spreads_and_scalar_path() -> None:
    session = session_for(DAY)
    assert session is not None
    now = session.at(120)
    chain = build_chain("SPY", DAY, now, 600.37, 17.0, 270.0)
    assert np.allclose(chain.strikes % 1.0, 0.0)
    assert (chain.ask - chain.bid >= 0.0099).all() and (chain.bid >= 0).all()
    assert np.allclose(np.round(chain.bid * 100), chain.bid * 100) and np.allclose(
        np.round(chain.ask * 100), chain.ask * 100
    )
    calls = chain.delta[chain.is_call]
    assert (np.diff(calls) <= 0).all() and calls.max() < 1 and calls.min() > 0
    for i in range(0, chain.strikes.size, 5):
        q = chain.quote(i)
        scalar = quote_contract(q.contract, now, 600.37, 17.0, 270.0)
        assert (scalar.bid, scalar.ask) == (q.bid, q.ask)
        assert scalar.delta == pytest.approx(q.delta, abs=1e-9)
    _bid, ask, _, _ = price_arrays(600.37, np.array([600.0, 600.0]), np.array([True, True]), 17.0, 30.0)
    _far_bid, far_ask, _, _ = price_arrays(600.37, np.array([600.0]), np.array([True]), 17.0, 300.0)
    assert far_ask[0] > ask[0], "more time, more premium"


def test_market_serves_only_completed_bars() -> None:
    session = session_for(DAY)
    assert session is not None
    market = SimMarket(SyntheticWorld(2))
    view = market.bars("SPY", session.at(45))
    assert view.count == 45
    assert market.spot("SPY", session.at(45)) == float(view.bars.open[45])
    quote = market.quote(OptionContract("SPY", DAY, round(view.last_close), Right.CALL), session.at(45))
    assert quote is not None and quote.ask > quote.bid


def test_features_do_not_look_ahead() -> None:
    """Rewrite every bar after t: the features at t must not change."""
    session = session_for(DAY)
    assert session is not None
    bars = SyntheticWorld(5).session_bars(session, "SPY")
    other = SyntheticWorld(6).session_bars(session, "SPY")
    for t in (1, 37, 200, 389):
        a, b = FeatureEngine(), FeatureEngine()
        a.catch_up(BarView(bars, t), 18.0)
        b.catch_up(BarView(bars.replace_after(t, other), t), 18.0)
        assert a.latest() == b.latest()
        assert np.array_equal(a.window(), b.window())
        assert set(a.latest()) == set(FEATURE_NAMES)


def test_features_reset_at_a_new_session() -> None:
    world = SyntheticWorld(5)
    s1, s2 = session_for(DAY), session_for(date(2026, 3, 11))
    engine = FeatureEngine()
    engine.catch_up(BarView(world.session_bars(s1, "SPY"), 100), 18.0)  # type: ignore[arg-type]
    engine.catch_up(BarView(world.session_bars(s2, "SPY"), 3), 18.0)  # type: ignore[arg-type]
    assert engine.bars_seen == 3


def test_csv_replay_reads_the_shared_format(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rows = ["datetime,open,high,low,close,volume"]
    for m in range(390):
        h, mi = divmod(9 * 60 + 30 + m, 60)
        rows.append(f"2026-03-10 {h:02d}:{mi:02d}:00,600,600.5,599.5,600.1,1000")
    (tmp_path / "SPY_1min_test.csv").write_text("\n".join(rows))
    (tmp_path / "QQQ_1min_test.csv").write_text("\n".join(r.replace("600", "500") for r in rows))
    (tmp_path / "VIX_daily.csv").write_text(
        "date,open,high,low,close\n2026-03-09,18,19,17,18.5\n2026-03-10,19,20,18,19.5\n"
    )
    # the other volatility files of the shared folder sort before VIX_daily and are not the VIX
    (tmp_path / "VIX1D_daily_test.csv").write_text("date,open,high,low,close\n2026-03-10,9,14,8,12\n")
    (tmp_path / "VIX_60min_test.csv").write_text("datetime,open,high,low,close\n2026-03-10 10:00:00,7,7,7,7\n")
    world = CsvWorld(tmp_path)
    session = world.sessions()[0]
    bars = world.session_bars(session, "SPY")
    assert len(bars) == 390 and bars.bar_time(0) == session.open
    assert world.vix_open(DAY) == 19.0 and world.vix_closes_before(DAY).tolist() == [18.5]
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "SPY_x.csv").write_text("time,price\n1,2\n")
    with pytest.raises(CsvDataError, match="missing columns"):
        CsvWorld(tmp_path / "bad")


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is not present on this machine")
def test_real_sessions_replay_through_the_cycle(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from worker.offline.backtest import run_backtest
    from worker.runtime import RunOptions

    result = run_backtest(
        RunOptions(source=f"csv:{SHARED_DATA}", db=f"sqlite:///{tmp_path / 'r.db'}", flush_every=60),
        start=date(2026, 2, 10),
        end=date(2026, 2, 12),
    )
    assert result.sessions == 3 and result.bars > 2000
