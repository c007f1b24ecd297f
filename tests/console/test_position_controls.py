"""Per-position control from the console: close this position (Overview and the trade trail),
cancel this order, and a typed reason on the stop; each a row the worker carries out."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from db import control_requests
from db.control import save_param_version
from tests.conftest import EXITS_OFF, run_until_open_position
from tests.console_helpers import SEED_PARAMS, open_page, scalar
from worker.runtime import Runtime


def _one_open_position(runtime: Runtime) -> tuple[datetime, str]:
    """Trade until one position is open (exits off, one trade a symbol a day), its rows written;
    returns the next cycle's time and the database's URL."""
    save_param_version(runtime.engine, {**SEED_PARAMS, **EXITS_OFF, "max_trades_per_symbol_day": 1}, author="test")
    now = run_until_open_position(runtime)
    runtime.cycle.journal.flush()
    return now, str(runtime.engine.url)


def test_closing_a_position_from_the_overview_is_carried_out_by_the_worker_with_who_and_why(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    now, url = _one_open_position(runtime)
    trade_id = scalar(url, "SELECT id FROM trade WHERE status = 'open'")
    at = open_page(url, "overview", monkeypatch)
    card = " ".join(m.value for m in at.markdown)
    assert "entry " in card and "bid " in card and "stop " in card and "take-profit " in card, card
    assert any("delta " in c.value and "flatten at " in c.value for c in at.caption), "greeks and the flatten"
    assert at.selectbox(key="close_pick").value == trade_id
    at.text_input(key="close_position_reason").input("earnings in an hour")
    at.button(key="close_position").click().run()
    assert not at.exception
    assert any("Close requested" in s.value for s in at.success), ([e.value for e in at.error], at.success)
    assert scalar(url, "SELECT who || '|' || reason || '|' || status FROM controlrequest") == (
        "alice|earnings in an hour|pending"
    )
    minute = now
    for _ in range(10):  # the worker: its control tick sends the exit, its cycles see it through
        runtime.control.tick(minute)
        runtime.cycle.run(minute)
        minute += timedelta(minutes=1)
        if scalar(url, "SELECT status FROM trade WHERE id = :t", t=trade_id) == "closed":
            break
    runtime.control.tick(minute)
    assert scalar(url, "SELECT exit_reason FROM trade WHERE id = :t", t=trade_id) == (
        "Closed from the console by alice: earnings in an hour"
    )
    assert scalar(url, "SELECT status FROM controlrequest") == "done"
    at.run()
    assert not any(b.key == "close_position" for b in at.button), "nothing left to close"


def test_a_position_opened_this_minute_shows_its_entry_price_until_the_first_bid(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = _one_open_position(runtime)
    with runtime.engine.begin() as conn:  # as between the entry's fill and the next cycle's mark
        conn.execute(text("UPDATE trade SET mark_bid = NULL, marked_at = NULL WHERE status = 'open'"))
    entry, fees = scalar(url, "SELECT entry_avg FROM trade"), scalar(url, "SELECT fees FROM trade")
    at = open_page(url, "overview", monkeypatch)
    card = " ".join(m.value for m in at.markdown)
    assert "nan" not in card, card
    assert f"bid {float(entry):.2f} (entry price: no bid marked yet)" in card, card  # type: ignore[arg-type]
    assert f"P&L **{-float(fees):+,.2f}**" in card, card  # type: ignore[arg-type]
    assert "stop " in card and "take-profit " in card, card


def test_the_cards_are_timed_by_the_workers_clock_whatever_the_wall_clock_says(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's clock (a Tuesday) decides the session, not the wall clock (any day)."""
    now, url = _one_open_position(runtime)
    with runtime.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO workerstatus (id, run_id, pid, host, mode, started_at, heartbeat_at, "
                "sim_time, state_seen, last_cycle_ms, stopped, lease_token) VALUES ('worker', 'r', 1, "
                "'h', 'sim', :t, :t, :t, 'ACTIVE', 1.0, 0, 1)"
            ),
            {"t": now.astimezone(UTC).isoformat()},
        )
    at = open_page(url, "overview", monkeypatch)
    captions = " ".join(c.value for c in at.caption)
    assert re.search(r"flatten at \d\d:\d\d ET, in \d+ min", captions), captions
    assert "wall clock" not in captions, captions


def _close_through_the_worker(runtime: Runtime, trade_id: int, start: datetime) -> datetime:
    control_requests.request_close(runtime.engine, trade_id=trade_id, who="test")
    minute = start
    while runtime.cycle.book.open_count():
        runtime.control.tick(minute)
        runtime.cycle.run(minute)
        minute += timedelta(minutes=1)
    runtime.control.tick(minute)
    return minute


def test_the_trade_trail_offers_the_close_of_an_open_trade(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    save_param_version(runtime.engine, {**SEED_PARAMS, **EXITS_OFF, "max_trades_per_symbol_day": 3}, author="test")
    url = str(runtime.engine.url)
    first = scalar(url, "SELECT id FROM trade WHERE status = 'open'") if run_until_open_position(runtime) else None
    assert first is not None
    _close_through_the_worker(runtime, int(first), run_until_open_position(runtime))
    run_until_open_position(runtime, date(2026, 3, 11))
    runtime.cycle.journal.flush()
    second = scalar(url, "SELECT id FROM trade WHERE status = 'open'")
    at = open_page(url, "trades", monkeypatch)
    at.number_input(key="trail_id").set_value(first).run()
    assert not any(b.key == "trail_close" for b in at.button), "a closed trade has no close button"
    at.number_input(key="trail_id").set_value(second).run()
    at.button(key="trail_close").click().run()
    assert scalar(url, "SELECT trade_id FROM controlrequest ORDER BY id DESC LIMIT 1") == second


def test_a_typed_reason_goes_into_the_stops_audit_row_and_one_click_still_stops(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = str(runtime.engine.url)
    at = open_page(url, "overview", monkeypatch)
    at.text_input(key="control_reason").input("Fed speaks at 14:00")
    at.button(key="stop").click().run()
    assert scalar(url, "SELECT reason FROM controlevent ORDER BY id DESC LIMIT 1") == (
        "Emergency stop from the console: Fed speaks at 14:00"
    )
    at.run()
    assert at.text_input(key="control_reason").value == "", "a reason is for one action"


def test_a_working_order_can_be_cancelled_from_the_trade_trail(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.worker.test_order_desk import FallingMarket, _use_market

    save_param_version(
        runtime.engine, {**SEED_PARAMS, **EXITS_OFF, "max_trades_per_symbol_day": 3, "order_collar_pct": 0.0}, "test"
    )
    url = str(runtime.engine.url)
    falling = FallingMarket(runtime.world)  # type: ignore[arg-type]
    _use_market(runtime, falling)
    first_open = run_until_open_position(runtime)
    first = scalar(url, "SELECT id FROM trade WHERE status = 'open'")
    _close_through_the_worker(runtime, int(first), first_open)  # the Trades page needs a closed trade
    now = run_until_open_position(runtime, date(2026, 3, 11))
    while any(True for _ in runtime.cycle.desk.working):
        runtime.cycle.run(now)
        now += timedelta(minutes=1)
    second = scalar(url, "SELECT id FROM trade WHERE status = 'open'")
    falling.drop_from, falling.drop = now, 0.5  # the close's limit now rests at the broker
    control_requests.request_close(runtime.engine, trade_id=int(second), who="test")
    runtime.control.tick(now)
    runtime.cycle.journal.flush()
    cid = scalar(url, "SELECT client_order_id FROM orders WHERE trade_id = :t AND status = 'accepted'", t=second)
    assert cid, "a working exit"
    at = open_page(url, "trades", monkeypatch)
    at.number_input(key="trail_id").set_value(second).run()
    order_id = scalar(url, "SELECT id FROM orders WHERE client_order_id = :c", c=cid)
    at.text_input(key=f"trail_cancel_{order_id}_reason").input("re-price by hand")
    at.button(key=f"trail_cancel_{order_id}").click().run()
    assert not at.exception
    assert scalar(url, "SELECT kind || '|' || reason FROM controlrequest ORDER BY id DESC LIMIT 1") == (
        "cancel_order|re-price by hand"
    )
