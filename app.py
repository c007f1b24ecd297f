"""The operator console: `streamlit run app.py`. Pages are thin; the stop is on every page."""

from __future__ import annotations

import streamlit as st

from console.controls import control_panel

st.set_page_config(page_title="0DTE operator console", page_icon=":material/monitoring:", layout="wide")
page = st.navigation([st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True)])
control_panel()
page.run()
