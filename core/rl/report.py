"""Out-of-sample figures with bootstrap confidence intervals, for one policy on one test range.

Day-level figures (P&L, Sharpe, max drawdown, trades per day) resample whole days with
replacement; trade-level figures (win rate, profit factor) resample trades. Seeded, so the same
inputs give the same intervals.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.metrics import max_drawdown_pct, profit_factor, sharpe

FIGURES: tuple[str, ...] = ("pnl", "win_rate", "profit_factor", "sharpe", "max_drawdown_pct", "trades_per_day")


@dataclass(frozen=True)
class DayResult:
    """What a policy did on one test session: its P&L (fees included) and its closed trades."""

    day: str
    pnl: float
    trade_pnls: tuple[float, ...]
    hold_minutes: tuple[float, ...] = ()  # each closed trade's holding time, entry fill to last exit fill


def holding_figures(days: Sequence[DayResult]) -> dict[str, float | None]:
    """The holding-time distribution of the closed trades: median, 10th and 90th percentiles in
    minutes, and the share closed within two minutes (a round trip that pays the spread twice)."""
    held = np.asarray([m for d in days for m in d.hold_minutes], dtype=float)
    if not held.size:
        return {"hold_median_min": None, "hold_p10_min": None, "hold_p90_min": None, "held_2min_or_less": None}
    p10, p50, p90 = np.percentile(held, [10, 50, 90])
    return {
        "hold_median_min": _finite(float(p50)),
        "hold_p10_min": _finite(float(p10)),
        "hold_p90_min": _finite(float(p90)),
        "held_2min_or_less": _finite(float((held <= 2.0).mean())),
    }


def _equity_drawdown(daily: np.ndarray, capital: float) -> float:
    return max_drawdown_pct(np.concatenate([[capital], capital + np.cumsum(daily)]))


def _finite(x: float) -> float | None:
    return None if not math.isfinite(x) else round(float(x), 6)


def point_figures(days: Sequence[DayResult], capital: float) -> dict[str, float]:
    daily = np.asarray([d.pnl for d in days], dtype=float)
    trades = [p for d in days for p in d.trade_pnls]
    return {
        "pnl": float(daily.sum()),
        "win_rate": sum(1 for p in trades if p > 0) / len(trades) if trades else float("nan"),
        "profit_factor": profit_factor(trades) if trades else float("nan"),
        "sharpe": sharpe(daily, capital),
        "max_drawdown_pct": _equity_drawdown(daily, capital),
        "trades_per_day": len(trades) / len(days) if days else 0.0,
    }


def _interval(samples: list[float], level: float) -> tuple[float | None, float | None]:
    finite = [s for s in samples if math.isfinite(s)]
    if not finite:
        return None, None
    lo, hi = np.percentile(finite, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return _finite(float(lo)), _finite(float(hi))


def bootstrap_report(
    days: Sequence[DayResult], capital: float, reps: int = 1000, seed: int = 0, level: float = 0.95
) -> dict[str, float | int | None]:
    """Every figure with its `level` interval: {'pnl': x, 'pnl_lo': a, 'pnl_hi': b, ...}."""
    point = point_figures(days, capital)
    out: dict[str, float | int | None] = {k: _finite(v) for k, v in point.items()}
    out.update(days=len(days), trades=sum(len(d.trade_pnls) for d in days))
    out.update(holding_figures(days))
    if not days:
        return out
    rng = np.random.default_rng(seed)
    daily = np.asarray([d.pnl for d in days], dtype=float)
    counts = np.asarray([len(d.trade_pnls) for d in days], dtype=float)
    trades = np.asarray([p for d in days for p in d.trade_pnls], dtype=float)
    by_day: dict[str, Callable[[np.ndarray], float]] = {
        "pnl": lambda i: float(daily[i].sum()),
        "sharpe": lambda i: sharpe(daily[i], capital),
        "max_drawdown_pct": lambda i: _equity_drawdown(daily[i], capital),
        "trades_per_day": lambda i: float(counts[i].mean()),
    }
    by_trade: dict[str, Callable[[np.ndarray], float]] = {
        "win_rate": lambda i: float((trades[i] > 0).mean()),
        "profit_factor": lambda i: profit_factor(trades[i].tolist()),
    }
    day_draws = rng.integers(0, daily.size, size=(reps, daily.size))
    for name, fn in by_day.items():
        out[f"{name}_lo"], out[f"{name}_hi"] = _interval([fn(i) for i in day_draws], level)
    if trades.size:
        trade_draws = rng.integers(0, trades.size, size=(reps, trades.size))
        for name, fn in by_trade.items():
            out[f"{name}_lo"], out[f"{name}_hi"] = _interval([fn(i) for i in trade_draws], level)
    return out


def pooled_drawdown(
    folds: Sequence[Sequence[DayResult]], capital: float, reps: int = 1000, seed: int = 0, level: float = 0.95
) -> dict[str, float | None]:
    """Max drawdown of folds pooled, each fold on its own capital (a fold restarts at full capital,
    so adding every fold's P&L onto one capital would overstate it, e.g. -110%): the worst fold's
    drawdown, with an interval from resampling each fold's days within that fold."""
    ready = [np.asarray([d.pnl for d in f], dtype=float) for f in folds if len(f)]
    if not ready:
        return {"max_drawdown_pct": None, "max_drawdown_pct_lo": None, "max_drawdown_pct_hi": None}
    point = min(_equity_drawdown(daily, capital) for daily in ready)
    rng = np.random.default_rng(seed)
    draws = [min(_equity_drawdown(d[rng.integers(0, d.size, d.size)], capital) for d in ready) for _ in range(reps)]
    lo, hi = _interval(draws, level)
    return {"max_drawdown_pct": _finite(point), "max_drawdown_pct_lo": lo, "max_drawdown_pct_hi": hi}
