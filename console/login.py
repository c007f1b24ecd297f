"""The Streamlit side of the login gate: refuse a non-loopback address without a password hash,
and ask for the password whenever a hash is configured."""

from __future__ import annotations

import streamlit as st

from console.auth import access_problem, check_login, configured_hash, operator_user

GATE_PASSED = "gate_passed"


def login_gate() -> bool:
    """True when the operator may see the console; otherwise shows the refusal or the login form.
    The caller still registers its pages (hidden) so the page in the URL survives the login."""
    stored = configured_hash()
    problem = access_problem(st.get_option("server.address"), stored)
    if problem:
        st.error(problem)
        st.session_state[GATE_PASSED] = False
        return False
    if not stored or st.session_state.get("user"):
        st.session_state[GATE_PASSED] = True
        return True
    st.session_state[GATE_PASSED] = False
    st.title("0DTE operator console")
    with st.form("login"):
        user = st.text_input("User", value=operator_user())
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Log in", type="primary")
    if submitted:
        if check_login(user, password, stored):
            st.session_state["user"] = user
            st.rerun()
        st.error("Wrong user or password.")
    return False


def logout_button() -> None:
    if st.session_state.get("user") and st.sidebar.button("Log out", key="logout"):
        st.session_state.pop("user", None)
        st.session_state[GATE_PASSED] = False
        st.rerun()


def require_gate() -> None:
    """First line of every page: a page run without app.py's gate (see console/__main__.py)
    shows nothing."""
    if not st.session_state.get(GATE_PASSED):
        st.error("Open the console from its home page.")
        st.stop()
