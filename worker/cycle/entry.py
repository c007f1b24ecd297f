"""The one way into a position, for every strategy and every action set: the gate before the
policy (`gate`: the safeguards that do not depend on its answer, the structure chosen lazily from
the chain, one leg or several), then after it (`enter`): the remaining safeguards, the quotes'
age, the size by the structure's maximum loss (a long option's debit, a credit structure's width
less its credit), the book's limits with the entry added (core/risk/book.py), and one order
through the desk: one contract's order for one leg, one multi-leg order for several.
"""

from __future__ import annotations

import math
from datetime import datetime

from core.calendar import Session
from core.ids import client_order_id
from core.params import TradingParams
from core.policy.base import Observation, PolicyOutput
from core.risk.book import limit_breach
from core.risk.shock import HeldLeg
from core.safeguards import AFTER_POLICY, BEFORE_POLICY, EntryContext, first_block
from core.sizing import collar_price, contracts_for, select_contract
from core.structures.legs import Built
from core.structures.orders import choose, held_legs, kind_for, opening, order_for, short_quote
from core.structures.types import Leg, Structure, StructureKind
from core.types import OrderRequest, OrderStatus, Quote, Reason, Regime, Side
from db.control import ControlSnapshot
from worker.book.intent import EntryIntent
from worker.cycle.records import CycleParts, EntryGate, MarketSnapshot


class Entries:
    def __init__(self, parts: CycleParts) -> None:
        self.parts = parts

    # step 4
    def gate(self, symbol: str, now: datetime, session: Session, params: TradingParams, control: ControlSnapshot,
             snap: MarketSnapshot, obs: Observation, regime: Regime, equity: float) -> EntryGate | None:  # fmt: skip
        """When flat: the safeguards that do not depend on the policy's answer. A block masks the
        buy actions before the policy is asked; the rest run once it has answered."""
        if obs.in_position:
            return None
        parts = self.parts
        chosen: list[Quote | None] = []

        def candidate() -> Quote | None:  # runs in step 6, after the policy set gate.action
            if not chosen:
                chain = parts.market.chain(symbol, now)
                kind = kind_for(params, regime, snap.iv_rank, gate.action)
                if chain is None or kind is None:
                    if kind is None:
                        gate.refused = Reason("no_structure", f"strategy auto opens nothing ({regime.value} regime).")
                    chosen.append(None)
                elif kind.is_credit:  # a structure: the safeguards look at its short leg's quote
                    gate.built = built = choose(chain, kind, params)
                    gate.refused = built.refused
                    chosen.append(short_quote(built))
                else:  # one leg: the contract nearest the target delta
                    quote = select_contract(chain, gate.direction, params.target_delta)
                    gate.built = None if quote is None else _one_leg(kind, quote)
                    chosen.append(quote)
            return chosen[0]

        context = EntryContext(
            params=params,
            state=control.state,
            now=now,
            session=session,
            data_problem=snap.data_problem,
            equity=equity,
            start_of_day_equity=parts.risk.start_of_day,
            peak_equity=parts.risk.peak,
            vix=snap.vix,
            iv_rank=snap.iv_rank,
            regime=regime,
            confidence=0.0,
            trades_today=parts.book.entries_today.get(symbol, 0),
            last_exit_at=parts.book.last_exit_at.get(symbol),
            open_positions=parts.book.open_count(),
            candidate=candidate,
        )
        gate = EntryGate(context, first_block(context, BEFORE_POLICY))
        if gate.block is None and parts.desk.working_for(symbol):
            gate.block = Reason("order_open", f"An order for {symbol} is still working at the broker.")
        return gate

    # steps 6 and 7
    def enter(self, now: datetime, params: TradingParams, control: ControlSnapshot, snap: MarketSnapshot,
              obs: Observation, out: PolicyOutput, regime: Regime, equity: float,
              entry: EntryGate | None) -> tuple[Reason | None, str | None]:  # fmt: skip
        """The entry the policy chose, or why none: the block and the client order id sent."""
        if entry is None:
            return None, None
        if entry.block is not None:  # the buys were masked: record the block if the policy wanted one
            wanted = out.wanted(in_position=False)
            return (entry.block if wanted.is_entry else None), None
        if not out.action.is_entry:
            return None, None
        entry.action = out.action
        entry.context.confidence = out.confidence
        block = first_block(entry.context, AFTER_POLICY)
        if block is not None:
            return (entry.refused if block.code == "no_contract" and entry.refused else block), None
        built = entry.built
        assert built is not None and built.structure is not None
        structure = built.structure
        quotes = list(built.quotes.values())
        snap.price_source = quotes[0].price_source.value
        age_s = max((now - q.time).total_seconds() for q in quotes)
        if age_s > params.max_quote_age_s:
            snap.view.degraded = True
            whose = "The option quote" if len(quotes) == 1 else "A leg's quote"
            return Reason("quote_stale", f"{whose} is {age_s:.0f} s old (limit {params.max_quote_age_s} s)."), None
        request, refused = self.order(built, equity, now, params)
        if request is None:
            return refused, None
        breach = self.risk_block(held_legs(structure, request.qty), now, snap.vix, equity, params)
        if breach is not None:
            return breach, None
        intent = self.intent(structure, params, control, snap, obs, out, regime, entry.direction)
        placed = self.parts.desk.place(request, intent.reason.code, now, intent, None, None)
        if placed.denied is not None:
            return placed.denied, None
        assert placed.update is not None
        if placed.update.status is OrderStatus.REJECTED:
            why = f"Broker refused the order: {placed.update.reject_reason}."
            return Reason("broker_rejected", why), request.client_order_id
        return None, request.client_order_id

    def order(self, built: Built, equity: float, now: datetime, params: TradingParams
              ) -> tuple[OrderRequest | None, Reason | None]:  # fmt: skip
        """The opening order, sized by the maximum loss, or why none (a leg too wide to cross, a
        limit that would not keep the structure's sign, a risk budget that buys none). One leg:
        a limit through the ask, as many as the budget buys at it; several: the net limit."""
        structure = built.structure
        assert structure is not None
        fee = self.parts.broker.fee_per_contract
        cid = client_order_id(self.parts.journal.identity, structure.underlying, now, "entry")
        if len(structure.legs) == 1:
            quote = next(iter(built.quotes.values()))
            qty = contracts_for(equity, quote.ask, params, fee)
            if qty < 1:
                return None, Reason("size_zero", f"Risk budget buys no whole contract at {quote.ask:.2f}.")
            limit = collar_price(quote.ask, True, params.order_collar_pct)
            return OrderRequest(cid, quote.contract, Side.BUY, qty, True, "limit", limit), None
        plan = opening(built, equity, params, fee)
        if plan.refused is not None:
            return None, plan.refused
        if plan.qty < 1:
            return None, Reason("size_zero", f"Risk budget holds no {structure.label} (max loss {plan.max_loss:,.0f}).")
        return order_for(cid, structure, plan.qty, True, "limit", plan.limit), None

    def intent(self, structure: Structure, params: TradingParams, control: ControlSnapshot, snap: MarketSnapshot,
               obs: Observation, out: PolicyOutput, regime: Regime, direction: int) -> EntryIntent:  # fmt: skip
        """The trade's entry record: why, with what confidence, in which market."""
        f = obs.features
        name = self.parts.policy.name
        if len(structure.legs) == 1:
            code = f"policy_{out.action.label}"
            text = (f"{name} chose {out.action.label} with confidence {out.confidence:.2f} (trend "
                    f"{f['trend_pct']:+.3f}%, VWAP {f['vwap_dist_pct']:+.3f}%, RSI {f['rsi_14']:.0f}).")  # fmt: skip
        else:
            code = f"policy_{structure.kind.value}"
            text = (f"{name} chose {out.action.label} with confidence {out.confidence:.2f}; strategy "
                    f"{params.strategy.value}: {structure.label} (trend {f['trend_pct']:+.3f}%).")  # fmt: skip
        return EntryIntent(
            reason=Reason(code, text),
            confidence=out.confidence,
            regime=regime.value,
            vix=snap.vix,
            model_version=self.parts.policy.version,
            param_version=control.param_version,
            atr_pct=f["atr_pct"],
            trend_pct=f["trend_pct"],
            direction=direction,
            structure=structure if len(structure.legs) > 1 else None,  # one leg: the order's contract
        )

    def risk_block(
        self, entry: list[HeldLeg], now: datetime, vix: float, equity: float, params: TradingParams
    ) -> Reason | None:
        """The book's limits with the entry added (net delta, gamma, the shock grid's worst loss;
        core/risk/book.py): the block with its own code, or None."""
        if not (params.max_book_delta_pct or params.max_book_gamma_pct or params.max_shock_loss_pct):
            return None
        session = self.parts.session
        if session is None or not math.isfinite(vix):
            return None
        held = self.parts.book.held_legs()
        spots = {u: self.parts.market.spot(u, now) for u in {leg.contract.underlying for leg in held + entry}}
        minutes_left = max((session.close - now).total_seconds() / 60.0, 0.0)  # as SimMarket.minutes_left
        return limit_breach(held, entry, spots, vix, minutes_left, equity, params)


def _one_leg(kind: StructureKind, quote: Quote) -> Built:
    """A long call or put as a structure of one leg, with the quote it was chosen at."""
    return Built(Structure(kind, (Leg(quote.contract, 1),)), {quote.contract.symbol: quote})
