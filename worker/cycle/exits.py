"""The one way out of every position, one leg or several: marked once a cycle, its exits judged
on the position (core/exits.py on a one-leg long's bid, core/structures/exits.py on a structure's
P&L against its maximum loss), and closed through `close`: the exits, the end-of-day flatten, the
operator's close from the console (`close_now`, worker/process/requests.py) and the rule for a leg left
alone (`close_orphans`) all send the one closing order it builds. The stop (worker/book/stop_plan.py)
closes what is held with the same order builders (core/structures/orders.py), at market.
"""

from __future__ import annotations

import logging
from datetime import datetime

from core.calendar import Session
from core.exits import check_exits
from core.ids import client_order_id
from core.params import TradingParams
from core.policy.base import PolicyOutput
from core.sizing import collar_price
from core.structures.exits import check_structure_exits
from core.structures.orders import NetLimit, closing_limit, closing_order, leg_quotes, market_close
from core.structures.payoff import payoff
from core.structures.position import StructurePosition
from core.types import Action, OrderLeg, Quote, Reason, TradingState
from worker.book.single import OneLeg
from worker.book.stop_plan import NO_BID
from worker.cycle.records import CycleParts

log = logging.getLogger("worker.exits")
ORPHAN_LEG = Reason("orphan_leg", "A leg left alone after the structure's other legs closed: closed at market.")
Held = OneLeg | StructurePosition


class Exits:
    def __init__(self, parts: CycleParts) -> None:
        self.parts = parts
        self.told: set[tuple[int, str, int, str]] = set()  # (trade, leg, qty, outcome) of legs left alone
        self.refused_closes: set[tuple[int, str]] = set()  # (trade, reason code) of closing limits not sent
        self._marked: dict[int, tuple[datetime, dict[str, Quote] | None, float]] = {}  # trade -> this cycle's mark

    # ---- the mark -------------------------------------------------------------------------
    def mark(self, pos: Held, now: datetime) -> tuple[float, str | None]:
        """The cycle's one mark of a position: its legs' quotes and its P&L now. Returns the
        unrealized % the observation carries (on the bid for one leg, of the maximum loss for a
        structure) and where a one-leg quote came from."""
        quotes = leg_quotes(self.parts.market, pos.structure, now)
        if quotes is None:
            self._marked[pos.trade_id] = (now, None, 0.0)
            return 0.0, None
        if isinstance(pos, OneLeg):
            quote = quotes[pos.state.contract.symbol]
            pct = self.parts.book.mark(pos.structure.underlying, quote.bid, now)
            self._marked[pos.trade_id] = (now, quotes, pct)
            return pct, quote.price_source.value
        pnl = pos.mark(quotes)
        self._marked[pos.trade_id] = (now, quotes, pnl)
        return pos.pnl_pct(pnl), None

    def _quotes(self, pos: Held, now: datetime, fresh: bool) -> tuple[dict[str, Quote] | None, float]:
        """This cycle's mark when the position was marked at `now`, else (or `fresh`: the
        operator's close from the control tick) a new one."""
        seen = self._marked.get(pos.trade_id)
        if not fresh and seen is not None and seen[0] == now:
            return seen[1], seen[2]
        quotes = leg_quotes(self.parts.market, pos.structure, now)
        if quotes is None or isinstance(pos, OneLeg):
            return quotes, 0.0
        return quotes, pos.mark(quotes)

    # ---- the exits ------------------------------------------------------------------------
    def manage(self, symbol: str, now: datetime, session: Session, params: TradingParams,
               out: PolicyOutput) -> str | None:  # fmt: skip
        """Step 5: the exits of the position held on `symbol` (or the operator's close); returns
        the exit code sent."""
        self._marked = {t: m for t, m in self._marked.items() if m[0] == now}
        pos = self.parts.book.on(symbol)
        if pos is None:
            self.parts.operator_closes.pop(symbol, None)  # flat: the operator's close is done
            return None
        close_conf = out.confidence if out.action is Action.CLOSE else None
        return self.judge(pos, now, session, params, close_conf, self.parts.operator_closes.get(symbol))

    def judge(self, pos: Held, now: datetime, session: Session, params: TradingParams,
              close_confidence: float | None, requested: Reason | None, fresh: bool = False) -> str | None:  # fmt: skip
        """The position's exits judged on the position itself; the close sent, or None. `fresh`:
        quotes read now rather than the cycle's mark (a close between cycles)."""
        if self.parts.desk.working_for(pos.structure.underlying):  # an exit already working is not sent twice
            return None
        if pos.orphaned:
            return self.close_orphans(pos, now)
        quotes, pnl = self._quotes(pos, now, fresh)
        if quotes is None:
            return None
        qty = pos.qty_open
        if isinstance(pos, OneLeg):
            bid = quotes[pos.state.contract.symbol].bid
            signal = None if requested is not None else check_exits(pos.state, bid, now, session, params,
                                                                    close_confidence)  # fmt: skip
            reason = requested or (signal.reason if signal is not None else None)
            qty = signal.qty if signal is not None else qty
        else:
            self.write_mark(pos, quotes, now)
            reason = requested or check_structure_exits(pos, pnl, now, session, params, close_confidence)
        if reason is None:
            return None
        return reason.code if self.close(pos, reason, now, params, quotes, qty) else None

    # ---- the one close --------------------------------------------------------------------
    def close(self, pos: Held, reason: Reason, now: datetime, params: TradingParams, quotes: dict[str, Quote],
              qty: int | None = None) -> bool:  # fmt: skip
        """Close `qty` units of any position (all it holds by default) with one order: a limit
        through the natural price (a one-leg long through the bid, a structure by the collar on its
        legs' size), at market for an urgent exit that has waited. A limit that would not keep the
        closing sign is not sent (an event says why, once a trade); the next cycle prices it again.
        False when nothing was sent."""
        parts = self.parts
        order_type = parts.desk.exit_order_type(pos.trade_id, reason.code, params)
        limit = _exit_limit(pos, quotes, params)
        if order_type == "limit" and limit.refused is not None:
            if (pos.trade_id, limit.refused.code) not in self.refused_closes:  # said once a trade, not a cycle
                self.refused_closes.add((pos.trade_id, limit.refused.code))
                text = f"{reason.code}: {limit.refused.text}"
                parts.journal.event("warning", limit.refused.code, text, time=now)
                log.warning("%s", text)
            return False
        underlying = pos.structure.underlying
        cid = client_order_id(parts.journal.identity, underlying, now, f"exit:{reason.code}")
        price = limit.price if order_type == "limit" else None
        request = closing_order(cid, pos.structure, pos.qty_open if qty is None else qty, order_type, price)
        placed = parts.desk.place(request, reason.code, now, None, reason, pos.trade_id)
        if placed.denied is None and isinstance(pos, OneLeg) and reason.code.startswith("partial_tp"):
            pos.state.partials_done = int(reason.code[-1])
        return placed.denied is None

    def close_now(self, symbol: str, reason: Reason, now: datetime, params: TradingParams) -> str:
        """The operator's close of one position, whole: sent now when there is a quote, then re-sent
        by every cycle until flat (worker/process/requests.py). Returns what happened, in words."""
        parts = self.parts
        pos = parts.book.on(symbol)
        if pos is None:
            return "no open position"
        parts.operator_closes[symbol] = reason
        if parts.desk.working_for(symbol):
            return "an order is working on it: the close follows when it ends"
        session = parts.market.session(now)
        if session is None or leg_quotes(parts.market, pos.structure, now) is None:
            return "no quote yet: the close follows at the next cycle"
        qty = pos.qty_open
        if self.judge(pos, now, session, params, None, reason, fresh=True) is None:
            return "not sent: the close follows at the next cycle"
        return f"close of {qty} {pos.structure.label} sent"

    # ---- legs left alone ------------------------------------------------------------------
    def close_orphans(self, pos: Held, now: datetime) -> str | None:
        """Legs held beyond the whole structures (the broker closed one leg alone): each closed at
        market on its own, but a long nobody bids for, which is left (worth 0, it cannot lose
        more: a market sell of it would never fill). Each leg is told once, by an event the alert
        relay sends: the order sent, or why none was. While a stop flattens (HALTED with flatten)
        the stop closes them and its confirmation names what it leaves: nothing is told here."""
        parts = self.parts
        control = parts.last_control
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
            quote = parts.market.quote(leg.contract, now) if extra > 0 else None
            if quote is not None and quote.bid <= 0:
                self._tell(pos.trade_id, symbol, extra, "no_bid", f"{alone}; not sold: {NO_BID}.", now)
                continue
            side = leg.closing_side if extra * leg.ratio > 0 else leg.opening_side
            cid = client_order_id(parts.journal.identity, symbol, now, "orphan")
            request = market_close(cid, [OrderLeg(leg.contract, side, abs(extra), False)])
            placed = parts.desk.place(request, ORPHAN_LEG.code, now, None, ORPHAN_LEG, pos.trade_id)
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
        self.parts.journal.event("warning", "orphan_leg", text, time=now)
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
        self.parts.journal.mark_trade(pos.trade_id, round(value, 4), now, worst, best, 0.0)


def _exit_limit(pos: Held, quotes: dict[str, Quote], params: TradingParams) -> NetLimit:
    """The closing limit: a one-leg long's collar through its bid; a structure's net limit."""
    if isinstance(pos, OneLeg):
        return NetLimit(collar_price(quotes[pos.state.contract.symbol].bid, False, params.order_collar_pct))
    return closing_limit(pos.structure, quotes, params)
