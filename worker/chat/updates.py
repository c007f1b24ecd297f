"""The bot's getUpdates connection, which screens each batch before python-telegram-bot reads it:

- an update from a user not on the allow-list, beyond the gate's small budget, is dropped from
  the JSON at once: no parsing, no handler, no database work, so a flood of strangers costs
  little and never delays an operator's /stop;
- an update the library cannot parse is skipped. python-telegram-bot's Updater, when a batch
  fails to parse, logs it and asks again with the same offset, forever (telegram/ext/_updater.py
  `polling_action_cb`), so every later command goes unanswered. A batch that comes back starting
  at the same update id is such a retry: it is parsed update by update, and each one that fails
  is reported and replaced by an empty update with its id.

The batch's last update id is always kept (as an empty update where it was dropped): the Updater
confirms the batch up to it (`offset = updates[-1].update_id + 1`). BaseRequest's
`parse_json_payload` is the documented hook for what Telegram's JSON becomes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from telegram import Update
from telegram.request import HTTPXRequest

from worker.chat.commands import StrangerGate
from worker.chat.control import ChatUser

log = logging.getLogger("worker.chat")
JSONDict = dict[str, Any]


class UpdatesRequest(HTTPXRequest):
    """The connection getUpdates uses (and only it: Bot._post picks it for that endpoint)."""

    def __init__(self, gate: StrangerGate, on_skipped: Callable[[JSONDict, Exception], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._gate = gate
        self._on_skipped = on_skipped
        self._first_id: int | None = None  # the first update id of the previous batch

    def parse_json_payload(self, payload: bytes) -> JSONDict:  # type: ignore[override]
        data = HTTPXRequest.parse_json_payload(payload)
        result = data.get("result")
        if data.get("ok") and isinstance(result, list) and result:
            data["result"] = self.screen(result)
        return data

    def screen(self, batch: list[Any]) -> list[Any]:
        """The batch without the strangers' updates the gate drops, and, when the batch is a retry
        of one that failed to parse, without the updates that cannot be parsed."""
        first = _update_id(batch[0])
        retried = first is not None and first == self._first_id
        self._first_id = first
        kept = [item for item in batch if self._admit(item)]
        if dropped := self._gate.drops_to_report():
            log.warning("dropped %d update(s) from users not on the allow-list", dropped)
        if retried:
            kept = readable(kept, self._on_skipped)
        last = _update_id(batch[-1])
        if last is not None and (not kept or _update_id(kept[-1]) != last):
            kept.append({"update_id": last})
        return kept

    def _admit(self, item: Any) -> bool:
        user, _ = sender(item) if isinstance(item, dict) else (None, None)
        return user is None or self._gate.admit(user.id)  # no sender: let the library read (or skip) it


def readable(batch: list[Any], on_skipped: Callable[[JSONDict, Exception], None]) -> list[Any]:
    """`batch` with each update python-telegram-bot cannot parse reported and replaced by an empty
    update with its id."""
    kept: list[Any] = []
    for item in batch:
        try:
            Update.de_json(item, None)
            kept.append(item)
        except Exception as exc:  # any parse failure: skip that update
            on_skipped(item if isinstance(item, dict) else {"raw": item}, exc)
            if (update_id := _update_id(item)) is not None:
                kept.append({"update_id": update_id})
    return kept


def sender(raw: JSONDict) -> tuple[ChatUser | None, int | None]:
    """Who sent an update and in which chat, as far as its JSON says (without parsing it)."""
    for body in raw.values():
        if not isinstance(body, dict):
            continue
        who, chat = body.get("from"), body.get("chat") or (body.get("message") or {}).get("chat")
        user = None
        if isinstance(who, dict) and isinstance(who.get("id"), int):
            user = ChatUser(who["id"], str(who.get("username") or ""))
        chat_id = chat["id"] if isinstance(chat, dict) and isinstance(chat.get("id"), int) else None
        if user is not None or chat_id is not None:
            return user, chat_id
    return None, None


def _update_id(item: Any) -> int | None:
    update_id = item.get("update_id") if isinstance(item, dict) else None
    return update_id if isinstance(update_id, int) else None
