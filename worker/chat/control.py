"""The chat commands' rules, apart from Telegram: who may command, what each command does, the
confirmations that expire, the flood limit, what the worker did with a close, and one audit row
per command with whether its reply reached the user.

Only allow-listed user ids may command; anyone else is answered "not allowed" and recorded (the
bot's gate, worker/chat/commands.py, drops strangers beyond a small budget before they get here).
`/stop` (HALTED with flatten) and `/stopentry` (REDUCING) act at once, as the console's stop does:
one tap, never refused by the flood limit. `/resume` and `/close` ask for a confirmation button
that expires after `confirm_seconds`; only the asker's tap answers it, anyone else's leaves it
waiting. Every state change goes through the same control rows as the console's
(`db.control.set_trading_state`, `db.control_requests.request_close`), signed `telegram:<user>`,
and every command, allowed or not, is a `chat_command` row with what the bot did. The methods
are called from the bot's worker threads, so the in-memory state sits behind a lock.
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from core.types import TradingState
from db import control_requests, reads
from db.control import set_trading_state, utcnow
from db.models import ChatCommand, ControlRequest, Trade
from worker.chat import replies
from worker.chat.commands import URGENT

READS: dict[str, Callable[[Engine, datetime], str]] = {
    "status": lambda e, _: replies.status(e),
    "positions": lambda e, _: replies.positions(e),
    "pnl": lambda e, _: replies.pnl(e, reads.market_clock(e).now),  # the worker's day (simulated in sim)
    "trades": lambda e, _: replies.trades(e),
    "risk": lambda e, _: replies.risk(e),
    "help": lambda e, _: replies.HELP,
    "start": lambda e, _: replies.HELP,
}
FINAL_REQUEST = ("done", "refused")


@dataclass(frozen=True)
class ChatUser:
    id: int
    name: str = ""

    @property
    def who(self) -> str:
        return f"telegram:{self.name or self.id}"


@dataclass(frozen=True)
class Answer:
    """A reply and its audit row (`row`, for whether it was delivered)."""

    text: str
    confirm: str | None = None  # a confirmation's token: the reply carries Confirm / Cancel buttons
    row: int = 0


@dataclass(frozen=True)
class Confirmation:
    """What a Confirm or Cancel tap did. `final`: the question is answered (its message is edited
    into `text`); otherwise the tapper alone is told `text` and the question stays."""

    text: str
    final: bool
    row: int = 0
    request: int | None = None  # a close request sent to the worker: the bot follows it
    trade_id: int | None = None


@dataclass(frozen=True)
class RequestOutcome:
    """A control request's status and what the worker wrote (db/control_requests.settle)."""

    status: str  # pending | working | done | refused
    result: str


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
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def command(self, user: ChatUser, name: str, args: str = "") -> Answer:
        """One command from `user` (name without the slash)."""
        now = self.clock()
        if user.id not in self.allowed:
            return self._audit(user, name, args, "not_allowed", "Not allowed: this user id is not on the allow-list.")
        if name not in URGENT and self._flooding(user.id, now):
            return self._audit(user, name, args, "too_many", f"Too many commands: at most {self.per_minute} a minute.")
        if name in READS:
            return self._audit(user, name, args, "done", READS[name](self.engine, now))
        reason = " ".join(args.split())
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
            status = self._trade_status(trade_id) if trade_id is not None else None
            if trade_id is None or status is None:
                return self._audit(
                    user, name, args, "refused", "Usage: /close <open trade id> [reason] (see /positions)."
                )
            if status != "open":
                return self._audit(user, name, args, "refused", f"Trade #{trade_id} is already closed: nothing to do.")
            return self._ask(user, name, args, now, f"Close trade #{trade_id} at market?")
        return self._audit(user, name, args, "refused", f"Unknown command /{name}. /help lists them.")

    def edited(self, user: ChatUser, name: str, args: str = "") -> Answer:
        """A command edited into an old message: never carried out (Telegram allows edits for 48 hours)."""
        text = f"Edited messages are not carried out: send /{name} as a new message."
        return self._audit(user, name, args, "ignored_edit", text)

    def confirm(self, user: ChatUser, token: str, accepted: bool) -> Confirmation:
        """The Confirm (or Cancel) button of an earlier question; only its asker's tap counts."""
        now = self.clock()
        with self._lock:
            pending = self.pending.get(token)
            if pending is not None and pending.user_id == user.id:
                del self.pending[token]
        if pending is None:
            answer = self._audit(user, "confirm", token[:8], "refused", "Nothing to confirm (already answered?).")
            return Confirmation(answer.text, True, answer.row)
        if pending.user_id != user.id:
            text = "Nothing to confirm for you: only the user who asked can answer this question."
            return Confirmation(self._audit(user, "confirm", token[:8], "refused", text).text, False)
        if not accepted:
            answer = self._audit(user, pending.command, pending.args, "cancelled", "Cancelled: nothing was done.")
            return Confirmation(answer.text, True, answer.row)
        if now > pending.expires:
            text = f"Expired: confirm within {self.confirm_seconds:g} s. Send /{pending.command} again."
            answer = self._audit(user, pending.command, pending.args, "expired", text)
            return Confirmation(answer.text, True, answer.row)
        if pending.command == "resume":
            why = _why("Resumed from chat after confirmation", " ".join(pending.args.split()))
            event = set_trading_state(self.engine, TradingState.ACTIVE, user.who, "chat_resume", why)
            answer = self._audit(user, "resume", pending.args, "confirmed", "Resumed: ACTIVE." if event else
                                 "Already ACTIVE.")  # fmt: skip
            return Confirmation(answer.text, True, answer.row)
        trade_id = _trade_id(pending.args)
        assert trade_id is not None
        reason = " ".join(pending.args.split()[1:])
        try:
            request = control_requests.request_close(self.engine, trade_id=trade_id, who=user.who,
                                                     reason=_why("Closed from chat", reason))  # fmt: skip
        except control_requests.RequestRefusedError:
            text = f"Trade #{trade_id} is already closed: nothing to do."
            answer = self._audit(user, "close", pending.args, "refused", text)
            return Confirmation(answer.text, True, answer.row)
        text = f"Close of trade #{trade_id} requested (request {request}): the worker sends it on its next tick."
        answer = self._audit(user, "close", pending.args, "confirmed", text)
        return Confirmation(answer.text, True, answer.row, request, trade_id)

    # ---- what the worker did with a close -------------------------------------------------------
    def request_outcome(self, request_id: int) -> RequestOutcome | None:
        """The request's status now (the worker settles it: worker/process/requests.py)."""
        with Session(self.engine) as s:
            row = s.get(ControlRequest, request_id)
        return None if row is None else RequestOutcome(row.status, row.result or "")

    def follow_up(self, user: ChatUser, trade_id: int, outcome: RequestOutcome | None, waited_s: float) -> Answer:
        """What to tell the asker about their close: the worker's outcome, or that it never took it up."""
        if outcome is None or outcome.status == "pending":
            text = (f"The worker has not taken up the close of trade #{trade_id} in {waited_s:g} s: is it running? "
                    "(/status)")  # fmt: skip
            return self._audit(user, "close", str(trade_id), "worker_silent", text)
        text = {
            "working": f"Trade #{trade_id}: the worker sent the close ({outcome.result}).",
            "done": f"Trade #{trade_id} is closed ({outcome.result}).",
            "refused": f"The worker refused the close of trade #{trade_id}: {outcome.result}.",
        }.get(outcome.status, f"Close of trade #{trade_id}: {outcome.status} ({outcome.result}).")
        return self._audit(user, "close", str(trade_id), f"worker_{outcome.status}", text)

    # ---- the audit's truth ----------------------------------------------------------------------
    def delivered(self, row: int, delivery: str) -> None:
        """Whether the reply of audit row `row` reached Telegram: "sent", "sent cut" or "failed: why"."""
        if not row:
            return
        with Session(self.engine) as s:
            found = s.get(ChatCommand, row)
            if found is not None:
                found.delivery = delivery[:500]
                s.add(found)
                s.commit()

    def record(self, user: ChatUser, command: str, args: str, outcome: str, reply: str) -> int:
        """An audit row of its own (an error, an update that could not be read); returns its id."""
        return self._audit(user, command, args, outcome, reply).row

    # ---- helpers ------------------------------------------------------------------------------
    def _ask(self, user: ChatUser, name: str, args: str, now: datetime, question: str) -> Answer:
        token = secrets.token_urlsafe(12)
        with self._lock:
            self.pending[token] = _Pending(user.id, name, args, now + timedelta(seconds=self.confirm_seconds))
        text = f"{question} Confirm within {self.confirm_seconds:g} s."
        answer = self._audit(user, name, args, "asked_to_confirm", text)
        return Answer(answer.text, token, answer.row)

    def _flooding(self, user_id: int, now: datetime) -> bool:
        with self._lock:
            seen = self.recent.setdefault(user_id, deque())
            while seen and now - seen[0] > timedelta(minutes=1):
                seen.popleft()
            if len(seen) >= self.per_minute:
                return True
            seen.append(now)
            return False

    def _trade_status(self, trade_id: int) -> str | None:
        with Session(self.engine) as s:
            row = s.get(Trade, trade_id)
        return None if row is None else row.status

    def _audit(self, user: ChatUser, command: str, args: str, outcome: str, reply: str) -> Answer:
        with Session(self.engine, expire_on_commit=False) as s:
            row = ChatCommand(at=self.clock(), user_id=user.id, username=user.name, command=command[:100],
                              args=args[:500], outcome=outcome, reply=reply[:2000])  # fmt: skip
            s.add(row)
            s.commit()
            return Answer(reply, row=int(row.id or 0))


def _why(default: str, typed: str) -> str:
    return f"{default}: {typed}" if typed else default


def _trade_id(args: str) -> int | None:
    words = args.split()
    first = words[0].lstrip("#") if words else ""
    return int(first) if first.isdigit() else None
