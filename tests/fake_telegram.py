"""A local fake of the Telegram Bot API, enough for python-telegram-bot's polling bot: getMe,
deleteWebhook, getUpdates (long polling, at most `limit` updates a call, 100 by default, as
Telegram), sendMessage, answerCallbackQuery, editMessageText (a text over 4,096 characters is
refused, "Bad Request: message is too long", as Telegram does).

Tests put updates in (a user's command, an edit of an old message, a press on a button, raw JSON
the library cannot parse) and read what the bot sent. They can hold the updates back until a
backlog is queued, slow the sends to a chat, and make sends fail. Bodies arrive as JSON or as
form fields, as python-telegram-bot sends them (structured values as JSON strings). Nothing
leaves the machine."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

TOKEN = "123456:TEST-token"
MAX_TEXT = 4096
BOT = {"id": 999, "is_bot": True, "first_name": "odte", "username": "odte_bot", "can_join_groups": False,
       "can_read_all_group_messages": False, "supports_inline_queries": False}  # fmt: skip


class FakeTelegram:
    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.updates: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []  # sendMessage and editMessageText calls, in order
        self.calls: list[str] = []
        self.answers: list[dict[str, Any]] = []  # answerCallbackQuery calls (text, show_alert)
        self.offsets: list[int] = []  # every getUpdates offset asked for
        self.held = False  # while held, getUpdates answers nothing (a backlog builds up)
        self.slow_chats: dict[int, float] = {}  # seconds each send to that chat takes
        self.refuse_prefixes: list[str] = []  # sends whose text starts so fail (400)
        self._next_update = 1
        self._next_message = 1

    def _user(self, user_id: int) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": f"user{user_id}", "username": f"user{user_id}"}

    def send_command(self, user_id: int, text: str) -> int:
        """A user's message starting with a command (its entity ends at the first whitespace, a
        newline included, as Telegram marks it); returns its message id."""
        message = self._message(user_id, text, self._message_id())
        self._push({"message": message})
        return int(message["message_id"])

    def edit_command(self, user_id: int, message_id: int, text: str) -> None:
        """The user edits their old message `message_id` into `text` (Telegram sends edited_message)."""
        message = {**self._message(user_id, text, message_id), "edit_date": int(time.time())}
        self._push({"edited_message": message})

    def send_raw(self, update: dict[str, Any]) -> None:
        """An update as given (for one the library cannot parse); its update_id is added."""
        self._push(dict(update))

    def _message(self, user_id: int, text: str, message_id: int) -> dict[str, Any]:
        length = len(re.split(r"\s", text, maxsplit=1)[0])
        return {"message_id": message_id, "date": int(time.time()), "text": text,
                "chat": {"id": user_id, "type": "private"}, "from": self._user(user_id),
                "entities": [{"type": "bot_command", "offset": 0, "length": length}]}  # fmt: skip

    def hold(self) -> None:
        with self.lock:
            self.held = True

    def release(self) -> None:
        with self.lock:
            self.held = False
            self.lock.notify_all()

    def press(self, user_id: int, sent: dict[str, Any], button: str) -> None:
        """Press the button labelled `button` on a message the bot sent."""
        rows = json.loads(sent["reply_markup"])["inline_keyboard"] if isinstance(sent["reply_markup"], str) else \
            sent["reply_markup"]["inline_keyboard"]  # fmt: skip
        data = next(b["callback_data"] for row in rows for b in row if b["text"] == button)
        message = {"message_id": sent["message_id"], "date": int(time.time()), "text": sent["text"],
                   "chat": {"id": sent["chat_id"], "type": "private"}, "from": BOT}  # fmt: skip
        self._push({"callback_query": {"id": str(self._message_id()), "from": self._user(user_id), "message": message,
                                       "chat_instance": "1", "data": data}})  # fmt: skip

    def wait_for(self, chat_id: int, count: int, timeout_s: float = 60.0) -> list[dict[str, Any]]:
        """The first `count` messages the bot sent (or edited) in `chat_id`, waiting for them."""
        deadline = time.monotonic() + timeout_s
        with self.lock:
            while True:
                mine = [m for m in self.sent if int(m["chat_id"]) == chat_id]
                if len(mine) >= count:
                    return mine
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the bot sent {len(mine)} of {count} messages to {chat_id}: {mine}")
                self.lock.wait(left)

    def wait_until(self, what: Any, timeout_s: float = 60.0) -> None:
        """Wait until `what(self)` is true (a generous bound for a stuck bot, never a speed test)."""
        deadline = time.monotonic() + timeout_s
        with self.lock:
            while not what(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"never came true; the bot sent {self.sent[-5:]}")
                self.lock.wait(left)

    # ---- server side --------------------------------------------------------------------------
    def _message_id(self) -> int:
        with self.lock:
            self._next_message += 1
            return self._next_message

    def _push(self, update: dict[str, Any]) -> None:
        with self.lock:
            update["update_id"] = self._next_update
            self._next_update += 1
            self.updates.append(update)
            self.lock.notify_all()

    def handle(self, method: str, params: dict[str, Any]) -> Any:
        self.calls.append(method)
        if method == "getMe":
            return BOT
        if method == "answerCallbackQuery":
            with self.lock:
                self.answers.append({"text": params.get("text"), "show_alert": params.get("show_alert")})
                self.lock.notify_all()
            return True
        if method in ("deleteWebhook", "setMyCommands", "close", "logOut"):
            return True
        if method == "getUpdates":
            offset, limit = int(params.get("offset") or 0), int(params.get("limit") or 100)
            wait = min(float(params.get("timeout") or 0), 1.0)
            with self.lock:
                self.offsets.append(offset)
                self.lock.wait_for(lambda: self._news(offset), timeout=wait)
                return [u for u in self.updates if u["update_id"] >= offset][:limit] if not self.held else []
        if method in ("sendMessage", "editMessageText"):
            chat_id = int(params["chat_id"]) if "chat_id" in params else self._chat_of(params)
            time.sleep(self.slow_chats.get(chat_id, 0.0))
            text = str(params["text"])
            if len(text) > MAX_TEXT:
                raise FakeError("Bad Request: message is too long")
            if any(text.startswith(prefix) for prefix in self.refuse_prefixes):
                raise FakeError("Bad Request: chat not found")
            message_id = int(params.get("message_id") or self._message_id())
            record = {"method": method, "chat_id": chat_id, "text": params["text"], "message_id": message_id,
                      "reply_markup": params.get("reply_markup"), "parse_mode": params.get("parse_mode")}  # fmt: skip
            with self.lock:
                self.sent.append(record)
                self.lock.notify_all()
            return {"message_id": message_id, "date": int(time.time()), "text": params["text"],
                    "chat": {"id": chat_id, "type": "private"}, "from": BOT}  # fmt: skip
        raise KeyError(method)

    def _news(self, offset: int) -> bool:
        return not self.held and any(u["update_id"] >= offset for u in self.updates)

    def _chat_of(self, params: dict[str, Any]) -> int:
        message_id = int(params["message_id"])
        return next(int(m["chat_id"]) for m in self.sent if m["message_id"] == message_id)


class FakeError(Exception):
    """A Bot API error answer (400 and its description)."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *_: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        kind = self.headers.get("Content-Type", "")
        params: dict[str, Any] = {}
        if "json" in kind and raw:
            params = json.loads(raw)
        elif raw:
            params = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
        _, _, rest = self.path.partition("/bot")
        token, _, method = rest.partition("/")
        if token != TOKEN:
            return self._send(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        try:
            result = self.server.fake.handle(method, params)
        except KeyError:
            return self._send(404, {"ok": False, "error_code": 404, "description": f"Not Found: {method}"})
        except FakeError as exc:
            return self._send(400, {"ok": False, "error_code": 400, "description": str(exc)})
        self._send(200, {"ok": True, "result": result})

    def _send(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the bot gave up on a long poll
            self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeTelegram) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


@contextmanager
def fake_telegram() -> Iterator[tuple[FakeTelegram, str]]:
    """A running fake; yields it and its base URL (TELEGRAM_API_URL)."""
    fake = FakeTelegram()
    server = _Server(fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
