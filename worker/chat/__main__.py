"""`python -m worker.chat`: the operator's commands from Telegram (python-telegram-bot), a process
of its own like the alert relay.

    TELEGRAM_BOT_TOKEN=123:abc TELEGRAM_ALLOWED_USERS=111,222 python -m worker.chat [--db URL]

Commands: /status /positions /pnl /trades /risk /help, /stop and /stopentry (at once, ahead of
any backlog, never refused by the flood limit; a reason may follow on the same or the next
lines), /close <trade id> and /resume (confirmed with a button that expires; CHAT_CONFIRM_SECONDS,
default 60; after a close the bot says what the worker did, following it CHAT_FOLLOW_SECONDS,
default 120). Only the allow-listed Telegram user ids may command (TELEGRAM_ALLOWED_USERS); at
most CHAT_MAX_COMMANDS_PER_MINUTE (default 20) a user; anyone else is answered "not allowed" a
few times a minute and otherwise dropped. Edited messages and commands for another bot are not
carried out. Replies are plain text (no markdown), cut to Telegram's 4,096 characters. Every
command is a `chat_command` row (worker/chat/control.py) with whether its reply was delivered.
TELEGRAM_API_URL points the bot at another Bot API server (the tests' fake; a local Bot API
server). The wiring is worker/chat/bot.py.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from telegram import Update

from db.engine import database_url, make_engine
from db.migrate import upgrade
from worker.chat.bot import build
from worker.chat.control import ChatControl

log = logging.getLogger("worker.chat")
NOT_CONFIGURED = 0  # exit code without a token: chat control is optional
REFUSED = 2


def allowed_users(raw: str) -> frozenset[int]:
    """TELEGRAM_ALLOWED_USERS: comma-separated numeric Telegram user ids."""
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    bad = [part for part in ids if not part.lstrip("-").isdigit()]
    if bad:
        raise ValueError(f"TELEGRAM_ALLOWED_USERS must be numeric Telegram user ids, got {', '.join(bad)}")
    return frozenset(int(part) for part in ids)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker.chat", description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="the worker's database (default: DATABASE_URL or the local SQLite file)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every request URL, the bot token in it
    token = os.environ.get("TELEGRAM_BOT_TOKEN", "").strip()
    if not token:
        print("chat control is not configured (TELEGRAM_BOT_TOKEN is empty): nothing to do")
        return NOT_CONFIGURED
    try:
        allowed = allowed_users(os.environ.get("TELEGRAM_ALLOWED_USERS", ""))
        confirm_s = float(os.environ.get("CHAT_CONFIRM_SECONDS", "60"))
        follow_s = float(os.environ.get("CHAT_FOLLOW_SECONDS", "120"))
        per_minute = int(os.environ.get("CHAT_MAX_COMMANDS_PER_MINUTE", "20"))
    except ValueError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return REFUSED
    if not allowed:
        print("refused: TELEGRAM_ALLOWED_USERS is empty, so nobody could command the bot", file=sys.stderr)
        return REFUSED
    engine = make_engine(upgrade(database_url(args.db)))
    control = ChatControl(engine, allowed, confirm_seconds=confirm_s, per_minute=per_minute)
    api = os.environ.get("TELEGRAM_API_URL", "https://api.telegram.org").rstrip("/")
    log.info("chat control for %d allow-listed user(s)", len(allowed))
    # poll_interval 0: no pause between fetches (each getUpdates already waits up to `timeout` for
    # news), so a backlog of more than one batch (100 updates) reaches a /stop at once
    build(control, token, api, follow_s).run_polling(poll_interval=0.0, timeout=5, allowed_updates=Update.ALL_TYPES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
