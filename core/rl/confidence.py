"""Does the policy's confidence mean anything? Realized outcomes by confidence bucket, out of
sample: the trades it took (count, win rate, mean P&L) and the entries it wanted (how many, how
many a safeguard blocked). And the trades a higher `min_confidence` would have kept, at several
thresholds: the subset of the trades taken at or above each one (what raising the threshold
keeps; it cannot say what a lower threshold would have added, since those entries were not
taken)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

EDGES: tuple[float, ...] = (0.0, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0001)
THRESHOLDS: tuple[float, ...] = (0.5, 0.6, 0.7, 0.75, 0.8, 0.9)


@dataclass(frozen=True)
class Taken:
    """A trade the policy took: its entry confidence and realized P&L."""

    confidence: float
    pnl: float


@dataclass(frozen=True)
class Wanted:
    """An entry the policy chose: its confidence, and whether a safeguard blocked it."""

    confidence: float
    blocked: bool


def bucket_of(confidence: float) -> str:
    for lo, hi in itertools.pairwise(EDGES):
        if lo <= confidence < hi:
            return f"{lo:.1f}-{min(hi, 1.0):.1f}"
    return f"{EDGES[-2]:.1f}-1.0"


def bucket_sums(taken: Sequence[Taken], wanted: Sequence[Wanted]) -> dict[str, dict[str, float]]:
    """Per bucket: trades, wins, pnl (sum), wanted, blocked. Sums, so folds pool by adding."""
    out: dict[str, dict[str, float]] = {}

    def row(confidence: float) -> dict[str, float]:
        return out.setdefault(bucket_of(confidence), {"trades": 0, "wins": 0, "pnl": 0.0, "wanted": 0, "blocked": 0})

    for t in taken:
        r = row(t.confidence)
        r["trades"] += 1
        r["wins"] += 1 if t.pnl > 0 else 0
        r["pnl"] += t.pnl
    for w in wanted:
        r = row(w.confidence)
        r["wanted"] += 1
        r["blocked"] += 1 if w.blocked else 0
    return dict(sorted(out.items()))


def add_sums(parts: Sequence[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    total: dict[str, dict[str, float]] = {}
    for part in parts:
        for bucket, sums in part.items():
            into = total.setdefault(bucket, {k: 0 for k in sums})
            for k, v in sums.items():
                into[k] = into.get(k, 0) + v
    return dict(sorted(total.items()))


def at_thresholds(taken: Sequence[Taken], thresholds: Sequence[float] = THRESHOLDS) -> list[dict[str, float]]:
    """The trades taken at or above each threshold: count, win rate, mean and total P&L."""
    rows = []
    for t in thresholds:
        kept = [x.pnl for x in taken if x.confidence >= t]
        rows.append(
            {
                "min_confidence": t,
                "trades": len(kept),
                "win_rate": sum(1 for p in kept if p > 0) / len(kept) if kept else None,
                "mean_pnl": sum(kept) / len(kept) if kept else None,
                "pnl": sum(kept),
            }
        )
    return rows
