"""Exercises, assignments and expiries: positions that leave the account without a fill.

At Alpaca an option still held at the close is auto-exercised when it is in the money by $0.01
or more, and expires otherwise; an assigned short is removed the same way. None of this is an
order or a fill: the broker reports account activities (OPEXC, OPASN, OPEXP) and the position is
simply gone. Reconciliation polls them before it compares the account with the book, and each
one the database has not seen closes the trade holding that contract, once, with its reason:

- `option_expired`: at 0.00;
- `option_exercised` / `option_assigned`: at the intrinsic value from the underlying's last price
  the market gives for the close (the contracts became shares; their value is in the account), with
  a warning that the shares arrived (the worker trades options only): with `exercised_shares`
  flatten (the default) they are closed at market at once, with report they are left and listed
  in the other holdings. A long removed is booked as its sale, a structure's short leg assigned as
  its purchase back, each on that contract only.

Each event is recorded as an order with the client order id `activity:<broker activity id>`, so a
second poll (or a restarted worker) finds it booked and skips it.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

from core.calendar import session_for
from core.types import (
    ExercisedShares,
    FillEvent,
    OptionEvent,
    OptionEventKind,
    OrderStatus,
    OrderUpdate,
    PriceSource,
    Reason,
    Right,
    Side,
)
from worker.cycle import TradingCycle

log = logging.getLogger("worker.option_events")
LOOKBACK_DAYS = 7  # activities are polled this far back (a worker stopped over a weekend still books them)
REASONS = {
    OptionEventKind.EXPIRY: Reason("option_expired", "Expired worthless at the close (broker activity OPEXP)."),
    OptionEventKind.EXERCISE: Reason(
        "option_exercised",
        "Exercised in the money at expiry (broker activity OPEXC): the contracts became shares of the underlying.",
    ),
    OptionEventKind.ASSIGNMENT: Reason("option_assigned", "Assigned at expiry (broker activity OPASN)."),
}


def event_order_id(event: OptionEvent) -> str:
    return f"activity:{event.activity_id}"[:128]


class OptionEventBook:
    """Books the broker's option events that the database has not seen (see the module's docstring)."""

    def __init__(self, cycle: TradingCycle) -> None:
        self.cycle = cycle

    def poll(self, now: datetime) -> int:
        """Book every new event since LOOKBACK_DAYS ago; returns how many were booked."""
        booked = 0
        for event in self.cycle.broker.option_events(now.date() - timedelta(days=LOOKBACK_DAYS)):
            cid = event_order_id(event)
            if self.cycle.journal.order_status(cid) is not None:
                continue  # booked by an earlier poll or an earlier process
            self._book(event, cid, now)
            booked += 1
        return booked

    def _book(self, event: OptionEvent, cid: str, now: datetime) -> None:
        session = session_for(event.day)
        at = session.close if session is not None else now
        price, priced = self._exit_price(event, at)
        qty = abs(event.qty)
        reason = REASONS[event.kind]
        journal = self.cycle.journal
        short = event.qty > 0  # a short removed (assigned): bought back at its intrinsic value
        if short and not self.cycle.book.multi.holds(event.contract.symbol):
            text = (
                f"{event.kind.value} on {event.contract.symbol} x{qty}: a short the worker does not hold; not booked."
            )
            journal.event("warning", "option_event", text, time=now)
            return
        side = Side.BUY if short else Side.SELL
        fill = FillEvent(cid, event.contract, side, qty, price, 0.0, at, at, price_source=PriceSource.INTRINSIC)
        update = OrderUpdate(
            cid, OrderStatus.FILLED, filled_qty=qty, avg_fill_price=price, fills=[fill],
            contract=event.contract, side=side, qty=qty,
        )  # fmt: skip
        self.cycle.desk.book(update, now, reason=reason)
        text = f"{reason.text} {qty} {event.contract.symbol} closed at {price:.2f} ({priced})."
        journal.event("info", "option_event", text, time=now)
        log.info("%s", text)
        if event.kind is not OptionEventKind.EXPIRY:
            shares = qty * 100
            warning = (
                f"{shares} shares of {event.contract.underlying} arrived from the {reason.code.split('_')[1]} of "
                f"{event.contract.symbol}: the worker trades options only; flatten them in the account."
            )
            _, params = journal.read_control()
            if params.exercised_shares is ExercisedShares.FLATTEN:
                try:
                    done = self.cycle.broker.close_shares(event.contract.underlying)
                except Exception as exc:  # the operator must know they are still there
                    done = f"closing them failed: {exc}; flatten them in the account"
                warning = warning.replace("flatten them in the account.", f"exercised_shares flatten: {done}.")
            journal.event("warning", "option_shares", warning, time=now)

    def _exit_price(self, event: OptionEvent, at: datetime) -> tuple[float, str]:
        """0 for an expiry; else the intrinsic value at the underlying's price the market gives for `at`."""
        if event.kind is OptionEventKind.EXPIRY:
            return 0.0, "worthless"
        try:
            spot = float(self.cycle.market.spot(event.contract.underlying, at))
        except Exception as exc:  # the market may not serve a past day: booked at 0, said so
            log.warning("no underlying price for %s at %s: %s", event.contract.symbol, at, exc)
            spot = math.nan
        if not math.isfinite(spot):
            return 0.0, "the underlying's close is unknown here: booked at 0.00, the shares' value is in the account"
        strike = event.contract.strike
        value = max(spot - strike, 0.0) if event.contract.right is Right.CALL else max(strike - spot, 0.0)
        return round(value, 2), f"intrinsic at the underlying's {spot:.2f}"
