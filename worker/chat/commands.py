"""What a chat message says and whether it deserves any work, apart from Telegram and the
database: the command in a message (`/name[@bot] [args]`), the cheap gate in front of users who
are not on the allow-list, and a reply cut to fit Telegram's message limit.

The gate runs first on every update, before any database work, so a flood from strangers costs
microseconds a message and never delays an allow-listed user's command.
"""

from __future__ import annotations

import re
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

URGENT = frozenset({"stop", "stopentry"})  # never refused by a limit, carried out ahead of the line
MAX_MESSAGE = 4096  # Telegram's limit on a message's text (telegram.constants.MessageLimit.MAX_TEXT_LENGTH)
CUT_NOTE = "\n... (cut)"
_COMMAND = re.compile(r"/([^\s@/]+)(?:@(\S*))?(?:\s+(.*))?\Z", re.DOTALL)


@dataclass(frozen=True)
class Command:
    """A command as typed: its name (lower case, without the slash) and what follows it."""

    name: str
    args: str = ""

    @property
    def reason(self) -> str:
        """The words after the command on one line (a reason typed over several lines reads as one)."""
        return " ".join(self.args.split())


def parse_command(text: str, bot_username: str) -> Command | None:
    """The command in `text`, or None when it is not one or is addressed to another bot
    (`/stop@otherbot` in a group), as python-telegram-bot's CommandHandler judges `@name`. The
    arguments start after any whitespace, a newline included (`/stop\\nspread blew out`)."""
    found = _COMMAND.match(text.strip())
    if found is None:
        return None
    name, addressee, args = found.group(1), found.group(2), found.group(3) or ""
    if addressee is not None and addressee.lower() != bot_username.lower():
        return None
    return Command(name.lower(), args.strip())


def urgent(text: str, bot_username: str) -> bool:
    """Whether `text` is a /stop or /stopentry for this bot."""
    command = parse_command(text, bot_username)
    return command is not None and command.name in URGENT


@dataclass(frozen=True)
class Fitted:
    """A reply as it goes to Telegram: cut to the limit when it was longer."""

    text: str
    cut: bool


def _units(text: str) -> int:
    """The text's length in UTF-16 code units (never less than its characters: a safe measure)."""
    return len(text.encode("utf-16-le")) // 2


def fit(text: str, limit: int = MAX_MESSAGE) -> Fitted:
    """`text` cut to `limit`, ending "... (cut)" when it was longer (Telegram refuses a longer
    message: "Bad Request: message is too long")."""
    if _units(text) <= limit:
        return Fitted(text, False)
    budget = limit - _units(CUT_NOTE)
    head = text[:budget]
    while (excess := _units(head) - budget) > 0:
        head = head[: len(head) - max(1, excess // 2)]
    return Fitted(head + CUT_NOTE, True)


@dataclass
class StrangerGate:
    """Users not on the allow-list: at most `per_user` answered a minute each and `overall` a
    minute in all ("Not allowed", one audit row each); the rest are dropped here, counted, with
    no database work and no reply. Allow-listed users always pass (their own limit is the
    commands' rule, and /stop is exempt from it)."""

    allowed: frozenset[int]
    per_user: int = 1
    overall: int = 10
    clock: Callable[[], float] = time.monotonic
    dropped: int = 0
    _answered: deque[tuple[float, int]] = field(default_factory=deque)
    _per_user: Counter[int] = field(default_factory=Counter)
    _reported_at: float | None = None

    def admit(self, user_id: int | None) -> bool:
        """True when the update may go on to the commands (and their audit)."""
        if user_id is not None and user_id in self.allowed:
            return True
        now = self.clock()
        while self._answered and now - self._answered[0][0] >= 60.0:
            _, old = self._answered.popleft()
            self._per_user[old] -= 1
            if self._per_user[old] <= 0:
                del self._per_user[old]
        if user_id is None or len(self._answered) >= self.overall or self._per_user[user_id] >= self.per_user:
            self.dropped += 1
            return False
        self._answered.append((now, user_id))
        self._per_user[user_id] += 1
        return True

    def drops_to_report(self) -> int:
        """The drops since the last report, at most once a minute (for one log line), else 0."""
        now = self.clock()
        if not self.dropped or (self._reported_at is not None and now - self._reported_at < 60.0):
            return 0
        count, self.dropped, self._reported_at = self.dropped, 0, now
        return count
