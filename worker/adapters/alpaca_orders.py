"""The order a broker request becomes in alpaca-py: one contract, or one multi-leg (`mleg`) order.

A multi-leg order is Alpaca's parent with no symbol of its own, `order_class=mleg`, `qty` in
structures, a net `limit_price` (a debit positive, a credit negative) and 2 to 4 legs, each with
its symbol, `ratio_qty`, side and `position_intent`. Every order is a DAY order with the cycle's
client order id.
"""

from __future__ import annotations

from alpaca.trading.enums import OrderClass, OrderSide, PositionIntent, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest, OptionLegRequest

from core.types import OrderRequest, Side

_INTENTS = {
    (Side.BUY, True): PositionIntent.BUY_TO_OPEN,
    (Side.BUY, False): PositionIntent.BUY_TO_CLOSE,
    (Side.SELL, True): PositionIntent.SELL_TO_OPEN,
    (Side.SELL, False): PositionIntent.SELL_TO_CLOSE,
}


def order_side(side: Side) -> OrderSide:
    return OrderSide.BUY if side is Side.BUY else OrderSide.SELL


def order_body(request: OrderRequest) -> LimitOrderRequest | MarketOrderRequest:
    """The alpaca-py request for `request` (see the module's docstring)."""
    common: dict[str, object] = dict(
        qty=request.qty, time_in_force=TimeInForce.DAY, client_order_id=request.client_order_id
    )
    if request.is_multi_leg:
        common["order_class"] = OrderClass.MLEG
        common["legs"] = [
            OptionLegRequest(
                symbol=leg.contract.symbol,
                ratio_qty=leg.ratio,
                side=order_side(leg.side),
                position_intent=_INTENTS[(leg.side, leg.opening)],
            )
            for leg in request.legs
        ]
    else:
        common.update(
            symbol=request.contract.symbol,
            side=order_side(request.side),
            position_intent=_INTENTS[(request.side, request.opening)],
        )
    if request.order_type == "limit" and request.limit_price is not None:
        return LimitOrderRequest(limit_price=round(request.limit_price, 2), **common)
    return MarketOrderRequest(**common)
