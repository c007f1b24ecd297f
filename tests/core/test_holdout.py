"""The held-out tail (core/market/holdout.py): one definition, and training and evaluation never
reach into it unless told (--include-held-out)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from core.calendar import last_sessions
from core.market.holdout import (
    HELD_OUT_CHAIN_DAYS,
    HELD_OUT_SESSIONS,
    chain_day_split,
    drop_held_out,
    session_split,
    split_tail,
)
from core.rl.train import TrainConfig, training_sessions
from worker.offline.evaluate import evaluation_folds, parse_args


def test_the_tail_is_the_newest_days_and_never_everything() -> None:
    split = split_tail(list(range(30)), 20)
    assert split.seen == list(range(10)) and split.held_out == list(range(10, 30))
    assert split_tail([1, 2, 3], 20).held_out == [], "nothing left to fit on: nothing is held out"
    days = [date(2026, 7, 17) + timedelta(days=i) for i in range(10)]
    assert chain_day_split(list(reversed(days))).held_out == days[-HELD_OUT_CHAIN_DAYS:]
    assert session_split(list(range(40)), "synthetic").held_out == [], "generated sessions have no tail"
    sessions = list(range(40))
    assert drop_held_out(sessions, sessions, "csv:x", include=False) == list(range(40 - HELD_OUT_SESSIONS))
    assert drop_held_out(sessions, sessions, "csv:x", include=True) == sessions


def _csv_folder(folder: Path, days: int) -> list[date]:
    """`days` weekday sessions of flat SPY and QQQ bars and a daily VIX, in the shared layout."""
    out, d = [], date(2026, 1, 5)
    while len(out) < days:
        if d.weekday() < 5 and d != date(2026, 1, 19):  # MLK day
            out.append(d)
        d += timedelta(days=1)
    rows = ["datetime,open,high,low,close,volume"]
    for day in out:
        for m in range(390):
            h, mi = divmod(9 * 60 + 30 + m, 60)
            rows.append(f"{day} {h:02d}:{mi:02d}:00,600,600.5,599.5,600.1,1000")
    (folder / "SPY_1min_test.csv").write_text("\n".join(rows))
    (folder / "QQQ_1min_test.csv").write_text("\n".join(r.replace("600", "500") for r in rows))
    vix = ["date,open,high,low,close"] + [f"{day},18,19,17,18.5" for day in out]
    (folder / "VIX_daily.csv").write_text("\n".join(vix))
    return out


def test_training_never_sees_the_tail_unless_told(tmp_path: Path) -> None:
    days = _csv_folder(tmp_path, HELD_OUT_SESSIONS + 5)
    cfg = TrainConfig(source=f"csv:{tmp_path}", days=None)
    _, sessions = training_sessions(cfg)
    assert [s.day for s in sessions] == days[:5]
    _, asked_late = training_sessions(TrainConfig(source=f"csv:{tmp_path}", end=days[-1], days=3))
    assert [s.day for s in asked_late] == days[2:5], "an --end inside the tail is cut to the last seen day"
    _, told = training_sessions(TrainConfig(source=f"csv:{tmp_path}", days=None, include_held_out=True))
    assert [s.day for s in told] == days


def test_the_evaluation_takes_the_flag_and_held_out_needs_a_given_model() -> None:
    assert parse_args(["--include-held-out"]).include_held_out
    assert not parse_args([]).include_held_out
    with pytest.raises(SystemExit):
        parse_args(["--held-out"])
    assert parse_args(["--held-out", "--model", "models/rppo-shipped.zip"]).held_out


def test_the_evaluations_folds_stop_before_the_tail_unless_told() -> None:
    everything = last_sessions(date(2026, 3, 19), 80)
    tail = set(everything[-HELD_OUT_SESSIONS:])
    args = parse_args(["--source", "csv:x", "--folds", "3", "--train-days", "20", "--test-days", "10"])
    folds = evaluation_folds(everything, everything, args)
    assert len(folds) == 3 and folds[-1].test[-1] == everything[-HELD_OUT_SESSIONS - 1]
    assert not any(s in tail for f in folds for s in (*f.train, *f.test))
    told = evaluation_folds(everything, everything, parse_args([*_argv(args), "--include-held-out"]))
    assert told[-1].test[-1] == everything[-1]
    held = evaluation_folds(everything, everything, parse_args(["--source", "csv:x", "--held-out", "--model", "m"]))
    assert len(held) == 1 and held[0].train == [] and held[0].test == everything[-HELD_OUT_SESSIONS:]


def _argv(args: object) -> list[str]:
    return ["--source", "csv:x", "--folds", "3", "--train-days", "20", "--test-days", "10"]
