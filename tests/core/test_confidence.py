"""Confidence against outcomes: buckets count the trades taken and the entries wanted, folds
pool by adding, and a threshold keeps the trades taken at or above it."""

from __future__ import annotations

from core.rl.confidence import Taken, Wanted, add_sums, at_thresholds, bucket_of, bucket_sums


def test_buckets_count_taken_and_wanted_and_folds_add_up() -> None:
    taken = [Taken(0.55, 10.0), Taken(0.58, -4.0), Taken(0.91, 7.0)]
    wanted = [Wanted(0.55, False), Wanted(0.58, False), Wanted(0.62, True), Wanted(0.91, False)]
    sums = bucket_sums(taken, wanted)
    assert sums["0.5-0.6"] == {"trades": 2, "wins": 1, "pnl": 6.0, "wanted": 2, "blocked": 0}
    assert sums["0.6-0.7"] == {"trades": 0, "wins": 0, "pnl": 0.0, "wanted": 1, "blocked": 1}
    assert bucket_of(1.0) == "0.9-1.0" and bucket_of(0.0) == "0.0-0.4"
    assert add_sums([sums, sums])["0.5-0.6"]["trades"] == 4


def test_a_threshold_keeps_the_trades_at_or_above_it() -> None:
    rows = {r["min_confidence"]: r for r in at_thresholds([Taken(0.55, 10.0), Taken(0.75, -4.0), Taken(0.91, 7.0)])}
    assert rows[0.5]["trades"] == 3 and rows[0.75]["trades"] == 2 and rows[0.9]["trades"] == 1
    assert rows[0.75]["pnl"] == 3.0 and rows[0.75]["win_rate"] == 0.5
    assert rows[0.6]["mean_pnl"] == 1.5
