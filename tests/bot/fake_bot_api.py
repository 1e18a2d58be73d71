"""A Telegram Bot API server on loopback for end-to-end tests of `bot/telegram.py`.

python-telegram-bot talks to it through `base_url`/`base_file_url`. It serves queued updates on
long-polled getUpdates, records every call, and refuses what Telegram refuses (messages over 4096
chars, captions over 1024, malformed HTML, callback data over 64 bytes, edits that change nothing).
A reply keyboard (ReplyKeyboardMarkup) belongs to the chat, not to the message that set it: it stays
until another replaces or removes it, and edits refuse it (they take inline keyboards only).
"""
from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, unquote

TOKEN = "123456:TEST-token-never-real"
ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
                "tg-spoiler", "span", "blockquote"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    at: float = 0.0

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")

    @property
    def buttons(self) -> list[dict]:
        markup = self.params.get("reply_markup")
        if not markup:
            return []
        return [b for row in markup.get("inline_keyboard", []) for b in row]

    @property
    def keyboard(self) -> list[str]:
        """The labels of the reply keyboard this call sets ([] when it sets none)."""
        markup = self.params.get("reply_markup") or {}
        return [_key_text(b) for row in markup.get("keyboard", []) for b in row]


class ApiError(Exception):
    def __init__(self, code: int, description: str):
        self.code, self.description = code, description


class _HtmlCheck(HTMLParser):
    """Telegram's HTML: a few tags, properly nested; anything else is 'can't parse entities'."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.error = ""

    def handle_starttag(self, tag, attrs):
        if tag not in ALLOWED_TAGS:
            self.error = self.error or f"Unsupported start tag \"{tag}\""
        self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.error = self.error or f"Unexpected end tag \"{tag}\""
        else:
            self.stack.pop()


def check_html(text: str) -> str:
    """'' when Telegram would accept `text` as HTML, else the reason."""
    parser = _HtmlCheck()
    parser.feed(text)
    parser.close()
    if parser.error:
        return parser.error
    if parser.stack:
        return f"Can't find end tag corresponding to start tag \"{parser.stack[-1]}\""
    bare = text.replace("&lt;", "").replace("&gt;", "").replace("&amp;", "").replace("&quot;", "")
    # A bare '<' that is no tag, or a bare '&' that is no entity, breaks Telegram's parser.
    import re

    if re.search(r"&(?!#?\w+;)", bare):
        return "Unsupported entity"
    return ""


class FakeBotApi:
    """Start with `.start()`; `base_url`/`base_file_url` go to python-telegram-bot."""

    def __init__(self, token: str = TOKEN):
        self.token = token
        self.calls: list[Call] = []
        self._updates: list[dict] = []
        self._cond = threading.Condition()
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._file_ids = itertools.count(1)
        self._files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, data)
        self._messages: dict[tuple[int, int], dict] = {}  # (chat, message_id) -> message
        self.downloads: list[str] = []
        self.deleted: list[tuple[int, int]] = []  # (chat, message_id) the bot deleted
        self.keyboards: dict[int, dict] = {}  # chat -> the reply keyboard it shows now (ReplyKeyboardMarkup)
        self.language_codes: dict[int, str] = {}  # user -> the language_code Telegram sends with updates
        self.allowed_updates: list | None = None  # as the last getUpdates asked (None: never said)
        self.fail_next: dict[str, ApiError] = {}  # method -> error for its next call
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    def start(self) -> "FakeBotApi":
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True, name="fake-bot-api")
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "FakeBotApi":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- what a user does -----------------------------------------------------------------------

    def _user(self, chat_id: int) -> dict:
        user = {"id": chat_id, "is_bot": False, "first_name": "Tester", "username": f"user{abs(chat_id)}"}
        if chat_id in self.language_codes:
            user["language_code"] = self.language_codes[chat_id]
        return user

    def _chat(self, chat_id: int) -> dict:
        return {"id": chat_id, "type": "private", "first_name": "Tester"}

    def _queue(self, update: dict) -> int:
        with self._cond:
            update["update_id"] = next(self._update_ids)
            self._updates.append(update)
            self._cond.notify_all()
            return update["update_id"]

    def send_text(self, chat_id: int, text: str) -> int:
        message = {"message_id": next(self._message_ids), "date": int(time.time()),
                   "chat": self._chat(chat_id), "from": self._user(chat_id), "text": text}
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return self._queue({"message": message})

    def edit_text(self, chat_id: int, message_id: int, text: str) -> int:
        """The user edits an earlier message (Telegram sends it again as `edited_message`)."""
        message = {"message_id": message_id, "date": int(time.time()), "edit_date": int(time.time()),
                   "chat": self._chat(chat_id), "from": self._user(chat_id), "text": text}
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return self._queue({"edited_message": message})

    def send_document(self, chat_id: int, file_name: str, data: bytes, *, caption: str | None = None,
                      declared_size: int | None = None, mime_type: str = "application/octet-stream") -> int:
        file_id = f"file{next(self._file_ids)}"
        with self._cond:
            self._files[file_id] = (f"documents/{file_id}_{file_name}", data)
        message = {"message_id": next(self._message_ids), "date": int(time.time()),
                   "chat": self._chat(chat_id), "from": self._user(chat_id),
                   "document": {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_name": file_name,
                                "mime_type": mime_type,
                                "file_size": len(data) if declared_size is None else declared_size}}
        if caption:
            message["caption"] = caption
            if caption.startswith("/"):
                message["caption_entities"] = [{"type": "bot_command", "offset": 0,
                                                "length": len(caption.split()[0])}]
        return self._queue({"message": message})

    def send_web_app_data(self, chat_id: int, data: str, button_text: str = "Edit model") -> int:
        """The user pressed Save in a Mini App opened from a reply-keyboard button (Telegram's sendData)."""
        message = {"message_id": next(self._message_ids), "date": int(time.time()),
                   "chat": self._chat(chat_id), "from": self._user(chat_id),
                   "web_app_data": {"data": data, "button_text": button_text}}
        return self._queue({"message": message})

    def keyboard(self, chat_id: int) -> list[str]:
        """The labels of the reply keyboard `chat_id` shows under its text field now ([] when none)."""
        with self._cond:
            markup = self.keyboards.get(chat_id) or {}
            return [_key_text(b) for row in markup.get("keyboard", []) for b in row]

    def press_key(self, chat_id: int, label: str) -> int:
        """The user taps `label` on the chat's reply keyboard: Telegram sends the label as a text message."""
        shown = self.keyboard(chat_id)
        if label not in shown:
            raise AssertionError(f"{label!r} is not on chat {chat_id}'s keyboard {shown}")
        return self.send_text(chat_id, label)

    def press(self, chat_id: int, message_id: int, data: str) -> int:
        with self._cond:
            message = dict(self._messages.get((chat_id, message_id)) or
                           {"message_id": message_id, "date": int(time.time()), "chat": self._chat(chat_id)})
        return self._queue({"callback_query": {
            "id": f"cq{next(self._update_ids)}", "from": self._user(chat_id), "chat_instance": str(chat_id),
            "data": data, "message": message}})

    # --- assertions --------------------------------------------------------------------------

    def calls_to(self, *methods: str, chat_id: int | None = None) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method in methods and (chat_id is None or c.chat_id == chat_id)]

    def wait_for(self, predicate: Callable[["FakeBotApi"], Any], timeout: float = 10.0) -> Any:
        """Wait until `predicate(self)` is truthy (re-checked on every call); its value, or AssertionError."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate(self)
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    methods = [f"{c.method}:{c.text[:60]!r}" for c in self.calls[-15:]]
                    raise AssertionError(f"timed out waiting; last calls: {methods}")
                self._cond.wait(left)

    def wait_sent(self, chat_id: int, count: int, *, methods=("sendMessage", "sendPhoto"), timeout=10.0) -> list[Call]:
        """Wait for at least `count` messages to `chat_id`; all of them."""
        return self.wait_for(lambda api: (lambda sent: sent if len(sent) >= count else None)(
            [c for c in api.calls if c.method in methods and c.chat_id == chat_id]), timeout)

    def updates_pending(self) -> int:
        with self._cond:
            return len(self._updates)

    # --- the server --------------------------------------------------------------------------

    def _handler(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else header and body writes meet delayed ACKs: +40 ms a call

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                prefix = f"/file/bot{api.token}/"
                path = unquote(self.path)
                if path.startswith(prefix):
                    wanted = path[len(prefix):]
                    with api._cond:
                        data = next((d for p, d in api._files.values() if p == wanted), None)
                        api.downloads.append(wanted)
                        api._cond.notify_all()
                    if data is not None:
                        return self._reply(200, data, "application/octet-stream")
                return self._reply(404, b"not found", "text/plain")

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                prefix = f"/bot{api.token}/"
                path = unquote(self.path)
                if not path.startswith(prefix):
                    return self._json(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                method = path[len(prefix):]
                params, files = _parse_body(self.headers.get("Content-Type", ""), body)
                try:
                    result = api._dispatch(method, params, files)
                except ApiError as exc:
                    return self._json(exc.code, {"ok": False, "error_code": exc.code, "description": exc.description})
                return self._json(200, {"ok": True, "result": result})

            def _json(self, status, payload):
                self._reply(status, json.dumps(payload).encode(), "application/json")

            def _reply(self, status, data, content_type):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def _dispatch(self, method: str, params: dict, files: dict) -> Any:
        if method == "getUpdates":
            return self._get_updates(params)
        with self._cond:
            self.calls.append(Call(method, params, files, time.monotonic()))
            self._cond.notify_all()
            error = self.fail_next.pop(method, None)
        if error:
            raise error
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            raise ApiError(404, "Not Found")
        return handler(params, files)

    def _get_updates(self, params: dict) -> list[dict]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + min(timeout, 5.0)
        with self._cond:
            if "allowed_updates" in params:  # Telegram remembers the last list asked for
                self.allowed_updates = params["allowed_updates"] or None
            wanted = self.allowed_updates

            def served(update):
                return wanted is None or any(kind in update for kind in wanted)

            self._updates = [u for u in self._updates if u["update_id"] >= offset and served(u)]
            while not self._updates and time.monotonic() < deadline:
                self._cond.wait(deadline - time.monotonic())
                self._updates = [u for u in self._updates if served(u)]
            return list(self._updates)

    # --- methods ------------------------------------------------------------------------------

    def _m_getMe(self, params, files):
        return {"id": 123456, "is_bot": True, "first_name": "kisbot", "username": "kisbot_test_bot",
                "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False}

    def _m_deleteWebhook(self, params, files):
        return True

    def _m_setMyCommands(self, params, files):
        return True

    def _m_answerCallbackQuery(self, params, files):
        return True

    def _m_sendChatAction(self, params, files):
        return True

    def _check_markup(self, params, *, inline_only: bool = False):
        markup = params.get("reply_markup")
        if not markup:
            return
        if not isinstance(markup, dict) or not (set(markup) & {"inline_keyboard", "keyboard", "remove_keyboard",
                                                                 "force_reply"}):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if inline_only and "inline_keyboard" not in markup:  # editMessage* take an InlineKeyboardMarkup only
            raise ApiError(400, "Bad Request: inline keyboard expected")
        for button in Call("", params).buttons:
            if len(str(button.get("callback_data", "")).encode()) > 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows) \
                    or not all(_key_text(b).strip() for r in rows for b in r):
                raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")

    def _check_text(self, params, key, limit):
        text = str(params.get(key) or "")
        if key == "text" and not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > limit:
            raise ApiError(400, "Bad Request: message is too long" if key == "text" else
                           "Bad Request: message caption is too long")
        if params.get("parse_mode") == "HTML":
            problem = check_html(text)
            if problem:
                raise ApiError(400, f"Bad Request: can't parse entities: {problem}")

    def _new_message(self, params, extra):
        chat_id = int(params["chat_id"])
        message = {"message_id": next(self._message_ids), "date": int(time.time()),
                   "chat": self._chat(chat_id), **extra}
        markup = params.get("reply_markup") or {}
        with self._cond:
            if "inline_keyboard" in markup:  # only an inline keyboard is part of the message
                message["reply_markup"] = markup
            elif "keyboard" in markup:  # a reply keyboard replaces the chat's, under the text field
                self.keyboards[chat_id] = markup
            elif markup.get("remove_keyboard"):
                self.keyboards.pop(chat_id, None)
            self._messages[(chat_id, message["message_id"])] = message
            self._cond.notify_all()  # wait_for may be waiting for the message, not only the call
        return message

    def _m_sendMessage(self, params, files):
        self._check_text(params, "text", 4096)
        self._check_markup(params)
        return self._new_message(params, {"text": params["text"]})

    def _m_sendPhoto(self, params, files):
        self._check_text(params, "caption", 1024)
        self._check_markup(params)
        if "photo" not in files or not files["photo"]:
            raise ApiError(400, "Bad Request: there is no photo in the request")
        width, height = 800, 600
        png = files["photo"]
        if png.startswith(b"\x89PNG\r\n\x1a\n"):
            width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
            # Telegram's sendPhoto rule: width + height at most 10,000 and a side ratio of at most 20.
            if width + height > 10_000 or max(width, height) > 20 * min(width, height):
                raise ApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
        return self._new_message(params, {
            "photo": [{"file_id": "photo1", "file_unique_id": "uphoto1", "width": width, "height": height}],
            **({"caption": params["caption"]} if params.get("caption") else {})})

    def _m_editMessageText(self, params, files):
        self._check_text(params, "text", 4096)
        key = (int(params["chat_id"]), int(params["message_id"]))
        with self._cond:
            message = self._messages.get(key)
            if message is None:
                raise ApiError(400, "Bad Request: message to edit not found")
            self._check_markup(params, inline_only=True)
            if message.get("text") == params["text"] and message.get("reply_markup") == params.get("reply_markup"):
                raise ApiError(400, "Bad Request: message is not modified")
            message["text"] = params["text"]
            message.pop("reply_markup", None)  # an edit without a keyboard removes it, as Telegram does
            if params.get("reply_markup"):
                message["reply_markup"] = params["reply_markup"]
            return dict(message)

    def _m_deleteMessage(self, params, files):
        key = (int(params["chat_id"]), int(params["message_id"]))
        with self._cond:
            if self._messages.pop(key, None) is None:
                raise ApiError(400, "Bad Request: message to delete not found")
            self.deleted.append(key)
            self._cond.notify_all()
        return True

    def shown(self, chat_id: int) -> list[dict]:
        """The messages the chat shows now (sent, as last edited, minus deleted), oldest first."""
        with self._cond:
            return [dict(m) for (chat, _), m in sorted(self._messages.items()) if chat == chat_id]

    def _m_editMessageReplyMarkup(self, params, files):
        key = (int(params["chat_id"]), int(params["message_id"]))
        with self._cond:
            message = self._messages.get(key)
            if message is None:
                raise ApiError(400, "Bad Request: message to edit not found")
            self._check_markup(params, inline_only=True)
            message.pop("reply_markup", None)
            if params.get("reply_markup"):
                message["reply_markup"] = params["reply_markup"]
            return dict(message)

    def _m_getFile(self, params, files):
        file_id = params["file_id"]
        with self._cond:
            if file_id not in self._files:
                raise ApiError(400, "Bad Request: invalid file_id")
            path, data = self._files[file_id]
        return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(data), "file_path": path}


def _key_text(button: Any) -> str:
    """A reply keyboard button's label: a KeyboardButton object or, as the Bot API also allows, a string."""
    return str(button.get("text", "")) if isinstance(button, dict) else str(button)


class _QuietServer(ThreadingHTTPServer):
    """A client that hung up (PTB stopping mid long-poll) is normal here, not a traceback."""

    def handle_error(self, request, client_address):
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def _parse_body(content_type: str, body: bytes) -> tuple[dict, dict]:
    """Form or multipart body -> (params with JSON values decoded, files)."""
    params: dict[str, Any] = {}
    files: dict[str, bytes] = {}
    if content_type.startswith("multipart/form-data"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if part.get_filename() is not None:
                files[name] = payload
            else:
                params[name] = _decode(name, payload.decode())
    elif body:
        for key, values in parse_qs(body.decode(), keep_blank_values=True).items():
            params[key] = _decode(key, values[-1])
    return params, files


TEXT_PARAMS = {"text", "caption", "parse_mode", "file_id", "callback_query_id", "data", "url", "action"}


def _decode(key: str, value: str) -> Any:
    """PTB sends strings as they are and everything else JSON-encoded."""
    if key in TEXT_PARAMS:
        return value
    if value[:1] in "{[" or value in ("true", "false", "null") or value.lstrip("-").isdigit():
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
