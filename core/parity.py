"""Live against replayed: how far a recorded day's decisions and fills are from the simulator's.

A recorded paper or live day is replayed through the same cycle on its own recorded inputs
(worker/offline/parity.py); this module compares the two. Decisions are matched on (time,
symbol) and agree when action, final action, block code and exit code are all equal. Orders are
matched on (minute, contract, side, opening) in the order they were sent; each pair gives the real
fill beside the fill the simulator gave on the same recorded quotes.

Slippage is real minus simulated price, per contract, and in % of the simulated price; its cost
is signed so that positive means the live fill was worse (paid more on a buy, got less on a sell).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

DECISION_FIELDS = ("action", "final_action", "blocked_by", "exit_code")
ORDER_KEY = ("minute", "contract", "side", "opening")


class FillOutcome(StrEnum):
    BOTH = "both"  # filled live and in simulation
    LIVE_ONLY = "live_only"  # filled live; the simulator did not fill it (or never sent it)
    SIM_ONLY = "sim_only"  # the simulator filled it; live did not (or never sent it)
    NEITHER = "neither"


@dataclass(frozen=True)
class DecisionDifference:
    time: datetime
    symbol: str
    live: str  # "action/final_action/blocked_by/exit_code", or "-" when absent
    replayed: str


@dataclass(frozen=True)
class DecisionAgreement:
    compared: int  # (time, symbol) pairs either side decided
    agreeing: int
    differences: list[DecisionDifference]

    @property
    def agreement_pct(self) -> float:
        return 100.0 * self.agreeing / self.compared if self.compared else 100.0


@dataclass(frozen=True)
class FillComparison:
    time: datetime
    contract: str
    side: str
    opening: bool
    reason_code: str
    live_qty: int
    live_price: float | None
    sim_qty: int
    sim_price: float | None
    outcome: FillOutcome

    @property
    def slippage(self) -> float | None:
        """Real minus simulated price per share of premium (None unless both filled)."""
        if self.live_price is None or self.sim_price is None:
            return None
        return self.live_price - self.sim_price

    @property
    def slippage_pct(self) -> float | None:
        slip = self.slippage
        return None if slip is None or not self.sim_price else 100.0 * slip / self.sim_price

    @property
    def cost_per_contract(self) -> float | None:
        """Dollars per contract the live fill cost beyond the simulated one (x100 multiplier)."""
        slip = self.slippage
        return None if slip is None else 100.0 * slip * (1.0 if self.side == "buy" else -1.0)


@dataclass(frozen=True)
class ParityDay:
    day: date
    agreement: DecisionAgreement
    fills: list[FillComparison]

    def count(self, outcome: FillOutcome) -> int:
        return sum(1 for f in self.fills if f.outcome is outcome)

    def cost_quantiles(self) -> tuple[float | None, float | None, float | None]:
        """p10, median, p90 of the per-contract cost of live against simulated fills."""
        costs = [c for f in self.fills if (c := f.cost_per_contract) is not None]
        if not costs:
            return None, None, None
        q = np.quantile(np.array(costs), [0.1, 0.5, 0.9])
        return float(q[0]), float(q[1]), float(q[2])

    def median_slippage_pct(self) -> float | None:
        pcts = [p for f in self.fills if (p := f.slippage_pct) is not None]
        return float(np.median(pcts)) if pcts else None


def _label(row: Any) -> str:
    return "/".join("" if pd.isna(row[f]) else str(row[f]) for f in DECISION_FIELDS)


def compare_decisions(live: pd.DataFrame, replayed: pd.DataFrame, keep: int = 20) -> DecisionAgreement:
    """Frames with time, symbol and DECISION_FIELDS; `keep` first differences are listed."""
    a = {(r["time"], r["symbol"]): _label(r) for _, r in live.iterrows()}  # empty frames: no rows
    b = {(r["time"], r["symbol"]): _label(r) for _, r in replayed.iterrows()}
    keys = sorted(set(a) | set(b))
    diffs = [
        DecisionDifference(t, s, a.get((t, s), "-"), b.get((t, s), "-"))
        for t, s in keys
        if a.get((t, s)) != b.get((t, s))
    ]
    return DecisionAgreement(len(keys), len(keys) - len(diffs), diffs[:keep])


def _orders_by_key(orders: pd.DataFrame) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
    out: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    if orders.empty:
        return out
    for r in orders.sort_values("created_at", kind="stable").to_dict("records"):
        minute = pd.Timestamp(r["created_at"]).floor("min").to_pydatetime()
        out.setdefault((minute, r["contract"], r["side"], bool(r["opening"])), []).append(r)
    return out


def _price(r: dict[str, Any] | None) -> tuple[int, float | None]:
    if r is None or not r["filled_qty"]:
        return 0, None
    price = r["avg_fill_price"]
    return int(r["filled_qty"]), (None if price is None or pd.isna(price) else float(price))


def compare_orders(live: pd.DataFrame, replayed: pd.DataFrame) -> list[FillComparison]:
    """Frames with created_at, contract, side, opening, reason_code, filled_qty, avg_fill_price."""
    a, b = _orders_by_key(live), _orders_by_key(replayed)
    out: list[FillComparison] = []
    for key in sorted(set(a) | set(b)):
        lives, sims = a.get(key, []), b.get(key, [])
        for i in range(max(len(lives), len(sims))):
            lr = lives[i] if i < len(lives) else None
            sr = sims[i] if i < len(sims) else None
            (lq, lp), (sq, sp) = _price(lr), _price(sr)
            outcome = (
                FillOutcome.BOTH
                if lq and sq
                else FillOutcome.LIVE_ONLY
                if lq
                else FillOutcome.SIM_ONLY
                if sq
                else FillOutcome.NEITHER
            )
            first = lr or sr
            assert first is not None
            out.append(
                FillComparison(key[0], key[1], key[2], key[3], str(first["reason_code"]), lq, lp, sq, sp, outcome)
            )
    return out


def badness(agreement_pct: float, one_sided_fills: int, cost_median: float | None) -> tuple[float, int, float]:
    """The listing order of parity days: lowest decision agreement first, then the most fills on
    one side only, then the dearest median slippage (the CLI and the console both sort by it)."""
    return (agreement_pct, -one_sided_fills, -abs(cost_median or 0.0))


def worst_first(days: list[ParityDay]) -> list[ParityDay]:
    """Parity days in `badness` order."""

    def key(d: ParityDay) -> tuple[float, int, float]:
        one_sided = d.count(FillOutcome.LIVE_ONLY) + d.count(FillOutcome.SIM_ONLY)
        return badness(d.agreement.agreement_pct, one_sided, d.cost_quantiles()[1])

    return sorted(days, key=key)
