"""Sending alerts through apprise without ever making the caller wait.

`submit` puts an alert on a queue and returns; one sender thread takes it, waits `fold_s` for
more (a burst becomes one message), waits for the send budget (at most `per_minute` messages a
minute; alerts that arrive meanwhile fold into the waiting message), then sends once. A failed
send is reported to `on_failure` (the relay writes an `alert_failed` event) and never retried:
a channel that is down must not turn into an endless loop or a backlog of stale alerts. A full
queue drops the alert and counts it, for the same reason.

Channels are apprise URLs: ALERT_URLS (separated by spaces or commas) and/or an apprise
configuration file named by ALERT_CONFIG. No channel: alerts go to the log only.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import apprise

from core.alerts import Alert, SendBudget, fold

log = logging.getLogger("worker.alerts")
_STOP = object()


class AlertConfigError(ValueError):
    """An alert URL or configuration apprise cannot use, named."""


def channels_from_env(env: dict[str, str] | None = None) -> apprise.Apprise | None:
    """The configured channels, or None when there are none; a URL apprise refuses is an error."""
    env = dict(os.environ) if env is None else env
    urls = [u for u in re.split(r"[\s,]+", env.get("ALERT_URLS", "")) if u]
    config = env.get("ALERT_CONFIG", "")
    if not urls and not config:
        return None
    channels = apprise.Apprise()
    for url in urls:
        if not channels.add(url):
            raise AlertConfigError(f"ALERT_URLS: apprise does not understand {_redact(url)}")
    if config:
        loaded = apprise.AppriseConfig()
        if not os.path.isfile(config) or not loaded.add(config):
            raise AlertConfigError(f"ALERT_CONFIG: {config} is not a readable apprise configuration file")
        channels.add(loaded)
    return channels


def _redact(url: str) -> str:
    """A URL for an error message: the scheme and host, never its tokens."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/')[0].split('@')[-1]}/..."


@dataclass
class SenderStats:
    sent: int = 0
    failed: int = 0
    dropped: int = 0
    folded: int = 0  # alerts that went out inside another's message


class AlertSender:
    """A queue and one sender thread (see the module docstring)."""

    def __init__(
        self,
        channels: apprise.Apprise | None,
        on_failure: Callable[[Alert, str], None],
        per_minute: int = 6,
        fold_s: float = 3.0,
        max_queue: int = 1000,
        timeout_s: float = 10.0,
    ) -> None:
        self.channels = channels
        self.on_failure = on_failure
        self.budget = SendBudget(per_minute, 60.0)
        self.fold_s = fold_s
        self.timeout_s = timeout_s
        self.stats = SenderStats()
        self._queue: queue.Queue[object] = queue.Queue(max_queue)
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="alert-sender", daemon=True)
        self._thread.start()

    def submit(self, alert: Alert) -> bool:
        """Queue an alert; never blocks. False: the queue was full and the alert is dropped."""
        try:
            self._idle.clear()
            self._queue.put_nowait(alert)
            return True
        except queue.Full:
            self.stats.dropped += 1
            log.warning("alert queue full: dropped %s %s", alert.kind.value, alert.title)
            return False

    def wait_idle(self, timeout_s: float | None = None) -> bool:
        """Block until everything queued has been sent or has failed (tests, a clean stop)."""
        return self._idle.wait(timeout_s)

    def close(self, timeout_s: float = 15.0) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout_s)

    # ---- the sender thread --------------------------------------------------------------
    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            burst = [first]
            deadline = time.monotonic() + self.fold_s
            stop = self._collect(burst, deadline)
            while (wait := self.budget.wait_s(time.monotonic())) > 0 and not stop:
                stop = self._collect(burst, time.monotonic() + wait)  # over budget: keep folding
            self._send(burst)  # type: ignore[arg-type]
            if self._queue.empty():
                self._idle.set()
            if stop:
                return

    def _collect(self, burst: list[object], deadline: float) -> bool:
        """Add what is queued, and what arrives before `deadline`, to the burst (a backlog after
        a slow send goes out as one message); True if a stop arrived."""
        while True:
            left = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
            except queue.Empty:
                return False
            if item is _STOP:
                return True
            burst.append(item)
        return False

    def _send(self, burst: list[Alert]) -> None:
        message = fold(burst)
        self.budget.spend(time.monotonic())
        self.stats.folded += len(burst) - 1
        log.info("alert: %s | %s", message.title, message.body.replace("\n", " | "))
        if self.channels is None:
            return
        try:
            ok = bool(
                self.channels.notify(
                    body=message.body, title=message.title, notify_type=message.level, timeout=self.timeout_s
                )
            )
            why = "" if ok else "a channel refused it or could not be reached (see the log)"
        except Exception as exc:  # apprise plugins raise rarely, but a sender thread must not die
            ok, why = False, repr(exc)
        if ok:
            self.stats.sent += 1
            return
        self.stats.failed += 1
        log.warning("alert not delivered (%s): %s", why, message.title)
        try:
            self.on_failure(message, why)
        except Exception:
            log.exception("recording a failed alert failed")
