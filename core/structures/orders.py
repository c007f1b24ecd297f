"""A structure as orders: which structure an entry opens, its legs, how many fit the risk budget,
the net limit, and the one multi-leg order that opens or closes it.

A limit order is refused (a named Reason, nothing sent) when a leg's quote is too wide to cross
(`wide_leg`: the entry safeguards' max spread on every leg) or when the collar would carry the net
limit across zero (`limit_sign`: a credit taken at a debit, a sale paid for). A market order has
no limit to check: the urgent exits always go.

The worker's cycle (worker/cycle/entry.py and exits.py) and the training environment (core/rl/env.py)
both trade structures through these, so a structure costs in training what it costs the worker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from functools import reduce

from core.options.chain import ChainSnapshot
from core.params import TradingParams
from core.protocols import MarketData
from core.risk.shock import HeldLeg
from core.structures.choice import auto_structure
from core.structures.legs import Built, LegChoice, build
from core.structures.payoff import payoff
from core.structures.types import Structure, StructureKind
from core.types import Action, OrderLeg, OrderRequest, Quote, Reason, Regime, Strategy

TICK = 0.01  # the cent grid of option prices: a quote one tick wide is as narrow as a quote can be

ACTION_STRUCTURES: dict[Action, StructureKind] = {
    Action.SELL_PUT_SPREAD: StructureKind.PUT_CREDIT_SPREAD,
    Action.SELL_CALL_SPREAD: StructureKind.CALL_CREDIT_SPREAD,
    Action.IRON_CONDOR: StructureKind.IRON_CONDOR,
}


def kind_for(params: TradingParams, regime: Regime, iv_rank: float, action: Action) -> StructureKind | None:
    """What the entry `action` opens: the structure a credit action names, else the one
    `params.strategy` picks for the action's direction (None: nothing, e.g. auto in a crash)."""
    named = ACTION_STRUCTURES.get(action)
    if named is not None:
        return named
    direction = action.direction
    if params.strategy is Strategy.LONG_OPTION:
        return StructureKind.LONG_CALL if direction > 0 else StructureKind.LONG_PUT
    if params.strategy is Strategy.AUTO:
        return auto_structure(regime, iv_rank, direction)
    return StructureKind(params.strategy.value)


def choose(chain: ChainSnapshot, kind: StructureKind, params: TradingParams) -> Built:
    """The legs of `kind` from the chain by the delta and width parameters."""
    return build(kind, chain, LegChoice(short_delta=params.short_delta, width=params.wing_width,
                                        long_delta=params.target_delta))  # fmt: skip


def short_quote(built: Built) -> Quote | None:
    """The first short leg's quote: what the entry safeguards (spread, quote age) look at."""
    if built.structure is None:
        return None
    shorts = [leg for leg in built.structure.legs if leg.ratio < 0]
    return built.quotes[shorts[0].contract.symbol] if shorts else None


@dataclass(frozen=True)
class Opening:
    """How many structures an entry opens and at what net limit (qty 0: the budget holds none, or
    `refused` says why no order may open it)."""

    qty: int
    limit: float
    max_loss: float  # dollars at expiry for one structure at the natural price
    refused: Reason | None = None


@dataclass(frozen=True)
class NetLimit:
    """A net limit per share (debit +, credit -), or why no limit order may be sent at it."""

    price: float
    refused: Reason | None = None


def opening(built: Built, equity: float, params: TradingParams, fee: float) -> Opening:
    """Sized by the maximum loss at the natural price, the limit through it by the collar; refused
    when a leg's quote is too wide or the limit would not keep the structure's sign."""
    structure = built.structure
    assert structure is not None
    natural = structure.open_price(built.quotes)
    max_loss = payoff(structure, natural, 1).max_loss
    limit = marketable_limit(natural, gross(structure, built.quotes), params.order_collar_pct)
    refused = wide_leg(structure, built.quotes, params.max_spread_pct) or limit_sign(structure, natural, limit, True)
    if refused is not None:
        return Opening(0, limit, max_loss, refused)
    qty = structures_for(equity, max_loss, len(structure.legs), params, fee)
    return Opening(qty, limit, max_loss)


def closing_limit(structure: Structure, quotes: dict[str, Quote], params: TradingParams) -> NetLimit:
    """The net limit that closes the structure: the collar through the natural closing price, refused
    where it would not keep the closing sign (a credit structure is bought back at a debit, a debit
    structure sold for a credit)."""
    natural = structure.close_price(quotes)
    price = marketable_limit(natural, gross(structure, quotes), params.order_collar_pct)
    return NetLimit(price, limit_sign(structure, natural, price, False))


def wide_leg(structure: Structure, quotes: dict[str, Quote], max_spread_pct: float) -> Reason | None:
    """The first leg quoted wider than `max_spread_pct` of its mid (core/safeguards.max_spread, the
    rule the short leg meets, on every leg): crossing a wide wing gives away what the structure takes
    in. A quote one tick wide passes whatever its mid (a wing at 0.00/0.01 cannot be narrower)."""
    for leg in structure.legs:
        q = quotes[leg.contract.symbol]
        if q.spread > TICK + 1e-9 and q.spread_pct * 100.0 > max_spread_pct:
            role = "short" if leg.ratio < 0 else "long"
            return Reason(
                "max_spread",
                f"{structure.label}: the {role} leg {leg.contract.symbol} is quoted {q.bid:.2f}/{q.ask:.2f}, "
                f"spread {q.spread_pct * 100:.1f}% of mid (limit {max_spread_pct:g}%).",
            )
    return None


def limit_sign(structure: Structure, natural: float, limit: float, opening: bool) -> Reason | None:
    """Why the net `limit` may not be sent: an order that should take a credit (opening a credit
    structure, closing a debit one) must have a limit of a credit (at most -0.01), one that pays a
    debit a limit of a debit (at least +0.01); None when it keeps that sign."""
    takes_credit = structure.kind.is_credit == opening
    if (limit <= -TICK + 1e-9) if takes_credit else (limit >= TICK - 1e-9):
        return None
    what = "opening" if opening else "closing"
    kind = "credit" if structure.kind.is_credit else "debit"
    wrong = "would pay a debit" if takes_credit else "would take a credit"
    return Reason(
        "limit_sign",
        f"{structure.label}: the {kind} structure's {what} limit {limit:+.2f} (natural {natural:+.2f} and the "
        f"collar) {wrong}: not sent.",
    )


def leg_quotes(market: MarketData, structure: Structure, now: datetime) -> dict[str, Quote] | None:
    """Every leg's quote now, by contract symbol (None: a leg has none this minute)."""
    found = {leg.contract.symbol: market.quote(leg.contract, now) for leg in structure.legs}
    return None if any(q is None for q in found.values()) else found  # type: ignore[return-value]


def held_legs(structure: Structure, qty: int) -> list[HeldLeg]:
    """The contracts `qty` structures hold, signed (what the book limits add to the book)."""
    return [HeldLeg(leg.contract, leg.ratio * qty) for leg in structure.legs]


def gross(structure: Structure, quotes: dict[str, Quote]) -> float:
    """The legs' mids summed without sign, per share: the scale of the structure's prices."""
    return sum(abs(leg.ratio) * quotes[leg.contract.symbol].mid for leg in structure.legs)


def marketable_limit(natural: float, size: float, collar_pct: float) -> float:
    """A net limit `collar_pct` of the structure's size through the natural price (paying more, or
    taking less credit), on the cent grid: marketable at the legs' quotes, never far from them."""
    return round(natural + max(0.01, size * collar_pct / 100.0), 2)


def structures_for(equity: float, max_loss: float, legs: int, params: TradingParams, fee: float) -> int:
    """Whole structures whose maximum loss at expiry (and fees both ways) fits risk_per_trade_pct."""
    per = max_loss + 2.0 * fee * legs
    if per <= 0 or not math.isfinite(per) or equity <= 0:
        return 0
    return max(0, min(int(equity * params.risk_per_trade_pct / 100.0 // per), params.max_contracts))


def order_for(
    cid: str, structure: Structure, qty: int, opening: bool, order_type: str, limit: float | None
) -> OrderRequest:
    """One multi-leg order for `qty` structures (each leg's ratio from the structure)."""
    legs = tuple(
        OrderLeg(leg.contract, leg.opening_side if opening else leg.closing_side, abs(leg.ratio), opening)
        for leg in structure.legs
    )
    return OrderRequest(cid, legs[0].contract, legs[0].side, qty, opening, order_type, limit, legs=legs)


def closing_order(cid: str, structure: Structure, qty: int, order_type: str, limit: float | None) -> OrderRequest:
    """The order that closes `qty` units of any structure: one contract's order for one leg (a
    long call or put sold), one multi-leg order for several."""
    if len(structure.legs) == 1:
        leg = structure.legs[0]
        return OrderRequest(cid, leg.contract, leg.closing_side, qty * abs(leg.ratio), False, order_type, limit)
    return order_for(cid, structure, qty, False, order_type, limit)


def market_close(cid: str, legs: list[OrderLeg]) -> OrderRequest:
    """One market order closing the contracts `legs` hold (what is left of a structure, a leg left
    alone): one contract's order for one leg, else one multi-leg order of `qty` units of the legs'
    smallest whole ratios."""
    if len(legs) == 1:
        leg = legs[0]
        return OrderRequest(cid, leg.contract, leg.side, leg.ratio, False, "market")
    qty = reduce(math.gcd, (leg.ratio for leg in legs))
    ratios = tuple(OrderLeg(leg.contract, leg.side, leg.ratio // qty, False) for leg in legs)
    return OrderRequest(cid, legs[0].contract, legs[0].side, qty, False, "market", legs=ratios)
