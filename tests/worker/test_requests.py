"""Per-position control: the console's "close this position" and "cancel this order" are rows the
worker's control tick carries out through the order desk, each with who and why."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from db import control_requests
from db.control import save_param_version
from db.control_requests import RequestRefusedError
from tests.conftest import ACTIVE_PARAMS, EXITS_OFF, run_until_open_position
from tests.worker.test_order_desk import FallingMarket, _book_equals_broker, _rows, _use_market
from worker.runtime import Runtime

PARAMS = {**ACTIVE_PARAMS, **EXITS_OFF, "max_open_positions": 1, "max_trades_per_symbol_day": 1}


def _request(rt: Runtime, request_id: int) -> tuple[Any, ...]:
    return _rows(rt, "SELECT status, result FROM controlrequest WHERE id = :i", i=request_id)[0]


def _settled_position(rt: Runtime) -> datetime:
    """An open position with no order working on it (the entry's rest has been cancelled)."""
    now = run_until_open_position(rt)
    while any(True for _ in rt.cycle.desk.working):
        rt.cycle.run(now)
        now += timedelta(minutes=1)
    return now


def test_closing_one_position_goes_through_the_order_desk_with_the_operators_reason(runtime: Runtime) -> None:
    save_param_version(runtime.engine, PARAMS, author="test")
    now = _settled_position(runtime)
    trade_id = _rows(runtime, "SELECT id FROM trade WHERE status = 'open'")[0][0]
    rid = control_requests.request_close(runtime.engine, trade_id=trade_id, who="carol", reason="news at 10:30")
    runtime.control.tick(now)
    assert _request(runtime, rid)[0] == "working"
    exits = _rows(
        runtime, "SELECT reason_code, client_order_id FROM orders WHERE trade_id = :t AND opening = 0", t=trade_id
    )
    assert exits and exits[0][0] == "operator_close", ("sent at once, through the desk", _request(runtime, rid))
    minute = now
    for _ in range(10):
        runtime.cycle.run(minute)
        runtime.control.tick(minute)
        minute += timedelta(minutes=1)
        if _request(runtime, rid)[0] == "done":
            break
    closed = _rows(runtime, "SELECT status, exit_reason_code, exit_reason FROM trade WHERE id = :t", t=trade_id)[0]
    assert closed[:2] == ("closed", "operator_close")
    assert closed[2] == "Closed from the console by carol: news at 10:30"
    assert _request(runtime, rid) == ("done", f"trade {trade_id} is closed")
    _book_equals_broker(runtime)


def test_an_unfilled_close_is_re_priced_until_flat_and_one_order_can_be_cancelled(runtime: Runtime) -> None:
    save_param_version(runtime.engine, {**PARAMS, "order_collar_pct": 0.0}, author="test")
    falling = FallingMarket(runtime.world)  # type: ignore[arg-type]
    _use_market(runtime, falling)
    now = _settled_position(runtime)
    trade_id = _rows(runtime, "SELECT id FROM trade WHERE status = 'open'")[0][0]
    falling.drop_from, falling.drop = now, 0.2  # every sell limit from the cycle's bid misses; a bid is left
    control_requests.request_close(runtime.engine, trade_id=trade_id, who="carol")
    runtime.control.tick(now)
    working = _rows(
        runtime, "SELECT client_order_id FROM orders WHERE trade_id = :t AND status = 'accepted'", t=trade_id
    )
    assert working, "the close rests at the broker"
    cid = working[0][0]
    cancel = control_requests.request_cancel(runtime.engine, client_order_id=cid, who="dave", reason="wrong price")
    runtime.control.tick(now + timedelta(seconds=1))
    assert _request(runtime, cancel) == ("done", "cancel sent to the broker")
    minute = now + timedelta(minutes=1)
    for _ in range(10):
        runtime.cycle.run(minute)
        runtime.control.tick(minute)
        minute += timedelta(minutes=1)
        if not _rows(runtime, "SELECT id FROM trade WHERE id = :t AND status = 'open'", t=trade_id):
            break
    assert _rows(runtime, "SELECT status FROM orders WHERE client_order_id = :c", c=cid) == [("canceled",)]
    orders = _rows(
        runtime, "SELECT order_type, status FROM orders WHERE trade_id = :t AND opening = 0 ORDER BY id", t=trade_id
    )
    assert orders[-1] == ("market", "filled"), orders  # re-sent each cycle, then at market as an urgent exit
    assert _rows(runtime, "SELECT exit_reason_code FROM trade WHERE id = :t", t=trade_id) == [("operator_close",)]
    _book_equals_broker(runtime)


def test_a_request_for_something_not_open_is_refused_and_stores_nothing(runtime: Runtime) -> None:
    with pytest.raises(RequestRefusedError, match="trade 999 has no open position"):
        control_requests.request_close(runtime.engine, trade_id=999, who="carol")
    with pytest.raises(RequestRefusedError, match="is not working"):
        control_requests.request_cancel(runtime.engine, client_order_id="no-such-order", who="carol")
    assert _rows(runtime, "SELECT count(*) FROM controlrequest") == [(0,)]
