"""The Streamlit side of the login gate: refuse a non-loopback address without a password hash,
and ask for the password whenever a hash is configured."""

from __future__ import annotations

import streamlit as st

from console.auth import access_problem, check_login, configured_hash, operator_user


def require_login() -> None:
    """Stops the script run until the operator is allowed in."""
    stored = configured_hash()
    problem = access_problem(st.get_option("server.address"), stored)
    if problem:
        st.error(problem)
        st.stop()
    if not stored or st.session_state.get("user"):
        return
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
    st.stop()


def logout_button() -> None:
    if st.session_state.get("user") and st.sidebar.button("Log out", key="logout"):
        st.session_state.pop("user", None)
        st.rerun()
