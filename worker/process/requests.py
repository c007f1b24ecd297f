"""The operator's per-position requests, carried out in the control tick (every second): close
one position, cancel one order (db/control_requests.py writes them from the console).

A close is an exit like any other: the order desk gates, persists and sends it, with the reason
`operator_close` ("closed from the console by carol: news at 10:30"). It is sent at once when
there is a quote, and the cycle re-sends it each cycle until the position is flat (a limit that
did not fill is cancelled and re-priced like every exit; after the urgent-exit wait it goes as
a market order). A cancel is the desk's cancel: the order stays working until the broker says it
ended. What happened is written on the request row; a working close survives a restart (the
tick re-arms it from the row).
"""

from __future__ import annotations

import logging
from datetime import datetime

from core.params import TradingParams
from core.types import Reason, TradingState
from db import control_requests as requests
from db.control_requests import CANCEL_ORDER, CLOSE_POSITION, OpenRequest
from worker.cycle.cycle import TradingCycle

log = logging.getLogger("worker.requests")


def close_reason(req: OpenRequest) -> Reason:
    why = f": {req.reason}" if req.reason else "."
    return Reason("operator_close", f"Closed from the console by {req.who}{why}")


def carry_out(cycle: TradingCycle, now: datetime, params: TradingParams, state: TradingState) -> None:
    """Every open request, oldest first."""
    engine = cycle.journal.engine
    for req in requests.open_requests(engine):
        if req.kind == CLOSE_POSITION:
            _close(cycle, req, now, params, state)
        elif req.kind == CANCEL_ORDER:
            _cancel(cycle, req, now)
        else:
            requests.settle(engine, request_id=req.id, status="refused", result=f"unknown request kind {req.kind!r}")


def _close(cycle: TradingCycle, req: OpenRequest, now: datetime, params: TradingParams, state: TradingState) -> None:
    engine = cycle.journal.engine
    # any position, one leg or several, closed whole through the cycle's one way out
    held = cycle.book.open.get(req.trade_id or -1)
    symbol = None if held is None else held.structure.underlying
    if symbol is None:
        if req.status == "working":
            requests.settle(engine, request_id=req.id, status="done", result=f"trade {req.trade_id} is closed")
            log.info("operator close of trade %s done", req.trade_id)
        else:
            requests.settle(engine, request_id=req.id, status="refused", result="no open position for that trade")
        return
    if req.status == "working":
        cycle.operator_closes.setdefault(symbol, close_reason(req))  # after a restart: re-armed
        return
    if state is TradingState.HALTED:
        requests.settle(engine, request_id=req.id, status="refused", result="HALTED: the stop closes everything")
        return
    result = cycle.close_now(symbol, close_reason(req), now, params)
    requests.settle(engine, request_id=req.id, status="working", result=result)
    log.info("operator close of trade %s (%s) by %s: %s", req.trade_id, symbol, req.who, result)


def _cancel(cycle: TradingCycle, req: OpenRequest, now: datetime) -> None:
    engine = cycle.journal.engine
    cid = req.client_order_id or ""
    if cid not in cycle.desk.working:
        requests.settle(engine, request_id=req.id, status="refused", result="the order is no longer working")
        return
    cycle.desk.cancel(cid, now)
    requests.settle(engine, request_id=req.id, status="done", result="cancel sent to the broker")
    log.info("operator cancel of order %s by %s", cid[:8], req.who)
