"""Console sessions (keyword-only, as the template's crud): open one at login, find the user of
a token on a reload (and on every run of every tab), revoke it at logout. Only the token's
sha256 is stored: a copy of the database cannot log anybody in. Every login attempt is a row
(who, from where, how it ended): the audit, and the failures that slow down the source that
made them (`judge_attempt`, with its `Backoff`)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select, text, update
from sqlmodel import Session

from db.control import utcnow
from db.models import ConsoleSession, LoginAttempt


@dataclass(frozen=True)
class Backoff:
    """How wrong passwords slow down the source that types them (db/console_sessions.judge_attempt).

    A source (the browser's address) has `free_failures` wrong passwords for an account; from
    then on each failure doubles that source's wait before its next attempt, from `first_wait`
    up to `longest_wait`. Failures count per source and account, so a stranger's guesses never
    lock the operator out from another address; a correct login from a source, or a day without
    failures, clears its count."""

    free_failures: int = 5
    first_wait: timedelta = timedelta(seconds=30)
    longest_wait: timedelta = timedelta(minutes=15)
    memory: timedelta = timedelta(hours=24)

    def wait_after(self, failures: int) -> timedelta:
        """The wait a source owes after `failures` wrong passwords in a row (zero while free)."""
        if failures < self.free_failures:
            return timedelta(0)
        doublings = min(failures - self.free_failures, 30)  # 2**30 waits: far past any cap
        return min(self.first_wait * 2**doublings, self.longest_wait)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def fingerprint(password_hash: str) -> str:
    """What binds a session to the password in force: a new password ends every session."""
    return _digest(password_hash)[:16]


def open_session(engine: Engine, *, user: str, password_hash: str, lifetime: timedelta) -> str:
    """A new session; returns the token for the browser's cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with Session(engine) as s:
        s.add(
            ConsoleSession(
                token_hash=_digest(token),
                user=user,
                created_at=now,
                expires_at=now + lifetime,
                password_fingerprint=fingerprint(password_hash),
            )
        )
        s.commit()
    return token


def session_user(engine: Engine, *, token: str, password_hash: str, now: datetime | None = None) -> str | None:
    """The user of a live session, or None: unknown, expired, logged out, or opened under
    another password."""
    if not token:
        return None
    with Session(engine) as s:
        row = s.get(ConsoleSession, _digest(token))
    now = now or utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if row.password_fingerprint != fingerprint(password_hash):
        return None
    return row.user


def revoke(engine: Engine, *, token: str) -> None:
    with Session(engine) as s:
        s.execute(
            update(ConsoleSession)
            .where(ConsoleSession.token_hash == _digest(token), ConsoleSession.revoked_at.is_(None))  # type: ignore[union-attr]
            .values(revoked_at=utcnow())
        )
        s.commit()


def record_attempt(engine: Engine, *, user: str, source: str, outcome: str, at: datetime | None = None) -> None:
    """One login attempt as it ended: `ok`, `wrong_password` or `locked` (refused while its source
    waits out its backoff)."""
    with Session(engine) as s:
        s.add(LoginAttempt(at=at or utcnow(), user=user, source=source, outcome=outcome))
        s.commit()


@dataclass(frozen=True)
class Judgement:
    """How one login attempt ended, and until when its source must wait (None: it need not)."""

    outcome: str  # ok | wrong_password | locked
    wait_until: datetime | None


def judge_attempt(
    engine: Engine, *, user: str, source: str, password_ok: bool, rule: Backoff, now: datetime | None = None
) -> Judgement:
    """Record a login attempt and judge it in one transaction, so that no attempt is judged
    against a count another attempt is changing: the attempt's row is written first (on SQLite
    that takes the write lock, which the next attempt waits for; on Postgres an advisory lock
    per account and source does the same), then the source's failures since its last success
    decide. While the source owes a wait the attempt is `locked` whatever the password, and
    does not lengthen the wait."""
    now = now or utcnow()
    with Session(engine) as s:
        if s.get_bind().dialect.name == "postgresql":
            key = int.from_bytes(hashlib.sha256(f"{user}\0{source}".encode()).digest()[:8], "big", signed=True)
            s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
        row = LoginAttempt(at=now, user=user, source=source, outcome="pending")
        s.add(row)
        s.flush()  # the write that serializes concurrent attempts on SQLite
        mine = (LoginAttempt.user == user, LoginAttempt.source == source, LoginAttempt.id != row.id)
        last_ok = s.execute(select(func.max(LoginAttempt.at)).where(*mine, LoginAttempt.outcome == "ok")).scalar()
        since = max(now - rule.memory, last_ok) if last_ok is not None else now - rule.memory
        failed = LoginAttempt.outcome == "wrong_password"
        count, last = s.execute(
            select(func.count(), func.max(LoginAttempt.at)).where(*mine, failed, LoginAttempt.at > since)
        ).one()
        wait = rule.wait_after(int(count))
        until = last + wait if last is not None and wait > timedelta(0) else None
        if until is not None and now < until:
            row.outcome = "locked"
        else:
            row.outcome = "ok" if password_ok else "wrong_password"
            after = rule.wait_after(int(count) + 1)
            until = now + after if row.outcome == "wrong_password" and after > timedelta(0) else None
        s.add(row)
        s.commit()
        return Judgement(row.outcome, until)
