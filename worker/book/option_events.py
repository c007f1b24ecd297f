"""Exercises, assignments and expiries: positions that leave the account without a fill.

At Alpaca an option still held at the close is auto-exercised when it is in the money by $0.01
or more, and expires otherwise; an assigned short is removed the same way. None of this is an
order or a fill: the broker reports account activities (OPEXC, OPASN, OPEXP) and the position is
simply gone. Reconciliation polls them before it compares the account with the book, and each
one the database has not seen closes the trade holding that contract, once, with its reason:

- `option_expired`: at 0.00;
- `option_exercised` / `option_assigned`: at the intrinsic value from the underlying's last price
  the market gives for the close (the contracts became shares; their value is in the account). A
  long removed is booked as its sale, a structure's short leg assigned as its purchase back, each
  on that contract only.

The shares an exercise or assignment brings (signed: a short call assigned takes 100 a contract
away, a short put assigned brings 100, a long call exercised brings 100, a long put exercised
takes 100) are owed to the account until its positions show them: they can arrive after the
activity (positions and activities are separate endpoints). They are persisted (db/owed_shares.py)
with the book of the activity, beyond a baseline (the account's other shares of the underlying
when the contract was last seen held, else read at the booking), so a restart keeps tracking
them. Until they arrive the event and the other holdings say "expected, not yet in the account";
once there, with `exercised_shares` flatten (the default) exactly those shares are closed at
market (`close_shares` with their quantity: the account's other shares stay), with report they
are left and reported; one event either way.

Each event is recorded as an order with the client order id `activity:<broker activity id>`, so a
second poll (or a restarted worker) finds it booked and skips it.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from itertools import groupby

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
from db.owed_shares import CLOSED, OWED, REPORTED, Owed, add_owed, owed, settle
from worker.cycle.cycle import TradingCycle

log = logging.getLogger("worker.option_events")
LOOKBACK_DAYS = 7  # activities are polled this far back (a worker stopped over a weekend still books them)
SHARES_PER_CONTRACT = 100
REASONS = {
    OptionEventKind.EXPIRY: Reason("option_expired", "Expired worthless at the close (broker activity OPEXP)."),
    OptionEventKind.EXERCISE: Reason(
        "option_exercised",
        "Exercised in the money at expiry (broker activity OPEXC): the contracts became shares of the underlying.",
    ),
    OptionEventKind.ASSIGNMENT: Reason("option_assigned", "Assigned at expiry (broker activity OPASN)."),
}
_WORDS = {OptionEventKind.EXERCISE.value: "exercise", OptionEventKind.ASSIGNMENT.value: "assignment"}


def event_order_id(event: OptionEvent) -> str:
    return f"activity:{event.activity_id}"[:128]


def owed_shares(event: OptionEvent) -> int:
    """The shares an exercise or assignment brings, signed. `event.qty` counts contracts added:
    +n for shorts assigned, -n for longs exercised; a call moves shares one way, a put the other."""
    if event.kind is OptionEventKind.EXPIRY:
        return 0
    return event.qty * SHARES_PER_CONTRACT * (-1 if event.contract.right is Right.CALL else 1)


def _sign(x: int) -> int:
    return 1 if x > 0 else -1


def _origin(rows: list[Owed]) -> str:
    return " and ".join(f"{_WORDS.get(r.kind, r.kind)} of {r.contract}" for r in rows)


class OptionEventBook:
    """Books the broker's option events that the database has not seen, and settles the shares
    they owe (see the module's docstring)."""

    def __init__(self, cycle: TradingCycle) -> None:
        self.cycle = cycle

    def poll(self, now: datetime) -> int:
        """Book every new event since LOOKBACK_DAYS ago, then settle the shares owed; returns how
        many events were booked."""
        booked, owing = 0, []
        for event in self.cycle.broker.option_events(now.date() - timedelta(days=LOOKBACK_DAYS)):
            cid = event_order_id(event)
            if self.cycle.journal.order_status(cid) is not None:
                continue  # booked by an earlier poll or an earlier process
            if self._book(event, cid, now):
                owing.append(event)
            booked += 1
        self.settle_shares(now)
        still = {r.activity_id: r for r in owed(self.cycle.journal.engine)}
        for event in owing:
            if event.activity_id in still:
                self._say_expected(still[event.activity_id], now)
        return booked

    def owed_lines(self) -> list[str]:
        """The shares still owed, for the other holdings' report."""
        return [
            f"{r.underlying}: {r.shares:+d} shares expected from the {_origin([r])}, not yet in the account"
            for r in owed(self.cycle.journal.engine)
        ]

    def _book(self, event: OptionEvent, cid: str, now: datetime) -> bool:
        """Book one event; True when it owes shares (recorded in the same transaction)."""
        session = session_for(event.day)
        at = session.close if session is not None else now
        price, priced = self._exit_price(event, at)
        qty = abs(event.qty)
        reason = REASONS[event.kind]
        journal = self.cycle.journal
        short = event.qty > 0  # a short removed (assigned): bought back at its intrinsic value
        if short and not self.cycle.book.in_structure(event.contract.symbol):
            text = (
                f"{event.kind.value} on {event.contract.symbol} x{qty}: a short the worker does not hold; not booked."
            )
            journal.event("warning", "option_event", text, time=now)
            return False
        side = Side.BUY if short else Side.SELL
        fill = FillEvent(cid, event.contract, side, qty, price, 0.0, at, at, price_source=PriceSource.INTRINSIC)
        update = OrderUpdate(
            cid, OrderStatus.FILLED, filled_qty=qty, avg_fill_price=price, fills=[fill],
            contract=event.contract, side=side, qty=qty,
        )  # fmt: skip
        shares = owed_shares(event)
        baseline = self._baseline(event, shares) if shares else 0  # read before the transaction
        with journal.transaction() as conn:  # the booking and the shares it owes: one commit
            self.cycle.desk.book(update, now, reason=reason)
            if shares:
                add_owed(
                    conn, activity_id=event.activity_id, underlying=event.contract.underlying,
                    contract=event.contract.symbol, kind=event.kind.value, shares=shares, baseline=baseline, at=now,
                )  # fmt: skip
        text = f"{reason.text} {qty} {event.contract.symbol} closed at {price:.2f} ({priced})."
        journal.event("info", "option_event", text, time=now)
        log.info("%s", text)
        return bool(shares)

    def _baseline(self, event: OptionEvent, shares: int) -> int:
        """The account's other shares of the underlying: those of shares still owed on it, else
        those when the contract was last seen held, else now (less the owed ones when the account
        already holds at least as many)."""
        underlying = event.contract.underlying
        same = [r for r in owed(self.cycle.journal.engine) if r.underlying == underlying]
        if same:
            return same[0].baseline
        before = self.cycle.broker.shares_before(event.contract)
        if before is not None:
            return before
        held = self.cycle.broker.shares_held(underlying)
        return held - shares if held * _sign(shares) >= abs(shares) else held

    def _say_expected(self, row: Owed, now: datetime) -> None:
        _, params = self.cycle.journal.read_control()
        plan = (
            "exercised_shares flatten: only these are closed at market when they arrive"
            if params.exercised_shares is ExercisedShares.FLATTEN
            else "exercised_shares report: reported when they arrive"
        )
        text = (
            f"{abs(row.shares)} shares of {row.underlying} expected from the {_origin([row])} "
            f"({row.shares:+d}): not yet in the account; {plan}."
        )
        self.cycle.journal.event("warning", "option_shares", text, time=now)

    def settle_shares(self, now: datetime) -> None:
        """Close (flatten) or report the owed shares that are in the account now, per underlying."""
        rows = owed(self.cycle.journal.engine)
        for underlying, group in groupby(sorted(rows, key=lambda r: (r.underlying, r.id)), key=lambda r: r.underlying):
            self._settle(underlying, list(group), now)

    def _settle(self, underlying: str, rows: list[Owed], now: datetime) -> None:
        journal, broker = self.cycle.journal, self.cycle.broker
        net, baseline, ids = sum(r.shares for r in rows), rows[0].baseline, [r.id for r in rows]
        if net == 0:
            self._settled(ids, CLOSED, f"The shares of the {_origin(rows)} offset each other: none to close.", now)
            return
        held = broker.shares_held(underlying)
        if (held - baseline) * _sign(net) < abs(net):
            return  # not yet in the account: said when booked, listed with the other holdings
        head = f"{abs(net)} shares of {underlying} arrived from the {_origin(rows)}: the worker trades options only;"
        _, params = journal.read_control()
        if params.exercised_shares is ExercisedShares.REPORT:
            self._settled(ids, REPORTED, f"{head} exercised_shares report: left; flatten them in the account.", now)
            return
        if held * _sign(net) < abs(net):  # closing them would go through zero: the account's other shares
            text = (
                f"{head} the account holds {held:+d} in all, closing {abs(net)} would cross zero; "
                "flatten them in the account."
            )
            self._settled(ids, REPORTED, text, now)
            return
        try:
            done = broker.close_shares(underlying, net)
        except Exception as exc:  # still owed: tried again at the next poll, said once per message
            text = f"{head} exercised_shares flatten: closing them failed ({exc}); tried again at the next poll."
            if text != rows[0].result:
                self._settled(ids, OWED, text, now)
            return
        self._settled(ids, CLOSED, f"{head} exercised_shares flatten: {done}.", now)

    def _settled(self, ids: list[int], status: str, text: str, now: datetime) -> None:
        with self.cycle.journal.transaction() as conn:
            settle(conn, ids, status, text, now)
        self.cycle.journal.event("warning", "option_shares", text, time=now)
        log.warning("%s", text)

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
