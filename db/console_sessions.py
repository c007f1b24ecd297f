"""Console sessions (keyword-only, as the template's crud): open one at login, find the user of
a token on a reload (and on every run of every tab), revoke it at logout. Only the token's
sha256 is stored: a copy of the database cannot log anybody in. Every login attempt is a row
(who, from where, how it ended): the audit, and the failures that lock the account."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select, update
from sqlmodel import Session

from db.control import utcnow
from db.models import ConsoleSession, LoginAttempt


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
    """One login attempt: `ok`, `wrong_password` or `locked` (refused while the account is locked)."""
    with Session(engine) as s:
        s.add(LoginAttempt(at=at or utcnow(), user=user, source=source, outcome=outcome))
        s.commit()


def failures_since(engine: Engine, *, user: str, since: datetime) -> tuple[int, datetime | None]:
    """Wrong passwords for `user` since `since`, and the oldest of them (when the lock lifts)."""
    stmt = select(func.count(), func.min(LoginAttempt.at)).where(
        LoginAttempt.user == user, LoginAttempt.outcome == "wrong_password", LoginAttempt.at >= since
    )
    with Session(engine) as s:
        count, oldest = s.execute(stmt).one()
    return int(count), oldest
