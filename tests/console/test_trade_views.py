"""What the Trades page shows beyond the figures: labelled ET times and call/put, P&L by day,
week and month with counts, the sample-size warning, and the price of a day with its trades."""

from __future__ import annotations

import pandas as pd
import pytest

from console import analysis, charts
from console.formatting import in_new_york
from tests.console_helpers import open_page, scalar, seed_database


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('views') / 'views.db'}"
    seed_database(url)
    return url


def test_tables_label_times_as_et_and_show_call_or_put() -> None:
    frame = pd.DataFrame({"entry_time": pd.to_datetime(["2026-03-02 14:31:00"], utc=True), "direction": [-1]})
    shown = in_new_york(frame)
    assert list(shown.columns) == ["entry_time (ET)", "direction"]
    assert shown.iloc[0].tolist() == ["2026-03-02 09:31", "put"]


def test_pnl_by_week_and_month_counts_trades_and_wins() -> None:
    trades = pd.DataFrame(
        {"day": pd.to_datetime(["2026-03-02", "2026-03-05", "2026-03-09", "2026-04-01"]), "realized_pnl": [1, -2, 3, 4]}
    )
    weeks = analysis.by_period(trades, "week")
    assert weeks.to_dict("list") == {
        "week": ["week to 2026-03-06", "week to 2026-03-13", "week to 2026-04-03"],
        "pnl": [-1, 3, 4],
        "trades": [2, 1, 1],
        "win_rate": [0.5, 1.0, 1.0],
    }
    months = analysis.by_period(trades, "month")
    assert months["month"].tolist() == ["2026-03", "2026-04"] and months["trades"].tolist() == [3, 1]
    bars = charts.pnl_bars(months, "month", "t")
    assert list(bars.data[0].text) == ["n=3 · 67%", "n=1 · 100%"], "count and win rate beside the P&L"


def test_the_price_chart_marks_each_trade_with_its_id() -> None:
    times = pd.date_range("2026-03-02 14:31", periods=30, freq="1min", tz="UTC")
    series = pd.DataFrame({"time": times, "underlying_price": range(600, 630)})
    trades = pd.DataFrame(
        {
            "id": [7, 8],
            "direction": [1, -1],
            "entry_time": [times[2], times[10]],
            "exit_time": [times[5], times[20]],
            "realized_pnl": [12.0, -3.0],
        }
    )
    fig = charts.price_with_trades(series, trades, "SPY")
    entries, exits = fig.data[1], fig.data[2]
    assert list(entries.customdata) == [7, 8] and list(entries.y) == [602, 610]
    assert list(entries.marker.symbol) == ["triangle-up", "triangle-down"]
    assert list(exits.marker.color) == [charts.GREEN, charts.RED]


def test_the_trades_page_warns_about_a_small_sample(seeded: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(seeded, "trades", monkeypatch)
    days = scalar(seeded, "SELECT count(DISTINCT date(entry_time)) FROM trade WHERE status = 'closed'")
    assert int(days) < 20  # type: ignore[call-overload]
    assert any("Small sample" in w.value and "trading days" in w.value for w in at.warning)
    assert any(m.label.startswith("Sharpe (daily, from ") for m in at.metric)
    assert at.selectbox(key="price_day").value is not None


def test_cumulative_pnl_runs_forward_in_time_when_trades_overlap() -> None:
    t = pd.Timestamp
    trades = pd.DataFrame(  # entry order: a long trade opened first and closed last
        {
            "id": [1, 2, 3],
            "entry_time": [t("2026-03-02 15:00Z"), t("2026-03-02 15:10Z"), t("2026-03-02 15:20Z")],
            "exit_time": [t("2026-03-02 19:00Z"), t("2026-03-02 15:30Z"), t("2026-03-02 16:00Z")],
            "realized_pnl": [-300.0, 100.0, 50.0],
            "confidence": [0.6, 0.6, 0.6],
            "direction": [1, 1, -1],
        }
    )
    curve = analysis.cumulative(analysis.with_derived(trades))
    assert curve["time"].is_monotonic_increasing, "never back in time"
    assert list(curve["cum_pnl"]) == [100.0, 150.0, -150.0], "P&L added when each trade closed"
    assert list(curve["drawdown"]) == [0.0, 0.0, -300.0]


def test_sharpe_and_sortino_from_fewer_than_20_days_are_not_a_number(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import date
    from pathlib import Path

    from tests.conftest import ACTIVE_PARAMS, with_params
    from worker.offline.backtest import run_backtest
    from worker.runtime import RunOptions

    url = f"sqlite:///{Path(str(tmp_path)) / 'one.db'}"
    with_params(url, **ACTIVE_PARAMS, policy_mode="rules")
    run_backtest(RunOptions(db=url, seed=3, flush_every=50), start=date(2025, 11, 24), end=date(2025, 11, 26))
    at = open_page(url, "trades", monkeypatch)
    ratios = [m.value for m in at.metric if m.label.startswith(("Sharpe", "Sortino"))]
    assert ratios == ["n/a", "n/a"]


def test_phone_tables_lead_with_what_matters(seeded: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """At 390 px a table shows three or four columns: P&L and confidence must be among them, and
    a 36-character client order id must not push side, size, price and status off the screen."""
    from db import reads, trade_reads
    from db.engine import make_engine

    at = open_page(seeded, "trades", monkeypatch)
    newest = next(d for d in at.dataframe if "realized_pnl" in d.value.columns and len(d.proto.column_order))
    assert list(newest.proto.column_order)[:2] == ["realized_pnl", "exit_reason_code"]  # the exit reason beside P&L
    at = open_page(seeded, "decisions", monkeypatch)
    latest = next(d for d in at.dataframe if "confidence" in d.value.columns and len(d.proto.column_order))
    assert list(latest.proto.column_order)[:3] == ["time (ET)", "final_action", "confidence"]
    engine = make_engine(seeded)
    assert list(reads.open_orders(engine).columns)[:4] == ["side", "qty", "limit_price", "status"]
    trail = trade_reads.trade_trail(engine, 1)
    assert trail is not None
    assert list(trail.orders.columns)[:4] == ["side", "qty", "avg_fill_price", "status"]
    assert list(trail.fills.columns)[:3] == ["side", "qty", "price"] and trail.fills.columns[-1] == "client_order_id"
    engine.dispose()
