"""The Streamlit side of the login gate: refuse a non-loopback address without a password hash,
ask for the password whenever a hash is configured, and keep the operator logged in across
reloads and background-tab restores with a session cookie.

The cookie holds a random token; the database holds its sha256, the user, the expiry
(CONSOLE_SESSION_HOURS) and the password it was opened under (db/console_sessions.py). A reload
finds the user again from the cookie; logout revokes the row and clears the cookie; a new
password hash ends every session. Every run of every tab checks its session against the database
again, so a tab left open after a logout elsewhere, an expiry or a password change reads nothing
and does nothing: it is sent to the login. Every login attempt is recorded with its source;
CONSOLE_LOCKOUT_FAILURES wrong passwords within CONSOLE_LOCKOUT_MINUTES lock the account until
they age out of the window. Streamlit cannot send Set-Cookie headers, so the cookie is
written by a script in the page: it is SameSite=Strict, but not HttpOnly.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import streamlit as st

from console.auth import (
    access_problem,
    check_login,
    configured_hash,
    hash_problem,
    lockout_rule,
    session_lifetime_hours,
)
from console.data import writer
from db import console_sessions
from db.control import utcnow

GATE_PASSED = "gate_passed"
COOKIE = "odte_session"
_PENDING_COOKIE = "pending_cookie"  # (token, max-age seconds): written by the next page run


def _write_cookie(token: str, max_age_s: int) -> None:
    value = json.dumps(f"{COOKIE}={token}; Max-Age={max_age_s}; Path=/; SameSite=Strict")
    st.iframe(f"<script>window.parent.document.cookie = {value};</script>", height=1)


def _restore_from_cookie(stored: str) -> None:
    token = st.context.cookies.get(COOKIE)
    if not isinstance(token, str) or not token:  # no cookie (or no browser: AppTest)
        return
    user = console_sessions.session_user(writer(), token=token, password_hash=stored)
    if user is not None:
        st.session_state["user"], st.session_state["session_token"] = user, token


def login_gate() -> bool:
    """True when the operator may see the console; otherwise shows the refusal or the login form.
    The caller still registers its pages (hidden) so the page in the URL survives the login."""
    stored = configured_hash()
    problem = access_problem(st.get_option("server.address"), stored)
    problem = problem or (hash_problem(stored) if stored else None)
    if problem:
        st.error(problem)
        st.session_state[GATE_PASSED] = False
        return False
    if stored and st.session_state.get("user") and not _still_valid(stored):
        st.session_state.pop("user", None)  # logged out elsewhere, expired, or another password
        st.session_state.pop("session_token", None)
        st.session_state["session_ended"] = True
    if stored and not st.session_state.get("user"):
        _restore_from_cookie(stored)
    if not stored or st.session_state.get("user"):
        pending = st.session_state.pop(_PENDING_COOKIE, None)
        if pending is not None:
            _write_cookie(*pending)
        st.session_state[GATE_PASSED] = True
        return True
    st.session_state[GATE_PASSED] = False
    st.title("0DTE operator console")
    if st.session_state.pop("session_ended", False):
        st.warning("Your session ended (logged out in another tab, expired, or the password changed). Log in again.")
    with st.form("login"):
        user = st.text_input("User")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Log in", type="primary")
    if submitted:
        locked_until = _locked_until(user)
        if locked_until is not None:
            console_sessions.record_attempt(writer(), user=user, source=_source(), outcome="locked")
            st.error(f"Too many wrong passwords: this account is locked until {locked_until:%H:%M} UTC.")
            return False
        if check_login(user, password, stored):
            console_sessions.record_attempt(writer(), user=user, source=_source(), outcome="ok")
            lifetime = timedelta(hours=session_lifetime_hours())
            token = console_sessions.open_session(writer(), user=user, password_hash=stored, lifetime=lifetime)
            st.session_state["user"], st.session_state["session_token"] = user, token
            st.session_state[_PENDING_COOKIE] = (token, int(lifetime.total_seconds()))
            st.rerun()
        console_sessions.record_attempt(writer(), user=user, source=_source(), outcome="wrong_password")
        st.error("Wrong user or password.")
    return False


def _still_valid(stored: str) -> bool:
    """The tab's session is still live in the database (not revoked, not expired, same password)."""
    token = st.session_state.get("session_token")
    if not isinstance(token, str):
        return False
    return console_sessions.session_user(writer(), token=token, password_hash=stored) is not None


def _source() -> str:
    """The browser's address as Streamlit saw it ("unknown" without one, as in AppTest)."""
    address = getattr(st.context, "ip_address", None)
    return address if isinstance(address, str) and address else "unknown"


def _locked_until(user: str) -> datetime | None:
    """When the lock on `user` lifts, or None when it is not locked."""
    failures, minutes = lockout_rule()
    window = timedelta(minutes=minutes)
    count, oldest = console_sessions.failures_since(writer(), user=user, since=utcnow() - window)
    return None if count < failures or oldest is None else oldest + window


def logout_button() -> None:
    if st.session_state.get("user") and st.sidebar.button("Log out", key="logout"):
        token = st.session_state.pop("session_token", None)
        if token:
            console_sessions.revoke(writer(), token=token)
        st.session_state.pop("user", None)
        st.session_state[GATE_PASSED] = False
        _write_cookie("", 0)  # the browser forgets it too
        st.rerun()


def require_gate() -> None:
    """First line of every page: a page run without app.py's gate (see console/__main__.py)
    shows nothing."""
    if not st.session_state.get(GATE_PASSED):
        st.error("Open the console from its home page.")
        st.stop()
