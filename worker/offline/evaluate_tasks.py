"""The walk-forward evaluation's units of work, one per (fold, seed, policy): plain functions of
picklable inputs, so the same code runs in this process (`--workers 1`) or as Ray tasks on
this machine's cores or a cluster (worker/offline/evaluate.py fans them out).

Each task builds its own world from the source name, trains (the RL task) and backtests in a
throwaway folder of its own (on a cluster, the node's local disk), and returns only figures.
The random-entries task takes the RL task's result as its input, so it draws as many entries
as the RL policy made; Ray passes the result when the RL task has finished. Nothing depends on
which process runs a task: with the same seeds the results equal a serial run's.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

from core.calendar import NY, Session
from core.error_band import BAND_ENDS
from core.market.worlds import make_world
from core.policy.baselines import RandomEntryPolicy
from core.policy.ensemble import PolicySet
from core.policy.rl import RLPolicy
from core.policy.rules import RulePolicy
from core.rl.calibration import calibration_note, fit_isotonic
from core.rl.confidence import Taken, Wanted
from core.rl.metadata import ModelMetadata, metadata_path
from core.rl.report import DayResult
from core.rl.train import TrainConfig, train
from core.types import ActionSet, PolicyMode
from db.engine import make_engine
from db.models import Decision, Equity, Trade
from worker.offline.backtest import run_backtest, scratch_database
from worker.runtime import RunOptions

BUY_ACTIONS = ("buy_call", "buy_put")


@dataclass(frozen=True)
class Fold:
    index: int
    train: list[Session]
    test: list[Session]


@dataclass(frozen=True)
class Settings:
    """What every task needs to know about the evaluation."""

    evaluation_id: str
    source: str
    world_seed: int
    timesteps: int
    cash: float
    model: str | None  # a given model (no training), or None: train one per fold and seed
    thresholds: tuple[float, ...] = ()  # min_confidence values the RL policy is also backtested at
    keep_models: bool = False  # return each trained model's files with its result (make model ships one)
    option_history: str | None = None  # real option bars to price from (python -m worker.option_history)
    error_band: bool = True  # also backtest at the calibration error's two ends (core/error_band.py)
    strategies: tuple[str, ...] = ()  # the rules also trading these structures (core/structures), one row each
    action_set: str = "long"  # the RL model's actions (core.types.ActionSet): credit trains the premium seller
    include_held_out: bool = False  # training may use the held-out tail (core/market/holdout.py): told explicitly


@dataclass(frozen=True)
class TrainedFiles:
    """A model trained inside a task, as bytes: it travels back from a Ray worker on any node."""

    zip_bytes: bytes
    metadata_json: str


@dataclass(frozen=True)
class PolicyResult:
    """One policy's out-of-sample result on one fold."""

    fold: int
    policy: str
    version: str
    seed: int | None
    days: list[DayResult]
    note: str
    blocked: dict[str, int] | None
    entries: int
    taken: list[Taken] = field(default_factory=list)
    wanted: list[Wanted] = field(default_factory=list)
    at_thresholds: list[PolicyResult] = field(default_factory=list)  # the RL policy re-run at other thresholds
    band: tuple[float, float] | None = None  # total P&L at the calibration error's low and high ends
    trained: TrainedFiles | None = None  # with Settings.keep_models: the model this fold trained


@dataclass(frozen=True)
class BacktestReadout:
    """What the evaluation reads back from one backtest's throwaway database."""

    days: list[DayResult]  # P&L per test session (day-end equity change) and its closed trades
    blocked: dict[str, int]  # how often each safeguard blocked an entry the policy wanted
    entries: int  # positions opened
    taken: list[Taken]  # each closed trade's entry confidence and P&L
    wanted: list[Wanted]  # each entry the policy chose, and whether a safeguard blocked it


def read_backtest(db_url: str, run_id: str, test: list[Session], capital: float) -> BacktestReadout:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            trades = conn.execute(
                select(Trade.entry_time, Trade.realized_pnl, Trade.status, Trade.confidence, Trade.exit_time).where(
                    Trade.run_id == run_id
                )
            ).all()
            chose = conn.execute(
                select(Decision.confidence, Decision.blocked_by).where(
                    Decision.run_id == run_id,
                    Decision.action.in_(BUY_ACTIONS),  # type: ignore[attr-defined]
                )
            ).all()
            equity = conn.execute(
                select(Equity.time, Equity.equity).where(Equity.run_id == run_id).order_by(Equity.id)
            ).all()
            blocked = conn.execute(
                select(Decision.blocked_by, func.count())
                .where(Decision.run_id == run_id, Decision.blocked_by.is_not(None))  # type: ignore[union-attr]
                .group_by(Decision.blocked_by)
            ).all()
    finally:
        engine.dispose()
    close_of: dict[date, float] = {}
    for t, e in equity:
        close_of[t.astimezone(NY).date()] = e
    by_day: dict[date, list[float]] = {}
    held: dict[date, list[float]] = {}
    taken = []
    for t, pnl, status, confidence, exit_time in trades:
        if status == "closed":
            day = t.astimezone(NY).date()
            by_day.setdefault(day, []).append(float(pnl))
            held.setdefault(day, []).append((exit_time - t).total_seconds() / 60.0 if exit_time else 0.0)
            taken.append(Taken(float(confidence), float(pnl)))
    days, previous = [], capital
    for s in test:
        end = close_of.get(s.day, previous)
        days.append(
            DayResult(s.day.isoformat(), end - previous, tuple(by_day.get(s.day, [])), tuple(held.get(s.day, [])))
        )
        previous = end
    wanted = [Wanted(float(c or 0.0), code is not None) for c, code in chose]
    return BacktestReadout(days, {str(code): int(n) for code, n in blocked}, len(trades), taken, wanted)


def random_entries(test: list[Session], symbols: tuple[str, ...], count: int, seed: int) -> set[tuple[str, datetime]]:
    """`count` (symbol, cycle time) pairs drawn uniformly from the default entry window."""
    rng = np.random.default_rng(seed)
    slots = [(sym, s.at(m)) for s in test for sym in symbols for m in range(31, s.minutes - 60)]
    if not slots or count <= 0:
        return set()
    picks = rng.choice(len(slots), size=min(count, len(slots)), replace=False)
    return {slots[int(i)] for i in picks}


def _backtest(
    settings: Settings,
    test: list[Session],
    policy: PolicySet,
    folder: Path,
    tag: str,
    values: dict[str, object] | None = None,
    band_end: str | None = None,
) -> BacktestReadout:
    """One backtest of the test range in a throwaway database; `values` overrides parameters."""
    db = f"sqlite:///{folder / (tag + '.db')}"
    if values:
        scratch_database(db, values, author="evaluation", note=f"evaluation at {values}").dispose()
    options = RunOptions(
        db=db,
        source=settings.source,
        seed=settings.world_seed,
        cash=settings.cash,
        model=None,
        option_history=settings.option_history,
        error_band_end=band_end,
    )
    options.flush_every = 390
    result = run_backtest(options, test[0].day, test[-1].day, policy=policy, run_id=tag)
    return read_backtest(db, result.run_id, test, settings.cash)


def split_for_calibration(train_days: list[Session]) -> tuple[list[Session], list[Session]]:
    """The training range without its last fifth (at least 5 sessions, when there are 10 or more),
    which is held back to calibrate the model's entry confidence (core/rl/calibration.py)."""
    keep = max(len(train_days) // 5, 5) if len(train_days) >= 10 else 0
    return (train_days[:-keep], train_days[-keep:]) if keep else (train_days, [])


def calibrate(settings: Settings, zip_path: Path, held_back: list[Session], folder: Path, tag: str) -> None:
    """Backtest the model on the held-back days with the entry threshold at its floor, fit the map
    from raw entry confidence to win rate on its trades, and record it (or why there is none) in
    the model's metadata, which `RLPolicy` reads."""
    taken: list[Taken] = []
    if held_back:
        policy = PolicySet(RulePolicy(), RLPolicy(zip_path), PolicyMode.RL)
        taken = _backtest(settings, held_back, policy, folder, f"{tag}-calib", {"min_confidence": 0.25}).taken
    path = metadata_path(zip_path)
    meta = ModelMetadata.read(path)
    fitted = fit_isotonic(taken, len(held_back))
    meta.metrics["confidence_calibration"] = calibration_note(fitted, len(taken), len(held_back))
    meta.write(path)


def _band(
    settings: Settings,
    test: list[Session],
    make_policy: Callable[[], PolicySet],
    folder: Path,
    tag: str,
    values: dict[str, object] | None = None,
) -> tuple[float, float] | None:
    """Total P&L of the same policy on the same days at the calibration error's low and high ends."""
    if not settings.error_band:
        return None
    totals = [
        sum(d.pnl for d in _backtest(settings, test, make_policy(), folder, f"{tag}-{end}", values, band_end=end).days)
        for end in BAND_ENDS
    ]
    return totals[0], totals[1]


def _folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="evaluate-task-"))


def _set_suffix(settings: Settings) -> str:
    """A model of another action set says so in its version ('-credit')."""
    return "" if settings.action_set == ActionSet.LONG.value else f"-{settings.action_set}"


def rl_task(settings: Settings, fold: Fold, seed: int) -> PolicyResult:
    """Train on the fold's train range (or take the given model), then backtest its test range."""
    folder = _folder()
    trained: TrainedFiles | None = None
    try:
        if settings.model is not None:
            rl, note = RLPolicy(settings.model), "given model, not trained on this fold"
        else:
            fitting, held_back = split_for_calibration(fold.train)
            cfg = TrainConfig(
                source=settings.source,
                start=fitting[0].day,
                end=fitting[-1].day,
                days=None,
                timesteps=settings.timesteps,
                seed=seed,
                out=folder,
                name=f"{settings.evaluation_id}-f{fold.index}-s{seed}"
                + ("" if settings.action_set == "long" else "-credit"),
                progress=False,
                option_history=settings.option_history,
                action_set=ActionSet(settings.action_set),
                include_held_out=settings.include_held_out,
            )
            zip_path = train(cfg)[0]
            calibrate(settings, zip_path, held_back, folder, f"f{fold.index}-rl-{seed}")
            rl, note = RLPolicy(zip_path), "trained on the fold's train range (its last days held back to calibrate)"
            if settings.keep_models:
                trained = TrainedFiles(zip_path.read_bytes(), metadata_path(zip_path).read_text())
        tag = f"f{fold.index}-rl-{seed}"
        out = _backtest(settings, fold.test, PolicySet(RulePolicy(), rl, PolicyMode.RL), folder, tag)
        band = _band(settings, fold.test, lambda: PolicySet(RulePolicy(), rl, PolicyMode.RL), folder, tag)
        result = PolicyResult(
            fold.index,
            "rl",
            rl.version,
            seed,
            out.days,
            note,
            out.blocked,
            out.entries,
            out.taken,
            out.wanted,
            trained=trained,
            band=band,
        )
        for t in settings.thresholds:  # the same model, run again with another min_confidence
            at = _backtest(
                settings,
                fold.test,
                PolicySet(RulePolicy(), rl, PolicyMode.RL),
                folder,
                f"f{fold.index}-rl-{seed}-at{t:.2f}",
                {"min_confidence": t},
            )
            result.at_thresholds.append(
                PolicyResult(
                    fold.index,
                    f"rl@{t:.2f}",
                    rl.version,
                    seed,
                    at.days,
                    f"{note}; run at min_confidence {t:.2f}",
                    at.blocked,
                    at.entries,
                    at.taken,
                    at.wanted,
                )
            )
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def random_task(settings: Settings, fold: Fold, seed: int, rl: PolicyResult) -> PolicyResult:
    """As many random entries as the RL policy made on the same fold, drawn with the same seed."""
    folder = _folder()
    try:
        world = make_world(settings.source, settings.world_seed)
        entries = random_entries(fold.test, world.symbols, rl.entries, seed)
        policy = PolicySet(RandomEntryPolicy(entries, seed), None)
        tag = f"f{fold.index}-rnd-{seed}"
        out = _backtest(settings, fold.test, policy, folder, tag)
        band = _band(settings, fold.test, lambda: PolicySet(RandomEntryPolicy(entries, seed), None), folder, tag)
        note = f"{len(entries)} random entries"
        return PolicyResult(
            fold.index, "random", "random-entries", seed, out.days, note, None, out.entries, out.taken, out.wanted,
            band=band,
        )  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def rules_task(settings: Settings, fold: Fold) -> PolicyResult:
    folder = _folder()
    try:
        tag = f"f{fold.index}-rules"
        out = _backtest(settings, fold.test, PolicySet(RulePolicy(), None), folder, tag)
        band = _band(settings, fold.test, lambda: PolicySet(RulePolicy(), None), folder, tag)
        return PolicyResult(
            fold.index,
            "rules",
            RulePolicy.version,
            None,
            out.days,
            "rule baseline",
            out.blocked,
            out.entries,
            out.taken,
            out.wanted,
            band=band,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def strategy_task(settings: Settings, fold: Fold, strategy: str) -> PolicyResult:
    """The rule policy's entries opening `strategy` (a credit structure, or auto) on the fold's
    test range: the structures side by side with the baselines on the same days."""
    folder = _folder()
    try:
        tag = f"f{fold.index}-rules-{strategy}"
        values: dict[str, object] = {"strategy": strategy}
        out = _backtest(settings, fold.test, PolicySet(RulePolicy(), None), folder, tag, values)
        band = _band(settings, fold.test, lambda: PolicySet(RulePolicy(), None), folder, tag, values)
        return PolicyResult(
            fold.index, f"rules:{strategy}", f"{RulePolicy.version}:{strategy}", None, out.days,
            f"rule entries opening {strategy}", out.blocked, out.entries, out.taken, out.wanted, band=band,
        )  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def hold_result(fold: Fold) -> PolicyResult:
    days = [DayResult(s.day.isoformat(), 0.0, ()) for s in fold.test]
    return PolicyResult(fold.index, "hold", "hold", None, days, "never trades", None, 0)
