"""A local fake of Alpaca's HTTP API (trading v2, stock data v2, options data v1beta1).

It speaks the wire format alpaca-py parses (JSON shaped as Alpaca returns it), keeps an
account, positions and orders, and prices everything from the project's simulated market at
a clock the test moves. It enforces what Alpaca enforces and the product relies on: a reused
client_order_id is refused (422) forever, opening 0DTE orders are refused from 15:30 ET,
expiring positions are liquidated from 15:45 ET, DAY orders expire at the close. Multi-leg
orders come rolled up under `legs` only when the query asks for nested=true (GET /v2/orders and
GET /v2/orders/{id}); otherwise the parent comes without legs and the list shows each leg as an
order of its own, as Alpaca documents.

Faults are injected per route: `fault(route, kind, times)` with kinds
429, 500, 504_after_accept, reset_before, reset_after, stall_before, stall_after, partial.
"""

from __future__ import annotations

import json
import random
import socket
import struct
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from core.calendar import NY, session_containing, session_for, sessions_between
from core.market.sim_market import SimMarket
from core.types import OptionContract
from tests import fake_alpaca_mleg

MULTIPLIER = 100
KEY_ID, SECRET = "PKFAKEKEY", "fake-secret-do-not-log"


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


OPEN_STATES = ("new", "accepted", "partially_filled", "pending_new", "pending_cancel")


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class FakeAlpacaState:
    """The account, the orders and the clock behind the fake server."""

    def __init__(
        self, market: SimMarket, start: datetime, cash: float = 100_000.0, fee_per_contract: float = 0.0
    ) -> None:
        self.market = market
        self.fee_per_contract = fee_per_contract  # Alpaca charges none; tests may match the simulator
        self.now = start
        self.cash = cash
        self.lock = threading.RLock()
        self.positions: dict[str, list[float]] = {}  # symbol -> [qty, avg price]
        self.orders: dict[str, dict[str, Any]] = {}  # id -> order json
        self.by_cid: dict[str, str] = {}
        self.resting: dict[str, int] = {}  # id -> qty still to fill at the next minute (partials)
        self.post_attempts: dict[str, int] = defaultdict(int)  # client_order_id -> POSTs received
        self.requests: list[tuple[str, str]] = []
        self.faults: dict[str, deque[str]] = defaultdict(deque)
        self.random_faults: tuple[float, list[str], random.Random] | None = None
        self.stall_s = 3.0
        self.bars_down = False  # stock bars answer 500 (to exercise the yfinance fallback)
        # what the real broker also does, switched on by the tests that need it
        self.async_orders = False  # POST answers pending_new, the first read accepted, fills come later
        self.async_cancels = False  # DELETE answers 204, the order is pending_cancel until the next minute
        self.refuse_closing_after_cutoff = True  # no order on an expiring contract from 15:30 ET
        self.contract_page_size: int | None = None  # option contracts come in pages (next_page_token)
        self.stocks: dict[str, list[float]] = {}  # symbol -> [qty, price]: holdings the worker must leave alone
        # historical option bars (GET /v1beta1/options/bars): OCC symbol -> wire rows, in pages
        self.option_bars: dict[str, list[dict[str, Any]]] = {}
        self.option_bar_page_size = 10_000
        self.option_trades: dict[str, list[dict[str, Any]]] = {}  # GET /v1beta1/options/trades, same paging
        self.submitted: list[dict[str, Any]] = []  # every order body POSTed, as sent
        self.options_level = 3  # Alpaca's options trading level: 3 allows multi-leg orders
        self.activities: list[dict[str, Any]] = []  # non-trade activities (OPEXP, OPEXC, OPASN)
        self.refuse_opening = ""  # a 403 with this message for every opening order (e.g. options level too low)
        self.greekless = 0  # 1: every second snapshot without greeks or IV; 2: every snapshot
        self.option_trades_refused = False  # 403, as for an account whose data plan has no option trades
        self.ignore_nested = False  # list multi-leg orders flat even when asked for nested=true
        self.missing: set[str] = set()  # order ids GET /v2/orders/{id} answers 404 for (a lost successor)
        self.late_shares: list[tuple[str, int, float]] = []  # shares of an exercise or assignment not yet delivered
        self.queries: list[tuple[str, str, dict[str, str]]] = []  # every request: method, path, query

    # ---- the test's levers ------------------------------------------------------------------
    def fault(self, route: str, kind: str, times: int = 1) -> None:
        """Make the next `times` requests on `route` (e.g. "POST /v2/orders") fail as `kind`."""
        self.faults[route].extend([kind] * times)

    def next_fault(self, route: str) -> str | None:
        if self.faults[route]:
            return self.faults[route].popleft()
        if self.random_faults and route == "POST /v2/orders":
            rate, kinds, rng = self.random_faults
            if rng.random() < rate:
                return rng.choice(kinds)
        return None

    def advance(self, minutes: int = 1) -> None:
        """Move the clock minute by minute: fill resting orders, liquidate, expire."""
        for _ in range(minutes):
            with self.lock:
                self.now += timedelta(minutes=1)
                self._on_minute()

    def set_position(self, symbol: str, qty: int, avg: float) -> None:
        with self.lock:
            self.positions[symbol] = [qty, avg]

    def add_stock(self, symbol: str, qty: int, price: float, open_order: bool = True) -> None:
        """A stock position (and a working stock order) in the same account."""
        with self.lock:
            self.stocks[symbol] = [qty, price]
            if open_order:
                order = self._new_order(str(uuid.uuid4()), symbol, "buy", 1, "limit", price * 0.5, None)
                order.update(asset_class="us_equity", status="new")

    def orders_for(self, cid: str) -> list[dict[str, Any]]:
        return [o for o in self.orders.values() if o["client_order_id"] == cid]

    # ---- market -----------------------------------------------------------------------------
    def quote(self, symbol: str) -> tuple[float, float]:
        q = self.market.quote(OptionContract.from_symbol(symbol), self.now)
        if q is None:
            raise ApiError(422, 42210000, f"no quote for {symbol}")
        return q.bid, q.ask

    def equity(self) -> float:
        value = 0.0
        for symbol, (qty, avg) in self.positions.items():
            try:
                bid, ask = self.quote(symbol)
                value += qty * MULTIPLIER * 0.5 * (bid + ask)
            except ApiError:
                value += qty * MULTIPLIER * avg
        return self.cash + value

    # ---- orders -----------------------------------------------------------------------------
    def submit(self, body: dict[str, Any], fault: str | None) -> dict[str, Any]:
        with self.lock:
            cid = body.get("client_order_id") or str(uuid.uuid4())
            if cid in self.by_cid:
                raise ApiError(422, 40010001, "client_order_id must be unique")
            session = session_containing(self.now)
            if session is None or self.now >= session.close:
                raise ApiError(403, 40310000, "options orders are only accepted during market hours")
            if body.get("time_in_force") != "day":
                raise ApiError(422, 42210000, "options orders must be day orders")
            self.submitted.append(body)
            if body.get("order_class") == "mleg":
                return self._submit_mleg(cid, body, session)
            symbol, side, qty = body["symbol"], body["side"], int(float(body["qty"]))
            contract = OptionContract.from_symbol(symbol)
            opening = body.get("position_intent", "").endswith("to_open")
            if opening and self.refuse_opening:
                raise ApiError(403, 40310000, self.refuse_opening)
            late = contract.expiry == session.day and self.now >= session.close - timedelta(minutes=30)
            if late and (opening or self.refuse_closing_after_cutoff):
                raise ApiError(403, 40310000, "orders on expiring options are not accepted after 15:30 ET")
            held = self.positions.get(symbol, [0, 0.0])[0]
            if side == "sell" and body.get("position_intent") == "sell_to_open":
                # a short put secured by cash (Alpaca level 1); a naked short call is refused
                if contract.right.value == "C" or contract.strike * MULTIPLIER * qty > self.cash:
                    raise ApiError(403, 40310000, "insufficient options trading level or buying power")
            elif side == "sell" and held < qty:
                raise ApiError(
                    403, 40310000, f"insufficient qty available for order (requested: {qty}, available: {held})"
                )
            limit = float(body["limit_price"]) if body.get("limit_price") is not None else None
            if side == "buy":
                cost = (limit if limit is not None else self.quote(symbol)[1]) * MULTIPLIER * qty
                if cost > self.cash:
                    raise ApiError(403, 40310000, "insufficient options buying power")
            order = self._new_order(
                cid, symbol, side, qty, body.get("type", "market"), limit, body.get("position_intent")
            )
            if self.async_orders:
                order["status"] = "pending_new"
                self.resting[order["id"]] = qty
            elif fault == "partial" and qty >= 2:
                self._try_fill(order, qty // 2)
                self.resting[order["id"]] = qty - qty // 2
            else:
                self._try_fill(order, qty)
            return order

    def option_activity(self, symbol: str, kind: str, shares_later: bool = False) -> dict[str, Any]:
        """The broker removes a held contract outside any order, as Alpaca does at expiry: OPEXP
        (worthless), OPEXC (a long exercised) or OPASN (a short assigned); no fill, no order. The
        shares move at the strike: a call held long or a put held short brings 100 a contract, the
        others take them away (a short call assigned: -100). `shares_later`: they reach the account
        at `deliver_shares()` (positions and activities are separate endpoints)."""
        with self.lock:
            qty, _avg = self.positions.pop(symbol)
            contract = OptionContract.from_symbol(symbol)
            row = {
                "id": f"{self.now:%Y%m%d%H%M%S}000::{uuid.uuid4()}",
                "activity_type": kind,
                "date": self.now.date().isoformat(),
                "net_amount": "0",
                "description": {"OPEXP": "Option Expiry", "OPEXC": "Option Exercise", "OPASN": "Option Assignment"}[
                    kind
                ],
                "symbol": symbol,
                "qty": str(-qty),
                "status": "executed",
            }
            self.activities.append(row)
            if kind in ("OPEXC", "OPASN"):
                shares = int(qty) * MULTIPLIER * (1 if contract.right.value == "C" else -1)
                self.late_shares.append((contract.underlying, shares, contract.strike))
                if not shares_later:
                    self.deliver_shares()
            return row

    def deliver_shares(self) -> None:
        """The shares of exercises and assignments reach the account's positions (bought or sold
        at the strike), added to whatever the account already holds."""
        with self.lock:
            for underlying, shares, strike in self.late_shares:
                held = self.stocks.get(underlying, [0, strike])[0]
                self.stocks[underlying] = [held + shares, strike]
                self.cash -= shares * strike
                if self.stocks[underlying][0] == 0:
                    del self.stocks[underlying]
            self.late_shares = []

    def activities_json(self, types: list[str], after: date | None) -> list[dict[str, Any]]:
        return [
            a for a in self.activities
            if a["activity_type"] in types and (after is None or date.fromisoformat(a["date"]) >= after)
        ]  # fmt: skip

    def replace(self, order_id: str, limit: float, successor_missing: bool = False) -> dict[str, Any]:
        """PATCH /v2/orders/{id} as Alpaca does it (here from outside the worker, e.g. the dashboard):
        a new order for what is left, with its own ids; the old one becomes `replaced`.
        `successor_missing`: GET /v2/orders/{successor id} answers 404 until `missing` is cleared."""
        with self.lock:
            old = self.orders[order_id]
            left = int(old["qty"]) - int(old["filled_qty"])
            new = self._new_order(
                str(uuid.uuid4()), old["symbol"], old["side"], left, "limit", limit, old["position_intent"]
            )
            new["replaces"] = old["id"]
            old.update(status="replaced", replaced_by=new["id"], replaced_at=_ts(self.now), updated_at=_ts(self.now))
            self.resting.pop(old["id"], None)
            self._try_fill(new, left)
            if successor_missing:
                self.missing.add(new["id"])
            return new

    def _submit_mleg(self, cid: str, body: dict[str, Any], session: Any) -> dict[str, Any]:
        late = self.now >= session.close - timedelta(minutes=30)
        if late and any(OptionContract.from_symbol(leg["symbol"]).expiry == session.day for leg in body["legs"]):
            raise ApiError(403, 40310000, "orders on expiring options are not accepted after 15:30 ET")
        try:
            fake_alpaca_mleg.check(self, body)
        except fake_alpaca_mleg.MlegRefusedError as refused:
            raise ApiError(refused.status, 40310000 if refused.status == 403 else 42210000, refused.message) from None
        parent = fake_alpaca_mleg.new_parent(self, cid, body)
        fake_alpaca_mleg.try_fill(self, parent)
        return parent

    def stamp(self) -> str:
        return _ts(self.now)

    def book_fill(self, symbol: str, side: str, qty: int, price: float) -> None:
        """A leg's fill on the account: cash and the signed position (a short below zero)."""
        sign = 1 if side == "buy" else -1
        self.cash -= sign * price * MULTIPLIER * qty + self.fee_per_contract * qty
        pos = self.positions.setdefault(symbol, [0, 0.0])
        if pos[0] * sign >= 0:  # opening or adding: the average moves
            pos[1] = (abs(pos[0]) * pos[1] + qty * price) / (abs(pos[0]) + qty)
        pos[0] += sign * qty
        if pos[0] == 0:
            del self.positions[symbol]

    def read_order(self, order: dict[str, Any]) -> dict[str, Any]:
        """A read of an order: a pending_new order has been accepted by the time it is read."""
        if order["status"] == "pending_new":
            order["status"] = "accepted"
        return dict(order)

    def cancel_order(self, order: dict[str, Any]) -> None:
        if order["status"] not in OPEN_STATES:
            raise ApiError(422, 42210000, f'order is already in "{order["status"]}" state')
        if self.async_cancels:
            order.update(status="pending_cancel", updated_at=_ts(self.now))
            return
        order.update(status="canceled", canceled_at=_ts(self.now), updated_at=_ts(self.now))
        self.resting.pop(order["id"], None)

    def _new_order(
        self, cid: str, symbol: str, side: str, qty: int, kind: str, limit: float | None, intent: str | None
    ) -> dict[str, Any]:
        now = _ts(self.now)
        order = {
            "id": str(uuid.uuid4()),
            "client_order_id": cid,
            "created_at": now,
            "updated_at": now,
            "submitted_at": now,
            "filled_at": None,
            "expired_at": None,
            "expires_at": _ts(session_containing(self.now).close) if session_containing(self.now) else None,
            "canceled_at": None,
            "failed_at": None,
            "replaced_at": None,
            "replaced_by": None,
            "replaces": None,
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, symbol)),
            "symbol": symbol,
            "asset_class": "us_option",
            "notional": None,
            "qty": str(qty),
            "filled_qty": "0",
            "filled_avg_price": None,
            "order_class": "simple",
            "order_type": kind,
            "type": kind,
            "side": side,
            "position_intent": intent,
            "time_in_force": "day",
            "limit_price": None if limit is None else f"{limit:.2f}",
            "stop_price": None,
            "status": "accepted",
            "extended_hours": False,
            "legs": None,
            "trail_percent": None,
            "trail_price": None,
            "hwm": None,
        }
        self.orders[order["id"]] = order
        self.by_cid[cid] = order["id"]
        return order

    def _try_fill(self, order: dict[str, Any], qty: int) -> None:
        bid, ask = self.quote(order["symbol"])
        price = ask if order["side"] == "buy" else bid
        limit = order["limit_price"]
        if limit is not None:
            lim = float(limit)
            if (order["side"] == "buy" and price > lim) or (order["side"] == "sell" and price < lim):
                if order["status"] != "pending_cancel":
                    order["status"] = "new"
                self.resting[order["id"]] = int(order["qty"]) - int(order["filled_qty"])
                return
        filled = int(order["filled_qty"])
        avg = float(order["filled_avg_price"] or 0.0)
        new_filled = filled + qty
        order["filled_avg_price"] = f"{(avg * filled + price * qty) / new_filled:.4f}"
        order["filled_qty"] = str(new_filled)
        order["updated_at"] = _ts(self.now)
        order["status"] = "filled" if new_filled == int(order["qty"]) else "partially_filled"
        if order["status"] == "filled":
            order["filled_at"] = _ts(self.now)
            self.resting.pop(order["id"], None)
        pos = self.positions.setdefault(order["symbol"], [0, 0.0])
        self.cash -= self.fee_per_contract * qty
        if order["side"] == "buy":
            self.cash -= price * MULTIPLIER * qty
            if pos[0] >= 0:  # opening or adding to a long: the average is the long's own
                pos[1] = (pos[0] * pos[1] + qty * price) / (pos[0] + qty)
            pos[0] += qty  # a buy to close a short keeps the short's average
            if pos[0] == 0:
                del self.positions[order["symbol"]]
        else:
            self.cash += price * MULTIPLIER * qty
            if pos[0] <= 0:  # opening or adding to a short: the average is the short's own
                pos[1] = (-pos[0] * pos[1] + qty * price) / (-pos[0] + qty)
            pos[0] -= qty
            if pos[0] == 0:
                del self.positions[order["symbol"]]

    def _on_minute(self) -> None:
        session = session_for(self.now.date())
        for oid, left in list(self.resting.items()):
            order = self.orders[oid]
            if order["status"] not in OPEN_STATES:
                self.resting.pop(oid, None)
                continue
            if session is not None and self.now >= session.close:
                order.update(status="expired", expired_at=_ts(self.now), updated_at=_ts(self.now))
                self.resting.pop(oid, None)
                continue
            cancelling = order["status"] == "pending_cancel"
            if order.get("order_class") == "mleg":
                fake_alpaca_mleg.try_fill(self, order)
            else:
                self._try_fill(order, left)  # a fill can land before an asked-for cancel takes effect
            if cancelling and order["status"] not in ("filled",):
                order.update(status="canceled", canceled_at=_ts(self.now), updated_at=_ts(self.now))
                self.resting.pop(oid, None)
        if session is not None and session.close - timedelta(minutes=15) <= self.now < session.close:
            for symbol, (qty, _) in list(self.positions.items()):
                if OptionContract.from_symbol(symbol).expiry <= session.day:
                    side, intent = ("sell", "sell_to_close") if qty > 0 else ("buy", "buy_to_close")
                    order = self._new_order(str(uuid.uuid4()), symbol, side, abs(int(qty)), "market", None, intent)
                    self._try_fill(order, abs(int(qty)))

    def cancel_all(self) -> list[dict[str, Any]]:
        out = []
        with self.lock:
            for order in self.orders.values():
                if order["status"] in OPEN_STATES and (order.get("asset_class") == "us_option" or order.get("legs")):
                    self.cancel_order(order)
                    out.append({"id": order["id"], "status": 200, "body": None})
        return out

    def close_all(self, cancel_orders: bool) -> list[dict[str, Any]]:
        with self.lock:
            if cancel_orders:
                self.cancel_all()
            out = []
            for symbol, (qty, _) in list(self.positions.items()):
                held = self._held_for_orders(symbol)
                if held:  # 207: this entry failed, as Alpaca answers while a cancel is still pending
                    body = {
                        "code": 40310000,
                        "message": f"insufficient qty available for order (requested: {int(qty)}, available: 0)",
                        "available": str(int(qty) - held),
                        "existing_qty": str(int(qty)),
                        "held_for_orders": str(held),
                        "symbol": symbol,
                    }
                    out.append({"symbol": symbol, "status": 403, "body": body})
                    continue
                side, intent = ("sell", "sell_to_close") if qty > 0 else ("buy", "buy_to_close")
                order = self._new_order(str(uuid.uuid4()), symbol, side, abs(int(qty)), "market", None, intent)
                self._try_fill(order, abs(int(qty)))
                out.append({"symbol": symbol, "status": 200, "body": dict(order)})
            return out

    def _held_for_orders(self, symbol: str) -> int:
        """Contracts held for working closing orders on `symbol` (a multi-leg order's legs too)."""
        total = 0
        for o in self.orders.values():
            if o["status"] not in OPEN_STATES:
                continue
            for leg in o.get("legs") or [o]:
                if leg["symbol"] == symbol and str(leg.get("position_intent") or "sell").endswith(("sell", "to_close")):
                    total += int(leg["qty"]) - int(leg["filled_qty"])
        return total

    # ---- views ------------------------------------------------------------------------------
    def close_position(self, symbol: str, qty: str | None = None) -> dict[str, Any]:
        """DELETE /v2/positions/{symbol}: a market order closing the position, or `qty` shares of
        it (a short is bought back); 403 when some of it is held for a working sell, or `qty` is
        more than the position (as Alpaca answers), 404 when there is none."""
        with self.lock:
            if symbol in self.stocks:  # shares: a market order, filled at the price held
                held, price = self.stocks[symbol]
                shares = abs(int(held)) if qty is None else int(float(qty))
                if shares > abs(int(held)):
                    raise ApiError(
                        403, 40310000, f"insufficient qty available for order (requested: {shares}, available: {held})"
                    )
                sign = 1 if held > 0 else -1
                self.stocks[symbol][0] = held - sign * shares
                if self.stocks[symbol][0] == 0:
                    del self.stocks[symbol]
                self.cash += sign * shares * price
                order = self._new_order(str(uuid.uuid4()), symbol, "sell" if sign > 0 else "buy", shares,
                                        "market", None, None)  # fmt: skip
                order.update(asset_class="us_equity", status="filled", filled_qty=str(shares),
                             filled_avg_price=f"{price:.2f}", filled_at=_ts(self.now))  # fmt: skip
                return dict(order)
            if symbol not in self.positions:
                raise ApiError(404, 40410000, "position does not exist")
            qty = int(self.positions[symbol][0])
            held = self._held_for_orders(symbol)
            if held:
                raise ApiError(
                    403, 40310000, f"insufficient qty available for order (requested: {qty}, available: {qty - held})"
                )
            side, intent = ("sell", "sell_to_close") if qty > 0 else ("buy", "buy_to_close")  # a short: bought back
            qty = abs(qty)
            order = self._new_order(str(uuid.uuid4()), symbol, side, qty, "market", None, intent)
            self._try_fill(order, qty)
            return dict(order)

    def account_json(self) -> dict[str, Any]:
        equity = f"{self.equity():.2f}"
        cash = f"{self.cash:.2f}"
        return {
            "id": "0f9ad5d8-2c8e-4f4a-9f34-7c3d8b6a1d10",
            "account_number": "PA3FAKE0001",
            "status": "ACTIVE",
            "crypto_status": "INACTIVE",
            "currency": "USD",
            "buying_power": cash,
            "regt_buying_power": cash,
            "daytrading_buying_power": "0",
            "non_marginable_buying_power": cash,
            "options_buying_power": cash,
            "cash": cash,
            "accrued_fees": "0",
            "portfolio_value": equity,
            "pattern_day_trader": False,
            "trading_blocked": False,
            "transfers_blocked": False,
            "account_blocked": False,
            "created_at": "2024-01-02T15:00:00.000000Z",
            "trade_suspended_by_user": False,
            "multiplier": "1",
            "shorting_enabled": False,
            "equity": equity,
            "last_equity": equity,
            "long_market_value": f"{self.equity() - self.cash:.2f}",
            "short_market_value": "0",
            "initial_margin": "0",
            "maintenance_margin": "0",
            "last_maintenance_margin": "0",
            "sma": "0",
            "daytrade_count": 0,
            "options_approved_level": 2,
            "options_trading_level": 2,
        }

    def positions_json(self) -> list[dict[str, Any]]:
        out = []
        for symbol, (qty, avg) in sorted(self.positions.items()):
            bid, ask = self.quote(symbol)
            mid = 0.5 * (bid + ask)
            out.append(
                {
                    "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, symbol)),
                    "symbol": symbol,
                    "exchange": "",
                    "asset_class": "us_option",
                    "asset_marginable": False,
                    "avg_entry_price": f"{avg:.4f}",
                    "qty": str(int(qty)),
                    "qty_available": str(int(qty)),
                    "side": "long" if qty > 0 else "short",
                    "market_value": f"{qty * MULTIPLIER * mid:.2f}",
                    "cost_basis": f"{qty * MULTIPLIER * avg:.2f}",
                    "unrealized_pl": f"{qty * MULTIPLIER * (mid - avg):.2f}",
                    "unrealized_plpc": f"{mid / avg - 1:.4f}" if avg else "0",
                    "unrealized_intraday_pl": "0",
                    "unrealized_intraday_plpc": "0",
                    "current_price": f"{mid:.2f}",
                    "lastday_price": f"{avg:.2f}",
                    "change_today": "0",
                }
            )
        for symbol, (qty, price) in sorted(self.stocks.items()):
            value = f"{qty * price:.2f}"
            out.append(
                {
                    "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, symbol)),
                    "symbol": symbol,
                    "exchange": "NASDAQ",
                    "asset_class": "us_equity",
                    "asset_marginable": True,
                    "avg_entry_price": f"{price:.4f}",
                    "qty": str(int(qty)),
                    "qty_available": str(int(qty)),
                    "side": "long" if qty > 0 else "short",
                    "market_value": value,
                    "cost_basis": value,
                    "unrealized_pl": "0",
                    "unrealized_plpc": "0",
                    "unrealized_intraday_pl": "0",
                    "unrealized_intraday_plpc": "0",
                    "current_price": f"{price:.2f}",
                    "lastday_price": f"{price:.2f}",
                    "change_today": "0",
                }
            )
        return out

    def clock_json(self) -> dict[str, Any]:
        session = session_containing(self.now)
        is_open = session is not None and session.open <= self.now < session.close
        day = self.now.date()
        nxt = next(s for s in (session_for(day + timedelta(days=i)) for i in range(0, 10)) if s and s.open > self.now)
        close = session.close if session else nxt.close
        return {
            "timestamp": self.now.astimezone(NY).isoformat(),
            "is_open": is_open,
            "next_open": nxt.open.isoformat(),
            "next_close": close.isoformat(),
        }

    def calendar_json(self, start: date, end: date) -> list[dict[str, str]]:
        out = []
        day = start
        while day <= end:
            s = session_for(day)
            if s is not None:
                out.append(
                    {
                        "date": day.isoformat(),
                        "open": s.open.astimezone(NY).strftime("%H:%M"),
                        "close": s.close.astimezone(NY).strftime("%H:%M"),
                        "session_open": "0400",
                        "session_close": "2000",
                        "settlement_date": (day + timedelta(days=1)).isoformat(),
                    }
                )
            day += timedelta(days=1)
        return out

    def bars_json(self, symbols: list[str], timeframe: str, start: datetime, end: datetime) -> dict[str, Any]:
        if self.bars_down:
            raise ApiError(500, 50010000, "internal server error")
        out: dict[str, list[dict[str, Any]]] = {}
        for symbol in symbols:
            if symbol == "VIX":
                out[symbol] = self._vix_bars(timeframe, start, end)
                continue
            if symbol not in self.market.symbols:
                continue
            if timeframe == "1Day":
                out[symbol] = self.daily_bars(symbol, start, end)
                continue
            view = self.market.bars(symbol, self.now)
            rows = []
            for i in range(view.count):
                t = view.bars.bar_time(i)
                if start <= t <= end:
                    b = view.bars
                    o, h, lo, c = (float(b.open[i]), float(b.high[i]), float(b.low[i]), float(b.close[i]))
                    rows.append(
                        {"t": _ts(t), "o": o, "h": h, "l": lo, "c": c, "v": float(b.volume[i]), "n": 100, "vw": c}
                    )
            out[symbol] = rows
        return {"bars": out, "next_page_token": None}

    def daily_bars(self, symbol: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """A symbol's daily bars from the market's sessions between start and end (all of history)."""
        rows = []
        for session in sessions_between(start.astimezone(NY).date(), end.astimezone(NY).date()):
            bars = self.market.world.session_bars(session, symbol)
            o, h, lo, c = float(bars.open[0]), float(bars.high.max()), float(bars.low.min()), float(bars.close[-1])
            t = datetime(session.day.year, session.day.month, session.day.day, 4, tzinfo=NY)
            rows.append({"t": _ts(t), "o": o, "h": h, "l": lo, "c": c, "v": float(bars.volume.sum()), "n": 0, "vw": c})
        return rows

    def option_bars_page(
        self, symbols: list[str], start: datetime, end: datetime, limit: int, token: str | None
    ) -> dict[str, Any]:
        """Alpaca's option bars: by symbol then time, at most `limit` (and the page size) a page."""
        page, next_token = self._page(self.option_bars, symbols, start, end, limit, token)
        return {"bars": page, "next_page_token": next_token}

    def option_trades_page(
        self, symbols: list[str], start: datetime, end: datetime, limit: int, token: str | None
    ) -> dict[str, Any]:
        if self.option_trades_refused:
            raise ApiError(403, 40310000, "subscription does not permit querying option trades")
        page, next_token = self._page(self.option_trades, symbols, start, end, limit, token)
        return {"trades": page, "next_page_token": next_token}

    def _page(
        self,
        store: dict[str, list[dict[str, Any]]],
        symbols: list[str],
        start: datetime,
        end: datetime,
        limit: int,
        token: str | None,
    ) -> tuple[dict[str, list[dict[str, Any]]], str | None]:
        """One page of rows by symbol then time, and the next page's token (None: the last page)."""
        flat = [
            (symbol, row)
            for symbol in sorted(set(symbols))
            for row in store.get(symbol, [])
            if start <= _parse_time(row["t"]) <= end
        ]
        offset = int(token or 0)
        size = min(limit, self.option_bar_page_size)
        page: dict[str, list[dict[str, Any]]] = {}
        for symbol, row in flat[offset : offset + size]:
            page.setdefault(symbol, []).append(row)
        return page, str(offset + size) if offset + size < len(flat) else None

    def _vix_bars(self, timeframe: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        if timeframe == "1Day":
            closes = self.market.vix_history(self.now.date())
            day, rows = self.now.date(), []
            for c in closes[::-1]:
                day -= timedelta(days=1)
                while session_for(day) is None:
                    day -= timedelta(days=1)
                t = datetime(day.year, day.month, day.day, 5, tzinfo=NY)
                rows.append({"t": _ts(t), "o": c, "h": c, "l": c, "c": c, "v": 0, "n": 0, "vw": c})
            return rows[::-1]
        v = self.market.vix(self.now)
        t = self.now.replace(second=0, microsecond=0) - timedelta(minutes=1)
        return [{"t": _ts(t), "o": v, "h": v, "l": v, "c": v, "v": 0, "n": 0, "vw": v}]

    def snapshots_json(self, underlying: str, gte: float | None, lte: float | None) -> dict[str, Any]:
        chain = self.market.chain(underlying, self.now)
        snaps: dict[str, Any] = {}
        if chain is not None:
            for i in range(len(chain.strikes)):
                q = chain.quote(i)
                strike = float(chain.strikes[i])
                if (gte is not None and strike < gte) or (lte is not None and strike > lte):
                    continue
                snap: dict[str, Any] = {
                    "latestQuote": _quote_wire(q.bid, q.ask, self.now),
                    "latestTrade": {"t": _ts(self.now), "x": "C", "p": round(q.mid, 2), "s": 1, "c": "I"},
                }
                if not (self.greekless == 2 or (self.greekless == 1 and i % 2)):  # the feed omits both keys
                    snap["impliedVolatility"] = float(q.iv)
                    snap["greeks"] = {"delta": float(q.delta), "gamma": 0.05, "rho": 0.001, "theta": -0.5, "vega": 0.02}
                snaps[q.contract.symbol] = snap
        return {"snapshots": snaps, "next_page_token": None}

    def contracts_json(self, underlyings: list[str], expiry: date | None) -> dict[str, Any]:
        out = []
        for underlying in underlyings:
            chain = self.market.chain(underlying, self.now)
            if chain is None or (expiry is not None and chain.expiry != expiry):
                continue
            for i in range(len(chain.strikes)):
                c = chain.quote(i).contract
                kind = "call" if c.right.value == "C" else "put"
                out.append(
                    {
                        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, c.symbol)),
                        "symbol": c.symbol,
                        "name": f"{underlying} {c.expiry:%b %d %Y} {c.strike:g} {kind.title()}",
                        "status": "active",
                        "tradable": True,
                        "expiration_date": c.expiry.isoformat(),
                        "root_symbol": underlying,
                        "underlying_symbol": underlying,
                        "underlying_asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, underlying)),
                        "type": kind,
                        "style": "american",
                        "strike_price": f"{c.strike:g}",
                        "size": "100",
                        "open_interest": "1000",
                        "open_interest_date": (c.expiry - timedelta(days=1)).isoformat(),
                        "close_price": None,
                        "close_price_date": None,
                    }
                )
        return {"option_contracts": out, "next_page_token": None}

    def contracts_page(self, underlyings: list[str], expiry: date | None, token: str | None) -> dict[str, Any]:
        """`contracts_json` in pages of `contract_page_size`, as Alpaca pages them."""
        everything = self.contracts_json(underlyings, expiry)["option_contracts"]
        size = self.contract_page_size or len(everything) or 1
        start = int(token or 0)
        rest = everything[start + size :]
        return {
            "option_contracts": everything[start : start + size],
            "next_page_token": str(start + size) if rest else None,
        }

    def latest_quotes_json(self, symbols: list[str]) -> dict[str, Any]:
        quotes = {}
        for s in symbols:
            bid, ask = self.quote(s)
            quotes[s] = _quote_wire(bid, ask, self.now)
        return {"quotes": quotes}


def _nested(q: dict[str, str]) -> bool:
    """Alpaca rolls a multi-leg order's legs up under `legs` only when asked with nested=true."""
    return q.get("nested", "").lower() == "true"


def _quote_wire(bid: float, ask: float, at: datetime) -> dict[str, Any]:
    return {"t": _ts(at), "ax": "C", "ap": round(ask, 2), "as": 10, "bx": "C", "bp": round(bid, 2), "bs": 10, "c": "A"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeAlpacaServer

    def log_message(self, *_: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        state = self.server.state
        url = urlparse(self.path)
        path = url.path
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else {}
        route = f"{method} {path}"
        state.requests.append((method, path))
        state.queries.append((method, path, dict(query)))
        if self.headers.get("APCA-API-KEY-ID") != KEY_ID or self.headers.get("APCA-API-SECRET-KEY") != SECRET:
            return self._send(401, {"message": "unauthorized."})
        if route == "POST /v2/orders":
            state.post_attempts[body.get("client_order_id", "")] += 1
        fault = state.next_fault(route)
        if fault == "429":
            return self._send(429, {"code": 42910000, "message": "rate limit exceeded"})
        if fault == "500":
            return self._send(500, {"code": 50010000, "message": "internal server error"})
        if fault in ("reset_before", "stall_before"):
            return self._reset() if fault == "reset_before" else self._stall_then(lambda: self._send(504, {}))
        try:
            status, payload = self._dispatch(method, path, query, body, fault)
        except ApiError as err:
            status, payload = err.status, {"code": err.code, "message": err.message}
        if fault == "504_after_accept":
            return self._send(504, {"message": "gateway timeout"})
        if fault == "reset_after":
            return self._reset()
        if fault == "stall_after":
            return self._stall_then(lambda: self._send(status, payload))
        return self._send(status, payload)

    def _dispatch(
        self, method: str, path: str, q: dict[str, str], body: dict[str, Any], fault: str | None
    ) -> tuple[int, Any]:
        s = self.server.state
        with s.lock:
            if path == "/v2/account":
                return 200, s.account_json()
            if path == "/v2/clock":
                return 200, s.clock_json()
            if path == "/v2/calendar":
                return 200, s.calendar_json(date.fromisoformat(q["start"]), date.fromisoformat(q["end"]))
            if path == "/v2/account/activities":
                after = date.fromisoformat(q["after"][:10]) if "after" in q else None
                return 200, s.activities_json(q.get("activity_types", "").split(","), after)
            if path == "/v2/positions" and method == "GET":
                return 200, s.positions_json()
            if path == "/v2/positions" and method == "DELETE":
                return 207, s.close_all(q.get("cancel_orders", "").lower() == "true")
            if path.startswith("/v2/positions/") and method == "DELETE":
                return 200, s.close_position(path.rsplit("/", 1)[1], q.get("qty"))
            if path == "/v2/orders" and method == "POST":
                return 200, dict(s.submit(body, fault))
            if path == "/v2/orders" and method == "DELETE":
                return 207, s.cancel_all()
            if path == "/v2/orders":
                return 200, self._list_orders(q)
            if path == "/v2/orders:by_client_order_id":  # no `nested` documented here: legs left out
                oid = s.by_cid.get(q.get("client_order_id", ""))
                if oid is None:
                    raise ApiError(404, 40410000, "order not found")
                return 200, fake_alpaca_mleg.unnested(s.read_order(s.orders[oid]))
            if path.startswith("/v2/orders/"):
                oid = path.rsplit("/", 1)[1]
                order = s.orders.get(oid)
                if order is None or (oid in s.missing and method == "GET"):
                    raise ApiError(404, 40410000, "order not found")
                if method == "DELETE":
                    s.cancel_order(order)
                    return 204, None
                read = s.read_order(order)
                return 200, read if _nested(q) else fake_alpaca_mleg.unnested(read)
            if path == "/v2/options/contracts":
                expiry = date.fromisoformat(q["expiration_date"]) if "expiration_date" in q else None
                return 200, s.contracts_page(q.get("underlying_symbols", "").split(","), expiry, q.get("page_token"))
            if path == "/v2/stocks/bars":
                return 200, s.bars_json(
                    q["symbols"].split(","), q["timeframe"], _parse_time(q["start"]), _parse_time(q["end"])
                )
            if path.startswith("/v1beta1/options/snapshots/"):
                gte, lte = q.get("strike_price_gte"), q.get("strike_price_lte")
                return 200, s.snapshots_json(
                    path.rsplit("/", 1)[1], float(gte) if gte else None, float(lte) if lte else None
                )
            if path in ("/v1beta1/options/bars", "/v1beta1/options/trades"):  # historical, paged alike
                page = s.option_bars_page if path.endswith("/bars") else s.option_trades_page
                return 200, page(
                    q["symbols"].split(","),
                    _parse_time(q["start"]),
                    _parse_time(q["end"]),
                    int(q.get("limit") or 10_000),
                    q.get("page_token"),
                )
            if path == "/v1beta1/options/quotes/latest":
                return 200, s.latest_quotes_json(q["symbols"].split(","))
        raise ApiError(404, 40410000, f"no route {method} {path}")

    def _list_orders(self, q: dict[str, str]) -> list[dict[str, Any]]:
        s = self.server.state
        status = q.get("status", "open")
        open_states = OPEN_STATES
        after = _parse_time(q["after"]) if "after" in q else None
        nested = _nested(q) and not s.ignore_nested
        out = []
        for listed in s.orders.values():
            for order in [listed] if nested else fake_alpaca_mleg.flat(listed):
                is_open = order["status"] in open_states
                if (status == "open" and not is_open) or (status == "closed" and is_open):
                    continue
                if after is not None and _parse_time(order["submitted_at"]) <= after:
                    continue
                out.append(dict(order))
        out.sort(key=lambda o: o["submitted_at"], reverse=q.get("direction", "desc") == "desc")
        return out[: int(q.get("limit", 50))]

    def _send(self, status: int, payload: Any) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def _reset(self) -> None:
        """Drop the connection with a TCP reset, as a proxy or a crashed gateway does."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _stall_then(self, respond: Callable[[], None]) -> None:
        time.sleep(self.server.state.stall_s)
        self.close_connection = True
        respond()


class FakeAlpacaServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: FakeAlpacaState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> FakeAlpacaServer:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.shutdown()
        self.server_close()


def alpaca_env(url: str, **extra: str) -> dict[str, str]:
    """The environment a paper-mode worker needs to talk to the fake."""
    return {
        "APCA_API_KEY_ID": KEY_ID,
        "APCA_API_SECRET_KEY": SECRET,
        "ALPACA_TRADING_URL": url,
        "ALPACA_DATA_URL": url,
        "ALPACA_TIMEOUT_S": "1",
        "ALPACA_VIX_SYMBOL": "VIX",
        **extra,
    }
