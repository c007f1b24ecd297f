"""How the worker works its orders, as rules both the order desk and the training environment
follow, so a model learns on the order handling it will meet.

- Entries are limits `order_collar_pct` through the ask; an entry still working after
  `entry_cancel_after_cycles` is cancelled (a partial fill stays a position).
- Exits are limits through the bid, cancelled after one cycle so the next can re-price them;
  urgent exits go at market once `urgent_exit_market_after_cycles` have passed since the first try.
"""

from __future__ import annotations

from core.params import TradingParams

URGENT_EXITS = frozenset({"stop_loss", "eod_flatten", "emergency_stop", "max_drawdown_halt", "operator_close"})


def exit_order_type(code: str, cycles_since_first_try: int, params: TradingParams) -> str:
    """'market' for an urgent exit unfilled since `urgent_exit_market_after_cycles`, else 'limit'."""
    urgent = code in URGENT_EXITS and cycles_since_first_try >= params.urgent_exit_market_after_cycles
    return "market" if urgent else "limit"


def cycles_before_cancel(opening: bool, params: TradingParams) -> int:
    """Cycles an order may work before the desk cancels it: entries `entry_cancel_after_cycles`,
    exits one (the next cycle re-prices them)."""
    return params.entry_cancel_after_cycles if opening else 1
