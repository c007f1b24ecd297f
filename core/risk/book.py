"""The book's risk now: net greeks in dollars, the shock grid, and the limits an entry must keep.

Greeks are finite differences of the same model value the shock grid uses (core/risk/shock.py:
each leg on the surface at its strike), so the two never disagree:

- delta $: what a +1% move of the underlying makes, to first order;
- gamma $: how much that delta $ changes for a further 1% move (a 1% move makes about
  delta $ + gamma $ / 2);
- vega $: a one-point rise of the same-day vol;
- theta $: ten minutes passing, nothing else moving.

`limit_breach` is the safeguard: the book with the entry added must keep |delta $| and |gamma $|
within their % of equity, and the worst loss of the shock grid within its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.options.day_vol import same_day_vol
from core.params import TradingParams
from core.risk.shock import HeldLeg, Shock, book_value, shock_grid
from core.types import Reason

STEP_PCT = 0.5  # the central difference's half step, in % of the underlying
THETA_MIN = 10.0


@dataclass(frozen=True)
class BookGreeks:
    delta_usd: float  # per +1% of the underlying
    gamma_usd: float  # change of delta_usd per +1%
    vega_usd: float  # per vol point
    theta_usd: float  # per 10 minutes


@dataclass(frozen=True)
class BookRisk:
    greeks: BookGreeks
    grid: list[Shock]

    @property
    def worst(self) -> Shock | None:
        return min(self.grid, key=lambda s: s.pnl) if self.grid else None


def book_greeks(legs: list[HeldLeg], spots: dict[str, float], vix: float, minutes_left: float) -> BookGreeks:
    """Net dollar greeks of the legs (every underlying moved by the same percentage)."""
    if not legs:
        return BookGreeks(0.0, 0.0, 0.0, 0.0)
    vol = same_day_vol(vix, math.nan)
    h = STEP_PCT / 100.0

    def at(move: float, vol_: float = vol, minutes: float = minutes_left) -> float:
        return book_value(legs, {u: s * (1.0 + move) for u, s in spots.items()}, vol_, minutes)

    mid, up, down = at(0.0), at(h), at(-h)
    delta = (up - down) / (2 * h) * 0.01
    gamma = (up - 2 * mid + down) / (h * h) * 0.01 * 0.01
    vega = at(0.0, vol + 1.0) - mid
    theta = at(0.0, vol, max(minutes_left - THETA_MIN, 0.0)) - mid
    return BookGreeks(delta, gamma, vega, theta)


def book_risk(legs: list[HeldLeg], spots: dict[str, float], vix: float, minutes_left: float) -> BookRisk:
    return BookRisk(book_greeks(legs, spots, vix, minutes_left), shock_grid(legs, spots, vix, minutes_left))


def limit_breach(
    held: list[HeldLeg],
    entry: list[HeldLeg],
    spots: dict[str, float],
    vix: float,
    minutes_left: float,
    equity: float,
    params: TradingParams,
) -> Reason | None:
    """The first limit the book with `entry` added would break, with its own code (None: none)."""
    if equity <= 0 or not entry:
        return None
    legs = held + entry
    greeks = book_greeks(legs, spots, vix, minutes_left)
    checks = (
        ("risk_delta", "net delta", abs(greeks.delta_usd), params.max_book_delta_pct, "per 1% move"),
        ("risk_gamma", "net gamma", abs(greeks.gamma_usd), params.max_book_gamma_pct, "per 1% move"),
    )
    for code, name, value, limit_pct, unit in checks:
        limit = equity * limit_pct / 100.0
        if limit_pct > 0 and value > limit:
            return Reason(code, f"The entry would take the book's {name} to {value:,.0f} $ {unit} "
                                f"(limit {limit_pct:g}% of equity: {limit:,.0f} $).")  # fmt: skip
    if params.max_shock_loss_pct > 0:
        worst = min(shock_grid(legs, spots, vix, minutes_left), key=lambda s: s.pnl)
        limit = equity * params.max_shock_loss_pct / 100.0
        if -worst.pnl > limit:
            return Reason("risk_shock", f"The entry would lose {-worst.pnl:,.0f} $ if the underlying moved "
                                        f"{worst.move_pct:+g}% in {worst.horizon_min} minutes (limit "
                                        f"{params.max_shock_loss_pct:g}% of equity: {limit:,.0f} $).")  # fmt: skip
    return None


def value_at_risk(daily_pnl: list[float], level: float = 0.95) -> tuple[float, float, int] | None:
    """Historical VaR and expected shortfall of one day's P&L at `level` (positive: a loss), from
    the recorded days, with the sample size; None under ten days."""
    n = len(daily_pnl)
    if n < 10:
        return None
    ordered = sorted(daily_pnl)
    k = max(1, math.floor((1.0 - level) * n))
    var = -ordered[k - 1]
    tail = ordered[:k]
    return var, -sum(tail) / len(tail), n
