"""What Alpaca's orders say, read as the desk's terms: its statuses, what has been reported for
each order and leg (fills are reported as increments over it), and a multi-leg order's fills
since the last read, one per leg that filled more (worker/adapters/alpaca_broker.py reads them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from alpaca.trading.models import Order

from core.calendar import NY
from core.types import FillEvent, OptionContract, OrderStatus, Side

# Alpaca's order statuses as the desk sees them (docs.alpaca.markets, "Order Lifecycle"):
# - done_for_day: done executing for the day, no further updates until the next day; a same-day
#   order never fills again, so it ends (what it filled is booked);
# - calculated: completed for the day (filled or done for day), settlement pending: filled when
#   all of it filled, else ended like done_for_day (see `status_of_order`);
# - held (a leg waiting on its parent) and suspended (not eligible for trading, rare): still open
#   at the broker, so still working here; the desk's timeouts cancel them;
# - replaced: followed to its successor (`AlpacaBroker._follow`), never read as an ending.
_STATUS = {
    "new": OrderStatus.ACCEPTED,
    "accepted": OrderStatus.ACCEPTED,
    "pending_new": OrderStatus.ACCEPTED,
    "accepted_for_bidding": OrderStatus.ACCEPTED,
    "pending_replace": OrderStatus.ACCEPTED,
    "pending_cancel": OrderStatus.PENDING_CANCEL,
    "pending_review": OrderStatus.ACCEPTED,
    "done_for_day": OrderStatus.EXPIRED,
    "held": OrderStatus.ACCEPTED,
    "suspended": OrderStatus.ACCEPTED,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
    "stopped": OrderStatus.ACCEPTED,
}
MAX_REPLACEMENTS = 10  # successors followed from one order


def status_of_order(order: Order) -> OrderStatus:
    raw = value_of(order.status)
    if raw == "calculated":
        done = int(float(order.filled_qty or 0)) >= int(float(order.qty or 0))
        return OrderStatus.FILLED if done else OrderStatus.EXPIRED
    return _STATUS.get(raw, OrderStatus.ACCEPTED)


@dataclass
class Known:
    """What has been reported for one order: its fills are reported as increments over this."""

    contract: OptionContract
    side: Side
    filled_qty: int = 0
    avg_price: float = 0.0
    status: OrderStatus = OrderStatus.PENDING
    broker_order_id: str | None = None
    ours: bool = True  # False: the broker's own order (close-all, expiry liquidation)
    legs: dict[str, LegKnown] = field(default_factory=dict)  # a multi-leg order's legs, by symbol


@dataclass
class LegKnown:
    """One leg of a multi-leg order: its fills are reported as increments over this."""

    contract: OptionContract
    side: Side
    filled_qty: int = 0
    avg_price: float = 0.0


def value_of(x: Any) -> str:
    return str(getattr(x, "value", x))


def is_leg(order: Order) -> bool:
    """A multi-leg order's leg listed as an order of its own: the parent has no symbol."""
    return value_of(order.order_class) == "mleg" and bool(order.symbol)


def shares_of(position: Any) -> int:
    """A stock position's signed quantity (a short below zero, whichever way the qty is written)."""
    qty = abs(int(float(position.qty or 0)))
    return -qty if value_of(position.side) == "short" else qty


class LegsMissingError(RuntimeError):
    """A multi-leg order that came without its legs even when read nested."""


def leg_fills(cid: str, order: Order, known: Known, fee_per_contract: float) -> list[FillEvent]:
    """A multi-leg order's fills since the last read, one per leg that filled more."""
    fills = []
    at = (order.filled_at or order.updated_at or order.submitted_at).astimezone(NY)
    for leg in order.legs or []:
        symbol = leg.symbol or ""
        seen = known.legs.setdefault(symbol, LegKnown(OptionContract.from_symbol(symbol), Side(value_of(leg.side))))
        filled, avg = int(float(leg.filled_qty or 0)), float(leg.filled_avg_price or 0.0)
        if filled <= seen.filled_qty:
            continue
        qty = filled - seen.filled_qty
        price = (avg * filled - seen.avg_price * seen.filled_qty) / qty
        fee = round(fee_per_contract * qty, 2)
        fills.append(
            FillEvent(cid, seen.contract, seen.side, qty, round(price, 4), fee, at, at, liquidation=not known.ours)
        )
        seen.filled_qty, seen.avg_price = filled, avg
    return fills
