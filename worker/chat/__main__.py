"""`python -m worker.chat`: the operator's commands from Telegram (python-telegram-bot), a process
of its own like the alert relay.

    TELEGRAM_BOT_TOKEN=123:abc TELEGRAM_ALLOWED_USERS=111,222 python -m worker.chat [--db URL]

Commands: /status /positions /pnl /trades /risk /help, /stop and /stopentry (at once), /close
<trade id> and /resume (confirmed with a button that expires; CHAT_CONFIRM_SECONDS, default 60).
Only the allow-listed Telegram user ids may command (TELEGRAM_ALLOWED_USERS); at most
CHAT_MAX_COMMANDS_PER_MINUTE (default 20) a user. Replies are plain text (no markdown). Every
command is a `chat_command` row (worker/chat/control.py). TELEGRAM_API_URL points the bot at
another Bot API server (the tests' fake; a local Bot API server).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from db.engine import database_url, make_engine
from db.migrate import upgrade
from worker.chat.control import ChatControl, ChatUser

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


def build(control: ChatControl, token: str, api: str) -> Application:  # type: ignore[type-arg]
    app = Application.builder().token(token).base_url(f"{api}/bot").base_file_url(f"{api}/file/bot").build()

    async def on_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or not message.text:
            return
        head, _, rest = message.text.partition(" ")
        name = head[1:].split("@", 1)[0].lower()
        answer = await asyncio.to_thread(control.command, ChatUser(user.id, user.username or ""), name, rest)
        markup = None
        if answer.confirm is not None:
            buttons = [InlineKeyboardButton("Confirm", callback_data=f"yes:{answer.confirm}"),
                       InlineKeyboardButton("Cancel", callback_data=f"no:{answer.confirm}")]  # fmt: skip
            markup = InlineKeyboardMarkup([buttons])
        await message.reply_text(answer.text, reply_markup=markup)

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query, user = update.callback_query, update.effective_user
        if query is None or user is None or not query.data:
            return
        choice, _, token = query.data.partition(":")
        text = await asyncio.to_thread(control.confirm, ChatUser(user.id, user.username or ""), token, choice == "yes")
        await query.answer()
        await query.edit_message_text(text)

    app.add_handler(MessageHandler(filters.COMMAND, on_command))
    app.add_handler(CallbackQueryHandler(on_button))
    return app


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
    build(control, token, api).run_polling(poll_interval=0.2, timeout=5, allowed_updates=Update.ALL_TYPES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
