"""The simulated broker: as strict as the real one, deterministic, no network.

Time inside the broker runs on its own clock of broker updates (core.execution): an order sent
at cycle time t reaches the market at t + latency and meets the quote of that moment; a limit
that does not cross rests and is checked at every update; each update shows a displayed size,
so a large order fills in increments; a cancel takes effect at the first update after the
latency and a fill can land before it; DAY orders expire at the close. The broker's rules
(core.execution.BrokerRules) refuse orders on expiring contracts from the cutoff (15:30 ET,
earlier on early closes; closing orders too by default), and positions still open at the
liquidation time (15:45 ET) are sold at market by the broker. Contracts held for a working sell
are not available to another sell ("insufficient qty available", as Alpaca answers). A reused
client order id is refused.

Every change is reported once: in the answer to the call that made it (submit, cancel,
close_all) or by the next `sync`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from core.execution import BROKER_MODEL, BrokerRules, ExecutionModel, displayed_size, update_times, walk_the_book
from core.market.sim_market import SimMarket
from core.types import (
    Account,
    BrokerPosition,
    FillEvent,
    OptionContract,
    OptionEvent,
    OrderRequest,
    OrderStatus,
    OrderUpdate,
    PriceSource,
    Quote,
    Right,
    Side,
)

MULTIPLIER = 100


@dataclass
class _Held:
    contract: OptionContract
    qty: int
    avg_price: float


@dataclass
class _Order:
    request: OrderRequest
    update: OrderUpdate
    arrival: datetime  # when it reaches the market
    cancel_at: datetime | None = None  # when a requested cancel takes effect
    liquidation: bool = False  # the broker's own order
    unreported: list[FillEvent] = field(default_factory=list)


class SimBroker:
    name = "sim"

    def __init__(
        self,
        market: SimMarket,
        cash: float = 100_000.0,
        fee_per_contract: float = 0.65,
        model: ExecutionModel = BROKER_MODEL,
        rules: BrokerRules | None = None,
    ) -> None:
        self.market = market
        self.cash = cash
        self.fee_per_contract = fee_per_contract
        self.model = model
        self.rules = rules or BrokerRules()
        self._held: dict[str, _Held] = {}
        self._orders: dict[str, _Order] = {}
        self._open_ids: list[str] = []  # in arrival order
        self._changed: list[str] = []  # orders with news not yet reported
        self._clock: datetime | None = None  # broker updates are processed up to here
        self._seq = 0
        self._account_memo: tuple[object, Account] | None = None

    # ---- state ---------------------------------------------------------------------------
    def restore(self, cash: float, positions: list[BrokerPosition]) -> None:
        """Rebuild the in-memory account after a worker restart (from the database's fills)."""
        self.cash = cash
        self._held = {p.contract.symbol: _Held(p.contract, p.qty, p.avg_price) for p in positions if p.qty > 0}

    def account(self) -> Account:
        """Cash, and positions marked at the bid: what they would sell for (computed once per
        broker time and holdings: the cycle asks at its start and end)."""
        key = (self._clock, self.cash, tuple((h.contract.symbol, h.qty) for h in self._held.values()))
        if self._account_memo is not None and self._account_memo[0] == key:
            return self._account_memo[1]
        value = 0.0
        for h in self._held.values():
            q = self.market.quote_at(h.contract, self._clock) if self._clock else None
            value += h.qty * MULTIPLIER * (q.bid if q else h.avg_price)
        account = Account(cash=self.cash, equity=self.cash + value)
        self._account_memo = (key, account)
        return account

    def positions(self) -> list[BrokerPosition]:
        return [BrokerPosition(h.contract, h.qty, h.avg_price) for h in self._held.values() if h.qty > 0]

    def other_holdings(self) -> list[str]:
        return []  # the simulated account holds only what the worker traded

    def open_orders(self) -> list[OrderUpdate]:
        return [replace(self._orders[cid].update, fills=[]) for cid in self._open_ids]

    def order_by_client_id(self, client_order_id: str) -> OrderUpdate | None:
        found = self._orders.get(client_order_id)
        return None if found is None else self._report(client_order_id)

    def remember(self, client_order_id: str, contract: OptionContract, side: Side, filled_qty: int, avg: float) -> None:
        """Nothing to do: the simulator keeps every order it was sent."""

    # ---- orders --------------------------------------------------------------------------
    def submit(self, request: OrderRequest, now: datetime) -> OrderUpdate:
        """The order reaches the market after the latency; the answer carries what happened
        on arrival (a marketable order's first fills), the rest comes with later syncs."""
        cid = request.client_order_id
        if cid in self._orders:
            return OrderUpdate(cid, OrderStatus.REJECTED, reject_reason="client_order_id must be unique")
        arrival = self._after_latency(now)
        self._advance(arrival)
        self._seq += 1
        order = _Order(request, self._new_update(request), arrival)
        self._orders[cid] = order
        refusal = self._refusal(request, arrival)
        if refusal:
            order.update.status, order.update.reject_reason = OrderStatus.REJECTED, refusal
            return replace(order.update, fills=[])
        self._open_ids.append(cid)
        self._execute(order, arrival)
        return self._report(cid)

    def cancel(self, client_order_id: str, now: datetime) -> OrderUpdate | None:
        """Ask for a cancel: it takes effect at the first broker update after the latency."""
        order = self._orders.get(client_order_id)
        if order is None:
            return None
        if order.update.status.is_open and order.cancel_at is None:
            order.cancel_at = self._after_latency(now)
            order.update.status = OrderStatus.PENDING_CANCEL
            if self.model.latency_s <= 0:
                self._cancel_now(order)
            self._touch(client_order_id)
        return self._report(client_order_id)

    def cancel_all(self, now: datetime) -> list[OrderUpdate]:
        return [u for cid in list(self._open_ids) if (u := self.cancel(cid, now)) is not None]

    def close_all(self, now: datetime) -> list[OrderUpdate]:
        """As Alpaca's close-all with cancel_orders: every open order is cancelled (taking effect
        at the next update, so fills can still land) and every position is sold at market, as
        far as it is not held for a working sell; the held part fails, as at Alpaca (207 with
        "insufficient qty available"), reported as a REJECTED `close-failed:SYMBOL` update."""
        arrival = self._after_latency(now)
        self._advance(arrival)
        for cid in list(self._open_ids):
            self.cancel(cid, arrival)
        failures: list[OrderUpdate] = []
        for held in list(self._held.values()):
            held_for_orders = self._working_sell(held.contract)
            available = held.qty - held_for_orders
            if available > 0:
                self._broker_sell(held, arrival, "close-all", liquidation=False, qty=available)
            if held_for_orders > 0:
                failures.append(
                    OrderUpdate(
                        f"close-failed:{held.contract.symbol}",
                        OrderStatus.REJECTED,
                        reject_reason=(
                            f"insufficient qty available for order (requested: {held.qty}, available: "
                            f"{max(available, 0)}, held for orders: {held_for_orders})"
                        ),
                        contract=held.contract,
                        side=Side.SELL,
                        qty=held.qty,
                    )
                )
        return self._drain() + failures

    # ---- time ----------------------------------------------------------------------------
    def option_events(self, since: date) -> list[OptionEvent]:
        """None: the simulator settles an expiring contract still held as its own sell at intrinsic
        value (`_expire`), where Alpaca reports an expiry or exercise as an account activity."""
        return []

    def sync(self, now: datetime) -> list[OrderUpdate]:
        """Process broker updates up to `now`; report every order with news since the last call."""
        self._advance(now)
        return self._drain()

    def _advance(self, until: datetime) -> None:
        if self._clock is None:
            self._clock = until
            return
        if until <= self._clock:
            return
        times = update_times(self._clock, until, self.model.update_s) if self._open_ids else []
        for at in times:
            self._update_at(at)
        self._clock = until
        session = self.market.session(until)
        if session is not None and until >= self.rules.liquidation_time(session):
            self._liquidate(until)
        if session is None or until >= session.close:
            self._expire(until)

    def _update_at(self, at: datetime) -> None:
        """One broker update: cancels due take effect, then resting orders meet the quote."""
        session = self.market.session(at)
        for cid in list(self._open_ids):
            order = self._orders[cid]
            if order.cancel_at is not None and order.cancel_at <= at:
                self._cancel_now(order)
            elif order.arrival <= at:
                if session is None or at >= session.close:
                    continue
                self._execute(order, at)
        if session is not None and at >= self.rules.liquidation_time(session):
            self._liquidate(at)

    def _expire(self, at: datetime) -> None:
        """DAY orders end at the close; an expiring contract still held (nobody bid for it at
        the liquidation) expires at its intrinsic value, booked as the broker's own sell."""
        for cid in list(self._open_ids):
            order = self._orders[cid]
            order.update.status = OrderStatus.EXPIRED
            self._close(cid)
            self._touch(cid)
        for held in list(self._held.values()):
            if held.contract.expiry > at.date():
                continue
            spot = self.market.spot_at(held.contract.underlying, at)
            strike = held.contract.strike
            value = max(spot - strike, 0.0) if held.contract.right is Right.CALL else max(strike - spot, 0.0)
            order = self._broker_order(held, at, f"expiry-{held.contract.symbol}-{at:%Y%m%d}", True, held.qty)
            self._fill(
                order, held.qty, round(value if math.isfinite(value) else 0.0, 2), at, at, PriceSource.INTRINSIC.value
            )

    def _liquidate(self, at: datetime) -> None:
        """Expiring positions still held at the liquidation time: the broker cancels their
        working sells and sells them at market."""
        session = self.market.session(at)
        if session is None:
            return
        for held in list(self._held.values()):
            if held.contract.expiry > session.day or self._working_sell(held.contract, liquidation_only=True):
                continue
            for cid in list(self._open_ids):
                order = self._orders[cid]
                if order.request.contract == held.contract and order.request.side is Side.SELL:
                    self._cancel_now(order)
            self._broker_sell(held, at, "liquidation", liquidation=True)

    # ---- execution -----------------------------------------------------------------------
    def _execute(self, order: _Order, at: datetime) -> None:
        """The order meets the quote at `at`: a limit takes the displayed size if it crosses,
        a market order walks the book."""
        request, update = order.request, order.update
        quote = self._quote(request.contract, at)
        if quote is None:
            return
        buying = request.side is Side.BUY
        top = quote.ask if buying else quote.bid
        size = quote.ask_size if buying else quote.bid_size
        left = request.qty - update.filled_qty
        if request.order_type == "limit" and request.limit_price is not None:
            crosses = top <= request.limit_price if buying else top >= request.limit_price
            if not crosses or top <= 0:
                return
            executions = [(min(left, size), top)]
        else:
            executions = walk_the_book(top, size, left, buying) if top > 0 else []
        for qty, price in executions:
            self._fill(order, qty, price, at, quote.time, quote.price_source.value)

    def _fill(
        self, order: _Order, qty: int, price: float, at: datetime, quote_time: datetime, price_source: str = "model"
    ) -> None:
        request, update = order.request, order.update
        fee = round(self.fee_per_contract * qty, 2)
        fill = FillEvent(
            request.client_order_id,
            request.contract,
            request.side,
            qty,
            price,
            fee,
            at,
            quote_time,
            order.liquidation,
            price_source,
        )
        self._apply(fill)
        total = update.filled_qty + qty
        update.avg_fill_price = ((update.avg_fill_price or 0.0) * update.filled_qty + price * qty) / total
        update.filled_qty = total
        if total >= request.qty:
            update.status = OrderStatus.FILLED
            self._close(request.client_order_id)
        elif update.status is not OrderStatus.PENDING_CANCEL:
            update.status = OrderStatus.PARTIALLY_FILLED
        order.unreported.append(fill)
        self._touch(request.client_order_id)

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

    def _broker_sell(self, held: _Held, at: datetime, tag: str, liquidation: bool, qty: int | None = None) -> None:
        """A market sell the broker sends itself (close-all, liquidation), working until filled."""
        order = self._broker_order(held, at, f"{tag}-{held.contract.symbol}-{at:%Y%m%dT%H%M%S}", liquidation, qty)
        self._open_ids.append(order.request.client_order_id)
        self._touch(order.request.client_order_id)
        self._execute(order, at)

    def _broker_order(self, held: _Held, at: datetime, name: str, liquidation: bool, qty: int | None) -> _Order:
        """Register one of the broker's own sell orders of `held` (its id: `name` and a sequence)."""
        self._seq += 1
        cid = f"{name}-{self._seq}"
        request = OrderRequest(cid, held.contract, Side.SELL, qty or held.qty, opening=False)
        order = _Order(request, self._new_update(request), at, liquidation=liquidation)
        self._orders[cid] = order
        return order

    def _quote(self, contract: OptionContract, at: datetime) -> Quote | None:
        quote = self.market.quote_at(contract, at)
        if quote is None:
            return None
        spot = self.market.spot_at(contract.underlying, at)
        m = self.model
        bid_size = displayed_size(m, contract.symbol, contract.strike, spot, at, "bid")
        ask_size = displayed_size(m, contract.symbol, contract.strike, spot, at, "ask")
        return replace(quote, bid_size=bid_size, ask_size=ask_size)

    # ---- rules ---------------------------------------------------------------------------
    def _refusal(self, request: OrderRequest, at: datetime) -> str | None:
        session = self.market.session(at)
        if session is None or at >= session.close:
            return "market is closed"
        if request.time_in_force != "day":
            return "options orders must be DAY orders"
        if request.qty <= 0:
            return "qty must be positive"
        if request.contract.expiry < session.day:
            return "contract has expired"
        expiring = request.contract.expiry == session.day
        if expiring and request.opening and at >= self.rules.opening_cutoff(session):
            cutoff = self.rules.opening_cutoff(session)
            return f"opening orders on expiring contracts are refused from {cutoff:%H:%M} ET"
        if (
            expiring
            and not request.opening
            and self.rules.refuse_closing_after_cutoff
            and at >= self.rules.closing_cutoff(session)
        ):
            cutoff = self.rules.closing_cutoff(session)
            return f"orders on expiring contracts are refused from {cutoff:%H:%M} ET (the broker liquidates them)"
        held = self._held.get(request.contract.symbol)
        if request.side is Side.SELL:
            available = (held.qty if held else 0) - self._working_sell(request.contract)
            if available < request.qty:
                return f"insufficient qty available for order (requested: {request.qty}, available: {available})"
        if request.side is Side.BUY:
            quote = self.market.quote_at(request.contract, at)
            price = (
                request.limit_price
                if request.order_type == "limit" and request.limit_price
                else (quote.ask if quote else 0.0)
            )
            if price * MULTIPLIER * request.qty + self.fee_per_contract * request.qty > self.cash:
                return "insufficient buying power"
        return None

    def _working_sell(self, contract: OptionContract, liquidation_only: bool = False) -> int:
        """Contracts held for sells still working (not available to another sell)."""
        total = 0
        for cid in self._open_ids:
            order = self._orders[cid]
            r = order.request
            if r.contract == contract and r.side is Side.SELL and (order.liquidation or not liquidation_only):
                total += r.qty - order.update.filled_qty
        return total

    # ---- bookkeeping ---------------------------------------------------------------------
    def _new_update(self, request: OrderRequest) -> OrderUpdate:
        return OrderUpdate(
            request.client_order_id,
            OrderStatus.ACCEPTED,
            broker_order_id=f"sim-{self._seq}",
            contract=request.contract,
            side=request.side,
            qty=request.qty,
        )

    def _after_latency(self, now: datetime) -> datetime:
        start = now if self._clock is None or now > self._clock else self._clock
        return start + timedelta(seconds=self.model.latency_s)

    def _cancel_now(self, order: _Order) -> None:
        if order.update.status.is_open:
            order.update.status = OrderStatus.CANCELED
            self._close(order.request.client_order_id)
            self._touch(order.request.client_order_id)

    def _close(self, cid: str) -> None:
        if cid in self._open_ids:
            self._open_ids.remove(cid)

    def _touch(self, cid: str) -> None:
        if cid not in self._changed:
            self._changed.append(cid)

    def _report(self, cid: str) -> OrderUpdate:
        """The order as it stands, with the fills not reported before (each fill reported once)."""
        order = self._orders[cid]
        fills, order.unreported = order.unreported, []
        if cid in self._changed:
            self._changed.remove(cid)
        return replace(order.update, fills=fills)

    def _drain(self) -> list[OrderUpdate]:
        return [self._report(cid) for cid in list(self._changed)]
