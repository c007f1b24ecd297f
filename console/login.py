"""The Streamlit side of the login gate: refuse a non-loopback address without a password hash,
ask for the password whenever a hash is configured, and keep the operator logged in across
reloads and background-tab restores with a session cookie.

The cookie holds a random token; the database holds its sha256, the user, the expiry
(CONSOLE_SESSION_HOURS) and the password it was opened under (db/console_sessions.py). A reload
finds the user again from the cookie; logout revokes the row and clears the cookie; a new
password hash ends every session. Every run of every tab checks its session against the database
again: the whole-page run in `login_gate`, and every run of a fragment (the control bar, the
Overview's live section, the close and cancel controls, the what-if's progress, the resume
dialog) and the CSV download through `session_fragment`, `session_dialog` and
`checked_download`. So a tab left open after a logout
elsewhere, an expiry or a password change reads nothing and does nothing: it is sent to the
login. Every login attempt is recorded with its source (the socket's address, or behind a
CONSOLE_TRUSTED_PROXY the address it forwarded) and judged in one transaction with the source's
earlier failures: after CONSOLE_LOCKOUT_FAILURES wrong passwords a source waits, twice as long
after each further one, up to CONSOLE_LOCKOUT_MINUTES (console/auth.py, db/console_sessions.py);
other sources are not slowed. Streamlit cannot send Set-Cookie headers, so the cookie is
written by a script in the page: it is SameSite=Strict, but not HttpOnly.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

import streamlit as st

from console.auth import (
    access_problem,
    backoff_rule,
    client_source,
    configured_hash,
    credentials_match,
    hash_problem,
    pause_after_failure,
    session_lifetime_hours,
    trusted_proxies,
)
from console.data import writer
from console.formatting import dollars
from db import console_sessions

GATE_PASSED = "gate_passed"
COOKIE = "odte_session"
_PENDING_COOKIE = "pending_cookie"  # (token, max-age seconds): written by the next page run
ENDED = "Your session ended (logged out in another tab, expired, or the password changed). Log in again."
_ENDED_PARAM = "session_ended"  # the reload's mark, so that the login says why it is back
_RELOAD = (  # run by the page itself: Streamlit's iframes may not navigate the page without a user's gesture
    "<script>const s = window.parent.document.createElement('script'); s.textContent = "
    f"\"const u = new URL(location.href); u.searchParams.set('{_ENDED_PARAM}', '1'); \" + "
    '"location.replace(u.toString());"; '
    "window.parent.document.body.appendChild(s);</script>"
)


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
    if _ENDED_PARAM in st.query_params:  # sent here by a fragment whose session had ended
        del st.query_params[_ENDED_PARAM]
        st.session_state["session_ended"] = True
    stored = configured_hash()
    problem = access_problem(st.get_option("server.address"), stored)
    problem = problem or (hash_problem(stored) if stored else None)
    if problem:
        st.error(dollars(problem))  # it quotes a hash's `$` separators: shown, never read as math
        st.session_state[GATE_PASSED] = False
        return False
    if stored and st.session_state.get("user") and not _still_valid(stored):
        _end_session()
    if stored and not st.session_state.get("user"):
        _restore_from_cookie(stored)
    if not stored or st.session_state.get("user"):
        pending = st.session_state.pop(_PENDING_COOKIE, None)
        if pending is not None:
            _write_cookie(*pending)
        st.session_state.pop("session_ended", None)
        st.session_state[GATE_PASSED] = True
        return True
    st.session_state[GATE_PASSED] = False
    st.title("0DTE operator console")
    if st.session_state.pop("session_ended", False):
        st.warning(ENDED)
    with st.form("login"):
        user = st.text_input("User")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Log in", type="primary")
    if submitted:
        _attempt(user, password, stored)
    return False


def _attempt(user: str, password: str, stored: str) -> None:
    """One login attempt: the password checked, then the attempt recorded and judged against its
    source's earlier failures in one transaction (db/console_sessions.judge_attempt)."""
    matched = credentials_match(user, password, stored)
    judged = console_sessions.judge_attempt(
        writer(), user=user, source=_source(), password_ok=matched, rule=backoff_rule()
    )
    if judged.outcome == "ok":
        lifetime = timedelta(hours=session_lifetime_hours())
        token = console_sessions.open_session(writer(), user=user, password_hash=stored, lifetime=lifetime)
        st.session_state["user"], st.session_state["session_token"] = user, token
        st.session_state[_PENDING_COOKIE] = (token, int(lifetime.total_seconds()))
        st.rerun()
    pause_after_failure()
    if judged.outcome == "locked" and judged.wait_until is not None:
        st.error(
            f"Too many wrong passwords from your address: it is locked until {judged.wait_until:%H:%M:%S} UTC "
            "(other addresses are not)."
        )
    elif judged.wait_until is not None:
        st.error(f"Wrong user or password. Your address must wait until {judged.wait_until:%H:%M:%S} UTC.")
    else:
        st.error("Wrong user or password.")


def _still_valid(stored: str) -> bool:
    """The tab's session is still live in the database (not revoked, not expired, same password)."""
    token = st.session_state.get("session_token")
    if not isinstance(token, str):
        return False
    return console_sessions.session_user(writer(), token=token, password_hash=stored) is not None


def _source() -> str:
    """Where this browser connects from: the socket's peer (Streamlit reports a loopback peer as
    None, so a live connection without one is 127.0.0.1; "unknown" without a browser, as in
    AppTest), or behind a CONSOLE_TRUSTED_PROXY the address that proxy forwarded."""
    headers = st.context.headers
    address = getattr(st.context, "ip_address", None)
    if isinstance(address, str) and address:
        peer = address
    elif len(headers):
        peer = "127.0.0.1"
    else:
        return "unknown"
    return client_source(peer, headers.get_all("X-Forwarded-For"), trusted_proxies())


def _end_session() -> None:
    """Forget the tab's login (logged out elsewhere, expired, or another password) and say so."""
    st.session_state.pop("user", None)
    st.session_state.pop("session_token", None)
    st.session_state["session_ended"] = True
    st.session_state[GATE_PASSED] = False


def session_alive() -> bool:
    """This tab may read and act now: its gate passed and, with a login configured, its session is
    still live in the database. A tab whose session ended is logged out here."""
    if not st.session_state.get(GATE_PASSED):
        return False
    stored = configured_hash()
    if not stored:
        return True  # the open console on loopback (app.py's gate refused any other address)
    if st.session_state.get("user") and _still_valid(stored):
        return True
    _end_session()
    return False


def require_session() -> None:
    """The first line of every fragment's run: a tab whose session ended reads and does nothing
    more, and its page is loaded afresh, which shows the login (and says why). A full reload,
    not `st.rerun(scope="app")`: an app rerun asked from a fragment raced the page's other
    fragment timers in Chromium and sometimes left the tab blank instead of on the login."""
    if session_alive():
        return
    st.warning(ENDED)
    st.iframe(_RELOAD, height=1)
    st.stop()


P = ParamSpec("P")
R = TypeVar("R")


def _checked(body: Callable[P, None]) -> Callable[P, None]:
    @functools.wraps(body)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        require_session()
        body(*args, **kwargs)

    return run


def session_fragment(run_every: float | None = None) -> Callable[[Callable[P, None]], Callable[P, None]]:
    """`st.fragment` whose every run, its own refreshes and its widgets' reruns included, checks the
    session first: a fragment reruns without app.py, so without the gate."""

    def wrap(body: Callable[P, None]) -> Callable[P, None]:
        return st.fragment(_checked(body), run_every=run_every)

    return wrap


def session_dialog(title: str, on_dismiss: Callable[[], Any]) -> Callable[[Callable[P, None]], Callable[P, None]]:
    """`st.dialog` (a fragment too) whose every run checks the session first."""

    def wrap(body: Callable[P, None]) -> Callable[P, None]:
        return st.dialog(title, on_dismiss=on_dismiss)(_checked(body))

    return wrap


def checked_download(make: Callable[[], R]) -> Callable[[], R]:
    """A download's deferred data that is made only while the session that offered it is live:
    Streamlit calls it on the click, outside any script run (no session state there), so the
    tab's token and the password hash are taken now and checked against the database then."""
    stored, token = configured_hash(), st.session_state.get("session_token")

    def made() -> R:
        if stored and not (
            isinstance(token, str) and console_sessions.session_user(writer(), token=token, password_hash=stored)
        ):
            raise PermissionError("the session that offered this download has ended: log in again")
        return make()

    return made


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
