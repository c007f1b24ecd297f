"""The held-out tail: the newest days of the shared data that fitting and training never see.

One definition, used by every command that fits or trains (`make calibrate`, `make model` /
worker.ship_model, `make evaluate` / worker.evaluate, core.rl.train) and by `make figures`, whose
out-of-sample figures come from this tail. A command sees the tail only when told
(`--include-held-out`), and then its figures are in sample for those days.

* Real 1-minute sessions (a `csv:DIR` source): the last HELD_OUT_SESSIONS sessions the folder
  has for every underlying.
* Same-day chain days (the calibration's days): the last HELD_OUT_CHAIN_DAYS chain days.

Synthetic sessions have no tail: they are generated, not shared data, and cannot be seen ahead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Generic, TypeVar

HELD_OUT_SESSIONS = 20  # the newest real sessions kept back from training and evaluation's folds
HELD_OUT_CHAIN_DAYS = 3  # the newest same-day chain days kept back from the price model's fit
INCLUDE_FLAG = "--include-held-out"  # the one flag every command takes to use the tail anyway

T = TypeVar("T")


@dataclass(frozen=True)
class Split(Generic[T]):
    """Items (sessions, days) split into those a fit may see and the held-out tail."""

    seen: list[T]
    held_out: list[T]


def split_tail(items: Sequence[T], n: int) -> Split[T]:
    """The last `n` items are the tail (items in time order); fewer than `n` + 1 items leave
    nothing to fit on, so then nothing is held out and the caller's figures say in sample."""
    items = list(items)
    if n <= 0 or len(items) <= n:
        return Split(items, [])
    return Split(items[:-n], items[-n:])


def has_tail(source: str) -> bool:
    """Sources of shared data have a held-out tail; synthetic worlds do not."""
    return source.startswith("csv:")


def session_split(all_sessions: Sequence[T], source: str) -> Split[T]:
    """A source's sessions (all of them, in order) split at the held-out tail."""
    if not has_tail(source):
        return Split(list(all_sessions), [])
    return split_tail(all_sessions, HELD_OUT_SESSIONS)


def chain_day_split(days: Sequence[date]) -> Split[date]:
    """The calibration's chain days (any order) split at the held-out tail of chain days."""
    return split_tail(sorted(set(days)), HELD_OUT_CHAIN_DAYS)


def drop_held_out(sessions: Sequence[T], all_sessions: Sequence[T], source: str, include: bool) -> list[T]:
    """`sessions` without the source's held-out tail, unless `include` (the explicit flag)."""
    if include:
        return list(sessions)
    tail = set(session_split(all_sessions, source).held_out)
    return [s for s in sessions if s not in tail]
