"""The go-live gate: what the paper record must show before real money, criterion by criterion.

The record is the paper trading done in this database, on Alpaca's paper endpoint, with the
strategy, parameter version and model that would trade live (a change of any of them starts a new
record; a paper run against a fake or a proxy earns nothing). Each criterion has a
threshold (a parameter), a value with its sample size (and an interval where one applies), pass or
fail, and what is missing in words. `--mode live` starts only when every criterion passes, or on
an operator's override (db/go_live.py) with a reason, a size cap and an expiry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from core.metrics import max_drawdown_pct, profit_factor
from core.params import TradingParams

PAPER_TRADING_HOST = "paper-api.alpaca.markets"  # the only host whose paper runs earn the record
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0  # the same record always gives the same interval


@dataclass(frozen=True)
class ParityDayFigure:
    day: str
    decisions: int
    agreeing: int
    cost_median: float | None  # $ per contract, paper minus simulated (positive: paper worse)


@dataclass(frozen=True)
class PaperRecord:
    """What the database holds of the paper trading that earned (or not) the right to go live."""

    strategy: str
    param_version: int
    model_version: str
    sessions: list[str]  # ISO days traded on paper with these versions, oldest first
    trade_pnls: list[float]  # closed paper trades, in exit order
    session_pnls: list[float]  # P&L per session, as `sessions`
    equity: list[float]  # paper equity, in time order
    parity: list[ParityDayFigure]  # recorded days of the record replayed by the parity report
    incidents: list[tuple[str, str, str]]  # (day, code, message) in the record's last sessions
    other_versions: list[str] = field(default_factory=list)  # earlier records, in words


@dataclass(frozen=True)
class Criterion:
    name: str
    threshold: str
    value: str
    sample: int
    passed: bool
    missing: str = ""  # what would make it pass, in words
    interval: tuple[float, float] | None = None
    link: str = ""  # the console page behind the figure


@dataclass(frozen=True)
class GateReport:
    criteria: list[Criterion]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.criteria)

    @property
    def failing(self) -> list[Criterion]:
        return [c for c in self.criteria if not c.passed]

    def summary(self) -> str:
        if self.passed:
            return "go-live gate met: every criterion passes"
        return "go-live gate not met: " + "; ".join(f"{c.name} {c.value} (needs {c.threshold})" for c in self.failing)


def expectancy_interval(pnls: list[float], level: float = 0.95) -> tuple[float, float] | None:
    """A seeded bootstrap interval of the mean trade P&L (None under two trades)."""
    if len(pnls) < 2:
        return None
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    values = np.asarray(pnls, dtype=float)
    means = values[rng.integers(0, values.size, (BOOTSTRAP_RESAMPLES, values.size))].mean(axis=1)
    lo, hi = np.percentile(means, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(lo), float(hi)


def _criterion(
    name: str,
    threshold: str,
    value: str,
    sample: int,
    passed: bool,
    missing: str,
    link: str,
    interval: tuple[float, float] | None = None,
) -> Criterion:
    """A criterion; `missing` is said only when it fails."""
    return Criterion(name, threshold, value, sample, passed, "" if passed else missing, interval, link)


def _counts(record: PaperRecord, p: TradingParams) -> list[Criterion]:
    sessions, trades = len(record.sessions), len(record.trade_pnls)
    need_s, need_t = p.gate_min_paper_sessions, p.gate_min_paper_trades
    return [
        _criterion("paper sessions", f">= {need_s}", str(sessions), sessions, sessions >= need_s,
                   f"{need_s - sessions} more paper sessions", "Trades"),
        _criterion("paper trades", f">= {need_t}", str(trades), trades, trades >= need_t,
                   f"{need_t - trades} more closed paper trades", "Trades"),
    ]  # fmt: skip


def _parity(record: PaperRecord, p: TradingParams) -> list[Criterion]:
    days = record.parity
    decisions = sum(d.decisions for d in days)
    share = sum(d.agreeing for d in days) / decisions * 100.0 if decisions else math.nan
    low = [d.day for d in days if d.decisions and d.agreeing / d.decisions * 100.0 < p.gate_min_parity_pct]
    enough = len(days) >= p.gate_min_parity_days
    if not enough:
        missing = f"{p.gate_min_parity_days - len(days)} more recorded days with a parity report"
    else:
        missing = f"parity below {p.gate_min_parity_pct:g}% on {len(low)} days: open them ({', '.join(low[:5])})"
    costs = [d.cost_median for d in days if d.cost_median is not None]
    cost = float(np.median(costs)) if costs else math.nan
    cost_missing = "paper fills cost more than the simulator's: open the parity days" if costs else (
        "fills on recorded days to compare")  # fmt: skip
    return [
        _criterion("parity: decisions reproduced", f">= {p.gate_min_parity_pct:g}% on >= {p.gate_min_parity_days} days",
                   f"{share:.1f}% of {decisions} on {len(days)} days" if decisions else "n/a", len(days),
                   enough and decisions > 0 and share >= p.gate_min_parity_pct, missing, "Parity"),
        _criterion("parity: median fill cost vs the simulator", f"<= {p.gate_max_parity_cost:.2f} $/contract",
                   f"{cost:+.2f} $/contract" if costs else "n/a", len(costs),
                   bool(costs) and cost <= p.gate_max_parity_cost, cost_missing, "Parity"),
    ]  # fmt: skip


def _performance(record: PaperRecord, p: TradingParams) -> list[Criterion]:
    pnls = record.trade_pnls
    interval = expectancy_interval(pnls)
    mean = float(np.mean(pnls)) if pnls else math.nan
    drawdown = -max_drawdown_pct(record.equity) if record.equity else math.nan
    pf = profit_factor(pnls) if pnls else math.nan
    shown_pf = "n/a" if math.isnan(pf) else ("inf" if math.isinf(pf) else f"{pf:.2f}")
    return [
        _criterion("expectancy per trade (95% interval, lower end)", "> 0 $",
                   "n/a" if interval is None else f"{mean:+,.2f} $ [{interval[0]:+,.2f}, {interval[1]:+,.2f}]",
                   len(pnls), interval is not None and interval[0] > 0,
                   "an interval of expectancy above zero: more trades or a better edge", "Trades", interval),
        _criterion("max drawdown", f"<= {p.gate_max_drawdown_pct:g}%",
                   "n/a" if math.isnan(drawdown) else f"{drawdown:.1f}%", len(record.equity),
                   not math.isnan(drawdown) and drawdown <= p.gate_max_drawdown_pct,
                   "a paper record within the drawdown bound", "Trades"),
        _criterion("profit factor", f">= {p.gate_min_profit_factor:g}", shown_pf, len(pnls),
                   not math.isnan(pf) and pf >= p.gate_min_profit_factor, "gains larger against losses", "Trades"),
    ]  # fmt: skip


def _hygiene(record: PaperRecord, p: TradingParams) -> list[Criterion]:
    incidents = record.incidents
    listed = ", ".join(f"{code} on {day}" for day, code, _ in incidents[:4])
    earned = f"strategy {record.strategy}, parameter version {record.param_version}, model {record.model_version}"
    earlier = f"; earlier records: {'; '.join(record.other_versions[:3])}" if record.other_versions else ""
    return [
        _criterion(f"no open incident in the last {p.gate_clean_sessions} sessions", "none",
                   f"{len(incidents)}: {listed}" if incidents else "none", len(incidents), not incidents,
                   "resolve them and trade clean sessions", "Audit"),
        _criterion("versions that earned the record", earned,
                   earned if record.sessions else "no paper record with them", len(record.sessions),
                   bool(record.sessions), "trade these versions on paper (a change starts a new record)" + earlier,
                   "Audit"),
    ]  # fmt: skip


def evaluate_gate(record: PaperRecord, params: TradingParams) -> GateReport:
    """Every criterion of the gate for this record, in a fixed order."""
    return GateReport(
        _counts(record, params) + _parity(record, params) + _performance(record, params) + _hygiene(record, params)
    )
