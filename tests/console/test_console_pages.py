"""Every console page through Streamlit's AppTest, on an empty database and on one seeded by a
real backtest: the figures match SQL over the same rows, and the filters change them."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from db import reads
from db.control import save_param_version
from tests.conftest import EXITS_OFF, run_until_open_position
from tests.console_helpers import PAGES, SEED_PARAMS, metric, open_page, scalar, seed_database
from worker.runtime import Runtime


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('seeded') / 'seeded.db'}"
    seed_database(url)
    assert int(scalar(url, "SELECT count(*) FROM trade WHERE status = 'closed'")) > 10  # type: ignore[arg-type]
    return url


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_an_empty_database(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(f"sqlite:///{tmp_path / 'empty.db'}", page, monkeypatch)
    assert at.title[0].value == page.capitalize()
    assert at.button(key="stop").label == "EMERGENCY STOP"  # the stop is on every page


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_a_seeded_database(page: str, seeded: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(seeded, page, monkeypatch)
    assert at.title[0].value == page.capitalize()
    assert at.button(key="stop")
    if page in ("overview", "trades", "decisions"):
        assert len(at.get("plotly_chart")) > 0


def test_trade_figures_match_sql_and_follow_the_filters(seeded: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(seeded, "trades", monkeypatch)
    closed = scalar(seeded, "SELECT count(*) FROM trade WHERE status = 'closed'")
    total = scalar(seeded, "SELECT round(sum(realized_pnl), 2) FROM trade WHERE status = 'closed'")
    assert metric(at, "Trades") == f"{closed:,}"
    assert metric(at, "Total P&L") == f"{total:,.2f}"
    wins = scalar(seeded, "SELECT avg(realized_pnl > 0) FROM trade WHERE status = 'closed'")
    pf = scalar(
        seeded, "SELECT sum(max(realized_pnl, 0)) / -sum(min(realized_pnl, 0)) FROM trade WHERE status = 'closed'"
    )
    assert metric(at, "Win rate") == f"{wins * 100:.1f}%"  # type: ignore[operator]
    assert metric(at, "Profit factor") == f"{pf:.2f}"

    at.multiselect(key="f_underlying").set_value(["SPY"]).run()
    spy = scalar(seeded, "SELECT count(*) FROM trade WHERE status = 'closed' AND underlying = 'SPY'")
    spy_pnl = scalar(seeded, "SELECT round(sum(realized_pnl), 2) FROM trade WHERE status='closed' AND underlying='SPY'")
    assert 0 < spy < closed  # type: ignore[operator]
    assert metric(at, "Trades") == f"{spy:,}" and metric(at, "Total P&L") == f"{spy_pnl:,.2f}"

    code = scalar(seeded, "SELECT exit_reason_code FROM trade WHERE underlying = 'SPY' GROUP BY 1 ORDER BY count(*)")
    at.multiselect(key="f_exit_reason_code").set_value([code]).run()
    both = scalar(
        seeded,
        "SELECT count(*) FROM trade WHERE status = 'closed' AND underlying = 'SPY' AND exit_reason_code = :c",
        c=code,
    )
    assert metric(at, "Trades") == f"{both:,}"
    assert len(at.dataframe[0].value) == both  # the table shows exactly the filtered trades


def test_a_trade_trail_shows_its_orders_fills_and_decisions(seeded: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(seeded, "trades", monkeypatch)
    trade_id = scalar(seeded, "SELECT min(id) FROM trade WHERE status = 'closed'")
    entry_cid = scalar(seeded, "SELECT entry_client_order_id FROM trade WHERE id = :t", t=trade_id)
    at.number_input(key="trail_id").set_value(trade_id).run()
    assert not at.exception
    orders, fills, decisions = (at.dataframe[i].value for i in (1, 2, 3))
    assert entry_cid in set(orders["client_order_id"]) and entry_cid in set(fills["client_order_id"])
    assert entry_cid in set(decisions["order_client_id"].dropna())  # the decision that opened it
    assert len(orders) == scalar(seeded, "SELECT count(*) FROM orders WHERE trade_id = :t", t=trade_id)


def _counts(at: AppTest) -> str:
    """The Decisions page's count line (the control bar's worker line is a caption too)."""
    return next(c.value for c in at.caption if c.value.endswith("blocked entries."))


def test_decision_counts_match_sql_and_follow_the_filters(seeded: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(seeded, "decisions", monkeypatch)
    everything = scalar(seeded, "SELECT count(*) FROM decision")
    blocked = scalar(seeded, "SELECT count(*) FROM decision WHERE blocked_by IS NOT NULL")
    assert _counts(at) == f"{everything:,} decisions, {blocked:,} blocked entries."

    at.multiselect(key="d_symbols").set_value(["QQQ"]).run()
    qqq = scalar(seeded, "SELECT count(*) FROM decision WHERE symbol = 'QQQ'")
    qqq_blocked = scalar(seeded, "SELECT count(*) FROM decision WHERE symbol = 'QQQ' AND blocked_by IS NOT NULL")
    assert _counts(at) == f"{qqq:,} decisions, {qqq_blocked:,} blocked entries."

    code = scalar(seeded, "SELECT blocked_by FROM decision WHERE symbol = 'QQQ' AND blocked_by IS NOT NULL LIMIT 1")
    at.multiselect(key="d_codes").set_value([code]).run()
    only = scalar(seeded, "SELECT count(*) FROM decision WHERE symbol = 'QQQ' AND blocked_by = :c", c=code)
    assert _counts(at) == f"{only:,} decisions, {only:,} blocked entries."


def test_one_decision_shows_its_full_record(seeded: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(seeded, "decisions", monkeypatch)
    decision_id = scalar(seeded, "SELECT min(id) FROM decision WHERE blocked_by IS NOT NULL")
    at.number_input(key="decision_id").set_value(decision_id).run()
    table = next(d.value for d in at.dataframe if list(d.value.columns) == ["field", "value"])
    record = dict(zip(table["field"], table["value"], strict=True))
    assert record["decision id"] == str(decision_id) and record["blocked by"] != "-" and record["why"] != "-"
    assert {"P(hold)", "P(buy call)", "P(buy put)", "P(close)", "confidence", "parameter version"} <= set(record)
    assert record["cycle time"].endswith("ET (simulated)"), "market time, labelled, marked simulated"
    for label in ("P(hold)", "confidence"):  # three places, not sixteen digits
        assert len(record[label].split(".")[1]) == 3, record[label]
    assert len(record["underlying"].split(".")[1]) == 2


def test_the_empty_trades_page_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at: AppTest = open_page(f"sqlite:///{tmp_path / 'e.db'}", "trades", monkeypatch)
    assert any("No closed trade" in i.value for i in at.info)


def test_open_positions_show_unrealized_pnl_from_the_workers_newest_bid(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_param_version(runtime.engine, {**SEED_PARAMS, **EXITS_OFF}, author="test")
    now = run_until_open_position(runtime)
    runtime.cycle.run(now)  # one more cycle marks the position
    runtime.cycle.journal.flush()
    positions = reads.open_positions(runtime.engine)
    assert len(positions) == 1
    row = positions.iloc[0]
    held = runtime.cycle.book.positions()[0]
    assert row["mark_bid"] > 0 and row["marked_at"] is not None
    expected = (row["mark_bid"] - held.entry_price) * held.qty_open * 100 - row["fees"]
    assert row["unrealized_pnl"] == pytest.approx(expected)
    at = open_page(str(runtime.engine.url), "overview", monkeypatch)
    shown = at.dataframe[0].value
    assert "unrealized_pnl" in shown.columns and shown["unrealized_pnl"].iloc[0] == pytest.approx(expected)
    headers = [h.value for h in at.subheader]
    assert "Worker warnings" in headers and "Alerts" not in headers, "the worker's events are not the alerts sent"


def test_decisions_and_trades_filter_on_how_their_option_was_priced(
    seeded: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mixed = tmp_path / "mixed.db"
    shutil.copy(seeded.removeprefix("sqlite:///"), mixed)
    url = f"sqlite:///{mixed}"
    with sqlite3.connect(mixed) as conn:  # a day partly priced from real bars
        conn.execute("UPDATE decision SET price_source = 'real_bar' WHERE price_source IS NOT NULL AND id % 3 = 0")
        conn.execute("UPDATE trade SET price_source = 'real_bar' WHERE id % 2 = 0")
    at = open_page(url, "decisions", monkeypatch)
    at.multiselect(key="d_sources").set_value(["real_bar"]).run()
    real = scalar(url, "SELECT count(*) FROM decision WHERE price_source = 'real_bar'")
    real_blocked = scalar(
        url, "SELECT count(*) FROM decision WHERE price_source = 'real_bar' AND blocked_by IS NOT NULL"
    )
    assert real > 0 and _counts(at) == f"{real:,} decisions, {real_blocked:,} blocked entries."  # type: ignore[operator]
    at.multiselect(key="d_sources").set_value(["(none)"]).run()
    unpriced = scalar(url, "SELECT count(*) FROM decision WHERE price_source IS NULL")
    assert _counts(at).startswith(f"{unpriced:,} decisions")
    trades = open_page(url, "trades", monkeypatch)
    trades.multiselect(key="f_price_source").set_value(["model"]).run()
    model = scalar(url, "SELECT count(*) FROM trade WHERE status = 'closed' AND price_source = 'model'")
    assert model > 0 and metric(trades, "Trades") == f"{model:,}"  # type: ignore[operator]
