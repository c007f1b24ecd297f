"""How the simulated broker executes: the broker's session rules and the execution model.

`BrokerRules` are the broker's own times for same-day-expiry options on broad-based ETFs
(Alpaca's 0DTE guide: orders submitted from 15:30 ET are rejected, auto-liquidation starts at
15:45 ET; both move with an early close). `ExecutionModel` says how an order meets the market:

- `broker` (the default): an order reaches the market `latency_s` after it is sent and meets the
  quote at that moment, priced from the underlying's path inside the bar (not the quote the
  order was priced from). The broker re-checks resting orders every `update_s` seconds; each
  check sees a displayed size on each side, and a limit takes at most that size (partial fills).
  Market orders walk the book, one cent per displayed size. A cancel takes effect at the first
  broker update after `latency_s`, and fills can land before it.
- `instant`: the model earlier versions used, kept for comparison (`--execution instant`): no
  latency, unlimited size, one broker update per minute at the cycle's own quote.

Deterministic for a seed: the displayed sizes come from a hash of (seed, contract, time).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from core.calendar import Session

# The broker's cutoff for orders on expiring contracts, in minutes before the close. Parameter
# validation refuses an entry cutoff or an end-of-day flatten at or after it.
BROKER_CUTOFF_BEFORE_CLOSE_MIN = 30
BROKER_LIQUIDATION_BEFORE_CLOSE_MIN = 15
TICK = 0.01


@dataclass(frozen=True)
class BrokerRules:
    """The broker's session rules for expiring contracts, relative to each session's close."""

    opening_cutoff_before_close_min: int = BROKER_CUTOFF_BEFORE_CLOSE_MIN
    closing_cutoff_before_close_min: int = BROKER_CUTOFF_BEFORE_CLOSE_MIN
    refuse_closing_after_cutoff: bool = True  # Alpaca: every order on a 0DTE contract after 15:30
    liquidation_before_close_min: int = BROKER_LIQUIDATION_BEFORE_CLOSE_MIN

    def opening_cutoff(self, session: Session) -> datetime:
        return session.close - timedelta(minutes=self.opening_cutoff_before_close_min)

    def closing_cutoff(self, session: Session) -> datetime:
        return session.close - timedelta(minutes=self.closing_cutoff_before_close_min)

    def liquidation_time(self, session: Session) -> datetime:
        return session.close - timedelta(minutes=self.liquidation_before_close_min)


@dataclass(frozen=True)
class ExecutionModel:
    """How orders meet the simulated market (see the module docstring)."""

    name: str = "broker"
    latency_s: float = 2.0
    update_s: float = 5.0
    # Displayed contracts at the money on each side; fewer in the wings. No size data was at hand
    # to calibrate it (the real snapshots carry none), so it is set low rather than high.
    atm_displayed_size: int = 40
    size_jitter: float = 0.5  # each update shows atm size x (1 - jitter .. 1 + jitter)
    seed: int = 7

    @property
    def unlimited(self) -> bool:
        return self.atm_displayed_size <= 0


BROKER_MODEL = ExecutionModel()
INSTANT_MODEL = ExecutionModel(name="instant", latency_s=0.0, update_s=60.0, atm_displayed_size=0, size_jitter=0.0)
EXECUTION_MODELS: dict[str, ExecutionModel] = {"broker": BROKER_MODEL, "instant": INSTANT_MODEL}


def execution_model(name: str, seed: int = 7) -> ExecutionModel:
    """The named model, seeded; a clear error for an unknown name."""
    if name not in EXECUTION_MODELS:
        raise ValueError(f"--execution must be one of {sorted(EXECUTION_MODELS)}, got {name!r}")
    base = EXECUTION_MODELS[name]
    return ExecutionModel(base.name, base.latency_s, base.update_s, base.atm_displayed_size, base.size_jitter, seed)


def displayed_size(
    model: ExecutionModel, contract_symbol: str, strike: float, spot: float, at: datetime, side: str
) -> int:
    """Contracts shown on one side of the quote at one broker update (deterministic per seed)."""
    if model.unlimited:
        return 1 << 30
    key = f"{model.seed}|{contract_symbol}|{side}|{int(at.timestamp() * 1000)}".encode()
    u = zlib.crc32(key) / 4294967296.0
    away_pct = abs(math.log(strike / spot)) * 100.0 if spot > 0 and strike > 0 else 0.0
    wing = math.exp(-away_pct / 2.0)
    jitter = 1.0 - model.size_jitter + 2.0 * model.size_jitter * u
    return max(1, int(model.atm_displayed_size * wing * jitter))


def intrabar_price(open_: float, high: float, low: float, close: float, frac: float) -> float:
    """The underlying's path inside one bar: open, the nearer extreme, the other, then close,
    a third of the minute each (a down bar visits the high first, an up bar the low)."""
    first, second = (high, low) if close < open_ else (low, high)
    points = (open_, first, second, close)
    x = min(max(frac, 0.0), 1.0) * 3.0
    k = min(int(x), 2)
    return points[k] + (points[k + 1] - points[k]) * (x - k)


def update_times(after: datetime, until: datetime, step_s: float) -> list[datetime]:
    """Broker update times in (after, until] on a grid of `step_s` seconds (epoch-aligned)."""
    if until <= after:
        return []
    a, b = after.timestamp(), until.timestamp()
    first = math.floor(a / step_s) * step_s + step_s
    grid = np.arange(first, b + 1e-9, step_s)
    return [after + timedelta(seconds=float(t - a)) for t in grid]


def walk_the_book(top: float, size: int, qty: int, buying: bool) -> list[tuple[int, float]]:
    """A market order's executions: `size` contracts at the top, then one cent worse per `size`."""
    out: list[tuple[int, float]] = []
    left, level = qty, 0
    while left > 0:
        take = min(left, size)
        price = top + level * TICK if buying else top - level * TICK
        if not buying and price < TICK:
            break  # nobody bids: the rest stays working
        out.append((take, round(price, 2)))
        left -= take
        level += 1
    return out


@dataclass(frozen=True)
class LegTop:
    """One leg at a broker update: the price its side meets (the ask to buy, the bid to sell), the
    size displayed there, contracts per structure, and +1 to buy or -1 to sell."""

    price: float
    size: int
    ratio: int
    sign: int


def structure_executions(legs: list[LegTop], left: int, limit: float | None) -> list[tuple[int, tuple[float, ...]]]:
    """Whole structures filled at one update, every leg together (never part of the legs): a
    limit fills what every leg's displayed size allows at the natural net price (buys at the
    ask, sells at the bid) when that net is at or better than the limit (debit +, credit -); a
    market order walks every leg's book together, one cent worse a level. A leg sold where nobody
    bids goes at 0.00 (a worthless wing closes for nothing, never for more)."""
    out: list[tuple[int, tuple[float, ...]]] = []
    level = 0
    while left > 0:
        if any(leg.price <= 0 and leg.sign > 0 for leg in legs):
            break  # a leg nobody offers: nothing fills (never part of the legs)
        # a leg sold where nobody bids (a worthless wing) goes at 0.00, never better
        prices = tuple(max(round(leg.price + leg.sign * level * TICK, 2), 0.0) for leg in legs)
        size = min(leg.size // leg.ratio for leg in legs)
        net = sum(leg.sign * leg.ratio * p for leg, p in zip(legs, prices, strict=True))
        if size <= 0 or (limit is not None and net > limit + 1e-9):
            break
        take = min(left, size)
        out.append((take, prices))
        left -= take
        if limit is not None:
            break  # a limit takes the displayed size once per update
        level += 1
    return out
