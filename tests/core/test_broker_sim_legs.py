"""Multi-leg orders at the simulated broker: every leg together or none, Alpaca's level and
buying-power rules, shorts held and bought back, the liquidation per contract."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from core.broker_sim import SimBroker
from core.calendar import session_for
from core.market.sim_market import SimMarket
from core.market.synthetic import SyntheticWorld
from core.structures.legs import LegChoice, build
from core.structures.orders import order_for
from core.structures.types import Structure, StructureKind
from core.types import OrderRequest, OrderStatus, OrderUpdate

DAY = date(2026, 3, 3)


def _broker(cash: float = 100_000.0, level: int = 3) -> tuple[SimBroker, SimMarket, datetime]:
    market = SimMarket(SyntheticWorld(11), source="test")
    session = session_for(DAY)
    assert session is not None
    return SimBroker(market, cash=cash, options_level=level), market, session.at(60)


def _condor(market: SimMarket, now: datetime) -> Structure:
    chain = market.chain("SPY", now)
    assert chain is not None
    built = build(StructureKind.IRON_CONDOR, chain, LegChoice(short_delta=0.20, width=5.0))
    assert built.structure is not None
    return built.structure


def _order(structure: Structure, qty: int, cid: str, limit: float | None, opening: bool = True) -> OrderRequest:
    return order_for(cid, structure, qty, opening, "market" if limit is None else "limit", limit)


def _legs_balanced(updates: list[OrderUpdate], structure: Structure) -> int:
    """Structures filled, checking each update's fills cover every leg by its ratio."""
    total = 0
    for upd in updates:
        if not upd.fills:
            continue
        by_symbol: dict[str, int] = {}
        for f in upd.fills:
            by_symbol[f.contract.symbol] = by_symbol.get(f.contract.symbol, 0) + f.qty
        assert set(by_symbol) == {leg.contract.symbol for leg in structure.legs}, "never part of the legs"
        counts = {by_symbol[leg.contract.symbol] // abs(leg.ratio) for leg in structure.legs}
        assert len(counts) == 1
        total += counts.pop()
    return total


def test_an_iron_condor_opens_as_one_order_at_the_legs_quotes() -> None:
    broker, market, now = _broker()
    condor = _condor(market, now)
    cash = broker.cash
    upd = broker.submit(_order(condor, 2, "ic-1", limit=None), now)
    assert upd.status is OrderStatus.FILLED and _legs_balanced([upd], condor) == 2
    assert upd.avg_fill_price is not None and upd.avg_fill_price < 0, "a credit: the net is negative"
    held = {p.contract.symbol: p.qty for p in broker.positions()}
    assert held == {leg.contract.symbol: 2 * leg.ratio for leg in condor.legs}, "shorts held as negative"
    fees = sum(f.fee for f in upd.fills)
    assert broker.cash == pytest.approx(cash - upd.avg_fill_price * 100 * 2 - fees)
    quotes = {leg.contract.symbol: market.quote_at(leg.contract, broker._clock) for leg in condor.legs}  # type: ignore[arg-type]
    marks = sum(q.qty * 100 * (quotes[q.contract.symbol].bid if q.qty > 0 else quotes[q.contract.symbol].ask)  # type: ignore[union-attr]
                for q in broker.positions())  # fmt: skip
    assert broker.account().equity == pytest.approx(broker.cash + marks), "a short is marked at the ask"


def test_a_limit_the_legs_do_not_reach_fills_no_leg_and_rests_until_cancelled() -> None:
    broker, market, now = _broker()
    condor = _condor(market, now)
    greedy = -10.0  # ten dollars of credit a condor: no leg may fill
    upd = broker.submit(_order(condor, 1, "ic-greedy", limit=greedy), now)
    assert upd.status is OrderStatus.ACCEPTED and upd.fills == [] and broker.positions() == []
    later = broker.sync(now + timedelta(minutes=5))
    assert all(not u.fills for u in later) and broker.positions() == []
    broker.cancel("ic-greedy", now + timedelta(minutes=5))
    done = broker.sync(now + timedelta(minutes=6))
    assert any(u.client_order_id == "ic-greedy" and u.status is OrderStatus.CANCELED for u in done)


def test_a_large_order_fills_in_whole_structures_never_part_of_the_legs() -> None:
    broker, market, now = _broker(cash=10_000_000.0)
    condor = _condor(market, now)
    natural = condor.open_price({leg.contract.symbol: market.quote_at(leg.contract, now) for leg in condor.legs})  # type: ignore[misc]
    updates = [broker.submit(_order(condor, 500, "ic-big", limit=round(natural + 0.50, 2)), now)]
    for minute in range(1, 30):
        updates += broker.sync(now + timedelta(minutes=minute))
    filled = _legs_balanced(updates, condor)
    assert 0 < filled <= 500
    held = {p.contract.symbol: p.qty for p in broker.positions()}
    assert held == {leg.contract.symbol: filled * leg.ratio for leg in condor.legs}


def test_buying_power_is_the_width_premiums_ignored_and_level_3_is_required() -> None:
    broker, market, now = _broker(cash=500.0 * 3 - 1.0)  # three condors need 3 x $500 (one wing)
    condor = _condor(market, now)
    refused = broker.submit(_order(condor, 3, "ic-bp", limit=None), now)
    assert refused.status is OrderStatus.REJECTED and refused.reject_reason == "insufficient options buying power"
    assert broker.positions() == [], "the credit it would take does not count"
    level2, market2, now2 = _broker(level=2)
    no = level2.submit(_order(_condor(market2, now2), 1, "ic-l2", limit=None), now2)
    assert no.status is OrderStatus.REJECTED and "level 3" in str(no.reject_reason)


def test_a_condor_closes_as_one_order_and_cannot_close_more_than_is_held() -> None:
    broker, market, now = _broker()
    condor = _condor(market, now)
    broker.submit(_order(condor, 2, "ic-open", limit=None), now)
    later = now + timedelta(minutes=10)
    too_many = broker.submit(_order(condor, 3, "ic-close-3", limit=None, opening=False), later)
    assert too_many.status is OrderStatus.REJECTED and "insufficient qty" in str(too_many.reject_reason)
    closed = broker.submit(_order(condor, 2, "ic-close", limit=None, opening=False), later)
    assert closed.status is OrderStatus.FILLED and _legs_balanced([closed], condor) == 2
    assert closed.avg_fill_price is not None and closed.avg_fill_price > 0, "closing a credit costs a debit"
    assert broker.positions() == []


def test_the_liquidation_buys_back_shorts_and_sells_longs_contract_by_contract() -> None:
    broker, market, now = _broker()
    condor = _condor(market, now)
    broker.submit(_order(condor, 1, "ic-held", limit=None), now)
    session = session_for(DAY)
    assert session is not None
    updates = broker.sync(session.close - timedelta(minutes=14))
    liquidations = {(f.contract.symbol, f.side.value) for u in updates for f in u.fills if f.liquidation}
    shorts = {(leg.contract.symbol, "buy") for leg in condor.legs if leg.ratio < 0}
    assert shorts <= liquidations, "each short bought back on its own"
    for leg in (leg for leg in condor.legs if leg.ratio > 0):  # a wing sells where someone bids
        quote = market.quote_at(leg.contract, session.close - timedelta(minutes=14))
        assert ((leg.contract.symbol, "sell") in liquidations) == (quote is not None and quote.bid > 0)
    broker.sync(session.close + timedelta(minutes=1))  # what nobody bought expires at intrinsic value
    assert broker.positions() == []
