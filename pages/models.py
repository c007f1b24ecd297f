"""Models: the registry (versions, training range, which one the worker runs) and the
walk-forward out-of-sample results against the baselines, with bootstrap intervals."""

from __future__ import annotations

import streamlit as st

from console import charts, models_view
from console.data import reader
from console.figures_view import read_figures, shipped_rerun
from console.formatting import dollars, plain
from console.login import require_gate
from console.shipped_model import shipped_record
from core.params import TradingParams
from db import model_store, reads

FIGURE_LABELS = {
    "pnl": "P&L",
    "win_rate": "win rate",
    "profit_factor": "profit factor",
    "sharpe": "Sharpe",
    "max_drawdown_pct": "max drawdown %",
    "trades_per_day": "trades per day",
}


def registry() -> None:
    st.subheader("Registry")
    engine = reader()
    active = model_store.active_model(engine)
    mode = policy_mode()
    # under policy_mode rules the model may be loaded but decides nothing: it is not ticked as running
    frame = models_view.registry(model_store.models(engine), active if mode != "rules" else None)
    if frame.empty:
        st.write(
            "No model registered yet: the worker registers the model it loads; `python -m worker.evaluate` "
            "registers the one it evaluates."
        )
        return
    loaded = f"The worker's newest run loaded {active or 'no model'}"
    decides = "the rules decide; the model is not consulted" if mode == "rules" else f"policy_mode {mode}"
    st.caption(dollars(f"{loaded}; {decides}."))
    st.dataframe(frame, hide_index=True, width="stretch")


def shipped() -> None:
    """The shipped model's out-of-sample record from its metadata: there on a fresh database too."""
    record = shipped_record()
    if record is None:
        return
    st.subheader("The shipped model's out-of-sample record")
    fold = f"fold {record.shipped_fold}'s test range" if record.shipped_fold is not None else "its test range"
    st.markdown(
        f"**{plain(record.model_version)}**, trained on {plain(record.train_range)} ({record.sessions} sessions of "
        f"{plain(record.source)}). Out of sample: {fold} in evaluation {plain(record.evaluation_id)}, days the "
        f"model never trained on. Verdict: {plain(record.verdict)}"
    )
    st.dataframe(record.fold, hide_index=True, width="stretch")
    st.caption(
        f"Each P&L with its 95% bootstrap interval. Chosen by {plain(record.criterion)}. From "
        f"{plain(record.path.name)} beside the model."
    )
    rerun = shipped_rerun(read_figures())
    if rerun:
        st.caption(rerun)
    if not record.pooled.empty:
        with st.expander("Every fold of the evaluation pooled"):
            st.dataframe(record.pooled, hide_index=True, width="stretch")


def policy_mode() -> str:
    """Who decides under the active parameter version (rl, rules or both)."""
    control = reads.control_state(reader()) or {}
    version = reads.param_version(reader(), int(control.get("active_param_version") or 0))
    return TradingParams.model_validate(version["values"] if version else {}).policy_mode.value


def candidates(rows: list[dict[str, object]], chosen: str) -> None:
    """Every candidate beside the baselines on the same days, and which one the worker runs."""
    engine = reader()
    active = model_store.active_model(engine)
    selection = models_view.active_selection(model_store.models(engine), active)
    mode = policy_mode()
    st.markdown("**Candidates beside the baselines** (out of sample, all folds pooled)")
    if selection.get("evaluation_id") == chosen:
        st.caption(f"The selection: {dollars(selection.get('verdict', ''))}")
    frame = models_view.candidates(rows, chosen, mode, active, selection)  # type: ignore[arg-type]
    st.dataframe(frame, hide_index=True, width="stretch")
    if not frame["worker runs"].astype(bool).any():
        st.caption(dollars(f"The worker runs none of these: policy_mode {mode}, model {active or 'none loaded'}."))


def evaluation() -> None:
    st.subheader("Out-of-sample evaluation")
    rows = model_store.evaluations(reader())
    ids = models_view.evaluation_ids(rows)
    if not ids:
        st.write(
            "No evaluation stored in this database yet (the shipped model's record above is from its file). "
            "Run `make model` or `python -m worker.evaluate` (see the README; "
            "the figures it quotes come from those commands on ../shared/data)."
        )
        return
    chosen = st.selectbox("Evaluation", ids, key="models_eval")
    candidates(rows, chosen)  # type: ignore[arg-type]
    frame = models_view.results(rows, chosen)
    pooled = models_view.overall(frame)
    figure = st.selectbox("Figure", list(FIGURE_LABELS), format_func=FIGURE_LABELS.get, key="models_figure")
    if not pooled.empty:
        st.plotly_chart(
            charts.interval_bars(
                pooled,
                "label",
                figure,
                f"{figure}_lo",
                f"{figure}_hi",
                f"All folds: {FIGURE_LABELS[figure]} with 95% bootstrap interval",
            ),
            width="stretch",
        )
    st.dataframe(frame, hide_index=True, width="stretch")
    confidence(rows, chosen)


def confidence(rows: list[dict[str, object]], evaluation_id: str) -> None:
    """Whether raising min_confidence helps, on evidence: outcomes by the policy's confidence."""
    tables = models_view.confidence_rows(rows, evaluation_id)  # type: ignore[arg-type]
    if not tables:
        return
    st.subheader("Confidence against outcomes (out of sample, all folds)")
    label = st.selectbox("Policy", list(tables), key="models_conf_policy")
    buckets, thresholds = tables[label]
    if not buckets.empty:
        st.plotly_chart(charts.reliability(buckets), width="stretch")
    st.dataframe(buckets, hide_index=True, width="stretch")
    st.caption(
        "The trades taken at or above each min_confidence: what raising the threshold keeps. A lower "
        "threshold would add entries this run never took, so it cannot be read from here."
    )
    st.dataframe(thresholds, hide_index=True, width="stretch")


require_gate()
st.title("Models")
registry()
shipped()
evaluation()
