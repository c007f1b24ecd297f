"""The Models page's candidates table: every candidate beside the baselines, and which one runs."""

from __future__ import annotations

from typing import Any

from console.models_view import active_selection, candidates, runs_label


def _row(policy: str, seed: int | None, fold: int = -1, evaluation_id: str = "eval-1", **m: Any) -> dict[str, Any]:
    metrics = {"days": 20, "trades": 40, "trades_per_day": 2.0, "hold_median_min": 9.0, "win_rate": 0.45}
    metrics |= {"pnl": -100.0, "pnl_lo": -300.0, "pnl_hi": 90.0, "pnl_band_lo": -160.0, "pnl_band_hi": -40.0, **m}
    return {"evaluation_id": evaluation_id, "fold": fold, "policy": policy, "seed": seed, "metrics": metrics}


SCORES = [{"seed": 1, "score": -50.0}, {"seed": 2, "score": 25.0}]
SELECTION = {"evaluation_id": "eval-1", "chosen_seed": 2, "candidates": SCORES}
ROWS = [
    _row("rl", 1), _row("rl", 2, pnl=300.0), _row("rl@0.50", 2), _row("rules", None), _row("hold", None, trades=0),
    _row("rl", 2, fold=0), _row("rl", 2, evaluation_id="eval-0"),
]  # fmt: skip


def test_candidates_sit_beside_the_baselines_with_their_figures() -> None:
    frame = candidates(ROWS, "eval-1", "rl", "rppo-csv-wf-s2", SELECTION)
    assert len(frame) == 5, "pooled rows of this evaluation only: no fold rows, no other evaluation"
    assert list(frame["role"]) == ["candidate"] * 3 + ["baseline"] * 2
    shipped = frame[(frame["policy"] == "rl") & (frame["seed"] == "2")].iloc[0]
    assert shipped["P&L"] == 300.0 and shipped["P&L 95% interval"] == "-300 .. 90"
    assert shipped["P&L at the price model's error"] == "-160 .. -40"
    assert (shipped["median hold (min)"], shipped["win rate %"], shipped["trades per day"]) == (9.0, 45.0, 2.0)
    assert shipped["score vs best baseline"] == 25.0
    assert shipped["worker runs"] == "yes: rppo-csv-wf-s2 (policy_mode rl)"
    assert frame["worker runs"].astype(bool).sum() == 1, "only the shipped seed's model at its own threshold"


def test_the_rules_are_marked_as_running_when_the_rules_decide() -> None:
    frame = candidates(ROWS, "eval-1", "rules", "rppo-csv-wf-s2", SELECTION)
    running = frame[frame["worker runs"].astype(bool)]
    assert list(running["policy"]) == ["rules"], "the demo preset trades on rules: the model is not ticked"
    both = candidates(ROWS, "eval-1", "both", "rppo-csv-wf-s2", SELECTION)
    assert sorted(both[both["worker runs"].astype(bool)]["policy"]) == ["rl", "rules"]


def test_a_model_chosen_by_another_evaluation_is_not_claimed_by_this_one() -> None:
    assert runs_label("rl", 2, "eval-0", "rl", "rppo-csv-wf-s2", SELECTION) == ""
    frame = candidates(ROWS, "eval-0", "rl", "rppo-csv-wf-s2", SELECTION)
    assert frame["score vs best baseline"].isna().all()


def test_the_active_models_selection_is_read_from_its_metadata() -> None:
    models = [
        {"version": "other", "metadata_json": {"metrics": {"selection": {"chosen_seed": 9}}}},
        {"version": "rppo-csv-wf-s2", "metadata_json": {"metrics": {"selection": SELECTION}}},
    ]
    assert active_selection(models, "rppo-csv-wf-s2")["chosen_seed"] == 2
    assert active_selection(models, None) == {} and active_selection([{"version": "x"}], "x") == {}
