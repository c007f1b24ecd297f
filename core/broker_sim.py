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

Multi-leg orders (a structure: Alpaca's `mleg`) fill every leg together or not at all, in whole
structures, at the legs' own quotes (core.execution.structure_executions); they need options
level 3, and opening one holds buying power by the universal spread rule (the legs' worst value
at expiry, premiums ignored, plus a net debit: core.structures.payoff.legs_buying_power). Short
legs are held as negative quantities, marked at the ask, bought back by the liquidation, the stop
and expiry as longs are sold. The liquidation closes each expiring contract on its own, as
Alpaca's does, so it can leave one leg of a structure for a moment.

Every change is reported once: in the answer to the call that made it (submit, cancel,
close_all) or by the next `sync`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from core.execution import (
    BROKER_MODEL,
    BrokerRules,
    ExecutionModel,
    LegTop,
    displayed_size,
    structure_executions,
    update_times,
    walk_the_book,
)
from core.market.sim_market import SimMarket
from core.structures.payoff import legs_buying_power
from core.structures.types import Leg
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
    SyncFailure,
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
        options_level: int = 3,
    ) -> None:
        self.market = market
        self.cash = cash
        self.fee_per_contract = fee_per_contract
        self.model = model
        self.rules = rules or BrokerRules()
        self.options_level = options_level  # Alpaca's levels: 2 long options only, 3 spreads (mleg)
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
        self._held = {p.contract.symbol: _Held(p.contract, p.qty, p.avg_price) for p in positions if p.qty != 0}

    def account(self) -> Account:
        """Cash, and positions marked at the bid: what they would sell for (computed once per
        broker time and holdings: the cycle asks at its start and end)."""
        key = (self._clock, self.cash, tuple((h.contract.symbol, h.qty) for h in self._held.values()))
        if self._account_memo is not None and self._account_memo[0] == key:
            return self._account_memo[1]
        value = 0.0
        for h in self._held.values():
            q = self.market.quote_at(h.contract, self._clock) if self._clock else None
            mark = (q.bid if h.qty > 0 else q.ask) if q else h.avg_price  # a short costs the ask to buy back
            value += h.qty * MULTIPLIER * mark
        account = Account(cash=self.cash, equity=self.cash + value)
        self._account_memo = (key, account)
        return account

    def positions(self) -> list[BrokerPosition]:
        return [BrokerPosition(h.contract, h.qty, h.avg_price) for h in self._held.values() if h.qty != 0]

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

    def close_all(self, now: datetime, keep: frozenset[str] = frozenset()) -> list[OrderUpdate]:
        """As Alpaca's close-all with cancel_orders: every open order is cancelled (taking effect
        at the next update, so fills can still land) and every position but those in `keep`
        (contracts the caller closes itself) is closed at market, shorts bought back first, as
        far as it is not held for a working order; the held part fails, as at Alpaca (207 with
        "insufficient qty available"), reported as a REJECTED `close-failed:SYMBOL` update. A
        long nobody bids for stays working unfilled (`walk_the_book`), as at Alpaca."""
        arrival = self._after_latency(now)
        self._advance(arrival)
        for cid in list(self._open_ids):
            self.cancel(cid, arrival)
        failures: list[OrderUpdate] = []
        for held in sorted(self._held.values(), key=lambda h: h.qty > 0):  # shorts first
            if held.contract.symbol in keep:
                continue
            held_for_orders = self._working_close(held.contract, _closing_side(held))
            available = abs(held.qty) - held_for_orders
            if available > 0:
                self._broker_close(held, arrival, "close-all", liquidation=False, qty=available)
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
                        side=_closing_side(held),
                        qty=abs(held.qty),
                    )
                )
        return self._drain() + failures

    # ---- time ----------------------------------------------------------------------------
    def sync_failures(self) -> list[SyncFailure]:
        return []  # every order is in this process: none fails to be read

    def shares_held(self, underlying: str) -> int:
        return 0  # the simulator settles an expiring option in cash: never any shares

    def shares_before(self, contract: OptionContract) -> int | None:
        return None

    def close_shares(self, underlying: str, qty: int) -> str:
        return "no shares: the simulator settles an expiring option in cash"

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
            order = self._broker_order(held, at, f"expiry-{held.contract.symbol}-{at:%Y%m%d}", True, abs(held.qty))
            self._fill(
                order,
                abs(held.qty),
                round(value if math.isfinite(value) else 0.0, 2),
                at,
                at,
                PriceSource.INTRINSIC.value,
            )

    def _liquidate(self, at: datetime) -> None:
        """Expiring positions still held at the liquidation time: the broker cancels their
        working sells and sells them at market."""
        session = self.market.session(at)
        if session is None:
            return
        for held in list(self._held.values()):
            side = _closing_side(held)
            if held.contract.expiry > session.day or self._working_close(held.contract, side, liquidation_only=True):
                continue
            for cid in list(self._open_ids):  # its working orders (a structure's too) are cancelled
                order = self._orders[cid]
                if any(leg.contract == held.contract for leg in order.request.leg_orders()):
                    self._cancel_now(order)
            self._broker_close(held, at, "liquidation", liquidation=True)

    # ---- execution -----------------------------------------------------------------------
    def _execute(self, order: _Order, at: datetime) -> None:
        """The order meets the quote at `at`: a limit takes the displayed size if it crosses,
        a market order walks the book."""
        request, update = order.request, order.update
        if request.is_multi_leg:
            self._execute_legs(order, at)
            return
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

    def _execute_legs(self, order: _Order, at: datetime) -> None:
        """A structure meets the legs' quotes at `at`: whole structures, every leg at once."""
        request, update = order.request, order.update
        quotes = [self._quote(leg.contract, at) for leg in request.legs]
        if any(q is None for q in quotes):
            return  # a leg without a quote: nothing fills
        tops = [
            LegTop(q.ask if leg.side is Side.BUY else q.bid, q.ask_size if leg.side is Side.BUY else q.bid_size,
                   leg.ratio, leg.sign)
            for leg, q in zip(request.legs, quotes, strict=True) if q is not None
        ]  # fmt: skip
        limit = request.limit_price if request.order_type == "limit" else None
        for structures, prices in structure_executions(tops, request.qty - update.filled_qty, limit):
            fills = []
            for leg, q, price in zip(request.legs, quotes, prices, strict=True):
                assert q is not None
                qty = structures * leg.ratio
                fee = round(self.fee_per_contract * qty, 2)
                fills.append(
                    FillEvent(request.client_order_id, leg.contract, leg.side, qty, price, fee, at, q.time,
                              order.liquidation, q.price_source.value)
                )  # fmt: skip
            for fill in fills:
                self._apply(fill)
            net = sum(leg.sign * leg.ratio * p for leg, p in zip(request.legs, prices, strict=True))
            self._count(order, structures, net)
            order.unreported.extend(fills)

    def _count(self, order: _Order, qty: int, price: float) -> None:
        """Add `qty` filled (contracts, or structures at a net price) to the order's status."""
        request, update = order.request, order.update
        total = update.filled_qty + qty
        update.avg_fill_price = ((update.avg_fill_price or 0.0) * update.filled_qty + price * qty) / total
        update.filled_qty = total
        if total >= request.qty:
            update.status = OrderStatus.FILLED
            self._close(request.client_order_id)
        elif update.status is not OrderStatus.PENDING_CANCEL:
            update.status = OrderStatus.PARTIALLY_FILLED
        self._touch(request.client_order_id)

    def _fill(
        self, order: _Order, qty: int, price: float, at: datetime, quote_time: datetime, price_source: str = "model"
    ) -> None:
        request = order.request
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
        self._count(order, qty, price)
        order.unreported.append(fill)

    def _apply(self, fill: FillEvent) -> None:
        """Cash and the signed holding: a buy adds, a sell takes away (below zero: a short)."""
        key = fill.contract.symbol
        sign = 1 if fill.side is Side.BUY else -1
        self.cash -= sign * fill.price * MULTIPLIER * fill.qty + fill.fee
        held = self._held.get(key)
        if held is None:
            self._held[key] = _Held(fill.contract, sign * fill.qty, fill.price)
            return
        if held.qty * sign > 0:  # adding to the same side: the average moves
            held.avg_price = (held.avg_price * abs(held.qty) + fill.price * fill.qty) / (abs(held.qty) + fill.qty)
        held.qty += sign * fill.qty
        if held.qty == 0:
            del self._held[key]

    def _broker_close(self, held: _Held, at: datetime, tag: str, liquidation: bool, qty: int | None = None) -> None:
        """A market order closing `held` the broker sends itself (close-all, liquidation): a sell
        of a long, a buy of a short, working until filled."""
        order = self._broker_order(held, at, f"{tag}-{held.contract.symbol}-{at:%Y%m%dT%H%M%S}", liquidation, qty)
        self._open_ids.append(order.request.client_order_id)
        self._touch(order.request.client_order_id)
        self._execute(order, at)

    def _broker_order(self, held: _Held, at: datetime, name: str, liquidation: bool, qty: int | None) -> _Order:
        """Register one of the broker's own orders closing `held` (its id: `name` and a sequence)."""
        self._seq += 1
        cid = f"{name}-{self._seq}"
        request = OrderRequest(cid, held.contract, _closing_side(held), qty or abs(held.qty), opening=False)
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
        if request.qty <= 0:
            return "qty must be positive"
        if request.time_in_force != "day":
            return "options orders must be DAY orders"
        if request.is_multi_leg:
            return self._legs_refusal(request, at)
        return self._session_refusal(request.contract, request.opening, at) or self._single_refusal(request, at)

    def _session_refusal(self, contract: OptionContract, opening: bool, at: datetime) -> str | None:
        session = self.market.session(at)
        if session is None or at >= session.close:
            return "market is closed"
        if contract.expiry < session.day:
            return "contract has expired"
        expiring = contract.expiry == session.day
        if expiring and opening and at >= self.rules.opening_cutoff(session):
            cutoff = self.rules.opening_cutoff(session)
            return f"opening orders on expiring contracts are refused from {cutoff:%H:%M} ET"
        if (
            expiring
            and not opening
            and self.rules.refuse_closing_after_cutoff
            and at >= self.rules.closing_cutoff(session)
        ):
            cutoff = self.rules.closing_cutoff(session)
            return f"orders on expiring contracts are refused from {cutoff:%H:%M} ET (the broker liquidates them)"
        return None

    def _single_refusal(self, request: OrderRequest, at: datetime) -> str | None:
        """One contract: sells close longs, buys open longs or close shorts (a short is only ever
        opened as a leg of a structure)."""
        if request.side is Side.SELL and request.opening:
            return "a short is opened only as a leg of a multi-leg order"
        if request.side is Side.SELL or not request.opening:
            available = self._available_to_close(request.contract, request.side)
            if available < request.qty:
                return f"insufficient qty available for order (requested: {request.qty}, available: {available})"
            return None
        quote = self.market.quote_at(request.contract, at)
        price = (
            request.limit_price
            if request.order_type == "limit" and request.limit_price
            else (quote.ask if quote else 0.0)
        )
        if price * MULTIPLIER * request.qty + self.fee_per_contract * request.qty > self.cash:
            return "insufficient buying power"
        return None

    def _legs_refusal(self, request: OrderRequest, at: datetime) -> str | None:
        """A multi-leg order as Alpaca checks one: 2 to 4 distinct contracts on one underlying,
        options level 3, each leg's session rules, what closing legs close, and buying power."""
        legs = request.legs
        if not 2 <= len(legs) <= 4 or len({leg.contract.symbol for leg in legs}) != len(legs):
            return "a multi-leg order needs 2 to 4 legs on distinct contracts"
        if len({leg.contract.underlying for leg in legs}) != 1:
            return "the legs of a multi-leg order must share one underlying"
        if self.options_level < 3:
            return f"options trading level 3 is required for multi-leg orders (this account: {self.options_level})"
        for leg in legs:
            refused = self._session_refusal(leg.contract, leg.opening, at)
            if refused:
                return refused
            if not leg.opening and self._available_to_close(leg.contract, leg.side) < leg.ratio * request.qty:
                return f"insufficient qty available for order ({leg.contract.symbol})"
        if any(leg.opening for leg in legs):
            net = request.limit_price if request.order_type == "limit" and request.limit_price is not None else None
            if net is None:
                quotes = [self.market.quote_at(leg.contract, at) for leg in legs]
                if any(q is None for q in quotes):
                    return "no quote for a leg"
                net = sum(
                    leg.sign * leg.ratio * (q.ask if leg.sign > 0 else q.bid)
                    for leg, q in zip(legs, quotes, strict=True)
                    if q
                )
            signed = [Leg(leg.contract, leg.sign * leg.ratio) for leg in legs]
            fees = self.fee_per_contract * request.qty * sum(leg.ratio for leg in legs)
            if legs_buying_power(signed, net, request.qty) + fees > self.cash:
                return "insufficient options buying power"
        return None

    def _available_to_close(self, contract: OptionContract, side: Side) -> int:
        """Contracts a closing order on `side` may take: the long held (to sell) or the short held
        (to buy back), less what working closing orders already hold for it."""
        held = self._held.get(contract.symbol)
        qty = 0 if held is None else (held.qty if side is Side.SELL else -held.qty)
        return max(qty, 0) - self._working_close(contract, side)

    def _working_close(self, contract: OptionContract, side: Side, liquidation_only: bool = False) -> int:
        """Contracts held for closing orders (legs too) still working on `side` of `contract`."""
        total = 0
        for cid in self._open_ids:
            order = self._orders[cid]
            if liquidation_only and not order.liquidation:
                continue
            left = order.request.qty - order.update.filled_qty
            for leg in order.request.leg_orders():
                if leg.contract == contract and leg.side is side and not leg.opening:
                    total += leg.ratio * left
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


def _closing_side(held: _Held) -> Side:
    """A long is closed by a sell, a short by a buy."""
    return Side.SELL if held.qty > 0 else Side.BUY
