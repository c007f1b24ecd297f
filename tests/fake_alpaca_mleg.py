"""Alpaca's multi-leg (`mleg`) orders in the fake: the parent has no symbol, side or asset class of
its own, `qty` in structures, a net `limit_price` (debit +, credit -) and nested `legs`, each an
order with its symbol, side, `ratio_qty` and `position_intent`. Every leg fills together at the
legs' quotes or none does; closing legs need the position; opening needs options level 3 and the
universal spread rule's buying power. Listed without nested=true, the parent comes without legs
and each leg as an order of its own (`flat`). Used by tests/fake_alpaca.py (the state's lock is
held)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from core.structures.payoff import legs_buying_power
from core.structures.types import Leg
from core.types import OptionContract

if TYPE_CHECKING:
    from tests.fake_alpaca import FakeAlpacaState

MULTIPLIER = 100


class MlegRefusedError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _signed(leg: dict[str, Any]) -> int:
    return int(float(leg["ratio_qty"])) * (1 if leg["side"] == "buy" else -1)


def check(state: FakeAlpacaState, body: dict[str, Any]) -> None:
    """Alpaca's refusals of a multi-leg order, before anything is created."""
    legs, qty = body.get("legs") or [], int(float(body["qty"]))
    if not 2 <= len(legs) <= 4 or len({leg["symbol"] for leg in legs}) != len(legs):
        raise MlegRefusedError(422, "mleg orders need 2 to 4 legs with unique symbols")
    if state.options_level < 3:
        raise MlegRefusedError(403, "account is not authorized to trade multi-leg options (options trading level 3)")
    for leg in legs:
        held = state.positions.get(leg["symbol"], [0, 0.0])[0]
        need = int(float(leg["ratio_qty"])) * qty
        intent = leg.get("position_intent", "")
        if (intent == "sell_to_close" and held < need) or (intent == "buy_to_close" and -held < need):
            raise MlegRefusedError(403, f"insufficient qty available for order ({leg['symbol']})")
    if any(str(leg.get("position_intent", "")).endswith("to_open") for leg in legs):
        signed = [Leg(OptionContract.from_symbol(leg["symbol"]), _signed(leg)) for leg in legs]
        limit = body.get("limit_price")
        net = float(limit) if limit is not None else natural(state, legs)
        if legs_buying_power(signed, net, qty) > state.cash:
            raise MlegRefusedError(403, "insufficient options buying power")


def natural(state: FakeAlpacaState, legs: list[dict[str, Any]]) -> float:
    """The net price per share crossing every leg (buys at the ask, sells at the bid)."""
    total = 0.0
    for leg in legs:
        bid, ask = state.quote(leg["symbol"])
        total += _signed(leg) * (ask if leg["side"] == "buy" else bid)
    return total


def new_parent(state: FakeAlpacaState, cid: str, body: dict[str, Any]) -> dict[str, Any]:
    """The parent order and its nested legs, as Alpaca lists them."""
    qty = int(float(body["qty"]))
    limit = float(body["limit_price"]) if body.get("limit_price") is not None else None
    parent = state._new_order(cid, "", "", qty, body.get("type", "market"), limit, None)
    parent.update(asset_class="", asset_id="", order_class="mleg", side="", position_intent=None)
    children = []
    for leg in body["legs"]:
        ratio = int(float(leg["ratio_qty"]))
        child = dict(parent)
        child.update(
            id=str(uuid.uuid4()), client_order_id=str(uuid.uuid4()), symbol=leg["symbol"], side=leg["side"],
            asset_class="us_option", asset_id=str(uuid.uuid5(uuid.NAMESPACE_URL, leg["symbol"])),
            order_class="mleg", ratio_qty=str(ratio), qty=str(ratio * qty), position_intent=leg.get("position_intent"),
            limit_price=None, order_type=None, type=None, legs=None,
        )  # fmt: skip
        children.append(child)
    parent["legs"] = children
    return parent


def try_fill(state: FakeAlpacaState, parent: dict[str, Any]) -> None:
    """Fill the whole order at the legs' quotes when the net crosses the limit, every leg at once."""
    legs = parent["legs"]
    net = natural(state, legs)
    limit = parent["limit_price"]
    if limit is not None and net > float(limit) + 1e-9:
        if parent["status"] != "pending_cancel":
            parent["status"] = "new"
        state.resting[parent["id"]] = int(parent["qty"])
        return
    qty = int(parent["qty"])
    now = parent["updated_at"] = state.stamp()
    for leg in legs:
        bid, ask = state.quote(leg["symbol"])
        price = ask if leg["side"] == "buy" else bid
        contracts = int(leg["qty"])
        leg.update(filled_qty=str(contracts), filled_avg_price=f"{price:.4f}", status="filled", filled_at=now)
        state.book_fill(leg["symbol"], leg["side"], contracts, price)
    parent.update(filled_qty=str(qty), filled_avg_price=f"{net:.4f}", status="filled", filled_at=now)
    state.resting.pop(parent["id"], None)


def unnested(order: dict[str, Any]) -> dict[str, Any]:
    """An order as read without nested=true: a multi-leg parent comes without its legs."""
    return {**order, "legs": None} if order.get("order_class") == "mleg" and order.get("legs") else order


def flat(order: dict[str, Any]) -> list[dict[str, Any]]:
    """An order as listed without nested=true: a multi-leg parent without legs, then each leg as
    an order of its own (its own ids, symbol and side; an unfilled leg shows the parent's status)."""
    if order.get("order_class") != "mleg" or not order.get("legs"):
        return [order]
    legs = [leg if leg["status"] == "filled" else {**leg, "status": order["status"]} for leg in order["legs"]]
    return [unnested(order), *legs]
