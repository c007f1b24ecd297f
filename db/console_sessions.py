"""Console sessions (keyword-only, as the template's crud): open one at login, find the user of
a token on a reload, revoke it at logout. Only the token's sha256 is stored: a copy of the
database cannot log anybody in."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Engine, update
from sqlmodel import Session

from db.control import utcnow
from db.models import ConsoleSession


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
