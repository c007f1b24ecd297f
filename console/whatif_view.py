"""The Parameters page's "Try on past sessions": start `python -m worker.whatif` in a background
process on the edited, unsaved values, follow its progress file, and show both sides."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from console import charts
from console.formatting import dollars, plain
from console.login import session_fragment
from core.error_band import Banded
from core.params import ParamsError, validate_params
from db.engine import database_url

ROOT = Path(__file__).resolve().parents[1]
JOBS = Path(tempfile.gettempdir()) / "console-whatif"
ROWS = (
    ("Trades", "trades"),
    ("P&L", "total_pnl"),
    ("Win rate %", "win_rate_pct"),
    ("Profit factor", "profit_factor"),
    ("Max drawdown %", "max_drawdown_pct"),
)


def start(edited: dict[str, Any], sessions: int) -> dict[str, str]:
    """A background process on its own files; the page keeps only their paths."""
    JOBS.mkdir(parents=True, exist_ok=True)
    job = uuid.uuid4().hex[:12]
    files = {name: str(JOBS / f"{job}.{name}.json") for name in ("params", "progress", "out")}
    Path(files["params"]).write_text(json.dumps(edited))
    cmd = [sys.executable, "-m", "worker.whatif", "--params", files["params"],
           "--sessions", str(sessions), "--progress", files["progress"], "--out", files["out"]]  # fmt: skip
    env = {**os.environ, "DATABASE_URL": database_url()}  # the environment, never the command line: `ps` shows that
    log = open(JOBS / f"{job}.log", "w")  # noqa: SIM115 (the child owns it)
    subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return files


def _read(path: str) -> dict[str, Any] | None:
    try:
        return json.loads(Path(path).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _shown(value: object) -> str:
    """Whole counts as integers, figures to two places; a profit factor without losses is inf."""
    if value is None:
        return "inf"
    return f"{value:,}" if isinstance(value, int) else f"{float(value):,.2f}"  # type: ignore[arg-type]


def comparison(result: dict[str, Any]) -> None:
    active, edited = result["active"], result["edited"]
    st.caption(dollars(f"{len(result['sessions'])} sessions from {result['source']}, in {result['seconds']:.1f} s"))
    table = pd.DataFrame(
        [{"": label, "active": _shown(active[key]), "edited": _shown(edited[key])} for label, key in ROWS]
    )
    st.dataframe(table, hide_index=True, width="stretch")
    price_model_error(result)
    st.markdown(f"**Decisions changed: {result['decisions_changed']} of {result['decisions']}**")
    if result["first_changes"]:
        st.dataframe(pd.DataFrame(result["first_changes"]), hide_index=True, width="stretch")
        first_day = result["first_changes"][0]["time"][:10]
        st.markdown(f"[Open the decision explorer](./decisions) (first change on {plain(first_day)})")
    blocks = pd.DataFrame({"active": active["blocks"], "edited": edited["blocks"]}).fillna(0).astype(int)
    if not blocks.empty:
        st.markdown("**Blocked entries by code**")
        st.dataframe(blocks, width="stretch")
    days = pd.DataFrame({"active": active["pnl_by_day"], "edited": edited["pnl_by_day"]}).fillna(0.0)
    if not days.empty:
        st.plotly_chart(charts.side_by_side_bars(days, "P&L by day"), width="stretch")


def price_model_error(result: dict[str, Any]) -> None:
    """Each side's P&L at the calibration error's bounds, and how its options were priced."""
    band = result.get("band")
    for side in ("active", "edited"):
        pnl = float(result[side]["total_pnl"])
        if band is None:
            figure = f"{pnl:,.0f} (the price model's error band is being computed)"
        else:
            figure = Banded(pnl, band[side]["low"], band[side]["high"]).text()
        priced = result.get("priced", {}).get(side, "n/a")
        st.caption(dollars(f"{side.capitalize()} P&L {figure}. Options priced: {priced}."))


@session_fragment(run_every=1.0)
def follow() -> None:
    files = st.session_state.get("whatif_job")
    if not files:
        return
    result = _read(files["out"])
    if result is None:
        progress = _read(files["progress"]) or {"done": 0, "total": 1, "phase": "starting"}
        share = progress["done"] / max(progress["total"], 1)
        st.progress(share, text=f"Running {progress['phase']} side: {progress['done']}/{progress['total']} sessions")
        return
    if "error" in result:
        st.error(f"The trial failed: {plain(result['error'])}")
        return
    comparison(result)


def refusals(edited: dict[str, Any]) -> list[str]:
    """Why the edited values cannot run (the same rules Save applies); empty when they can."""
    try:
        validate_params(edited, strict=True)
    except ParamsError as refused:
        return [f"Cannot try: `{e.field}` {e.rule}." for e in refused.errors]
    return []


def section(edited: dict[str, Any]) -> None:
    errors = refusals(edited)
    st.subheader("Try on past sessions")
    st.caption(
        "Runs the edited values, unsaved, beside the active version on the same sessions. "
        "Nothing is applied until Save."
    )
    cols = st.columns([1, 1], vertical_alignment="bottom")
    sessions = int(
        cols[0].number_input("Sessions", min_value=1, max_value=250, value=20, step=1, key="whatif_sessions")
    )
    if cols[1].button("Try on past sessions", key="whatif_start", disabled=bool(errors)):
        st.session_state["whatif_job"] = start(edited, sessions)
    for error in errors:
        st.error(error)  # our own sentence: the field and the rule (core.params)
    follow()
