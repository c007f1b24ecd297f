"""Walk-forward evaluation of the RL policy against baselines, through the worker's own cycle.

python -m worker.evaluate --source csv:../shared/data --folds 3 --train-days 40 --test-days 15 \
    --seeds 1 2 --timesteps 50000
python -m worker.evaluate --source csv:../shared/data --model models/rppo-synthetic-s7.zip --folds 3

Each fold trains a model per seed on `train-days` sessions (core.rl.train) and backtests it on the
next `test-days` sessions; with --model the given model is evaluated on every fold instead (no
training: for a model trained elsewhere every fold is out of sample, and the report says so).
Baselines on the same sessions: always hold, random entries with the RL policy's trade count,
the rule policy, and holding the underlying. Every backtest runs the real cycle (safeguards,
sizing, exits, fills) in a throwaway SQLite file; only the figures, with bootstrap confidence
intervals (core.rl.report), are stored in the product database (table modelevaluation) and
shown on the console's Models page.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import uuid
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select

from core.calendar import NY, Session
from core.market.worlds import make_world, pick_sessions
from core.policy.baselines import RandomEntryPolicy
from core.policy.ensemble import PolicySet
from core.policy.rl import RLPolicy
from core.policy.rules import RulePolicy
from core.rl.report import DayResult, bootstrap_report, pooled_drawdown
from core.rl.train import TrainConfig, train
from core.types import PolicyMode
from db.engine import make_engine
from db.migrate import upgrade
from db.model_store import register_model, save_evaluation
from db.models import Decision, Equity, Trade
from worker.offline.backtest import run_backtest
from worker.runtime import RunOptions

POLICIES = ("rl", "random", "rules", "hold", "underlying")


@dataclass(frozen=True)
class Fold:
    index: int
    train: list[Session]
    test: list[Session]


def make_folds(sessions: list[Session], train_days: int, test_days: int, folds: int) -> list[Fold]:
    """Rolling folds ending at the newest session: train on a range, test on the one after it."""
    out = []
    end = len(sessions)
    for i in range(folds):
        test_end = end - i * test_days
        test_start = test_end - test_days
        train_start = test_start - train_days
        if train_start < 0:
            break
        out.append(Fold(0, sessions[train_start:test_start], sessions[test_start:test_end]))
    out.reverse()
    return [Fold(i, f.train, f.test) for i, f in enumerate(out)]


@dataclass(frozen=True)
class BacktestReadout:
    """What the evaluation reads back from one backtest's throwaway database."""

    days: list[DayResult]  # P&L per test session (day-end equity change) and its closed trades
    blocked: dict[str, int]  # how often each safeguard blocked an entry the policy wanted
    entries: int  # positions opened


def read_backtest(db_url: str, run_id: str, test: list[Session], capital: float) -> BacktestReadout:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            trades = conn.execute(
                select(Trade.entry_time, Trade.realized_pnl, Trade.status).where(Trade.run_id == run_id)
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
    for t, pnl, status in trades:
        if status == "closed":
            by_day.setdefault(t.astimezone(NY).date(), []).append(float(pnl))
    days, previous = [], capital
    for s in test:
        end = close_of.get(s.day, previous)
        days.append(DayResult(s.day.isoformat(), end - previous, tuple(by_day.get(s.day, []))))
        previous = end
    return BacktestReadout(days, {str(code): int(n) for code, n in blocked}, len(trades))


def random_entries(test: list[Session], symbols: tuple[str, ...], count: int, seed: int) -> set[tuple[str, datetime]]:
    """`count` (symbol, cycle time) pairs drawn uniformly from the default entry window."""
    rng = np.random.default_rng(seed)
    slots = [(sym, s.at(m)) for s in test for sym in symbols for m in range(31, s.minutes - 60)]
    if not slots or count <= 0:
        return set()
    picks = rng.choice(len(slots), size=min(count, len(slots)), replace=False)
    return {slots[int(i)] for i in picks}


POOLED_NOTE = (
    "all folds: sums and rates over every test day; max drawdown is the worst fold's, each fold on its own capital"
)


def underlying_days(world: Any, test: list[Session], capital: float) -> list[DayResult]:
    """Both underlyings (equal weight) held from each test session's open to its close: the same
    sessions and hours the policies trade, never the nights and gaps between them."""
    out = []
    for s in test:
        moves = []
        for symbol in world.symbols:
            bars = world.session_bars(s, symbol)
            moves.append(float(bars.close[-1]) / float(bars.open[0]) - 1.0)
        out.append(DayResult(s.day.isoformat(), capital * float(np.mean(moves)), ()))
    return out


class Evaluation:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.id = f"eval-{datetime.now().strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        self.work = Path(tempfile.mkdtemp(prefix="evaluate-"))
        self.world = make_world(args.source, args.world_seed)
        self.rows: list[dict[str, Any]] = []
        self.days: dict[tuple[str, int | None], list[list[DayResult]]] = {}  # per fold, for the pooled rows
        self.given = RLPolicy(args.model) if args.model else None  # loaded once, reused on every fold

    def backtest(self, test: list[Session], policy: PolicySet, tag: str) -> BacktestReadout:
        db = f"sqlite:///{self.work / (tag + '.db')}"
        options = RunOptions(source=self.args.source, seed=self.args.world_seed, db=db, cash=self.args.cash)
        options.flush_every = 390
        result = run_backtest(options, test[0].day, test[-1].day, policy=policy, run_id=tag)
        return read_backtest(db, result.run_id, test, self.args.cash)

    def record(
        self,
        fold: Fold,
        policy: str,
        version: str,
        seed: int | None,
        days: list[DayResult],
        note: str,
        pool: bool = True,
        blocked: dict[str, int] | None = None,
    ) -> None:
        metrics: dict[str, Any] = dict(bootstrap_report(days, self.args.cash, seed=self.args.bootstrap_seed))
        metrics["note"] = note
        if blocked is not None:
            metrics["blocked_entries"] = blocked
        self.rows.append(
            dict(
                evaluation_id=self.id,
                model_version=version,
                policy=policy,
                fold=fold.index,
                seed=seed,
                train_start=fold.train[0].day.isoformat() if fold.train else "",
                train_end=fold.train[-1].day.isoformat() if fold.train else "",
                test_start=fold.test[0].day.isoformat(),
                test_end=fold.test[-1].day.isoformat(),
                sessions=len(fold.test),
                metrics=metrics,
            )
        )
        if pool:
            self.days.setdefault((policy, seed), []).append(days)

    def run_fold(self, fold: Fold) -> None:
        a = self.args
        for seed in a.seeds:
            if self.given is not None:
                rl, note = self.given, "given model, not trained on this fold"
            else:
                cfg = TrainConfig(
                    source=a.source,
                    start=fold.train[0].day,
                    end=fold.train[-1].day,
                    days=None,
                    timesteps=a.timesteps,
                    seed=seed,
                    out=self.work,
                    name=f"{self.id}-f{fold.index}-s{seed}",
                    progress=False,
                )
                rl, note = RLPolicy(train(cfg)[0]), "trained on the fold's train range"
            by_rl = self.backtest(fold.test, PolicySet(RulePolicy(), rl, PolicyMode.RL), f"f{fold.index}-rl-{seed}")
            self.record(fold, "rl", rl.version, seed, by_rl.days, note, blocked=by_rl.blocked)
            entries = random_entries(fold.test, self.world.symbols, by_rl.entries, seed)
            rnd = self.backtest(
                fold.test, PolicySet(RandomEntryPolicy(entries, seed), None), f"f{fold.index}-rnd-{seed}"
            )
            self.record(fold, "random", "random-entries", seed, rnd.days, f"{len(entries)} random entries")
        rules = self.backtest(fold.test, PolicySet(RulePolicy(), None), f"f{fold.index}-rules")
        self.record(fold, "rules", RulePolicy.version, None, rules.days, "rule baseline", blocked=rules.blocked)
        self.record(
            fold, "hold", "hold", None, [DayResult(s.day.isoformat(), 0.0, ()) for s in fold.test], "never trades"
        )
        self.record(
            fold,
            "underlying",
            "underlying",
            None,
            underlying_days(self.world, fold.test, self.args.cash),
            "equal-weight SPY/QQQ, each test session open to close",
        )

    def run(self) -> str:
        a = self.args
        sessions = pick_sessions(self.world, a.start, a.end, None)
        folds = make_folds(sessions, a.train_days, a.test_days, a.folds)
        if not folds:
            raise SystemExit(f"{len(sessions)} sessions are too few for train {a.train_days} + test {a.test_days}")
        for fold in folds:
            train, test = fold.train, fold.test
            print(f"fold {fold.index}: train {train[0].day}..{train[-1].day}, test {test[0].day}..{test[-1].day}")
            self.run_fold(fold)
        overall = Fold(-1, [s for f in folds for s in f.train], [s for f in folds for s in f.test])
        for (policy, seed), per_fold in sorted(self.days.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
            version = next(r["model_version"] for r in self.rows if r["policy"] == policy and r["seed"] == seed)
            days = [d for fold_days in per_fold for d in fold_days]
            self.record(overall, policy, version, seed, days, POOLED_NOTE, pool=False)
            pooled = pooled_drawdown(per_fold, self.args.cash, seed=self.args.bootstrap_seed)
            self.rows[-1]["metrics"].update(pooled)
        engine = make_engine(upgrade(a.db))
        if self.given is not None:
            register_model(engine, self.given.version, str(a.model), asdict(self.given.metadata))
        save_evaluation(engine, self.rows)
        shutil.rmtree(self.work, ignore_errors=True)  # the throwaway backtest databases and fold models
        return self.id


def format_rows(rows: list[dict[str, Any]]) -> str:
    head = (
        f"{'fold':>4} {'policy':<10} {'seed':>4} {'P&L':>10} {'95% CI':>21} {'win%':>6} {'PF':>5} "
        f"{'Sharpe':>7} {'maxDD%':>7} {'tr/day':>6}"
    )
    lines = [head]
    for r in rows:
        m = r["metrics"]

        def f(key: str, fmt: str, m: dict[str, Any] = m) -> str:
            v = m.get(key)
            return "-" if v is None else format(v, fmt)

        ci = f"[{f('pnl_lo', ',.0f')}, {f('pnl_hi', ',.0f')}]"
        win = "-" if m.get("win_rate") is None else f"{m['win_rate'] * 100:.0f}"
        lines.append(
            f"{r['fold']:>4} {r['policy']:<10} {r['seed'] if r['seed'] is not None else '-':>4} {f('pnl', ',.0f'):>10} "
            f"{ci:>21} {win:>6} {f('profit_factor', '.2f'):>5} {f('sharpe', '.2f'):>7} "
            f"{f('max_drawdown_pct', '.1f'):>7} {f('trades_per_day', '.2f'):>6}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m worker.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--source", default="csv:../shared/data")
    p.add_argument("--start", type=date.fromisoformat)
    p.add_argument("--end", type=date.fromisoformat)
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--train-days", type=int, default=40)
    p.add_argument("--test-days", type=int, default=15)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    p.add_argument("--timesteps", type=int, default=50_000)
    p.add_argument("--model", help="evaluate this model on every fold instead of training one per fold")
    p.add_argument("--world-seed", type=int, default=7, help="synthetic source only")
    p.add_argument("--bootstrap-seed", type=int, default=0)
    p.add_argument("--cash", type=float, default=100_000.0)
    p.add_argument("--db", default=None, help="where results go (default: DATABASE_URL or sqlite:///data/trading.db)")
    args = p.parse_args(argv)
    if args.source == "synthetic" and not (args.start and args.end):
        args.end = args.end or date(2025, 12, 31)
        args.start = args.start or date(2025, 6, 2)
    evaluation = Evaluation(args)
    evaluation_id = evaluation.run()
    print(format_rows(evaluation.rows))
    for r in evaluation.rows:
        if r["fold"] >= 0 and "blocked_entries" in r["metrics"]:
            blocked = ", ".join(
                f"{k} {v}" for k, v in sorted(r["metrics"]["blocked_entries"].items(), key=lambda kv: -kv[1])
            )
            print(f"fold {r['fold']} {r['policy']} seed {r['seed']}: wanted entries blocked by {blocked or 'nothing'}")
    print(f"stored as evaluation {evaluation_id}")


if __name__ == "__main__":
    main()
