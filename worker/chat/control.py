"""The chat commands' rules, apart from Telegram: who may command, what each command does, the
confirmations that expire, the flood limit, and one audit row per command.

Only allow-listed user ids may command; anyone else is answered "not allowed" and recorded.
`/stop` (HALTED with flatten) and `/stopentry` (REDUCING) act at once, as the console's stop does:
one tap. `/resume` and `/close` ask for a confirmation button that expires after
`confirm_seconds`. Every state change goes through the same control rows as the console's
(`db.control.set_trading_state`, `db.control_requests.request_close`), signed `telegram:<user>`,
and every command, allowed or not, is a `chat_command` row with what the bot did.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from core.types import TradingState
from db import control_requests, reads
from db.control import set_trading_state, utcnow
from db.models import ChatCommand, Trade
from worker.chat import replies

READS: dict[str, Callable[[Engine, datetime], str]] = {
    "status": lambda e, _: replies.status(e),
    "positions": lambda e, _: replies.positions(e),
    "pnl": lambda e, _: replies.pnl(e, reads.market_clock(e).now),  # the worker's day (simulated in sim)
    "trades": lambda e, _: replies.trades(e),
    "risk": lambda e, _: replies.risk(e),
    "help": lambda e, _: replies.HELP,
    "start": lambda e, _: replies.HELP,
}


@dataclass(frozen=True)
class ChatUser:
    id: int
    name: str = ""

    @property
    def who(self) -> str:
        return f"telegram:{self.name or self.id}"


@dataclass(frozen=True)
class Answer:
    text: str
    confirm: str | None = None  # a confirmation's token: the reply carries Confirm / Cancel buttons


@dataclass
class _Pending:
    user_id: int
    command: str
    args: str
    expires: datetime


@dataclass
class ChatControl:
    engine: Engine
    allowed: frozenset[int]
    confirm_seconds: float = 60.0
    per_minute: int = 20
    clock: Callable[[], datetime] = utcnow
    pending: dict[str, _Pending] = field(default_factory=dict)
    recent: dict[int, deque[datetime]] = field(default_factory=dict)

    def command(self, user: ChatUser, name: str, args: str = "") -> Answer:
        """One command from `user` (name without the slash)."""
        now = self.clock()
        if user.id not in self.allowed:
            return self._audit(user, name, args, "not_allowed", "Not allowed: this user id is not on the allow-list.")
        if self._flooding(user.id, now):
            return self._audit(user, name, args, "too_many", f"Too many commands: at most {self.per_minute} a minute.")
        if name in READS:
            return self._audit(user, name, args, "done", READS[name](self.engine, now))
        reason = args.strip()
        if name == "stop":
            event = set_trading_state(self.engine, TradingState.HALTED, user.who, "chat_stop",
                                      _why("Emergency stop from chat", reason), flatten=True)  # fmt: skip
            text = "Stop recorded: HALTED, flattening everything." if event else "Already halted with flatten."
            return self._audit(user, name, args, "done", text)
        if name == "stopentry":
            event = set_trading_state(self.engine, TradingState.REDUCING, user.who, "chat_reduce",
                                      _why("No new entries (chat)", reason))  # fmt: skip
            return self._audit(user, name, args, "done", "Recorded: REDUCING, no new entries." if event else
                               "Already reducing.")  # fmt: skip
        if name == "resume":
            return self._ask(user, name, args, now, "Resume to ACTIVE? New entries will be allowed.")
        if name == "close":
            trade_id = _trade_id(args)
            if trade_id is None or not self._open_trade(trade_id):
                return self._audit(
                    user, name, args, "refused", "Usage: /close <open trade id> [reason] (see /positions)."
                )
            return self._ask(user, name, args, now, f"Close trade #{trade_id} at market?")
        return self._audit(user, name, args, "refused", f"Unknown command /{name}. /help lists them.")

    def confirm(self, user: ChatUser, token: str, accepted: bool) -> str:
        """The Confirm (or Cancel) button of an earlier question."""
        now = self.clock()
        pending = self.pending.pop(token, None)
        if pending is None or pending.user_id != user.id:
            return self._audit(user, "confirm", token[:8], "refused", "Nothing to confirm (already answered?).").text
        if not accepted:
            return self._audit(user, pending.command, pending.args, "cancelled", "Cancelled: nothing was done.").text
        if now > pending.expires:
            text = f"Expired: confirm within {self.confirm_seconds:g} s. Send /{pending.command} again."
            return self._audit(user, pending.command, pending.args, "expired", text).text
        if pending.command == "resume":
            event = set_trading_state(self.engine, TradingState.ACTIVE, user.who, "chat_resume",
                                      _why("Resumed from chat after confirmation", pending.args.strip()))  # fmt: skip
            text = "Resumed: ACTIVE." if event else "Already ACTIVE."
        else:
            trade_id = _trade_id(pending.args)
            assert trade_id is not None
            reason = pending.args.strip().partition(" ")[2]
            request = control_requests.request_close(self.engine, trade_id=trade_id, who=user.who,
                                                     reason=_why("Closed from chat", reason))  # fmt: skip
            text = f"Close of trade #{trade_id} requested (request {request}): the worker sends it on its next tick."
        return self._audit(user, pending.command, pending.args, "confirmed", text).text

    # ---- helpers ------------------------------------------------------------------------------
    def _ask(self, user: ChatUser, name: str, args: str, now: datetime, question: str) -> Answer:
        token = secrets.token_urlsafe(12)
        self.pending[token] = _Pending(user.id, name, args, now + timedelta(seconds=self.confirm_seconds))
        text = f"{question} Confirm within {self.confirm_seconds:g} s."
        answer = self._audit(user, name, args, "asked_to_confirm", text)
        return Answer(answer.text, token)

    def _flooding(self, user_id: int, now: datetime) -> bool:
        seen = self.recent.setdefault(user_id, deque())
        while seen and now - seen[0] > timedelta(minutes=1):
            seen.popleft()
        if len(seen) >= self.per_minute:
            return True
        seen.append(now)
        return False

    def _open_trade(self, trade_id: int) -> bool:
        with Session(self.engine) as s:
            row = s.get(Trade, trade_id)
        return row is not None and row.status == "open"

    def _audit(self, user: ChatUser, command: str, args: str, outcome: str, reply: str) -> Answer:
        with Session(self.engine) as s:
            s.add(ChatCommand(at=self.clock(), user_id=user.id, username=user.name, command=command,
                              args=args[:500], outcome=outcome, reply=reply[:2000]))  # fmt: skip
            s.commit()
        return Answer(reply)


def _why(default: str, typed: str) -> str:
    return f"{default}: {typed}" if typed else default


def _trade_id(args: str) -> int | None:
    first = args.strip().split(" ", 1)[0].lstrip("#")
    return int(first) if first.isdigit() else None
