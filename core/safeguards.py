"""Entry safeguards, run in a fixed order; the first that blocks is the recorded reason.

Each safeguard is a small function of an `EntryContext` returning a `Reason` (stable code plus
a sentence) or None. Exits are never blocked by these: they only gate new positions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.calendar import Session
from core.params import TradingParams
from core.types import Quote, Reason, Regime, TradingState


@dataclass(slots=True)
class EntryContext:
    """Everything the safeguards look at for one intended entry."""

    params: TradingParams
    state: TradingState
    now: datetime
    session: Session
    data_problem: Reason | None
    equity: float
    start_of_day_equity: float
    peak_equity: float
    vix: float
    iv_rank: float
    regime: Regime
    confidence: float
    trades_today: int
    last_exit_at: datetime | None
    open_positions: int
    candidate: Callable[[], Quote | None]  # lazy: the contract selection runs only if needed


Safeguard = Callable[[EntryContext], Reason | None]


_STATE_BLOCKS = {
    state: Reason("trading_state", f"Trading state is {state.value}: no new entries.") for state in TradingState
}


def trading_state(c: EntryContext) -> Reason | None:
    if c.state is not TradingState.ACTIVE:
        return _STATE_BLOCKS[c.state]
    return None


def session_window(c: EntryContext) -> Reason | None:
    first, last = _entry_window(c.session, c.params.entry_delay_min, c.params.entry_cutoff_before_close_min)
    if c.now < first:
        return Reason(
            "session_window", f"No entries before {first:%H:%M} ET (first {c.params.entry_delay_min} minutes)."
        )
    if c.now >= last:
        return Reason(
            "session_window",
            f"No entries from {last:%H:%M} ET ({c.params.entry_cutoff_before_close_min} minutes before the close).",
        )
    return None


_WINDOWS: dict[tuple[object, int, int], tuple[datetime, datetime]] = {}


def _entry_window(session: Session, delay_min: int, cutoff_min: int) -> tuple[datetime, datetime]:
    """First and last entry times of a session, computed once per session and parameter pair."""
    key = (session.day, delay_min, cutoff_min)
    found = _WINDOWS.get(key)
    if found is None:
        if len(_WINDOWS) > 256:
            _WINDOWS.clear()
        found = _WINDOWS[key] = (session.open + timedelta(minutes=delay_min), session.before_close(cutoff_min))
    return found


def data_quality(c: EntryContext) -> Reason | None:
    return c.data_problem


def daily_loss_limit(c: EntryContext) -> Reason | None:
    if c.start_of_day_equity <= 0:
        return None
    pnl_pct = (c.equity / c.start_of_day_equity - 1.0) * 100.0
    if pnl_pct <= c.params.daily_loss_limit_pct:
        return Reason("daily_loss_limit", f"Down {pnl_pct:.1f}% today (limit {c.params.daily_loss_limit_pct}%).")
    return None


def max_drawdown(c: EntryContext) -> Reason | None:
    if c.peak_equity <= 0:
        return None
    dd = (c.equity / c.peak_equity - 1.0) * 100.0
    if dd <= c.params.max_drawdown_pct:
        return Reason("max_drawdown", f"Drawdown {dd:.1f}% from the equity peak (limit {c.params.max_drawdown_pct}%).")
    return None


def vix_ceiling(c: EntryContext) -> Reason | None:
    if c.vix > c.params.vix_ceiling:
        return Reason("vix_ceiling", f"VIX {c.vix:.1f} is above the ceiling {c.params.vix_ceiling}.")
    return None


def iv_rank_filter(c: EntryContext) -> Reason | None:
    if not (c.params.iv_rank_min <= c.iv_rank <= c.params.iv_rank_max):
        return Reason(
            "iv_rank", f"IV rank {c.iv_rank:.0f} is outside {c.params.iv_rank_min:.0f}-{c.params.iv_rank_max:.0f}."
        )
    return None


def regime_gate(c: EntryContext) -> Reason | None:
    if c.regime in c.params.blocked_regimes:
        return Reason("regime_gate", f"No entries in the {c.regime.value} regime.")
    return None


def min_confidence(c: EntryContext) -> Reason | None:
    if c.confidence < c.params.min_confidence:
        return Reason("min_confidence", f"Confidence {c.confidence:.2f} is below {c.params.min_confidence:.2f}.")
    return None


def max_trades(c: EntryContext) -> Reason | None:
    if c.trades_today >= c.params.max_trades_per_symbol_day:
        return Reason(
            "max_trades", f"Already {c.trades_today} entries today (limit {c.params.max_trades_per_symbol_day})."
        )
    return None


def cooldown(c: EntryContext) -> Reason | None:
    if c.last_exit_at is None:
        return None
    waited = (c.now - c.last_exit_at).total_seconds()
    if waited < c.params.cooldown_s:
        return Reason("cooldown", f"Last exit {waited:.0f} s ago (cooldown {c.params.cooldown_s} s).")
    return None


def max_open_positions(c: EntryContext) -> Reason | None:
    if c.open_positions >= c.params.max_open_positions:
        return Reason(
            "max_open_positions", f"Already {c.open_positions} positions open (limit {c.params.max_open_positions})."
        )
    return None


def max_spread(c: EntryContext) -> Reason | None:
    quote = c.candidate()
    if quote is None:
        return Reason("no_contract", "No contract near the target delta has a usable quote.")
    if quote.spread_pct * 100.0 > c.params.max_spread_pct:
        return Reason(
            "max_spread",
            f"{quote.contract.symbol} spread {quote.spread_pct * 100:.1f}% of mid (limit {c.params.max_spread_pct}%).",
        )
    return None


BEFORE_POLICY: tuple[tuple[str, Safeguard], ...] = (
    ("trading_state", trading_state),
    ("session_window", session_window),
    ("data_quality", data_quality),
    ("daily_loss_limit", daily_loss_limit),
    ("max_drawdown", max_drawdown),
    ("vix_ceiling", vix_ceiling),
    ("iv_rank", iv_rank_filter),
    ("regime_gate", regime_gate),
    ("max_trades", max_trades),
    ("cooldown", cooldown),
    ("max_open_positions", max_open_positions),
)
"""Known before the policy speaks: a block here masks the buy actions (core.policy.base)."""

AFTER_POLICY: tuple[tuple[str, Safeguard], ...] = (
    ("min_confidence", min_confidence),
    ("max_spread", max_spread),
)
"""Need the policy's confidence or the contract it would buy."""

SAFEGUARDS = BEFORE_POLICY + AFTER_POLICY


def first_block(context: EntryContext, checks: tuple[tuple[str, Safeguard], ...] = SAFEGUARDS) -> Reason | None:
    """Run the safeguards in order; the first that blocks wins."""
    for _, check in checks:
        reason = check(context)
        if reason is not None:
            return reason
    return None
