"""Access: the login gate, the refusal to serve a non-loopback address without a password hash,
and the browser-facing settings (XSRF on, no error details)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from streamlit import config
from streamlit.testing.v1 import AppTest

from console import auth
from tests.console_helpers import APP
from tests.support import ROOT

PASSWORD = "correct horse battery staple"


@pytest.fixture
def gated(migrated: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("DATABASE_URL", migrated)
    monkeypatch.setenv("CONSOLE_PASSWORD_HASH", auth.hash_password(PASSWORD))
    monkeypatch.setenv("CONSOLE_USER", "bob")
    monkeypatch.setattr(auth, "FAILED_LOGIN_DELAY_S", 0.0)
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    return at


@pytest.fixture
def listening_everywhere() -> Iterator[None]:
    before = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")
    yield
    config.set_option("server.address", before)


def test_password_hashes_verify_and_never_match_a_wrong_or_malformed_one() -> None:
    stored = auth.hash_password(PASSWORD)
    assert stored.startswith("scrypt$") and PASSWORD not in stored
    assert auth.verify_password(PASSWORD, stored)
    assert not auth.verify_password(PASSWORD + "!", stored)
    assert not auth.verify_password(PASSWORD, "plain-text-password")
    assert auth.hash_password(PASSWORD) != stored  # salted


@pytest.mark.parametrize(
    ("address", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False), ("", False), (None, False),
     ("192.168.1.5", False), ("example.org", False)],
)  # fmt: skip
def test_only_loopback_addresses_count_as_loopback(address: str | None, loopback: bool) -> None:
    assert auth.is_loopback(address) is loopback


def test_the_gate_shows_nothing_but_the_login_until_the_password_is_right(gated: AppTest) -> None:
    assert not gated.exception
    assert [b.label for b in gated.button] == ["Log in"]  # no stop, no page: only the login form
    gated.text_input[0].input("bob")
    gated.text_input[1].input("wrong password")
    gated.button[0].click().run()
    assert any("Wrong user or password" in e.value for e in gated.error)
    assert "user" not in gated.session_state

    gated.text_input[1].input(PASSWORD)
    gated.button[0].click().run()
    assert not gated.exception
    assert gated.session_state["user"] == "bob"
    assert gated.button(key="stop")  # in: the console and its stop are there


def test_actions_after_login_are_audited_under_the_users_name(gated: AppTest, migrated: str) -> None:
    from tests.console_helpers import scalar

    _log_in(gated)
    gated.button(key="stop").click().run()
    assert scalar(migrated, "SELECT who FROM controlevent") == "bob"


def _log_in(at: AppTest, password: str = PASSWORD, user: str = "bob") -> AppTest:
    at.text_input[0].input(user)
    at.text_input[1].input(password)
    return at.button[0].click().run()


def _tab(monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """Another tab of the same browser: its session state restored from the same cookie."""
    tab = AppTest.from_file(APP, default_timeout=30)
    tab.run()
    return tab


def test_a_tab_left_open_after_a_logout_elsewhere_can_do_nothing(
    gated: AppTest, migrated: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.console_helpers import scalar

    _log_in(gated)
    token = gated.session_state["session_token"]
    other = _tab(monkeypatch)
    other.session_state["user"], other.session_state["session_token"] = "bob", token  # as the cookie gives it
    other.run()
    assert other.button(key="stop"), "the second tab is in"
    gated.sidebar.button(key="logout").click().run()  # logout in the first tab revokes the session
    other.button(key="stop").click().run()  # the stale tab taps the stop
    assert scalar(migrated, "SELECT count(*) FROM controlevent") == 0, "nothing was done"
    assert [b.label for b in other.button] == ["Log in"] and "user" not in other.session_state
    assert any("session ended" in w.value for w in other.warning)


def test_a_session_expired_or_under_another_password_sends_the_tab_to_the_login(
    gated: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    _log_in(gated)
    assert gated.button(key="stop")
    monkeypatch.setenv("CONSOLE_PASSWORD_HASH", auth.hash_password("a brand new password"))
    gated.run()
    assert [b.label for b in gated.button] == ["Log in"], "opened under the old password: over"


def test_failed_logins_are_audited_and_lock_the_account_until_the_window_passes(
    gated: AppTest, migrated: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from db import console_sessions
    from db.control import utcnow
    from db.engine import make_engine
    from tests.console_helpers import scalar

    monkeypatch.setenv("CONSOLE_LOCKOUT_FAILURES", "3")
    monkeypatch.setenv("CONSOLE_LOCKOUT_MINUTES", "15")
    for _ in range(3):
        _log_in(gated, "guess")
    _log_in(gated)  # the right password, while locked
    assert "user" not in gated.session_state and any("locked until" in e.value for e in gated.error)
    rows = scalar(migrated, "SELECT group_concat(outcome || '@' || source, ',') FROM login_attempt")
    assert rows == "wrong_password@unknown,wrong_password@unknown,wrong_password@unknown,locked@unknown"
    # the same failures 16 minutes old: outside the window, the account is open again
    engine = make_engine(migrated)
    with engine.begin() as conn:
        from sqlalchemy import text

        conn.execute(text("DELETE FROM login_attempt"))
    old = utcnow() - timedelta(minutes=16)
    for _ in range(3):
        console_sessions.record_attempt(engine, user="bob", source="203.0.113.9", outcome="wrong_password", at=old)
    engine.dispose()
    _log_in(gated)
    assert gated.session_state["user"] == "bob"
    gated.switch_page("../../pages/audit.py").run()
    logins = next(d.value for d in gated.dataframe if "outcome" in d.value.columns)
    assert list(logins["outcome"])[:2] == ["ok", "wrong_password"] and "203.0.113.9" in set(logins["source"])


def test_the_login_form_does_not_offer_the_user_name(gated: AppTest) -> None:
    assert gated.text_input[0].value == ""


def test_the_app_refuses_to_serve_a_non_loopback_address_without_a_hash(
    migrated: str, monkeypatch: pytest.MonkeyPatch, listening_everywhere: None
) -> None:
    monkeypatch.setenv("DATABASE_URL", migrated)
    monkeypatch.delenv("CONSOLE_PASSWORD_HASH", raising=False)
    monkeypatch.setattr(auth, "SECRETS_FILE", Path("/nonexistent/secrets.toml"))
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    assert any("without a login" in e.value for e in at.error)
    assert [b.key for b in at.button] == []


def test_the_launcher_refuses_a_non_loopback_address_without_a_hash(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CONSOLE_PASSWORD_HASH"}
    done = subprocess.run(
        [sys.executable, "-m", "console", "--address", "0.0.0.0", "--port", "8599"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "refused" in done.stderr and "CONSOLE_PASSWORD_HASH" in done.stderr


def test_the_hash_command_refuses_short_passwords_and_prints_a_verifiable_hash() -> None:
    short = subprocess.run([sys.executable, "-m", "console.auth", "hash"], input="short\n", cwd=ROOT,
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert short.returncode == 2
    done = subprocess.run([sys.executable, "-m", "console.auth", "hash"], input=PASSWORD + "\n", cwd=ROOT,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0 and auth.verify_password(PASSWORD, done.stdout.strip())


def test_xsrf_stays_on_and_error_details_stay_off() -> None:
    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert settings["server"]["enableXsrfProtection"] is True
    assert settings["client"]["showErrorDetails"] == "none"
    assert settings["server"]["address"] == "127.0.0.1"


def test_a_page_run_without_the_apps_gate_shows_nothing(migrated: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", migrated)
    at = AppTest.from_file(str(ROOT / "pages" / "trades.py"), default_timeout=30)
    at.run()
    assert [e.value for e in at.error] == ["Open the console from its home page."]
    assert not at.multiselect and not at.metric


def test_a_hash_mangled_by_double_quotes_is_refused_at_start_with_the_reason(tmp_path: Path) -> None:
    good = auth.hash_password(PASSWORD)
    eaten = "scrypt" + good.split("$", 4)[-1].split("$")[-1]  # what `export X="scrypt$16384$..."` leaves
    assert auth.hash_problem(good) is None
    assert "single quotes" in (auth.hash_problem(eaten) or "")
    assert "malformed" in (auth.hash_problem("scrypt$x$8$1$00$00") or "")
    env = {**os.environ, "CONSOLE_PASSWORD_HASH": eaten}
    done = subprocess.run(
        [sys.executable, "-m", "console", "--port", "8598"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "CONSOLE_PASSWORD_HASH is malformed" in done.stderr


def test_a_bad_session_lifetime_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSOLE_SESSION_HOURS", "forever")
    with pytest.raises(ValueError, match="CONSOLE_SESSION_HOURS"):
        auth.session_lifetime_hours()


def test_sessions_expire_are_revoked_and_end_with_a_password_change(migrated: str) -> None:
    from datetime import timedelta

    from db import console_sessions
    from db.control import utcnow
    from db.engine import make_engine

    engine = make_engine(migrated)
    stored = auth.hash_password(PASSWORD)
    token = console_sessions.open_session(engine, user="bob", password_hash=stored, lifetime=timedelta(hours=2))
    assert console_sessions.session_user(engine, token=token, password_hash=stored) == "bob"
    assert console_sessions.session_user(engine, token=token + "x", password_hash=stored) is None
    later = utcnow() + timedelta(hours=2, seconds=1)
    assert console_sessions.session_user(engine, token=token, password_hash=stored, now=later) is None, "expired"
    assert console_sessions.session_user(engine, token=token, password_hash=auth.hash_password("new password!")) is None
    console_sessions.revoke(engine, token=token)
    assert console_sessions.session_user(engine, token=token, password_hash=stored) is None, "logged out"
    from tests.console_helpers import scalar

    assert token not in str(scalar(migrated, "SELECT token_hash FROM consolesession")), "only its hash is stored"


def test_failed_logins_from_many_sessions_at_once_still_wait_their_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    """Brute force through parallel sessions gains nothing: failures take their delay one at a time."""
    import threading

    inside, overlaps, delays = [], [], []
    arrived = threading.Event()
    guard = threading.Lock()

    def delay(seconds: float) -> None:  # stands in for the failure's sleep; waits for a rival
        with guard:
            inside.append(1)
            overlaps.append(len(inside) > 1)
            delays.append(seconds)
            if len(inside) > 1:
                arrived.set()
        arrived.wait(0.5)  # without the lock, a second failure arrives here while the first waits
        with guard:
            inside.pop()

    monkeypatch.setattr(auth.time, "sleep", delay)
    monkeypatch.setenv("CONSOLE_USER", "bob")
    stored = auth.hash_password(PASSWORD)
    threads = [threading.Thread(target=auth.check_login, args=("bob", f"guess {i}", stored)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert delays == [auth.FAILED_LOGIN_DELAY_S] * 4, "every failure pays the delay"
    assert not any(overlaps), "no two failures wait at the same time"
