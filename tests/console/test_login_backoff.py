"""Wrong passwords slow down the source that types them, never the operator elsewhere: failures
count per source and account, each one past the free ones doubles that source's wait (capped),
every attempt is judged in one transaction with the count it is judged against, and the source is
the socket's peer unless that peer is the trusted reverse proxy, whose forwarded address counts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from console import auth, login
from db import console_sessions
from db.console_sessions import Backoff
from db.control import utcnow
from db.engine import make_engine
from db.migrate import upgrade
from tests.console_helpers import APP, rows

PASSWORD = "correct horse battery staple"
RULE = Backoff(free_failures=5, first_wait=timedelta(seconds=30), longest_wait=timedelta(minutes=15))


@pytest.fixture
def migrated_any(any_db_url: str) -> Iterator[str]:
    """A migrated database: a SQLite file, then a fresh Postgres database."""
    upgrade(any_db_url)
    yield any_db_url


def _judge(url: str, source: str, ok: bool, at: timedelta = timedelta(0)) -> console_sessions.Judgement:
    engine = make_engine(url)
    try:
        return console_sessions.judge_attempt(
            engine, user="bob", source=source, password_ok=ok, rule=RULE, now=utcnow() + at
        )
    finally:
        engine.dispose()


def test_five_wrong_passwords_from_one_source_do_not_stop_a_right_one_from_another(migrated: str) -> None:
    for _ in range(5):
        assert _judge(migrated, "203.0.113.66", ok=False).outcome == "wrong_password"
    assert _judge(migrated, "203.0.113.66", ok=True).outcome == "locked", "the guessing source waits"
    assert _judge(migrated, "198.51.100.7", ok=True).outcome == "ok", "the operator's phone is not locked out"


def test_each_further_failure_doubles_the_failing_sources_wait_up_to_the_cap(migrated: str) -> None:
    """Failures spaced just past each wait: free for five, then 30 s doubling to the 15-minute cap;
    the right password inside a wait is refused and does not lengthen it."""
    waits, clock = [], timedelta(0)
    for _ in range(11):
        judged = _judge(migrated, "203.0.113.66", ok=False, at=clock)
        assert judged.outcome == "wrong_password", "an attempt after its wait is judged on its password"
        wait = timedelta(0) if judged.wait_until is None else judged.wait_until - (utcnow() + clock)
        waits.append(round(wait.total_seconds() / 10) * 10)
        if waits[-1]:
            inside = _judge(migrated, "203.0.113.66", ok=True, at=clock + wait - timedelta(seconds=2))
            assert inside.outcome == "locked" and inside.wait_until == judged.wait_until, "the same wait, not longer"
        clock += wait + timedelta(seconds=1)
    assert waits == [0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900]
    outcomes = [o for (o,) in rows(migrated, "SELECT outcome FROM login_attempt ORDER BY id")]
    assert outcomes.count("wrong_password") == 11 and outcomes.count("locked") == 7


def test_a_right_password_after_the_wait_clears_the_sources_count(migrated: str) -> None:
    for _ in range(5):
        _judge(migrated, "203.0.113.66", ok=False)
    assert _judge(migrated, "203.0.113.66", ok=True, at=timedelta(seconds=31)).outcome == "ok"
    assert _judge(migrated, "203.0.113.66", ok=False, at=timedelta(seconds=32)).wait_until is None, "free again"


def test_concurrent_attempts_are_judged_atomically(migrated_any: str) -> None:
    """Twelve wrong passwords from one source at once: exactly the free five are judged as wrong
    passwords, the rest are refused; none is judged against a count another attempt changes."""
    engine = make_engine(migrated_any)
    start = threading.Barrier(12)
    outcomes: list[str] = []
    guard = threading.Lock()

    def attempt() -> None:
        start.wait()
        judged = console_sessions.judge_attempt(engine, user="bob", source="203.0.113.66", password_ok=False, rule=RULE)
        with guard:
            outcomes.append(judged.outcome)

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose()
    assert sorted(outcomes) == ["locked"] * 7 + ["wrong_password"] * 5
    stored = rows(migrated_any, "SELECT outcome, count(*) FROM login_attempt GROUP BY outcome ORDER BY outcome")
    assert stored == [("locked", 7), ("wrong_password", 5)], "every attempt recorded as judged"


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "source"),
    [
        ("203.0.113.9", ["198.51.100.7"], frozenset(), "203.0.113.9"),  # no proxy named: the header is ignored
        ("203.0.113.9", ["198.51.100.7"], frozenset({"127.0.0.1"}), "203.0.113.9"),  # not from the proxy
        ("127.0.0.1", ["198.51.100.7"], frozenset({"127.0.0.1"}), "198.51.100.7"),  # Caddy: the client alone
        ("127.0.0.1", ["6.6.6.6, 198.51.100.7"], frozenset({"127.0.0.1"}), "198.51.100.7"),  # nginx appends
        ("127.0.0.1", [], frozenset({"127.0.0.1"}), "127.0.0.1"),  # the proxy sent none: the proxy itself
        ("127.0.0.1", ["not-an-address"], frozenset({"127.0.0.1"}), "127.0.0.1"),
        ("127.0.0.1", ["198.51.100.7"], frozenset({"::1"}), "198.51.100.7"),  # loopback is loopback
    ],
)  # fmt: skip
def test_the_forwarded_address_counts_only_from_the_trusted_proxy(
    peer: str, forwarded: list[str], trusted: frozenset[str], source: str
) -> None:
    assert auth.client_source(peer, forwarded, trusted) == source


def test_the_trusted_proxy_setting_is_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSOLE_TRUSTED_PROXY", " 127.0.0.1, ::1 ")
    assert auth.trusted_proxies() == frozenset({"127.0.0.1", "::1"})
    monkeypatch.setenv("CONSOLE_TRUSTED_PROXY", "caddy")
    with pytest.raises(ValueError, match="CONSOLE_TRUSTED_PROXY"):
        auth.trusted_proxies()
    monkeypatch.delenv("CONSOLE_TRUSTED_PROXY")
    assert auth.trusted_proxies() == frozenset()


def test_a_stranger_guessing_on_the_login_page_does_not_lock_the_operator_out(
    migrated: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The login form itself: five wrong passwords from one address, then the operator's right
    one from another address logs in; the guessing address is refused even with the right one."""
    monkeypatch.setenv("DATABASE_URL", migrated)
    monkeypatch.setenv("CONSOLE_PASSWORD_HASH", auth.hash_password(PASSWORD))
    monkeypatch.setenv("CONSOLE_USER", "bob")
    monkeypatch.setattr(auth, "FAILED_LOGIN_DELAY_S", 0.0)
    source = {"address": "203.0.113.66"}
    monkeypatch.setattr(login, "_source", lambda: source["address"])

    def attempt(password: str) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=30)
        at.run()
        at.text_input[0].input("bob")
        at.text_input[1].input(password)
        return at.button[0].click().run()

    for _ in range(5):
        assert "user" not in attempt("guess").session_state
    guesser = attempt(PASSWORD)
    assert "user" not in guesser.session_state and any("locked until" in e.value for e in guesser.error)
    source["address"] = "198.51.100.7"
    operator = attempt(PASSWORD)
    assert operator.session_state["user"] == "bob" and operator.button(key="stop")
    assert rows(migrated, "SELECT source, outcome FROM login_attempt ORDER BY id")[-2:] == [
        ("203.0.113.66", "locked"),
        ("198.51.100.7", "ok"),
    ]
