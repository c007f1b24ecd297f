"""The simulated broker: as strict as the real one, deterministic, no network.

- Market orders fill at once against the quote at submission time: buys at the ask, sells at
  the bid. That quote is priced from the bar starting at `now`, which the decision never saw.
- Limit orders fill only when the quote crosses them; they rest until then, as DAY orders.
- Opening orders on same-day expiries are refused from 30 minutes before the close (15:30 ET).
- Expiring positions still open 15 minutes before the close (15:45 ET) are liquidated at the bid.
- A reused client order id is refused, as Alpaca refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from core.market.sim_market import SimMarket
from core.types import (
    Account,
    BrokerPosition,
    FillEvent,
    OptionContract,
    OrderRequest,
    OrderStatus,
    OrderUpdate,
    Side,
)

MULTIPLIER = 100
OPENING_CUTOFF_BEFORE_CLOSE = timedelta(minutes=30)
LIQUIDATION_BEFORE_CLOSE = timedelta(minutes=15)


@dataclass
class _Held:
    contract: OptionContract
    qty: int
    avg_price: float


class SimBroker:
    name = "sim"

    def __init__(self, market: SimMarket, cash: float = 100_000.0, fee_per_contract: float = 0.65) -> None:
        self.market = market
        self.cash = cash
        self.fee_per_contract = fee_per_contract
        self._held: dict[str, _Held] = {}
        self._orders: dict[str, tuple[OrderRequest, OrderUpdate]] = {}
        self._open_ids: set[str] = set()
        self._now: datetime | None = None
        self._seq = 0

    # ---- state ---------------------------------------------------------------------------
    def restore(self, cash: float, positions: list[BrokerPosition]) -> None:
        """Rebuild the in-memory account after a worker restart (from the database's fills)."""
        self.cash = cash
        self._held = {p.contract.symbol: _Held(p.contract, p.qty, p.avg_price) for p in positions if p.qty > 0}

    def account(self) -> Account:
        value = 0.0
        for h in self._held.values():
            q = self.market.quote(h.contract, self._now) if self._now else None
            value += h.qty * MULTIPLIER * (q.mid if q else h.avg_price)
        return Account(cash=self.cash, equity=self.cash + value)

    def positions(self) -> list[BrokerPosition]:
        return [BrokerPosition(h.contract, h.qty, h.avg_price) for h in self._held.values() if h.qty > 0]

    def open_orders(self) -> list[OrderUpdate]:
        return [self._orders[cid][1] for cid in sorted(self._open_ids)]

    def order_by_client_id(self, client_order_id: str) -> OrderUpdate | None:
        found = self._orders.get(client_order_id)
        return None if found is None else found[1]

    def remember(self, client_order_id: str, contract: OptionContract, side: Side, filled_qty: int, avg: float) -> None:
        """Nothing to do: the simulator keeps every order it was sent."""

    # ---- orders --------------------------------------------------------------------------
    def submit(self, request: OrderRequest, now: datetime) -> OrderUpdate:
        self._now = now
        if request.client_order_id in self._orders:
            return OrderUpdate(
                request.client_order_id, OrderStatus.REJECTED, reject_reason="client_order_id must be unique"
            )
        self._seq += 1
        update = OrderUpdate(request.client_order_id, OrderStatus.ACCEPTED, broker_order_id=f"sim-{self._seq}")
        self._orders[request.client_order_id] = (request, update)
        refusal = self._refusal(request, now)
        if refusal:
            update.status, update.reject_reason = OrderStatus.REJECTED, refusal
            return replace(update, fills=[])
        fills = self._try_fill(request, update, now)
        if update.status.is_open:
            self._open_ids.add(request.client_order_id)
        return replace(update, fills=fills)

    def _refusal(self, request: OrderRequest, now: datetime) -> str | None:
        session = self.market.session(now)
        if session is None or now >= session.close:
            return "market is closed"
        if request.time_in_force != "day":
            return "options orders must be DAY orders"
        if request.qty <= 0:
            return "qty must be positive"
        if request.contract.expiry < session.day:
            return "contract has expired"
        if (
            request.opening
            and request.contract.expiry == session.day
            and now >= session.close - OPENING_CUTOFF_BEFORE_CLOSE
        ):
            cutoff = session.close - OPENING_CUTOFF_BEFORE_CLOSE
            return f"opening orders on expiring contracts are refused after {cutoff:%H:%M} ET"
        held = self._held.get(request.contract.symbol)
        if request.side is Side.SELL and (held is None or held.qty < request.qty):
            return "insufficient qty to sell (uncovered options are not allowed)"
        if request.side is Side.BUY:
            quote = self.market.quote(request.contract, now)
            price = (
                request.limit_price
                if request.order_type == "limit" and request.limit_price
                else (quote.ask if quote else 0.0)
            )
            if price * MULTIPLIER * request.qty + self.fee_per_contract * request.qty > self.cash:
                return "insufficient buying power"
        return None

    def _try_fill(
        self, request: OrderRequest, update: OrderUpdate, now: datetime, liquidation: bool = False
    ) -> list[FillEvent]:
        quote = self.market.quote(request.contract, now)
        if quote is None:
            return []
        price = quote.ask if request.side is Side.BUY else quote.bid
        if request.order_type == "limit" and request.limit_price is not None:
            crosses = price <= request.limit_price if request.side is Side.BUY else price >= request.limit_price
            if not crosses:
                return []
        qty = request.qty - update.filled_qty
        fee = round(self.fee_per_contract * qty, 2)
        fill = FillEvent(
            request.client_order_id, request.contract, request.side, qty, price, fee, now, quote.time, liquidation
        )
        self._apply(fill)
        update.avg_fill_price = (
            price
            if not update.filled_qty
            else ((update.avg_fill_price or 0.0) * update.filled_qty + price * qty) / (update.filled_qty + qty)
        )
        update.filled_qty += qty
        update.status = OrderStatus.FILLED
        update.fills.append(fill)
        return [fill]

    def _apply(self, fill: FillEvent) -> None:
        key = fill.contract.symbol
        held = self._held.get(key)
        if fill.side is Side.BUY:
            self.cash -= fill.price * MULTIPLIER * fill.qty + fill.fee
            if held is None:
                self._held[key] = _Held(fill.contract, fill.qty, fill.price)
            else:
                held.avg_price = (held.avg_price * held.qty + fill.price * fill.qty) / (held.qty + fill.qty)
                held.qty += fill.qty
        else:
            self.cash += fill.price * MULTIPLIER * fill.qty - fill.fee
            assert held is not None
            held.qty -= fill.qty
            if held.qty == 0:
                del self._held[key]

    def cancel_all(self, now: datetime) -> list[OrderUpdate]:
        self._now = now
        cancelled = []
        for cid in sorted(self._open_ids):
            update = self._orders[cid][1]
            update.status = OrderStatus.CANCELED
            cancelled.append(replace(update, fills=[]))
        self._open_ids.clear()
        return cancelled

    def close_all(self, now: datetime) -> list[OrderUpdate]:
        updates = self.cancel_all(now)
        for held in list(self._held.values()):
            updates.append(self._broker_sell(held, now, "close-all", liquidation=False))
        return updates

    def _cancel_sells(self, contract: OptionContract) -> list[OrderUpdate]:
        """Cancel resting sells of `contract` (the broker does before it liquidates it)."""
        cancelled = []
        for open_cid in sorted(self._open_ids):
            request, update = self._orders[open_cid]
            if request.contract == contract and request.side is Side.SELL:
                update.status = OrderStatus.CANCELED
                self._open_ids.discard(open_cid)
                cancelled.append(replace(update, fills=[]))
        return cancelled

    def _broker_sell(self, held: _Held, now: datetime, tag: str, liquidation: bool) -> OrderUpdate:
        cid = f"{tag}-{held.contract.symbol}-{now:%Y%m%dT%H%M}"
        request = OrderRequest(cid, held.contract, Side.SELL, held.qty, opening=False)
        self._seq += 1
        update = OrderUpdate(cid, OrderStatus.ACCEPTED, broker_order_id=f"sim-{self._seq}")
        self._orders[cid] = (request, update)
        fills = self._try_fill(request, update, now, liquidation=liquidation)
        if update.status.is_open:
            self._open_ids.add(cid)
        return replace(update, fills=fills)

    # ---- time ----------------------------------------------------------------------------
    def sync(self, now: datetime) -> list[OrderUpdate]:
        """Fill resting limits, expire DAY orders at the close, liquidate expiring positions."""
        self._now = now
        session = self.market.session(now)
        updates: list[OrderUpdate] = []
        for cid in sorted(self._open_ids):
            request, update = self._orders[cid]
            if session is None or now >= session.close:
                update.status = OrderStatus.EXPIRED
                updates.append(replace(update, fills=[]))
            else:
                fills = self._try_fill(request, update, now)
                if fills:
                    updates.append(replace(update, fills=fills))
            if not update.status.is_open:
                self._open_ids.discard(cid)
        if session is not None and now >= session.close - LIQUIDATION_BEFORE_CLOSE:
            for held in list(self._held.values()):
                if held.contract.expiry <= session.day:
                    updates.extend(self._cancel_sells(held.contract))
                    updates.append(self._broker_sell(held, now, "liquidation", liquidation=True))
        return updates
