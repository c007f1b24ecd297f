"""The operator console. Start it with `python -m console` (console/__main__.py says why not with
`streamlit run app.py`). Pages are thin; the trading state and the stop sit at the top of every page."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from console.controls import control_panel
from console.live_banner import live_gate_banner
from console.login import login_gate, logout_button

PAGES = Path(__file__).resolve().parent / "pages"  # absolute: the app may be started from any folder

st.set_page_config(page_title="0DTE operator console", page_icon=":material/monitoring:", layout="wide")
allowed = login_gate()
page = st.navigation(
    [
        st.Page(PAGES / "overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page(PAGES / "trades.py", title="Trades", icon=":material/query_stats:"),
        st.Page(PAGES / "decisions.py", title="Decisions", icon=":material/rule:"),
        st.Page(PAGES / "parity.py", title="Parity", icon=":material/compare_arrows:"),
        st.Page(PAGES / "risk.py", title="Risk", icon=":material/warning:"),
        st.Page(PAGES / "readiness.py", title="Readiness", icon=":material/verified:"),
        st.Page(PAGES / "parameters.py", title="Parameters", icon=":material/tune:"),
        st.Page(PAGES / "models.py", title="Models", icon=":material/model_training:"),
        st.Page(PAGES / "audit.py", title="Audit", icon=":material/history:"),
    ],
    position="sidebar" if allowed else "hidden",
)
if not allowed:
    st.stop()
control_panel()
live_gate_banner()
logout_button()
page.run()
