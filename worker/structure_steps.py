"""The cycle's steps for structures (core/structures): choose the legs, size by the maximum loss,
open and close as one multi-leg order, apply the structure's exits, and close a leg left alone.

The cycle (worker/cycle.py) calls these where a long option takes its own path: an entry whose
strategy is a credit structure, and any underlying where the book holds one. Every order goes
through the same desk (one gate, persisted first, sent once).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from core.ids import client_order_id
from core.params import TradingParams
from core.structures.exits import check_structure_exits
from core.structures.legs import Built
from core.structures.orders import closing_limit, held_legs, leg_quotes, opening, order_for
from core.structures.payoff import payoff
from core.structures.position import StructurePosition
from core.structures.types import Structure
from core.types import OrderRequest, OrderStatus, Quote, Reason, Regime, TradingState
from worker.stop_plan import NO_BID
from worker.tradebook import EntryIntent

if TYPE_CHECKING:
    from core.calendar import Session
    from core.policy.base import Observation, PolicyOutput
    from db.control import ControlSnapshot
    from worker.cycle import EntryGate, MarketSnapshot, TradingCycle

log = logging.getLogger("worker.structures")
ORPHAN_LEG = Reason("orphan_leg", "A leg left alone after the structure's other legs closed: closed at market.")


class StructureSteps:
    def __init__(self, cycle: TradingCycle) -> None:
        self.cycle = cycle
        self.told: set[tuple[int, str, int, str]] = set()  # (trade, leg, qty, outcome) of legs left alone
        self.refused_closes: set[tuple[int, str]] = set()  # (trade, reason code) of closing limits not sent

    def quotes(self, structure: Structure, now: datetime) -> dict[str, Quote] | None:
        return leg_quotes(self.cycle.market, structure, now)

    def entry(
        self, built: Built, equity: float, now: datetime, params: TradingParams
    ) -> tuple[OrderRequest | None, Reason | None]:
        """The opening order for a chosen structure, or why none (a leg too wide to cross, a limit
        that would not keep the structure's sign, a risk budget that buys none)."""
        structure = built.structure
        assert structure is not None
        plan = opening(built, equity, params, self.cycle.broker.fee_per_contract)
        if plan.refused is not None:
            return None, plan.refused
        if plan.qty < 1:
            return None, Reason("size_zero", f"Risk budget holds no {structure.label} (max loss {plan.max_loss:,.0f}).")
        cid = client_order_id(self.cycle.journal.identity, structure.underlying, now, "entry")
        return order_for(cid, structure, plan.qty, True, "limit", plan.limit), None

    def enter(
        self,
        now: datetime,
        params: TradingParams,
        control: ControlSnapshot,
        snap: MarketSnapshot,
        obs: Observation,
        out: PolicyOutput,
        regime: Regime,
        equity: float,
        entry: EntryGate,
    ) -> tuple[Reason | None, str | None]:
        """Step 7 for a credit structure: one multi-leg order, sized by its maximum loss."""
        built = entry.built
        assert built is not None and built.structure is not None
        structure = built.structure
        first = next(iter(built.quotes.values()))
        snap.price_source = first.price_source.value
        age_s = max((now - q.time).total_seconds() for q in built.quotes.values())
        if age_s > params.max_quote_age_s:
            snap.view.degraded = True
            return Reason(
                "quote_stale", f"A leg's quote is {age_s:.0f} s old (limit {params.max_quote_age_s} s)."
            ), None
        request, refused = self.entry(built, equity, now, params)
        if request is None:
            return refused, None
        breach = self.cycle.risk_block(held_legs(structure, request.qty), now, snap.vix, equity, params)
        if breach is not None:
            return breach, None
        f = obs.features
        intent = EntryIntent(
            reason=Reason(
                f"policy_{structure.kind.value}",
                f"{self.cycle.policy.name} chose {out.action.label} with confidence {out.confidence:.2f}; "
                f"strategy {params.strategy.value}: {structure.label} (trend {f['trend_pct']:+.3f}%).",
            ),
            confidence=out.confidence,
            regime=regime.value,
            vix=snap.vix,
            model_version=self.cycle.policy.version,
            param_version=control.param_version,
            atr_pct=f["atr_pct"],
            trend_pct=f["trend_pct"],
            direction=entry.direction,
            structure=structure,
        )
        placed = self.cycle.desk.place(request, intent.reason.code, now, intent, None, None)
        if placed.denied is not None:
            return placed.denied, None
        assert placed.update is not None
        if placed.update.status is OrderStatus.REJECTED:
            cid = request.client_order_id
            return Reason("broker_rejected", f"Broker refused the order: {placed.update.reject_reason}."), cid
        return None, request.client_order_id

    def manage(self, pos: StructurePosition, now: datetime, session: Session, params: TradingParams,
               close_confidence: float | None, requested: Reason | None) -> str | None:  # fmt: skip
        """Apply the structure's exits (or the operator's close); returns the exit code sent."""
        symbol = pos.structure.underlying
        if self.cycle.desk.working_for(symbol):
            return None
        if pos.orphaned:
            return self.close_orphans(pos, now)
        quotes = self.quotes(pos.structure, now)
        if quotes is None:
            return None
        pnl = pos.mark(quotes)
        self.write_mark(pos, quotes, now)
        reason = requested or check_structure_exits(pos, pnl, now, session, params, close_confidence)
        if reason is None:
            return None
        return reason.code if self.send_close(pos, reason, now, quotes, params) else None

    def send_close(self, pos: StructurePosition, reason: Reason, now: datetime, quotes: dict[str, Quote],
                   params: TradingParams) -> bool:  # fmt: skip
        """Close every whole structure held as one multi-leg order: a limit through the natural
        price, at market for an urgent exit that has waited. A limit that would not keep the closing
        sign is not sent (an event says why); the next cycle prices it again."""
        desk = self.cycle.desk
        order_type = desk.exit_order_type(pos.trade_id, reason.code, params)
        limit = closing_limit(pos.structure, quotes, params)
        if order_type == "limit" and limit.refused is not None:
            if (pos.trade_id, limit.refused.code) not in self.refused_closes:  # said once a trade, not a cycle
                self.refused_closes.add((pos.trade_id, limit.refused.code))
                text = f"{reason.code}: {limit.refused.text}"
                self.cycle.journal.event("warning", limit.refused.code, text, time=now)
                log.warning("%s", text)
            return False
        cid = client_order_id(self.cycle.journal.identity, pos.structure.underlying, now,
                              f"exit:{reason.code}")  # fmt: skip
        request = order_for(
            cid, pos.structure, pos.qty_open, False, order_type, limit.price if order_type == "limit" else None
        )
        placed = desk.place(request, reason.code, now, None, reason, pos.trade_id)
        return placed.denied is None

    def close_orphans(self, pos: StructurePosition, now: datetime) -> str | None:
        """Legs held beyond the whole structures (the broker closed one leg alone): each closed at
        market on its own, but a long nobody bids for, which is left (worth 0, it cannot lose
        more: a market sell of it would never fill). Each leg is told once, by an event the alert
        relay sends: the order sent, or why none was. While a stop flattens (HALTED with flatten)
        the stop closes them and its confirmation names what it leaves: nothing is told here."""
        control = self.cycle.last_control
        if control is not None and control.state is TradingState.HALTED and control.flatten:
            return None
        sent = False
        whole = pos.qty_open
        for leg in pos.structure.legs:
            symbol = leg.contract.symbol
            extra = pos.held.get(symbol, 0) - leg.ratio * whole
            if extra == 0:
                continue
            alone = f"{pos.structure.label}: {abs(extra)} {symbol} left alone"
            quote = self.cycle.market.quote(leg.contract, now) if extra > 0 else None
            if quote is not None and quote.bid <= 0:
                self._tell(pos.trade_id, symbol, extra, "no_bid", f"{alone}; not sold: {NO_BID}.", now)
                continue
            side = leg.closing_side if extra * leg.ratio > 0 else leg.opening_side
            cid = client_order_id(self.cycle.journal.identity, symbol, now, "orphan")
            request = OrderRequest(cid, leg.contract, side, abs(extra), False, "market")
            placed = self.cycle.desk.place(request, ORPHAN_LEG.code, now, None, ORPHAN_LEG, pos.trade_id)
            if placed.denied is not None:
                self._tell(pos.trade_id, symbol, extra, placed.denied.code, f"{alone}; {placed.denied.text}", now)
                continue
            sent = True
            self._tell(pos.trade_id, symbol, extra, "sent", f"{alone}; closing it at market.", now)
        return ORPHAN_LEG.code if sent else None

    def _tell(self, trade_id: int, symbol: str, qty: int, outcome: str, text: str, now: datetime) -> None:
        """One `orphan_leg` event per leg, quantity and outcome: never the same one every cycle."""
        key = (trade_id, symbol, qty, outcome)
        if key in self.told:
            return
        self.told.add(key)
        self.cycle.journal.event("warning", "orphan_leg", text, time=now)
        log.warning("%s", text)

    def told_left(self, trade_id: int, symbol: str, qty: int) -> None:
        """A long the stop left with no bid: its confirmation named it, so it is not told again."""
        self.told.add((trade_id, symbol, qty, "no_bid"))

    def write_mark(self, pos: StructurePosition, quotes: dict[str, Quote], now: datetime) -> None:
        """The trade row's mark: what the structure would sell for now per share (minus the natural
        cost to close: negative for a credit structure), so (mark - entry) x 100 x qty is its P&L."""
        value = -pos.structure.close_price(quotes)
        scale = max(payoff(pos.structure, pos.entry_net, max(pos.entry_qty, 1)).max_loss, 1.0)
        worst, best = pos.worst_pnl / scale * 100.0, pos.best_pnl / scale * 100.0
        self.cycle.journal.mark_trade(pos.trade_id, round(value, 4), now, worst, best, 0.0)

    def unrealized_pct(self, pos: StructurePosition, now: datetime) -> float:
        """P&L now as a % of the structure's maximum loss (what the observation carries)."""
        quotes = self.quotes(pos.structure, now)
        return 0.0 if quotes is None else pos.pnl_pct(pos.mark(quotes))
