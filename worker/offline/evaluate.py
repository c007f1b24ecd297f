"""Walk-forward evaluation of the RL policy against baselines, through the worker's own cycle.

python -m worker.evaluate --source csv:../shared/data --folds 3 --train-days 40 --test-days 15 \
    --seeds 1 2 --timesteps 50000
python -m worker.evaluate --source csv:../shared/data --model models/rppo-shipped.zip --folds 3

Each fold trains a model per seed on `train-days` sessions (core.rl.train) and backtests it on the
next `test-days` sessions; with --model the given model is evaluated on every fold instead (no
training: for a model trained elsewhere every fold is out of sample, and the report says so).
The held-out tail of the real sessions (core/market/holdout.py) is never in a fold unless
--include-held-out; --held-out evaluates a given model (--model) on that tail alone, one fold,
which is where `make figures` takes its out-of-sample figures from.
Baselines on the same sessions: always hold, random entries with the RL policy's trade count,
the rule policy, and holding the underlying. The RL model is also run at each of --thresholds
(min_confidence), and every traded row carries its outcomes by confidence bucket. Every
backtest runs the real cycle (safeguards, sizing, exits, fills) in a throwaway SQLite file;
only the figures, with bootstrap confidence intervals (core.rl.report), are stored in the
product database (table modelevaluation) and shown on the console's Models page.
"""

from __future__ import annotations

import argparse
import os
import uuid
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from core.calendar import Session
from core.error_band import Banded
from core.market.holdout import INCLUDE_FLAG, drop_held_out, session_split
from core.market.worlds import make_world, pick_sessions
from core.options.history import option_history_folder
from core.policy.rl import RLPolicy
from core.rl.confidence import Taken, Wanted, at_thresholds, bucket_sums
from core.rl.report import DayResult, bootstrap_report, pooled_drawdown
from core.types import ActionSet, Strategy
from db.engine import make_engine
from db.migrate import upgrade
from db.model_store import register_model, save_evaluation
from worker.offline.evaluate_fanout import ray_results, serial_results
from worker.offline.evaluate_tasks import Fold, PolicyResult, Settings, TrainedFiles, hold_result

POLICIES = ("rl", "random", "rules", "hold", "underlying")


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


def evaluation_folds(sessions: list[Session], everything: list[Session], a: argparse.Namespace) -> list[Fold]:
    """The folds of `sessions` (a source's `everything` in order): never the held-out tail unless
    --include-held-out; with --held-out, the tail alone as one test range with nothing trained."""
    if a.held_out:
        tail = session_split(everything, a.source).held_out
        if not tail:
            raise SystemExit(f"{a.source} has no held-out tail (core/market/holdout.py)")
        return [Fold(0, [], tail)]
    sessions = drop_held_out(sessions, everything, a.source, a.include_held_out)
    return make_folds(sessions, a.train_days, a.test_days, a.folds)


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
        self.world = make_world(args.source, args.world_seed)
        self.rows: list[dict[str, Any]] = []
        self.days: dict[tuple[str, int | None], list[list[DayResult]]] = {}  # per fold, for the pooled rows
        self.outcomes: dict[tuple[str, int | None], tuple[list[Taken], list[Wanted]]] = {}
        self.given = RLPolicy(args.model) if args.model else None  # its metadata is registered with the results
        model = str(Path(args.model).resolve()) if args.model else None
        self.settings = Settings(
            self.id,
            args.source,
            args.world_seed,
            args.timesteps,
            args.cash,
            model,
            tuple(args.thresholds),
            keep_models=args.keep_models,
            option_history=option_history_folder(args.option_history),
            error_band=not args.no_error_band,
            strategies=tuple(args.strategies),
            action_set=args.action_set,
            include_held_out=args.include_held_out,
        )
        self.bands: dict[tuple[str, int | None], list[tuple[float, float] | None]] = {}  # per fold
        self.trained: dict[tuple[int, int], TrainedFiles] = {}  # (fold, seed) -> files, with keep_models

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
        taken: list[Taken] | None = None,
        wanted: list[Wanted] | None = None,
        band: tuple[float, float] | None = None,
    ) -> None:
        metrics: dict[str, Any] = dict(bootstrap_report(days, self.args.cash, seed=self.args.bootstrap_seed))
        metrics["note"] = note
        if band is not None:  # the P&L at the calibration error's ends (core/error_band.py)
            banded = Banded(metrics["pnl"], *band)
            metrics.update(pnl_band_lo=banded.low, pnl_band_hi=banded.high, pnl_decided=banded.decided)
        if blocked is not None:
            metrics["blocked_entries"] = blocked
        if taken is not None or wanted is not None:  # does the confidence mean anything? (out of sample)
            metrics["confidence_buckets"] = bucket_sums(taken or [], wanted or [])
            metrics["thresholds"] = at_thresholds(taken or [])
            if pool:
                pooled_taken, pooled_wanted = self.outcomes.setdefault((policy, seed), ([], []))
                pooled_taken.extend(taken or [])
                pooled_wanted.extend(wanted or [])
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
            self.bands.setdefault((policy, seed), []).append(band)

    def results(self, folds: list[Fold]) -> list[PolicyResult]:
        """Every (fold, seed, policy) result, in the serial order, from this process or from Ray."""
        a = self.args
        if a.workers == 1 and not a.ray_address:
            return serial_results(self.settings, folds, a.seeds)
        return ray_results(self.settings, folds, a.seeds, a.workers, a.ray_address)

    def run(self) -> str:
        a = self.args
        sessions = pick_sessions(self.world, a.start, a.end, None)
        everything = pick_sessions(self.world, None, None, None) if a.source != "synthetic" else sessions
        folds = evaluation_folds(sessions, everything, a)
        if not folds:
            raise SystemExit(f"{len(sessions)} sessions are too few for train {a.train_days} + test {a.test_days}")
        for fold in folds:
            train, test = fold.train, fold.test
            trained = f"{train[0].day}..{train[-1].day}" if train else "nothing (a given model)"
            print(f"fold {fold.index}: train {trained}, test {test[0].day}..{test[-1].day}")
        by_fold: dict[int, list[PolicyResult]] = {}
        for r in self.results(folds):
            by_fold.setdefault(r.fold, []).append(r)
            if r.trained is not None and r.seed is not None:
                self.trained[(r.fold, r.seed)] = r.trained
        for fold in folds:
            done = [x for task in by_fold.get(fold.index, []) for x in (task, *task.at_thresholds)]
            for r in [*done, hold_result(fold)]:
                traded = r.policy != "hold"
                self.record(
                    fold,
                    r.policy,
                    r.version,
                    r.seed,
                    r.days,
                    r.note,
                    blocked=r.blocked,
                    taken=r.taken if traded else None,
                    wanted=r.wanted if traded else None,
                    band=r.band if traded else (0.0, 0.0),
                )
            self.record(
                fold,
                "underlying",
                "underlying",
                None,
                underlying_days(self.world, fold.test, self.args.cash),
                "equal-weight SPY/QQQ, each test session open to close",
            )
        overall = Fold(-1, [s for f in folds for s in f.train], [s for f in folds for s in f.test])
        for (policy, seed), per_fold in sorted(self.days.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
            version = next(r["model_version"] for r in self.rows if r["policy"] == policy and r["seed"] == seed)
            days = [d for fold_days in per_fold for d in fold_days]
            taken, wanted = self.outcomes.get((policy, seed), (None, None))
            bands = self.bands.get((policy, seed), [])
            pooled_band = (
                (sum(b[0] for b in bands if b), sum(b[1] for b in bands if b)) if bands and all(bands) else None
            )
            self.record(
                overall,
                policy,
                version,
                seed,
                days,
                POOLED_NOTE,
                pool=False,
                taken=taken,
                wanted=wanted,
                band=pooled_band,
            )
            pooled = pooled_drawdown(per_fold, self.args.cash, seed=self.args.bootstrap_seed)
            self.rows[-1]["metrics"].update(pooled)
        engine = make_engine(upgrade(a.db))
        if self.given is not None:
            register_model(engine, self.given.version, str(a.model), asdict(self.given.metadata))
        save_evaluation(engine, self.rows)
        return self.id


def format_rows(rows: list[dict[str, Any]]) -> str:
    head = (
        f"{'fold':>4} {'policy':<24} {'seed':>4} {'P&L':>10} {'95% CI':>21} {'at error bounds':>23} {'win%':>6} "
        f"{'PF':>5} {'Sharpe':>7} {'maxDD%':>7} {'tr/day':>6} {'hold min p10/50/90':>18} {'<=2min':>6}"
    )
    lines = [head]
    for r in rows:
        m = r["metrics"]

        def f(key: str, fmt: str, m: dict[str, Any] = m) -> str:
            v = m.get(key)
            return "-" if v is None else format(v, fmt)

        ci = f"[{f('pnl_lo', ',.0f')}, {f('pnl_hi', ',.0f')}]"
        band = "-" if m.get("pnl_band_lo") is None else f"[{f('pnl_band_lo', ',.0f')}, {f('pnl_band_hi', ',.0f')}]"
        band += "" if m.get("pnl_decided", True) else "?"  # the sign flips inside the price model's error
        win = "-" if m.get("win_rate") is None else f"{m['win_rate'] * 100:.0f}"
        lines.append(
            f"{r['fold']:>4} {r['policy']:<24} {r['seed'] if r['seed'] is not None else '-':>4} {f('pnl', ',.0f'):>10} "
            f"{ci:>21} {band:>23} {win:>6} {f('profit_factor', '.2f'):>5} {f('sharpe', '.2f'):>7} "
            f"{f('max_drawdown_pct', '.1f'):>7} {f('trades_per_day', '.2f'):>6} "
            f"{f('hold_p10_min', '.0f') + '/' + f('hold_median_min', '.0f') + '/' + f('hold_p90_min', '.0f'):>18} "
            f"{'-' if m.get('held_2min_or_less') is None else format(m['held_2min_or_less'] * 100, '.0f') + '%':>6}"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
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
    p.add_argument(
        "--thresholds",
        type=float,
        nargs="*",
        default=[0.5, 0.6, 0.7],
        help="min_confidence values the RL policy is also backtested at (its own row each)",
    )
    p.add_argument(
        "--strategies",
        nargs="*",
        default=[],
        choices=[x.value for x in Strategy if x is not Strategy.LONG_OPTION],
        help="also run the rules' entries opening each of these structures (rows rules:STRATEGY)",
    )
    p.add_argument(
        "--action-set",
        default="long",
        choices=[x.value for x in ActionSet],
        help="the RL model's actions: long (hold/buy_call/buy_put/close) or credit "
        "(hold/sell_put_spread/sell_call_spread/iron_condor/close); the rl rows' model versions end -credit",
    )
    p.add_argument("--workers", type=int, default=0, help="Ray workers on this machine (default: its cores; 1: serial)")
    p.add_argument(
        "--option-history",
        default=os.environ.get("OPTION_HISTORY", "auto"),
        help="real option bars to price from ('auto': data/option_history when it holds a day; 'none')",
    )
    p.add_argument(
        "--no-error-band", action="store_true", help="skip the backtests at the calibration error's two ends"
    )
    p.add_argument(
        INCLUDE_FLAG,
        action="store_true",
        help="let the folds use the held-out tail of the real sessions (core/market/holdout.py): in sample then",
    )
    p.add_argument(
        "--held-out",
        action="store_true",
        help="evaluate the given --model on the held-out tail alone (one fold, no training): out of sample",
    )
    p.add_argument("--keep-models", action="store_true", help=argparse.SUPPRESS)  # worker.ship_model ships one
    p.add_argument(
        "--ray-address", help="an existing Ray cluster (e.g. ray://head:10001 or auto) instead of a local one"
    )
    args = p.parse_args(argv)
    args.workers = args.workers or os.cpu_count() or 1
    if args.held_out and not args.model:
        p.error("--held-out evaluates a given model: add --model PATH (training would need days before the tail)")
    if args.source == "synthetic" and not (args.start and args.end):
        args.end = args.end or date(2025, 12, 31)
        args.start = args.start or date(2025, 6, 2)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    evaluation = Evaluation(args)
    evaluation_id = evaluation.run()
    print(format_rows(evaluation.rows))
    for r in evaluation.rows:
        if r["fold"] >= 0 and "blocked_entries" in r["metrics"]:
            blocked = ", ".join(
                f"{k} {v}" for k, v in sorted(r["metrics"]["blocked_entries"].items(), key=lambda kv: -kv[1])
            )
            print(f"fold {r['fold']} {r['policy']} seed {r['seed']}: wanted entries blocked by {blocked or 'nothing'}")
    print("'at error bounds': the P&L with implied vols at the calibration's held-out error ends; '?': sign undecided")
    print(f"stored as evaluation {evaluation_id}")


if __name__ == "__main__":
    main()
