"""python-telegram-bot's side of chat control: the Application, its handlers and what keeps the
emergency stop fast and every failure visible.

- Updates are processed one at a time, in order, except an allow-listed user's `/stop` or
  `/stopentry`, which runs at once beside the line (`StopFirst`), so no backlog delays it.
- Users not on the allow-list beyond a small budget are dropped from each getUpdates batch before
  the library even parses them (worker/chat/updates.py, with commands.py's `StrangerGate`).
- Commands come from new messages only: an edited message is answered "not carried out", and a
  command addressed to another bot (`/stop@otherbot`) is ignored (`parse_command`).
- Replies are cut to Telegram's 4,096 characters; whether each reached Telegram is written on its
  audit row. A handler that fails reaches the error handler: a `chat_command` row "error" and,
  for an allow-listed user, the reply "Something went wrong, see the log."
- An update python-telegram-bot cannot parse is skipped (never fetched again), logged and
  recorded, and its sender told where the JSON says who it is (worker/chat/updates.py).
- After a confirmed `/close` the bot follows the control request and says what the worker did.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import Application, BaseUpdateProcessor, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from worker.chat.commands import StrangerGate, fit, parse_command, urgent
from worker.chat.control import FINAL_REQUEST, ChatControl, ChatUser
from worker.chat.updates import JSONDict, UpdatesRequest, sender

log = logging.getLogger("worker.chat")
SORRY = "Something went wrong, see the log."
UNREADABLE = "Your last message could not be read by the bot and was skipped (see the log)."
FOLLOW_POLL_S = 0.5


class StopFirst(BaseUpdateProcessor):
    """One update at a time, in arrival order, except the urgent ones (`is_urgent`), which run at
    once. Every update gets its own task (no semaphore wait), and the line is a FIFO lock."""

    def __init__(self, is_urgent: Callable[[object], bool]) -> None:
        super().__init__(max_concurrent_updates=2**31 - 1)
        self._is_urgent = is_urgent
        self._line = asyncio.Lock()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        if self._is_urgent(update):
            await coroutine
            return
        async with self._line:
            await coroutine

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free."""


def _user(update: object) -> ChatUser | None:
    user = update.effective_user if isinstance(update, Update) else None
    return None if user is None else ChatUser(user.id, user.username or "")


async def _send(control: ChatControl, row: int, send: Callable[[str], Awaitable[Any]], text: str) -> None:
    """Send `text` (cut to fit) and write on audit row `row` whether it went; a failure is raised
    on to the error handler, which tells the user."""
    fitted = fit(text)
    try:
        await send(fitted.text)
    except TelegramError as exc:
        await asyncio.to_thread(control.delivered, row, f"failed: {type(exc).__name__}: {exc}")
        raise
    await asyncio.to_thread(control.delivered, row, "sent cut" if fitted.cut else "sent")


def build(control: ChatControl, token: str, api: str, follow_s: float = 120.0) -> Application:  # type: ignore[type-arg]
    """The bot: its handlers, the stop-first processor, the unreadable-update skip, the error handler."""
    gate = StrangerGate(control.allowed)

    def is_urgent(update: object) -> bool:
        message = update.message if isinstance(update, Update) else None
        user = _user(update)
        return (message is not None and message.text is not None and user is not None
                and user.id in control.allowed and urgent(message.text, app.bot.username))  # fmt: skip

    def on_skipped(raw: JSONDict, exc: Exception) -> None:
        log.error("skipped an update the bot cannot read (%s: %s): %.500s", type(exc).__name__, exc, raw)
        user, chat_id = sender(raw)
        app.create_task(_record_skipped(raw, exc, user, chat_id))

    async def _record_skipped(raw: JSONDict, exc: Exception, user: ChatUser | None, chat_id: int | None) -> None:
        who = user or ChatUser(0)
        why = f"{type(exc).__name__}: {exc}"
        row = await asyncio.to_thread(control.record, who, "update", json.dumps(raw)[:500], "skipped_update", why)
        if chat_id is not None and user is not None and user.id in control.allowed:
            await _send(control, row, lambda text: app.bot.send_message(chat_id, text), UNREADABLE)

    async def on_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.message, _user(update)
        command = parse_command(message.text or "", context.bot.username) if message else None
        if message is None or user is None or command is None:
            return  # not a command, or one for another bot
        answer = await asyncio.to_thread(control.command, user, command.name, command.args)
        markup = None
        if answer.confirm is not None:
            buttons = [InlineKeyboardButton("Confirm", callback_data=f"yes:{answer.confirm}"),
                       InlineKeyboardButton("Cancel", callback_data=f"no:{answer.confirm}")]  # fmt: skip
            markup = InlineKeyboardMarkup([buttons])
        await _send(control, answer.row, lambda text: message.reply_text(text, reply_markup=markup), answer.text)

    async def on_edit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.edited_message, _user(update)
        command = parse_command(message.text or "", context.bot.username) if message else None
        if message is None or user is None or command is None or user.id not in control.allowed:
            return
        answer = await asyncio.to_thread(control.edited, user, command.name, command.args)
        await _send(control, answer.row, message.reply_text, answer.text)

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query, user = update.callback_query, _user(update)
        if query is None or user is None or not query.data:
            return
        choice, _, token = query.data.partition(":")
        tapped = await asyncio.to_thread(control.confirm, user, token, choice == "yes")
        if not tapped.final:  # someone else's question: only the tapper is told, the question stays
            await query.answer(fit(tapped.text, 200).text, show_alert=True)
            return
        with contextlib.suppress(TelegramError):  # a late answer to the tap must not lose the edit
            await query.answer()
        await _send(control, tapped.row, query.edit_message_text, tapped.text)
        chat = update.effective_chat
        if tapped.request is not None and tapped.trade_id is not None and chat is not None:
            app.create_task(_follow(chat.id, user, tapped.trade_id, tapped.request), update=update)

    async def _follow(chat_id: int, user: ChatUser, trade_id: int, request_id: int) -> None:
        """Tell the asker what the worker did with the close (working, done, refused), or that it
        did not take it up within `follow_s`."""
        loop = asyncio.get_running_loop()
        started, seen = loop.time(), "pending"
        while app.running and loop.time() - started < follow_s:
            await asyncio.sleep(FOLLOW_POLL_S)
            outcome = await asyncio.to_thread(control.request_outcome, request_id)
            if outcome is None or outcome.status == seen:
                continue
            seen = outcome.status
            answer = await asyncio.to_thread(control.follow_up, user, trade_id, outcome, follow_s)
            await _send(control, answer.row, lambda text: app.bot.send_message(chat_id, text), answer.text)
            if seen in FINAL_REQUEST:
                return
        if seen == "pending" and app.running:
            answer = await asyncio.to_thread(control.follow_up, user, trade_id, None, follow_s)
            await _send(control, answer.row, lambda text: app.bot.send_message(chat_id, text), answer.text)

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        log.error("chat: %s while handling %.300s", type(error).__name__, update, exc_info=error)
        user = _user(update)
        chat = update.effective_chat if isinstance(update, Update) else None
        message = update.effective_message if isinstance(update, Update) else None
        what = (message.text or "")[:100] if message is not None else type(update).__name__
        row = 0
        try:
            row = await asyncio.to_thread(control.record, user or ChatUser(0), "error", what, "error",
                                          f"{type(error).__name__}: {error}")  # fmt: skip
        except Exception:
            log.exception("chat: the error could not be recorded")
        if chat is None or user is None or user.id not in control.allowed:
            return
        try:
            await context.bot.send_message(chat.id, SORRY)
            delivery = "sent"
        except Exception as exc:  # nothing more to tell the user with
            log.error("chat: the error reply failed too: %s", exc)
            delivery = f"failed: {type(exc).__name__}: {exc}"
        if row:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(control.delivered, row, delivery)

    app = (
        Application.builder().token(token).base_url(f"{api}/bot").base_file_url(f"{api}/file/bot")
        .get_updates_request(UpdatesRequest(gate, on_skipped, connection_pool_size=1))
        .concurrent_updates(StopFirst(is_urgent)).build()
    )  # fmt: skip
    app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.COMMAND, on_command))
    app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE & filters.COMMAND, on_edit))
    app.add_handler(CallbackQueryHandler(on_button))
    app.add_error_handler(on_error)
    return app
