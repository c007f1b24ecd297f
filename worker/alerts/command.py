"""`python -m worker.alerts`: the alert relay and worker watchdog, a process of its own.

    python -m worker.alerts [--db URL] [--poll-seconds 2] [--stale-after 60] [--per-minute 6]
    python -m worker.alerts --test "hello"      # one message to every channel, then exit

Channels: ALERT_URLS (apprise URLs, e.g. `tgram://BOT_TOKEN/CHAT_ID ntfy://ntfy.sh/my-topic`)
and/or ALERT_CONFIG (an apprise configuration file). Which events: the `alert_events`
parameter (console, Parameters, Alerts). Without channels the alerts are only logged.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from datetime import UTC, datetime

from core.alerts import Alert, AlertKind
from db.control import utcnow
from db.engine import database_url, make_engine, session_scope
from db.migrate import upgrade
from db.models import Event
from worker.alerts.relay import AlertRelay
from worker.alerts.sender import AlertConfigError, AlertSender, channels_from_env

log = logging.getLogger("worker.alerts")


def failure_recorder(url: str) -> object:
    """Write a failed send as an `alert_failed` event (the relay never relays those)."""
    engine = make_engine(url)

    def record(alert: Alert, why: str) -> None:
        with session_scope(engine) as s:
            s.add(
                Event(
                    time=utcnow(),
                    level="warning",
                    code="alert_failed",
                    message=f"Alert not delivered ({why}): {alert.title}",
                )
            )

    return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m worker.alerts", description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="the worker's database (default: DATABASE_URL or the local SQLite file)")
    parser.add_argument("--poll-seconds", type=float, default=2.0)
    parser.add_argument("--stale-after", type=float, default=60.0, help="seconds without a heartbeat = worker down")
    parser.add_argument("--per-minute", type=int, default=6, help="messages a minute at most; more fold together")
    parser.add_argument("--fold-seconds", type=float, default=3.0, help="alerts this close together are one message")
    parser.add_argument("--test", metavar="TEXT", help="send one test message and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    url = upgrade(database_url(args.db))
    try:
        channels = channels_from_env()
    except AlertConfigError as exc:
        raise SystemExit(f"alerts refused to start: {exc}") from None
    if channels is None:
        log.warning("no alert channels (set ALERT_URLS or ALERT_CONFIG): alerts are only logged")
    sender = AlertSender(channels, failure_recorder(url), args.per_minute, args.fold_seconds)  # type: ignore[arg-type]
    if args.test:
        sender.submit(Alert(AlertKind.WORKER_ERROR, "Test alert", args.test, datetime.now(UTC)))
        sender.wait_idle(60.0)
        sender.close()
        raise SystemExit(0 if sender.stats.failed == 0 else 1)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    relay = AlertRelay(make_engine(url), sender.submit, args.stale_after)
    log.info("alert relay on %s: polling every %.1f s", make_engine(url).url.render_as_string(), args.poll_seconds)
    while not stopping.is_set():
        try:
            relay.poll()
        except Exception:
            log.exception("alert poll failed")  # the database may be busy or restarting: try again next poll
        stopping.wait(args.poll_seconds)
    sender.wait_idle(10.0)
    sender.close()


if __name__ == "__main__":
    main()
