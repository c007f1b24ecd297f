"""Logging a failure that repeats without flooding the log.

A database that cannot be written fails every cycle, every control tick and every heartbeat:
logged as it comes, that was 1,420 tracebacks and 37,156 lines in 25 seconds. Here the first
failure of each kind is logged with its traceback; after that at most one line per kind per
`period_s`, which says how many were folded into it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Seen:
    last_logged: float
    folded: int = 0


class FailureLog:
    """One log line per failure kind per period at most (the first with its traceback)."""

    def __init__(
        self, logger: logging.Logger, period_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.logger = logger
        self.period_s = period_s
        self.clock = clock
        self._seen: dict[str, _Seen] = {}

    def report(self, kind: str, message: str, exc: BaseException | None = None) -> bool:
        """Log `message` for `kind` unless one was logged less than a period ago; True if logged."""
        now = self.clock()
        seen = self._seen.get(kind)
        if seen is None:
            self._seen[kind] = _Seen(now)
            self.logger.error("%s", message, exc_info=exc)
            return True
        if now - seen.last_logged < self.period_s:
            seen.folded += 1
            return False
        folded, seen.folded, seen.last_logged = seen.folded, 0, now
        self.logger.error("%s (%d more like it in the last %.0f s)", message, folded, self.period_s)
        return True

    def clear(self, kind: str) -> None:
        """The failure is over: the next one of this kind is logged in full again."""
        self._seen.pop(kind, None)
