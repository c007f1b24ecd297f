"""Exit rules for an open structure, each with its own code, checked in order every cycle.

P&L is measured in dollars per structure as if closed now at the natural prices (longs sold at
the bid, shorts bought back at the ask), fees paid included. The credit is what the structure
took at entry. Safeguards (the end-of-day flatten and the stops) fire at any age; the rest wait
`min_hold_min`, as for a long option (core/exits.py).
"""

from __future__ import annotations

from datetime import datetime

from core.calendar import Session
from core.params import TradingParams
from core.structures.position import MULTIPLIER, StructurePosition
from core.types import Reason


def check_structure_exits(
    pos: StructurePosition,
    pnl: float,
    now: datetime,
    session: Session,
    params: TradingParams,
    policy_close_confidence: float | None,
) -> Reason | None:
    """The first exit that fires for `pos` with `pnl` dollars made so far (all its structures)."""
    flatten_at = session.before_close(params.flatten_before_close_min)
    if now >= flatten_at:
        return Reason("eod_flatten", f"End-of-day flatten at {flatten_at:%H:%M} ET.")
    qty = max(pos.qty_open, 1)
    each = pnl / qty
    credit = -pos.entry_net * MULTIPLIER  # dollars a structure took in (negative for a debit)
    if credit > 0 and params.credit_stop_multiple > 0 and each <= -credit * params.credit_stop_multiple:
        return Reason(
            "credit_stop",
            f"Lost {-each:,.2f} a structure, {params.credit_stop_multiple:g}x its credit {credit:,.2f}.",
        )
    if params.structure_stop_loss_usd > 0 and each <= -params.structure_stop_loss_usd:
        return Reason(
            "structure_stop",
            f"Lost {-each:,.2f} a structure (limit {params.structure_stop_loss_usd:,.2f}).",
        )
    held_min = (now - pos.entry_time).total_seconds() / 60.0
    if held_min < params.min_hold_min:
        return None
    if credit > 0 and each >= credit * params.credit_take_profit_pct / 100.0:
        return Reason(
            "credit_target",
            f"Made {each:,.2f} a structure, {params.credit_take_profit_pct:g}% of its credit {credit:,.2f}.",
        )
    if held_min >= params.max_hold_min:
        return Reason("max_hold", f"Held {held_min:.0f} minutes (limit {params.max_hold_min}).")
    if policy_close_confidence is not None and policy_close_confidence >= params.policy_exit_min_confidence:
        return Reason("policy_exit", f"The policy chose close with confidence {policy_close_confidence:.2f}.")
    return None
