"""Train the RecurrentPPO (LSTM) policy on the simulator or on real sessions.

python -m core.rl.train --source synthetic --end 2025-12-31 --days 120 --timesteps 200000 --seed 7
python -m core.rl.train --source csv:../shared/data --start 2025-09-15 --end 2025-12-31
python -m core.rl.train --action-set credit ...   (hold / sell_put_spread / sell_call_spread /
                                                  iron_condor / close: the premium seller)

Writes `<out>/<name>.zip` (sb3's own format) and `<out>/<name>.json` (core.rl.metadata): the
feature layout the model expects, the data range, the seed, the code version and the training
metrics. The network is kept small on purpose (one 32-unit LSTM, one 64-unit layer per head).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from core.calendar import Session
from core.market.holdout import INCLUDE_FLAG, has_tail, session_split
from core.market.worlds import make_world, pick_sessions, pricing_history
from core.options.history import option_history_folder
from core.params import TradingParams
from core.rl.env import ZeroDteEnv
from core.rl.metadata import ModelMetadata, code_version, metadata_path, pipeline_hash, pipeline_layout
from core.rl.sessions import SessionCache
from core.types import ActionSet

DEFAULT_SYNTHETIC_END = date(2025, 12, 31)  # fixed, so the same command trains the same model


@dataclass
class TrainConfig:
    source: str = "synthetic"
    start: date | None = None
    end: date | None = None
    days: int | None = 120
    timesteps: int = 200_000
    seed: int = 7
    out: Path = Path("models")
    name: str | None = None
    n_envs: int = 4
    lstm_hidden: int = 32
    progress: bool = False
    params: TradingParams | None = None
    option_history: str | None = None  # real option bars to price from (python -m worker.option_history)
    action_set: ActionSet = ActionSet.LONG
    include_held_out: bool = False  # train on the held-out tail too (core/market/holdout.py): only when told


def training_sessions(cfg: TrainConfig) -> tuple[Any, list[Session]]:
    world = make_world(cfg.source, cfg.seed)
    end = cfg.end or (DEFAULT_SYNTHETIC_END if cfg.source == "synthetic" else None)
    everything = pick_sessions(world, None, None, None) if has_tail(cfg.source) else []
    seen = session_split(everything, cfg.source).seen
    if seen and not cfg.include_held_out:  # the held-out tail is never trained on unless told
        end = min(end or date.max, seen[-1].day)
    sessions = pick_sessions(world, cfg.start, end, None if cfg.start else cfg.days)
    if not sessions:
        raise SystemExit(f"no sessions for {cfg.source} between {cfg.start} and {end}")
    return world, sessions


def build_model(env: Any, cfg: TrainConfig) -> Any:
    """A small RecurrentPPO: one 32-unit LSTM for the actor (the critic reads the same features
    through its own MLP), entropy bonus so the policy keeps exploring entries."""
    from sb3_contrib import RecurrentPPO

    return RecurrentPPO(
        "MlpLstmPolicy",
        env,
        n_steps=256,
        batch_size=256,
        n_epochs=4,
        learning_rate=3e-4,
        gamma=0.995,
        gae_lambda=0.95,
        ent_coef=0.005,
        policy_kwargs={
            "lstm_hidden_size": cfg.lstm_hidden,
            "n_lstm_layers": 1,
            "enable_critic_lstm": False,
            "net_arch": {"pi": [64], "vf": [64]},
        },
        seed=cfg.seed,
        device="cpu",
        verbose=0,
    )


def train(cfg: TrainConfig) -> tuple[Path, ModelMetadata]:
    """Train and write the model zip and its metadata; returns the zip's path."""
    import torch
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.utils import set_random_seed
    from stable_baselines3.common.vec_env import DummyVecEnv

    set_random_seed(cfg.seed)
    torch.set_num_threads(1)
    world, sessions = training_sessions(cfg)
    cache = SessionCache(world)
    params = cfg.params or TradingParams()
    history = pricing_history(world, cfg.source, cfg.option_history)

    def make(rank: int) -> Any:
        def _init() -> Any:
            env = Monitor(
                ZeroDteEnv(
                    world, sessions, params=params, cache=cache, option_history=history, action_set=cfg.action_set
                )
            )
            env.reset(seed=cfg.seed + rank)
            return env

        return _init

    vec = DummyVecEnv([make(i) for i in range(cfg.n_envs)])
    vec.seed(cfg.seed)
    model = build_model(vec, cfg)
    began = time.perf_counter()
    model.learn(total_timesteps=cfg.timesteps, progress_bar=cfg.progress)
    seconds = time.perf_counter() - began
    returns = [float(e["r"]) for e in model.ep_info_buffer]
    name = cfg.name or f"rppo-{'synthetic' if cfg.source == 'synthetic' else 'csv'}-s{cfg.seed}"
    cfg.out.mkdir(parents=True, exist_ok=True)
    zip_path = cfg.out / f"{name}.zip"
    model.save(zip_path)
    meta = ModelMetadata(
        model_version=name,
        **pipeline_layout(cfg.action_set),
        lstm_hidden_size=cfg.lstm_hidden,
        source=cfg.source,
        train_start=sessions[0].day.isoformat(),
        train_end=sessions[-1].day.isoformat(),
        sessions=len(sessions),
        symbols=list(world.symbols),
        seed=cfg.seed,
        timesteps=int(model.num_timesteps),
        code_version=code_version(),
        pipeline_hash=pipeline_hash(),
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        command="python -m core.rl.train " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        metrics={
            "seconds": round(seconds, 1),
            "steps_per_second": round(model.num_timesteps / seconds, 1) if seconds > 0 else None,
            "episodes_last_window": len(returns),
            "mean_episode_return_pct": round(float(np.mean(returns)), 4) if returns else None,
        },
    )
    meta.write(metadata_path(zip_path))
    return zip_path, meta


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    parser = argparse.ArgumentParser(prog="python -m core.rl.train", description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="synthetic", help="synthetic or csv:DIR")
    parser.add_argument("--start", type=date.fromisoformat, help="first training session")
    parser.add_argument("--end", type=date.fromisoformat, help="last training session")
    parser.add_argument("--days", type=int, default=120, help="sessions ending at --end (when --start is not given)")
    parser.add_argument("--timesteps", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("models"))
    parser.add_argument("--name", help="model version and file name (default rppo-<source>-s<seed>)")
    parser.add_argument("--n-envs", type=int, default=4)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument(
        "--option-history",
        default="auto",
        help="real option bars to price from ('auto': data/option_history when it holds a day; 'none')",
    )
    parser.add_argument(
        "--action-set",
        type=ActionSet,
        choices=list(ActionSet),
        default=ActionSet.LONG,
        help="long: hold/buy_call/buy_put/close; credit: hold/sell_put_spread/sell_call_spread/iron_condor/close",
    )
    parser.add_argument(
        INCLUDE_FLAG, action="store_true", help="train on the held-out tail of a csv source (core/market/holdout.py)"
    )
    a = parser.parse_args(argv)
    return TrainConfig(
        a.source, a.start, a.end, a.days, a.timesteps, a.seed, a.out, a.name, a.n_envs, 32, not a.no_progress,
        option_history=option_history_folder(a.option_history), action_set=a.action_set,
        include_held_out=a.include_held_out,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    cfg = parse_args(argv)
    zip_path, meta = train(cfg)
    size_kb = zip_path.stat().st_size / 1024
    print(
        f"wrote {zip_path} ({size_kb:.0f} KB) and {metadata_path(zip_path)}: {meta.sessions} sessions "
        f"{meta.train_start}..{meta.train_end}, {meta.timesteps} steps in {meta.metrics['seconds']} s, "
        f"mean episode return {meta.metrics['mean_episode_return_pct']}%"
    )


if __name__ == "__main__":
    main()
