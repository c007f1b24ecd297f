"""Train the shipped model the way it is judged: walk-forward over several seeds, then ship the
seed the out-of-sample result chooses (`make model`).

python -m worker.ship_model                      # real sessions in ../shared/data, else synthetic
python -m worker.ship_model --source synthetic --seeds 1 2 3 --timesteps 100000 --workers 2

Every (fold, seed) model is trained on the broker-like simulator (core.rl.env: the real
SimBroker, the desk's order rules, each underlying's calibrated quotes) and backtested on the
fold after its training range through the worker's own cycle, beside the baselines (hold,
random entries with the same trade count, the rules, the underlying), by `worker.evaluate`'s
fan-out on Ray. A seed is scored by the lower end of its pooled out-of-sample P&L interval minus
the best baseline's on the same days, among seeds with at least MIN_TRADES trades at the shipped
parameters, so a model that does nothing cannot win; the command says plainly when no candidate
beats holding cash. The chosen seed's newest fold's model, trained on the sessions before the
last test range, is written to `models/rppo-shipped.zip` with the selection, the verdict and its
own out-of-sample table (that fold's test range) in its metadata. The evaluation's rows go to the
database too (the console's Models page). Picking the best of several seeds flatters the
winner's figures a little: the table says how many seeds were compared.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.market.holdout import INCLUDE_FLAG
from core.metrics import interval_cell
from core.rl.metadata import ModelMetadata, metadata_path
from worker.offline.evaluate import Evaluation, format_rows
from worker.offline.evaluate import parse_args as evaluation_args

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SHIPPED = Path("models/rppo-shipped.zip")
TABLE_POLICIES = ("rl", "rl@0.50", "rl@0.60", "rl@0.70", "random", "rules", "hold", "underlying")


def default_source() -> str:
    """Real sessions where ../shared/data has 1-minute bars, synthetic sessions otherwise."""
    has_bars = SHARED_DATA.is_dir() and any(SHARED_DATA.glob("*_1min_*.csv"))
    return f"csv:{os.path.relpath(SHARED_DATA)}" if has_bars else "synthetic"


BASELINES = ("rules", "random", "underlying", "hold")
MIN_TRADES = 20  # out-of-sample trades a candidate needs at the shipped parameters to be chosen on merit


def pooled(rows: list[dict[str, Any]], policy: str, seed: int | None, fold: int = -1) -> dict[str, Any] | None:
    """The row of one policy and seed on one fold (-1: all folds pooled)."""
    for r in rows:
        if r["fold"] == fold and r["policy"] == policy and r["seed"] == seed:
            return r
    return None


def pooled_metrics(rows: list[dict[str, Any]], policy: str, seed: int | None) -> dict[str, Any]:
    """The all-folds figures of one policy and seed (empty when it has no row)."""
    row = pooled(rows, policy, seed)
    return row["metrics"] if row else {}


@dataclass(frozen=True)
class Candidate:
    """One seed's pooled out-of-sample result against the best baseline on the same days."""

    seed: int
    trades: int
    pnl: float
    pnl_lo: float
    best_baseline: str
    baseline_lo: float
    eligible: bool  # enough trades to be judged at all

    @property
    def score(self) -> float:
        """The lower end of its P&L interval minus the best baseline's: doing nothing cannot win it
        (holding cash scores 0 against itself, and a model that never trades ties hold at best)."""
        return self.pnl_lo - self.baseline_lo

    @property
    def beats_cash(self) -> bool:
        return self.eligible and self.pnl_lo > 0.0


def candidates(rows: list[dict[str, Any]], seeds: list[int], min_trades: int = MIN_TRADES) -> list[Candidate]:
    out = []
    for seed in seeds:
        m = pooled_metrics(rows, "rl", seed)
        lows = {
            b: float(pooled_metrics(rows, b, seed if b == "random" else None).get("pnl_lo") or 0.0) for b in BASELINES
        }
        lows["hold"] = 0.0
        best = max(lows, key=lambda b: lows[b])
        trades = int(m.get("trades") or 0)
        out.append(
            Candidate(seed, trades, float(m.get("pnl") or 0.0), float(m.get("pnl_lo") or 0.0), best, lows[best],
                      trades >= min_trades)
        )  # fmt: skip
    return out


def choose_seed(rows: list[dict[str, Any]], seeds: list[int], min_trades: int = MIN_TRADES) -> int:
    """The eligible seed (at least `min_trades` trades) with the highest score against the best
    baseline; ties: the larger P&L, then the lower seed. With none eligible, the same order over all."""
    ranked = candidates(rows, seeds, min_trades)
    return max(ranked, key=lambda c: (c.eligible, c.score, c.pnl, -c.seed)).seed


def verdict(chosen: Candidate, min_trades: int = MIN_TRADES) -> str:
    """What the selection found, in one sentence the README and the Models page repeat."""
    if not chosen.eligible:
        return (
            f"No candidate made {min_trades} trades out of sample at the shipped parameters; the one shipped "
            f"(seed {chosen.seed}, {chosen.trades} trades) was not chosen on merit and does not beat holding cash."
        )
    if not chosen.beats_cash:
        return (
            f"No candidate beats holding cash: the best (seed {chosen.seed}) has a P&L interval reaching "
            f"{chosen.pnl_lo:,.0f}, and the best baseline ({chosen.best_baseline}) {chosen.baseline_lo:,.0f}."
        )
    if chosen.score <= 0.0:
        return f"Seed {chosen.seed} beats holding cash but not the {chosen.best_baseline} baseline."
    return f"Seed {chosen.seed} beats holding cash and every baseline at the lower end of its interval."


def oos_table(rows: list[dict[str, Any]], seed: int, fold: int = -1) -> list[dict[str, Any]]:
    """The chosen seed's rows on `fold` (-1: pooled) beside the baselines' on the same days."""
    out = []
    for policy in TABLE_POLICIES:
        row = pooled(rows, policy, seed, fold) or pooled(rows, policy, None, fold)
        if row is None:
            continue
        m = row["metrics"]
        out.append(
            {
                "policy": policy,
                "days": m.get("days"),
                "trades": m.get("trades"),
                **{k: m.get(k) for k in _FIGURES for k in (k, f"{k}_lo", f"{k}_hi")},
                "hold_median_min": m.get("hold_median_min"),
                "pnl_band_lo": m.get("pnl_band_lo"),
                "pnl_band_hi": m.get("pnl_band_hi"),
            }
        )
    return out


_FIGURES = ("pnl", "win_rate", "profit_factor", "sharpe", "max_drawdown_pct")


def markdown(table: list[dict[str, Any]], capital: float) -> str:
    """The table as the README shows it: each figure with its 95% interval and the sample size."""
    cell = interval_cell
    lines = [
        f"| policy | days | trades | P&L on {capital:,.0f} | win rate % | profit factor | Sharpe | max drawdown % |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in table:
        lines.append(
            f"| {r['policy']} | {r['days']} | {r['trades']} | {cell(r, 'pnl', ',.0f')} | "
            f"{cell(r, 'win_rate', '.0f', 100.0)} | {cell(r, 'profit_factor', '.2f')} | {cell(r, 'sharpe', '.2f')} | "
            f"{cell(r, 'max_drawdown_pct', '.1f')} |"
        )
    return "\n".join(lines)


def ship(evaluation: Evaluation, seed: int, out: Path, command: str) -> tuple[Path, ModelMetadata]:
    """Write the chosen seed's newest-fold model as the shipped model, with its selection."""
    rows, seeds = evaluation.rows, evaluation.args.seeds
    last_fold = max(fold for fold, s in evaluation.trained if s == seed)
    files = evaluation.trained[(last_fold, seed)]
    raw = json.loads(files.metadata_json)
    source_name = "synthetic" if evaluation.args.source == "synthetic" else "csv"
    raw["model_version"] = f"rppo-{source_name}-wf-s{seed}"
    raw["command"] = command
    ranked = candidates(rows, seeds)
    chosen = next(c for c in ranked if c.seed == seed)
    raw["metrics"]["selection"] = {
        "evaluation_id": evaluation.id,
        "source": evaluation.args.source,
        "criterion": (
            "the lower end of the pooled out-of-sample P&L interval minus the best baseline's on the same days "
            f"(rules, random entries, the underlying, holding cash), among candidates with at least {MIN_TRADES} trades"
        ),
        "verdict": verdict(chosen),
        "seeds_compared": len(seeds),
        "chosen_seed": seed,
        "shipped_fold": last_fold,
        "candidates": [{**asdict(c), "score": c.score, "beats_cash": c.beats_cash} for c in ranked],
        "out_of_sample": oos_table(rows, seed, last_fold),  # the shipped model's own test range
        "out_of_sample_pooled": oos_table(rows, seed),  # its seed's models over every fold
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(files.zip_bytes)
    meta = ModelMetadata.from_dict(raw)
    meta.write(metadata_path(out))
    return out, meta


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m worker.ship_model", description=__doc__.splitlines()[0])
    p.add_argument("--source", default=None, help="csv:DIR or synthetic (default: ../shared/data if present)")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--timesteps", type=int, default=100_000)
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--train-days", type=int, default=60)
    p.add_argument("--test-days", type=int, default=20)
    p.add_argument("--out", type=Path, default=SHIPPED)
    p.add_argument("--db", default=None, help="where the evaluation's rows go (default: the product database)")
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--ray-address", default=None)
    p.add_argument(
        "--action-set", default="long", choices=["long", "credit"], help="the model's actions (core.types.ActionSet)"
    )
    p.add_argument(
        INCLUDE_FLAG,
        action="store_true",
        help="let the folds train and test on the held-out tail of the real sessions (core/market/holdout.py)",
    )
    a = p.parse_args(argv)
    source = a.source or default_source()
    forwarded = [
        "--source", source, "--folds", str(a.folds), "--train-days", str(a.train_days),
        "--test-days", str(a.test_days), "--seeds", *map(str, a.seeds), "--timesteps", str(a.timesteps),
        "--workers", str(a.workers), "--keep-models", "--action-set", a.action_set,
    ]  # fmt: skip
    if a.db:
        forwarded += ["--db", a.db]
    if a.ray_address:
        forwarded += ["--ray-address", a.ray_address]
    if a.include_held_out:
        forwarded.append(INCLUDE_FLAG)
    args = evaluation_args(forwarded)
    print(f"walk-forward on {source}: {a.folds} folds x seeds {a.seeds}, {a.timesteps} steps each")
    evaluation = Evaluation(args)
    evaluation.run()
    print(format_rows(evaluation.rows))
    seed = choose_seed(evaluation.rows, a.seeds)
    command = "python -m worker.ship_model " + " ".join(sys.argv[1:] if argv is None else argv)
    path, meta = ship(evaluation, seed, a.out, command.strip())
    selection = meta.metrics["selection"]
    trained = f"trained {meta.train_start}..{meta.train_end}"
    print(f"\nshipped {path} ({meta.model_version}: seed {seed} of {a.seeds}, {trained})")
    print(selection["verdict"])
    print(f"\nthe shipped model's own test range, fold {selection['shipped_fold']} (evaluation {evaluation.id}):\n")
    print(markdown(selection["out_of_sample"], args.cash))
    print("\nits seed's models over every fold, pooled:\n")
    print(markdown(selection["out_of_sample_pooled"], args.cash))


if __name__ == "__main__":
    main()
