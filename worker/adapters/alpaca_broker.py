"""The Broker protocol on Alpaca (paper or live) through alpaca-py's TradingClient.

Orders are DAY limit orders with `position_intent` (BUY_TO_OPEN / SELL_TO_CLOSE) and the
cycle's deterministic client order id. The adapter remembers, per client order id, how much of
each order it has already reported as filled, and turns Alpaca's cumulative `filled_qty` /
`filled_avg_price` into one FillEvent per increment, so a fill is booked exactly once however
often the order is read. Errors are not retried here: the cycle looks a failed submit up by its
client order id, and reconciliation settles whatever is still unknown.

Orders are always read with `nested=true`: Alpaca rolls a multi-leg order's legs up under `legs`
only then. Where a parent still comes without its legs it is read again by id (nested), and a leg
listed as an order of its own is skipped (it has its own ids and nothing naming its parent: its
fills are read through the parent). One order that cannot be read (a `replaced_by` successor
that answers 404) is left for the next sync and named by `sync_failures`; the others sync.
"""

from __future__ import annotations

import logging
import time
from datetime import date, datetime, timedelta
from typing import Any

from alpaca.common.exceptions import APIError
from alpaca.trading.enums import AssetClass, QueryOrderStatus
from alpaca.trading.models import Order
from alpaca.trading.requests import ClosePositionRequest, GetOrderByIdRequest, GetOrdersRequest

from core.calendar import NY
from core.types import (
    Account,
    BrokerPosition,
    FillEvent,
    OptionContract,
    OptionEvent,
    OptionEventKind,
    OrderRequest,
    OrderStatus,
    OrderUpdate,
    Side,
    SyncFailure,
)
from worker.adapters.alpaca_http import AlpacaClients, BrokerUnavailableError, is_transient, status_of
from worker.adapters.alpaca_orders import order_body
from worker.adapters.alpaca_reads import (
    MAX_REPLACEMENTS,
    Known,
    LegKnown,
    LegsMissingError,
    is_leg,
    leg_fills,
    shares_of,
    status_of_order,
    value_of,
)

log = logging.getLogger("worker.alpaca")


class AlpacaBroker:
    """Alpaca through alpaca-py; every call has the session's timeout and request budget."""

    def __init__(
        self,
        clients: AlpacaClients,
        fee_per_contract: float = 0.65,
        flat_wait_s: float = 5.0,
        underlyings: tuple[str, ...] = ("SPY", "QQQ"),
    ) -> None:
        self.trading = clients.trading
        self.name = f"alpaca-{clients.settings.mode}"
        self.fee_per_contract = fee_per_contract
        self.flat_wait_s = flat_wait_s
        self.underlyings = underlyings
        self.known: dict[str, Known] = {}
        self.ignored: dict[str, str] = {}  # symbol -> what: holdings and orders the trading path leaves alone
        self.successor_of: dict[str, str] = {}  # a replacement's client order id -> the order it replaced
        self.failing: dict[str, str] = {}  # client order id -> why the last sync could not read it
        self.shares_when_held: dict[str, int] = {}  # option symbol -> its underlying's shares, last read held

    # ---- calls --------------------------------------------------------------------------
    def _call(self, what: str, fn: Any, *args: Any) -> Any:
        """One alpaca-py call; transient failures become BrokerUnavailableError naming the call."""
        try:
            return fn(*args)
        except Exception as exc:
            if is_transient(exc):
                raise BrokerUnavailableError(f"{what}: {_short(exc)}") from exc
            raise

    # ---- account ------------------------------------------------------------------------
    def account(self) -> Account:
        a = self._call("get_account", self.trading.get_account)
        return Account(cash=float(a.cash or 0.0), equity=float(a.equity or 0.0))

    def positions(self) -> list[BrokerPosition]:
        """The option positions; each one's underlying shares at this read are remembered (the
        shares an exercise or assignment later brings are counted from them, `shares_before`)."""
        out, shares = [], {}
        for p in self._call("get_all_positions", self.trading.get_all_positions):
            if value_of(p.asset_class) != AssetClass.US_OPTION.value:
                self.ignored[p.symbol] = f"{value_of(p.asset_class)} position x{p.qty}"
                if value_of(p.asset_class) == AssetClass.US_EQUITY.value:
                    shares[p.symbol] = shares_of(p)
                continue
            out.append(
                BrokerPosition(OptionContract.from_symbol(p.symbol), int(float(p.qty)), float(p.avg_entry_price))
            )
        for held in out:
            self.shares_when_held[held.contract.symbol] = shares.get(held.contract.underlying, 0)
        return out

    def other_holdings(self) -> list[str]:
        """What the last reads of positions and orders skipped (stocks, crypto): left alone."""
        return [f"{symbol}: {what}" for symbol, what in sorted(self.ignored.items())]

    def open_orders(self) -> list[OrderUpdate]:
        orders = self._orders(GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=500, nested=True))
        return [
            self._update(o, report_fills=False)
            for o in orders
            if self._is_ours_to_trade(o) and o.client_order_id not in self.successor_of
        ]

    def _orders(self, request: GetOrdersRequest) -> list[Order]:
        """GET /v2/orders (nested): a leg listed as an order of its own is left out, its parent
        carries it."""
        return [o for o in self._call("get_orders", self.trading.get_orders, request) if not is_leg(o)]

    def _order_by_id(self, order_id: str) -> Order:
        """GET /v2/orders/{id} with the legs rolled up."""
        return self._call("get_order_by_id", self.trading.get_order_by_id, order_id, GetOrderByIdRequest(nested=True))

    def _with_legs(self, order: Order) -> Order:
        """A multi-leg parent read without its legs (a read that cannot nest, or a broker that did
        not): read again by id, nested."""
        if value_of(order.order_class) != "mleg" or order.legs or is_leg(order):
            return order
        again = self._order_by_id(str(order.id))
        if not again.legs:
            raise LegsMissingError(f"multi-leg order {order.client_order_id} came without its legs, read nested")
        return again

    def _is_ours_to_trade(self, order: Order) -> bool:
        """An option order on a traded underlying; anything else (stock, crypto) is left alone. A
        multi-leg parent has no asset class of its own: its legs are options."""
        if value_of(order.order_class) == "mleg":
            return True
        if value_of(order.asset_class) != AssetClass.US_OPTION.value:
            self.ignored[order.symbol or "?"] = f"{value_of(order.asset_class)} order {order.client_order_id}"
            return False
        return True

    # ---- orders -------------------------------------------------------------------------
    def submit(self, request: OrderRequest, now: datetime) -> OrderUpdate:
        """Send once. Any error propagates: the caller looks the order up by its id first."""
        self.remember(request.client_order_id, request.contract, request.side)
        for leg in request.legs:  # a multi-leg order's fills are reported per leg
            self.known[request.client_order_id].legs[leg.contract.symbol] = LegKnown(leg.contract, leg.side)
        body = order_body(request)
        try:
            order = self.trading.submit_order(body)
        except APIError as exc:
            status = status_of(exc)
            if status == 422 and "unique" in str(exc):  # the id was used: that order is ours
                found = self.order_by_client_id(request.client_order_id)
                if found is not None:
                    return found
            if status is not None and 400 <= status < 500 and status not in (404, 408, 429):
                return OrderUpdate(request.client_order_id, OrderStatus.REJECTED, reject_reason=_short(exc))
            raise
        update = self._update(order)
        if update.status is OrderStatus.ACCEPTED:  # marketable limits fill within moments: read once more
            again = self.order_by_client_id(request.client_order_id)
            update = again if again is not None else update
        return update

    def order_by_client_id(self, client_order_id: str) -> OrderUpdate | None:
        """The order as the broker has it, with fills not reported before; None when unknown."""
        try:
            order = self._call("get_order_by_client_id", self.trading.get_order_by_client_id, client_order_id)
        except APIError as exc:  # _call passed it through: not transient
            if status_of(exc) == 404:
                return None
            raise
        return self._update(order)

    def remember(self, cid: str, contract: OptionContract, side: Side, filled_qty: int = 0, avg: float = 0.0) -> None:
        """Track an order (before it is sent, or from the database after a restart)."""
        if cid not in self.known:
            self.known[cid] = Known(contract, side, filled_qty, avg)

    def cancel(self, client_order_id: str, now: datetime) -> OrderUpdate | None:
        """DELETE /v2/orders/{id}: Alpaca answers 204 and cancels asynchronously (fills can land first)."""
        known = self.known.get(client_order_id)
        if known is None or known.broker_order_id is None:
            found = self.order_by_client_id(client_order_id)
            known = self.known.get(client_order_id)
            if found is None or known is None or known.broker_order_id is None:
                return found
        try:
            self._call("cancel_order_by_id", self.trading.cancel_order_by_id, known.broker_order_id)
        except APIError as exc:  # 422: already filled or cancelled; the order's own state says which
            log.info("cancel %s: %s", client_order_id, _short(exc))
        return self.order_by_client_id(client_order_id)

    def cancel_all(self, now: datetime) -> list[OrderUpdate]:
        """Cancel the open option orders on the traded underlyings, one by one (others stay)."""
        updates = []
        for o in self.open_orders():
            if o.contract is not None and o.contract.underlying in self.underlyings:
                upd = self.cancel(o.client_order_id, now)
                if upd is not None:
                    updates.append(upd)
        return updates + self.sync(now)

    def close_all(self, now: datetime, keep: frozenset[str] = frozenset()) -> list[OrderUpdate]:
        """Cancel the traded underlyings' orders and close their option positions one by one
        (DELETE /v2/positions would sell the account's other holdings too), shorts first (a long
        sold before its short would leave the short uncovered), except the contracts in `keep`
        (the caller closes a structure's legs itself, as one multi-leg order). A position Alpaca
        refuses to close (403 "insufficient qty available" while a cancel is pending, say) comes
        back as a REJECTED update named `close-failed:SYMBOL` with the broker's message."""
        updates = self.cancel_all(now)
        closing_now = [
            p for p in self.positions() if p.contract.underlying in self.underlyings and p.contract.symbol not in keep
        ]
        for p in sorted(closing_now, key=lambda p: p.qty > 0):  # shorts first
            closing = Side.SELL if p.qty > 0 else Side.BUY  # a short is closed by a buy
            try:
                order = self._call("close_position", self.trading.close_position, p.contract.symbol)
            except (APIError, BrokerUnavailableError) as exc:  # one refusal must not stop the others
                updates.append(
                    OrderUpdate(
                        f"close-failed:{p.contract.symbol}",
                        OrderStatus.REJECTED,
                        reject_reason=_short(exc),
                        contract=p.contract,
                        side=closing,
                        qty=abs(p.qty),
                    )
                )
                continue
            self.remember(order.client_order_id, p.contract, closing)  # ours: booked as the stop's exit
            updates.append(self._update(order))
        deadline = time.monotonic() + self.flat_wait_s
        while time.monotonic() < deadline and any(
            q.contract.underlying in self.underlyings and q.contract.symbol not in keep for q in self.positions()
        ):
            time.sleep(0.25)
        return updates + self.sync(now)

    def shares_held(self, underlying: str) -> int:
        """The account's shares of `underlying` now, signed (a short below zero); 0 when none."""
        return sum(
            shares_of(p) for p in self._call("get_all_positions", self.trading.get_all_positions)
            if p.symbol == underlying and value_of(p.asset_class) == AssetClass.US_EQUITY.value
        )  # fmt: skip

    def shares_before(self, contract: OptionContract) -> int | None:
        """The underlying's shares at the last read of positions that still held `contract`;
        None when this process never saw it held."""
        return self.shares_when_held.get(contract.symbol)

    def close_shares(self, underlying: str, qty: int) -> str:
        """DELETE /v2/positions/{underlying}?qty=|qty|: only the shares an exercise or assignment
        brought (`qty`, signed as they came), at market; the account's other shares stay."""
        close = ClosePositionRequest(qty=str(abs(qty)))
        order = self._call("close_position", self.trading.close_position, underlying, close)
        self.ignored.pop(underlying, None)
        status = value_of(order.status)
        return f"{abs(qty)} {underlying} shares closed at market (order {order.client_order_id}, {status})"

    def option_events(self, since: date) -> list[OptionEvent]:
        """GET /v2/account/activities for OPEXC, OPASN and OPEXP since `since` (alpaca-py has no
        call for them: its REST client's GET). Option contracts only; the share trades that go
        with an exercise (OPTRD) arrive as a stock position, reported by `other_holdings`."""
        query = {"activity_types": "OPEXC,OPASN,OPEXP", "after": since.isoformat(), "direction": "asc"}
        rows = self._call("get_account_activities", self.trading.get, "/account/activities", query) or []
        out = []
        for row in rows:
            try:
                contract = OptionContract.from_symbol(str(row["symbol"]))
                kind = OptionEventKind(str(row["activity_type"]))
                event = OptionEvent(
                    str(row["id"]), kind, contract, int(float(row["qty"])), date.fromisoformat(row["date"])
                )
            except (KeyError, ValueError) as exc:
                log.warning("account activity not understood (%s): %s", exc, row)
                continue
            if contract.underlying in self.underlyings:
                out.append(event)
        return out

    # ---- time ---------------------------------------------------------------------------
    def sync(self, now: datetime) -> list[OrderUpdate]:
        """Changes since the last read: fills (as increments), cancels, expiries, and sells the
        broker sent on its own (expiry liquidation), reported as liquidation fills."""
        request = GetOrdersRequest(
            status=QueryOrderStatus.ALL, after=now - timedelta(days=1), limit=500, direction="asc", nested=True
        )
        updates, orders = [], self._orders(request)
        listed = {o.client_order_id for o in orders}
        self.failing = {cid: why for cid, why in self.failing.items() if cid in listed}  # out of the window: gone
        for order in orders:
            if not self._is_ours_to_trade(order) or order.client_order_id in self.successor_of:
                continue  # a replacement is read through the order it replaced
            cid = order.client_order_id
            try:
                upd = self._sync_one(order)
            except Exception as exc:  # this order waits for the next sync; the others go on
                self.failing[cid] = _short(exc)
                log.warning("order %s not synced: %s", cid, self.failing[cid])
                continue
            self.failing.pop(cid, None)
            if upd is not None:
                updates.append(upd)
        return updates

    def sync_failures(self) -> list[SyncFailure]:
        """The orders the last syncs could not read, with why; each is read again at the next sync."""
        return [SyncFailure(cid, reason) for cid, reason in self.failing.items()]

    def _sync_one(self, order: Order) -> OrderUpdate | None:
        """One listed order's news since the last read; None when nothing changed or not ours."""
        cid = order.client_order_id
        known = self.known.get(cid)
        if known is None:
            if value_of(order.side) != "sell" or not float(order.filled_qty or 0):
                return None  # not ours and not a fill on a position: reconciliation judges it
            self.remember(cid, OptionContract.from_symbol(order.symbol or ""), Side.SELL)
            self.known[cid].ours = False
            known = self.known[cid]
        before = (known.status, known.filled_qty)
        upd = self._update(order)
        return upd if (upd.status, upd.filled_qty) != before else None

    def _follow(self, order: Order) -> tuple[Order, int, float]:
        """A replaced order's live successor, and the quantity and average price filled across the
        chain (each order in it counts its own fills from zero)."""
        filled = int(float(order.filled_qty or 0))
        value = filled * float(order.filled_avg_price or 0.0)
        for _ in range(MAX_REPLACEMENTS):
            if value_of(order.status) != "replaced" or not order.replaced_by:
                break
            original = self.successor_of.get(order.client_order_id, order.client_order_id)
            order = self._with_legs(self._order_by_id(str(order.replaced_by)))
            self.successor_of[order.client_order_id] = original
            qty = int(float(order.filled_qty or 0))
            filled, value = filled + qty, value + qty * float(order.filled_avg_price or 0.0)
        return order, filled, value / filled if filled else 0.0

    def _update(self, order: Order, report_fills: bool = True) -> OrderUpdate:
        cid = order.client_order_id
        order = self._with_legs(order)
        original_qty = int(float(order.qty or 0))
        order, filled, avg = self._follow(order)
        status = status_of_order(order)
        known = self.known.get(cid)
        if known is None:
            first = order.legs[0] if order.legs else order
            known = self.known[cid] = Known(
                OptionContract.from_symbol(first.symbol or ""), Side(value_of(first.side)), ours=False
            )
        fills = []
        if report_fills and order.legs:
            fills = leg_fills(cid, order, known, self.fee_per_contract)
            known.filled_qty, known.avg_price = filled, avg
        elif report_fills and filled > known.filled_qty:
            qty = filled - known.filled_qty
            price = (avg * filled - known.avg_price * known.filled_qty) / qty
            at = (order.filled_at or order.updated_at or order.submitted_at).astimezone(NY)
            fills.append(
                FillEvent(
                    cid,
                    known.contract,
                    known.side,
                    qty,
                    round(price, 4),
                    round(self.fee_per_contract * qty, 2),
                    at,
                    at,
                    liquidation=not known.ours,
                )
            )
            known.filled_qty, known.avg_price = filled, avg
        known.status, known.broker_order_id = status, str(order.id)
        return OrderUpdate(
            cid,
            status,
            broker_order_id=str(order.id),
            filled_qty=known.filled_qty,
            avg_fill_price=known.avg_price if known.filled_qty else None,
            reject_reason=None if status is not OrderStatus.REJECTED else "rejected by the broker",
            fills=fills,
            contract=known.contract,
            side=known.side,
            qty=original_qty,
        )


def _short(exc: BaseException) -> str:
    """A one-line error for events and logs (an APIError's body is Alpaca's JSON message)."""
    text = str(exc).strip().replace("\n", " ")
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
