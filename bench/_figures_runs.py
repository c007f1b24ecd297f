"""`make figures`: the backtests that are not an evaluation's rows: the demo preset on the held-out
tail, the execution gap on the same days, and the real chain quotes beside the model."""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from core.error_band import Banded
from core.figures import Section
from core.market.worlds import make_world, pick_sessions
from core.policy.ensemble import PolicySet
from core.policy.rules import RulePolicy
from core.rl.report import bootstrap_report

CASH = 100_000.0


@dataclass(frozen=True)
class Side:
    """One backtest's P&L after costs with its 95% interval over days and, where run, its band."""

    days: int
    trades: int
    pnl: float
    pnl_lo: float | None
    pnl_hi: float | None
    win_rate: float | None
    band_lo: float | None = None
    band_hi: float | None = None
    decided: bool = True

    def interval_text(self) -> str:
        if self.pnl_lo is None or self.pnl_hi is None:
            return f"{self.pnl:,.0f}"
        return f"{self.pnl:,.0f} [{self.pnl_lo:,.0f}, {self.pnl_hi:,.0f}]"

    def band_text(self) -> str:
        if self.band_lo is None:
            return "-"
        text = f"{self.band_lo:,.0f} to {self.band_hi:,.0f}"
        return text if self.decided else text + " (not decided)"


def backtest_side(source: str, values: dict[str, Any], model: str | None, start: date, end: date, band: bool) -> Side:
    """The rule policy with `values` on `start`..`end` through the worker's cycle, as the
    evaluation runs its rows (worker/offline/evaluate_tasks.py), with the band's two ends."""
    from worker.offline.evaluate_tasks import Settings, _backtest, _band

    world = make_world(source, 7)
    test = pick_sessions(world, start, end, None)
    settings = Settings("figures", source, 7, 0, CASH, model, error_band=band)
    folder = Path(tempfile.mkdtemp(prefix="figures-"))
    try:
        out = _backtest(settings, test, PolicySet(RulePolicy(), None), folder, "demo", values)
        ends = _band(settings, test, lambda: PolicySet(RulePolicy(), None), folder, "demo", values)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    m = bootstrap_report(out.days, CASH, seed=0)
    banded = Banded(float(m["pnl"]), *ends) if ends else None
    return Side(
        len(test), int(m.get("trades") or 0), float(m["pnl"]), m.get("pnl_lo"), m.get("pnl_hi"), m.get("win_rate"),
        banded.low if banded else None, banded.high if banded else None, banded.decided if banded else True,
    )  # fmt: skip


def execution_gap_section(source: str, start: str, end: str) -> Section:
    """The rule policy under the instant and the broker-like fill models on the held-out tail,
    loss limits off (the execution's own gap) and on (as the worker trades)."""
    from bench.execution_gap import measure

    started = time.monotonic()
    rows, values = [], {}
    for limits in ("off", "on"):
        gaps = {
            m: measure(source, date.fromisoformat(start), date.fromisoformat(end), m, 7, "rules", limits == "on")
            for m in ("instant", "broker")
        }
        i, b = gaps["instant"].result.summary, gaps["broker"].result.summary
        mean = {k: statistics.mean(g.trade_returns_pct) if g.trade_returns_pct else 0.0 for k, g in gaps.items()}
        gap = b.total_pnl - i.total_pnl
        rows.append([
            limits, f"{i.total_pnl:,.0f} ({i.trades})", f"{b.total_pnl:,.0f} ({b.trades})", f"{gap:+,.0f}",
            f"{mean['instant']:+.2f}% / {mean['broker']:+.2f}% ({mean['broker'] - mean['instant']:+.2f} points)",
        ])  # fmt: skip
        values[limits] = {"instant": i.total_pnl, "broker": b.total_pnl, "gap": gap, "trades": [i.trades, b.trades]}
    sessions = gaps["instant"].result.sessions
    return Section(
        key="execution_gap",
        title="The execution gap on the held-out tail",
        command=f"python bench/execution_gap.py --sessions {sessions} --csv {source.removeprefix('csv:')}",
        sample=f"out of sample: the held-out tail, {start}..{end} ({sessions} sessions), nothing fitted on it",
        priced="by the model on real 1-minute bars; the instant model fills at the cycle's quote, the broker-like "
        "one after 2 s latency at displayed sizes",
        columns=["loss limits", "P&L instant (trades)", "P&L broker-like (trades)", "gap", "mean return per trade"],
        rows=rows,
        note=(
            "The rule policy on default parameters. With the loss limits off every session trades under both models, "
            "so the gap is the execution's alone; with them on the limits stop each model on different days, and "
            "the dollar gap is then mostly which days a stopped account sat out. The mean return per trade (in % "
            "of its premium) does not depend on the equity left."
        ),
        seconds=time.monotonic() - started,
        values=values,
    )


def real_vs_model_section(chains: Path, data: Path, model: str) -> Section | None:
    """bench/real_vs_model.py's table: each policy on the chain days from real quotes and by the model."""
    from bench.real_vs_model import replay
    from core.options.chain_import import import_chains
    from core.options.history import OptionHistory

    if not chains.is_file():
        return None
    started = time.monotonic()
    cases: list[tuple[str, dict[str, Any], str | None]] = [("rules (long options)", {}, None)]
    cases += [(s.replace("_", " "), {"strategy": s}, None) for s in ("put_credit_spread", "call_credit_spread",
                                                                       "iron_condor")]  # fmt: skip
    if Path(model).is_file():
        cases.append(("RL model (shipped)", {}, model))
    rows, values = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        imported = import_chains(OptionHistory(folder / "cache"), [chains], data / "5min")
        source = f"chains:{folder / 'cache'},vix={data}"
        for i, (name, vals, m) in enumerate(cases):
            real = replay(source, vals, m, folder, f"real-{i}")
            alone = replay(f"{source},pricing=model", vals, m, folder, f"model-{i}")

            def pnl(s: Any) -> str:
                return f"{s.pnl:,.0f}" + ("" if s.pnl_lo is None else f" [{s.pnl_lo:,.0f}, {s.pnl_hi:,.0f}]")

            credit = f"{real.credit:,.0f} / {alone.credit:,.0f}" if "spread" in name or "condor" in name else "n/a"
            gap = f"{real.pnl - alone.pnl:+,.0f}"
            rows.append([name, f"{real.trades} / {alone.trades}", pnl(real), pnl(alone), credit, gap])
            values[name] = {"real": real.__dict__, "model": alone.__dict__}
    days = sorted(imported.days)
    return Section(
        key="real_vs_model",
        title=f"Real quotes beside the model on the {len(days)} SPY chain days",
        command="python bench/real_vs_model.py",
        sample=(
            f"{days[0]}..{days[-1]}, {len(days)} days: no policy was fitted on them; the price model's constants were "
            "fitted by `make calibrate` on chain days, these among them (all but the held-out tail at most), so the "
            "model column is in sample for the price model"
        ),
        priced="left: from the real CBOE quotes (the last quote at or before each moment, carried by the model "
        "anchored to its implied vol); right: by the model alone; the minutes split from 5-minute bars",
        columns=[
            "policy",
            "trades real / model",
            "P&L from real quotes",
            "P&L from the model",
            "credit received real / model",
            "gap (real - model)",
        ],
        rows=rows,
        note="P&L in USD after costs on 100,000, with its 95% bootstrap interval over days.",
        seconds=time.monotonic() - started,
        values={"days": [str(d) for d in days], "rows": values},
    )
