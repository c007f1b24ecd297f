"""Tables for the Models page, from registry and evaluation rows (pandas only, no Streamlit)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from core.rl.report import FIGURES

REGISTRY_COLUMNS = (
    "version",
    "active",
    "source",
    "train_range",
    "sessions",
    "timesteps",
    "seed",
    "code_version",
    "trained_at",
    "selection",
    "path",
)


def registry(models: list[dict[str, Any]], active: str | None) -> pd.DataFrame:
    """One row per registered model, with its training range and whether the worker runs it."""
    rows = []
    for m in models:
        meta = m.get("metadata_json") or {}
        rows.append(
            {
                "version": m["version"],
                "active": m["version"] == active,
                "source": meta.get("source", ""),
                "train_range": f"{meta.get('train_start', '')} .. {meta.get('train_end', '')}",
                "sessions": meta.get("sessions"),
                "timesteps": meta.get("timesteps"),
                "seed": meta.get("seed"),
                "code_version": meta.get("code_version", ""),
                "trained_at": meta.get("trained_at", ""),
                # what `make model`'s selection found (worker/offline/ship_model.py verdict)
                "selection": ((meta.get("metrics") or {}).get("selection") or {}).get("verdict", ""),
                "path": m["path"],
            }
        )
    return pd.DataFrame(rows, columns=list(REGISTRY_COLUMNS))


def evaluation_ids(rows: list[dict[str, Any]]) -> list[str]:
    """Evaluation ids, newest first (rows come newest first)."""
    return list(dict.fromkeys(r["evaluation_id"] for r in rows))


def results(rows: list[dict[str, Any]], evaluation_id: str) -> pd.DataFrame:
    """Every fold and policy of one evaluation: each figure with its interval as columns."""
    out = []
    for r in rows:
        if r["evaluation_id"] != evaluation_id:
            continue
        m = r["metrics"] or {}
        row: dict[str, Any] = {
            "fold": "all" if r["fold"] < 0 else str(r["fold"]),  # one type: Arrow refuses a mixed column
            "policy": r["policy"],
            "model_version": r["model_version"],
            "seed": r["seed"],
            "train": f"{r['train_start']} .. {r['train_end']}",
            "test": f"{r['test_start']} .. {r['test_end']}",
            "days": m.get("days"),
            "trades": m.get("trades"),
        }
        for name in FIGURES:
            row[name] = m.get(name)
            row[f"{name}_lo"] = m.get(f"{name}_lo")
            row[f"{name}_hi"] = m.get(f"{name}_hi")
        row["hold_median_min"] = m.get("hold_median_min")  # how long its trades were held, out of sample
        row["held_2min_or_less"] = m.get("held_2min_or_less")
        # the P&L with implied vols at the price model's measured error ends (core/error_band.py)
        row["pnl_at_error_lo"] = m.get("pnl_band_lo")
        row["pnl_at_error_hi"] = m.get("pnl_band_hi")
        row["decided_by_data"] = {True: "yes", False: "no: the sign flips"}.get(m.get("pnl_decided"), "")
        row["note"] = m.get("note", "")
        blocked = m.get("blocked_entries") or {}
        row["blocked_entries"] = ", ".join(f"{k} {v}" for k, v in sorted(blocked.items(), key=lambda kv: -kv[1]))
        out.append(row)
    frame = pd.DataFrame(out)
    if frame.empty:
        return frame
    frame["order"] = frame["fold"].map(lambda f: 10_000 if f == "all" else int(f))
    return frame.sort_values(["order", "policy", "seed"], na_position="first").drop(columns="order")


def overall(frame: pd.DataFrame) -> pd.DataFrame:
    """The pooled rows (all folds), labelled by policy and seed for a chart."""
    if frame.empty:
        return frame
    pooled = frame[frame["fold"] == "all"].copy()
    pooled["label"] = [
        p if pd.isna(s) else f"{p} (seed {int(s)})" for p, s in zip(pooled["policy"], pooled["seed"], strict=True)
    ]
    return pooled


def confidence_rows(rows: list[dict[str, Any]], evaluation_id: str) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Per pooled policy (label): outcomes by confidence bucket, and the trades kept at several
    min_confidence thresholds; out of sample (the evaluation's test folds)."""
    out: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}
    for r in rows:
        m = r["metrics"] or {}
        if r["evaluation_id"] != evaluation_id or r["fold"] >= 0 or "confidence_buckets" not in m:
            continue
        label = r["policy"] if r["seed"] is None else f"{r['policy']} (seed {r['seed']})"
        buckets = []
        for bucket, s in m["confidence_buckets"].items():
            trades = int(s.get("trades", 0))
            buckets.append(
                {
                    "confidence": bucket,
                    "trades taken": trades,
                    "win rate": s["wins"] / trades if trades else None,
                    "mean P&L": s["pnl"] / trades if trades else None,
                    "entries wanted": int(s.get("wanted", 0)),
                    "of them blocked": int(s.get("blocked", 0)),
                }
            )
        out[label] = (pd.DataFrame(buckets), pd.DataFrame(m.get("thresholds") or []))
    return out


def active_selection(models: list[dict[str, Any]], active: str | None) -> dict[str, Any]:
    """What `make model`'s selection recorded for the model the worker runs (empty: none)."""
    for m in models:
        if m["version"] == active:
            meta = m.get("metadata_json") or {}
            return dict((meta.get("metrics") or {}).get("selection") or {})
    return {}


def _span(lo: Any, hi: Any, fmt: str = ",.0f") -> str:
    return "" if lo is None or hi is None else f"{format(lo, fmt)} .. {format(hi, fmt)}"


def runs_label(
    policy: str, seed: Any, evaluation_id: str, policy_mode: str, active: str | None, selection: dict[str, Any]
) -> str:
    """Whether the worker runs this row's policy: the rules under policy_mode rules, the shipped seed's
    model under rl when the worker's model was chosen by this evaluation; both under both."""
    rules_run = policy_mode in ("rules", "both") and policy == "rules"
    model_run = (
        policy_mode in ("rl", "both")
        and policy == "rl"
        and active is not None
        and selection.get("evaluation_id") == evaluation_id
        and seed == selection.get("chosen_seed")
    )
    if rules_run:
        return f"yes (policy_mode {policy_mode})"
    if model_run:
        return f"yes: {active} (policy_mode {policy_mode})"
    return ""


def candidates(
    rows: list[dict[str, Any]], evaluation_id: str, policy_mode: str, active: str | None, selection: dict[str, Any]
) -> pd.DataFrame:
    """Each candidate (one seed's model, pooled over the folds) beside the baselines on the same
    out-of-sample days: trades per day, median holding time, win rate, P&L with its interval and the
    price-model band, the selection score, and which one the worker runs."""
    scores = {c["seed"]: c.get("score") for c in selection.get("candidates", [])}
    if selection.get("evaluation_id") != evaluation_id:
        scores = {}
    out = []
    for r in rows:
        if r["evaluation_id"] != evaluation_id or r["fold"] >= 0:
            continue
        m, policy, seed = r["metrics"] or {}, r["policy"], r["seed"]
        candidate = policy.startswith("rl")
        win = m.get("win_rate")
        out.append(
            {
                "role": "candidate" if candidate else "baseline",
                "policy": policy,
                "seed": "" if seed is None else str(seed),
                "days": m.get("days"),
                "trades": m.get("trades"),
                "trades per day": m.get("trades_per_day"),
                "median hold (min)": m.get("hold_median_min"),
                "win rate %": None if win is None else round(100.0 * win, 1),
                "P&L": m.get("pnl"),
                "P&L 95% interval": _span(m.get("pnl_lo"), m.get("pnl_hi")),
                "P&L at the price model's error": _span(m.get("pnl_band_lo"), m.get("pnl_band_hi")),
                "score vs best baseline": scores.get(seed) if policy == "rl" else None,
                "worker runs": runs_label(policy, seed, evaluation_id, policy_mode, active, selection),
            }
        )
    frame = pd.DataFrame(out)
    if frame.empty:
        return frame
    return frame.sort_values(["role", "policy", "seed"], ascending=[False, True, True], kind="stable")
