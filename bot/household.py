"""The household: one `BotService` per KIS account, and which of them a chat's command is for.

A command names its account with `@label` anywhere in its words (or a file's caption); without one it goes
to the chat's `/use` default (kept in `accounts.json` in the data dir), else to the first account. Every
button an account's reply carries names that account in its callback data (`confirm:<label>:<plan>`), so a
press reaches only the account that offered it. Viewer chats (TELEGRAM_VIEWER_CHAT_IDS) may read but
never plan, confirm, cancel, edit the model or send files.

Front ends route each update with `route()` and run their handler inside `serving()`; `service`,
`pushes` and `notifier` are the objects they call as before, resolving the routed account at each call.
"""
from __future__ import annotations

import contextvars
import json
import logging
import threading
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from bot import format as fmt
from bot.order_gate import client_gated
from bot.reports import PLAN_BUTTON
from bot.notifier import Push
from bot.service import BotService, Button, Reply, describe_error
from kis.accounts import LABEL_PATTERN, AccountKind
from kis.errors import KisError, KisTransportError
from kis.files import write_private
from rebalance.accounts import AccountView, accounts_text, mask_number
from rebalance.i18n import t
from rebalance.text import pad, width

log = logging.getLogger(__name__)

DEFAULTS_FILE = "accounts.json"  # each chat's /use default
LABELLED = ("confirm", "cancel", "stop", PLAN_BUTTON)  # button actions whose data names the account
# What a viewer may ask: reads only. /model without words (or history, list, diff) only shows the model.
VIEWER_READS = frozenset({"start", "help", "balance", "report", "perf", "status", "price", "accounts", "health",
                          "lang", "use", "text"})
MODEL_READS = frozenset({"history", "list", "diff"})
PLANNING = frozenset({"plan", "confirm", "file"})  # commands whose answer may hold a plan: its header names the account
VIEWER_PUSHES = frozenset({"report", "summary"})  # the pushes a viewer gets: daily reports, run summaries


@dataclass
class Desk:
    """One account of the household: its label, display name and kind, and what serves it."""

    label: str
    name: str
    kind: AccountKind
    service: BotService
    pushes: Any = None  # bot.pushes.Pushes of the account, or None
    notifier: Any = None  # bot.notifier.Notifier of the account's runs, or None
    notices: Any = None  # kis.notices stream of the account's app key, or None


@dataclass(frozen=True)
class Route:
    """Where one command goes: `desk` with `words` (its `@label` taken out), or `work`, the household's own
    answer (a refusal, /use, /balance all), to run in place of the command."""

    desk: Desk
    words: tuple[str, ...] = ()
    work: Callable[[], list[Reply]] | None = None
    viewer: bool = False  # asked by a viewer chat: its answer carries no button that trades


class ChatDefaults:
    """The account each chat chose with /use; thread-safe, the file replaced atomically."""

    def __init__(self, path: Path | None):
        self.path = path  # None: kept in memory only
        self._lock = threading.Lock()
        self._chosen: dict[int, str] = self._load()

    def _load(self) -> dict[int, str]:
        if self.path is None:
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {int(chat): str(label) for chat, label in data.items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, AttributeError, TypeError):
            log.warning("%s is unreadable; every chat starts on the first account", self.path.name)
            return {}

    def get(self, chat: int) -> str | None:
        with self._lock:
            return self._chosen.get(chat)

    def set(self, chat: int, label: str) -> None:
        with self._lock:
            self._chosen[chat] = label
            if self.path is not None:
                write_private(self.path, json.dumps({str(c): v for c, v in self._chosen.items()}))


def command_of(update: Any, args: Sequence[str] | None) -> tuple[int, str, list[str]]:
    """(chat, command, words) of a Telegram update, duck-typed: a button is `button:<action>` with its data,
    a file `file` with its caption's words, a command its name (no `/`, no `@bot`) with its arguments."""
    chat = update.effective_chat.id if update.effective_chat is not None else 0
    query = getattr(update, "callback_query", None)
    if query is not None:
        action, _, ident = (query.data or "").partition(":")
        return chat, f"button:{action}", [ident]
    message = update.effective_message
    if message is None:
        return chat, "text", []
    if getattr(message, "document", None) is not None:
        return chat, "file", (message.caption or "").split()
    text = message.text or ""
    if text.startswith("/"):
        return chat, text.split()[0][1:].split("@")[0].lower(), list(args if args is not None else text.split()[1:])
    return chat, "text", []


_serving: contextvars.ContextVar[Desk | None] = contextvars.ContextVar("kisbot_desk", default=None)
_viewing: contextvars.ContextVar[bool] = contextvars.ContextVar("kisbot_viewing", default=False)


def _trades(button: Button) -> bool:
    return button.data.partition(":")[0] in LABELLED


def for_viewer(reply: Reply) -> Reply:
    """`reply` as a viewer sees it: without the buttons that trade (Confirm, Cancel, Stop, Plan) or a Mini App."""
    if not reply.buttons and not reply.app:
        return reply
    return replace(reply, buttons=tuple(b for b in reply.buttons if not _trades(b)), app="")


def viewer_push(reply: Reply) -> Reply | None:
    """What a viewer chat gets of a push: daily reports and run summaries (no button that trades), nothing else."""
    return for_viewer(reply) if reply.kind in VIEWER_PUSHES else None


class Household:
    """The accounts one bot serves, each a `Desk`, and the routing of chats' commands to them."""

    def __init__(self, desks: Sequence[Desk], *, data_dir: str | Path | None = None,
                 viewers: frozenset[int] = frozenset()):
        if not desks:
            raise ValueError("a household needs at least one account")
        self.desks = tuple(desks)
        self.viewers = viewers
        self.defaults = ChatDefaults(Path(data_dir) / DEFAULTS_FILE if data_dir is not None else None)
        self._totals_lock = threading.Lock()
        self._totalled: set[Any] = set()  # days whose household total was pushed
        if self.several and all(d.pushes is not None for d in self.desks):
            for desk in self.desks:  # each account's daily report; the last of the day ends with the total
                desk.pushes.scheduler.reports = _DailyTotal(desk.pushes.scheduler.reports, self)
        self.service = RoutedService(self)
        self.pushes = RoutedPushes(self) if any(d.pushes is not None for d in self.desks) else None
        self.notifier = HouseNotifier(self) if any(d.notifier is not None for d in self.desks) else None

    @property
    def several(self) -> bool:
        return len(self.desks) > 1

    def desk(self, label: str) -> Desk | None:
        wanted = label.strip().lstrip("@").lower()
        return next((d for d in self.desks if d.label == wanted), None)

    def current(self) -> Desk:
        """The account the command being answered was routed to; outside any, the first."""
        return _serving.get() or self.desks[0]

    def default_for(self, chat: int) -> Desk:
        """The chat's /use account, else the first."""
        chosen = self.defaults.get(chat)
        return (self.desk(chosen) if chosen else None) or self.desks[0]

    # --- routing ------------------------------------------------------------------------------

    def route(self, chat: int, command: str, words: Sequence[str]) -> Route:
        """Which account answers `command` from `chat`, or the household's own answer; never a KIS call."""
        words = [w for w in words if w]
        if command.startswith("button:"):
            return self._route_button(chat, command.partition(":")[2], words[0] if words else "")
        named = list(dict.fromkeys(w[1:].lower() for w in words if w.startswith("@")))
        rest = tuple(w for w in words if not w.startswith("@"))
        if len(named) > 1:
            return self._answer(t("household.two_labels", labels=", ".join("@" + n for n in named)))
        desk = self.default_for(chat)
        if named:
            found = self.desk(named[0])
            if found is None:
                return self._answer(self._unknown(named[0]))
            desk = found
        viewer = chat in self.viewers
        if viewer and not self._may_view(command, rest):
            return self._answer(t("household.viewer_refused"))
        if command == "use":
            return Route(desk, rest, lambda: self.use(chat, list(rest), named[0] if named else None), viewer)
        if command == "balance" and [w.lower() for w in rest] == ["all"]:
            return Route(desk, rest, self._viewed(viewer, self.balance_all), viewer)
        if command == "report" and [w.lower() for w in rest] == ["all"] and self.pushes is not None:
            return Route(desk, rest, self._viewed(viewer, self.report_all), viewer)
        if command == "health" and [w.lower() for w in rest] == ["all"] and self.pushes is not None:
            return Route(desk, rest, self._viewed(viewer, lambda: [
                r for d in self.desks if d.pushes is not None
                for r in self.labelled(d, d.pushes.health(), header=True)]), viewer)
        return Route(desk, rest, viewer=viewer)

    @staticmethod
    def _viewed(viewer: bool, work: Callable[[], list[Reply]]) -> Callable[[], list[Reply]]:
        return (lambda: [for_viewer(r) for r in work()]) if viewer else work

    def _route_button(self, chat: int, action: str, ident: str) -> Route:
        desk, _ = self.split(ident)
        label, sep, _ = ident.partition(":")
        if action in LABELLED and sep and self.desk(label) is None:  # an account no longer configured
            return self._answer(self._unknown(label))
        if chat in self.viewers and action in LABELLED:
            return self._answer(t("household.viewer_refused"))
        return Route(desk, (ident,), viewer=chat in self.viewers)

    def _answer(self, sentence: str) -> Route:
        return Route(self.desks[0], (), lambda: [Reply(sentence)])

    def _unknown(self, label: str) -> str:
        return t("household.unknown_label", label=label, labels=", ".join("@" + d.label for d in self.desks))

    @staticmethod
    def _may_view(command: str, words: Sequence[str]) -> bool:
        if command == "model":
            return not words or words[0].lower() in MODEL_READS
        return command in VIEWER_READS

    @contextmanager
    def serving(self, route: Route) -> Iterator[Desk]:
        """Within the block `service`, `pushes` and `notifier` are the routed account's."""
        token = _serving.set(route.desk)
        viewing = _viewing.set(route.viewer or _viewing.get())  # a nested serving keeps a viewer a viewer
        try:
            yield route.desk
        finally:
            _viewing.reset(viewing)
            _serving.reset(token)

    def split(self, ident: str) -> tuple[Desk, str]:
        """(account, bare id) of a button's `label:id`; an id without a known label is the first account's
        (a button sent before the household labelled them)."""
        label, sep, rest = ident.partition(":")
        desk = self.desk(label) if sep and LABEL_PATTERN.fullmatch(label) else None
        return (desk, rest) if desk is not None else (self.desks[0], ident)

    # --- what the household answers itself ----------------------------------------------------

    def use(self, chat: int, words: Sequence[str], named: str | None = None) -> list[Reply]:
        """`/use LABEL` (or `/use @label`) makes the account the chat's default; `/use` alone says which it is."""
        label = named or (words[0].lower() if len(words) == 1 else None)
        if label is None and not words:
            desk = self.default_for(chat)
            return [Reply(t("household.use_now", label=desk.label, name=desk.name, labels=self._at_labels()))]
        desk = self.desk(label) if label else None
        if desk is None:
            return [Reply(self._unknown(label or " ".join(words)[:20]))]
        self.defaults.set(chat, desk.label)
        return [Reply(t("household.use_set", label=desk.label, name=desk.name))]

    def _at_labels(self) -> str:
        return ", ".join("@" + d.label for d in self.desks)

    def balance_all(self) -> list[Reply]:
        """`/balance all`: each account's label and value, then the total of those that answered."""
        rows: list[tuple[str, str]] = []
        notes: dict[int, str] = {}  # row -> why that account's value is missing
        total = answered = 0
        for desk in self.desks:
            try:
                value = desk.service.client.balance().total_value
            except (KisError, KisTransportError) as exc:
                notes[len(rows)] = t("household.balance_failed", reason=describe_error(exc))
                rows.append((f"@{desk.label} {desk.name}", "-"))
                continue
            total += value
            answered += 1
            rows.append((f"@{desk.label} {desk.name}", fmt.won(value)))
        rows.append((t("household.balance_total") if answered == len(self.desks) else
                     t("household.balance_total_some", n=answered, of=len(self.desks)), fmt.won(total)))
        left = max(width(name) for name, _ in rows)
        right = max(len(value) for _, value in rows)
        lines = []
        for i, (name, value) in enumerate(rows):
            if i == len(rows) - 1:
                lines.append("-" * (left + 1 + right))
            lines.append(pad(name, left) + " " + value.rjust(right))
            if i in notes:
                lines.append(notes[i])
        return [Reply(fmt.bold(t("household.balance_title")) + "\n" + fmt.pre(lines))]

    def report_all(self) -> list[Reply]:
        """`/report all`: each account's report, headed by its account, then the household's total."""
        replies = [r for d in self.desks if d.pushes is not None
                   for r in self.labelled(d, d.pushes.report(), header=True)]
        latest = [r.day for d in self.desks if d.pushes is not None
                  for r in d.pushes.reports.history.recent(d.pushes.reports.account, 1)]
        total = self.total_line(max(latest)) if latest else None
        return replies + ([total] if total is not None else [])

    def total_line(self, day: Any) -> Reply | None:
        """The household's value on `day` (and its change since each account's previous session) from every
        account's value history; None until every account has its row for the day."""
        total = change = 0
        changed = True
        for desk in self.desks:
            reports = desk.pushes.reports if desk.pushes is not None else None
            rows = reports.history.recent(reports.account, 1, until=day) if reports is not None else []
            if not rows or rows[-1].day != day:
                return None
            total += rows[-1].total_value
            previous = reports.history.before(reports.account, day)
            changed = changed and previous is not None
            change += rows[-1].total_value - previous.total_value if previous is not None else 0
        sentence = (t("household.report_total_change", n=len(self.desks), total=fmt.won(total),
                      change=fmt.signed(change)) if changed else
                    t("household.report_total", n=len(self.desks), total=fmt.won(total)))
        return HouseReply(fmt.bold(sentence), kind="report")

    def _daily_total(self, reports: Any) -> Reply | None:
        """Once every account has sent its daily report of the day, the total line (only once a day)."""
        with self._totals_lock:
            day = reports.history.last_report(reports.account)
            if day is None or day in self._totalled:
                return None
            if any(d.pushes.reports.history.last_report(d.pushes.reports.account) != day for d in self.desks):
                return None  # another account's report of the day is still to come: it ends with the total
            line = self.total_line(day)
            if line is not None:
                self._totalled.add(day)
            return line

    # --- labelling what an account says -------------------------------------------------------

    def labelled(self, desk: Desk, replies: Sequence[Reply], *, header: bool = False) -> list[Reply]:
        """Each button names `desk`; with several accounts and `header`, the account heads the answer and
        every Confirm caption."""
        out = []
        for i, reply in enumerate(replies):
            reply = for_viewer(reply) if _viewing.get() else _label_buttons(reply, desk.label)
            if self.several and header and (i == 0 or reply.offers):
                reply = replace(reply, body=fmt.bold(t("household.header", label=desk.label, name=desk.name))
                                + "\n" + reply.body)
            out.append(reply)
        return out

    # --- the whole household ------------------------------------------------------------------

    def resume(self) -> list[Reply]:
        """On start: every account picks up a run a crash left active."""
        return [r for d in self.desks for r in self.labelled(d, d.service.resume(), header=True)]

    def active_run(self) -> Any:
        """The status of a run in progress in any account, or None."""
        return next((s for d in self.desks if (s := d.service.active_run()) is not None), None)

    def stop_active_run(self) -> None:
        for desk in self.desks:
            desk.service.stop_active_run()

    def wait_for_run(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds (each account in turn) for every account's run to end."""
        return all([d.service.wait_for_run(timeout) for d in self.desks])

    def close(self) -> None:
        """Unsubscribe every notice stream: KIS allows one session per app key."""
        for desk in self.desks:
            if desk.notices is not None:
                desk.notices.stop()


class HouseReply(Reply):
    """A push about the whole household (the daily total): no account's tag."""


class _DailyTotal:
    """An account's `Reports` for its scheduler: the day's last account report ends with the household total."""

    def __init__(self, reports: Any, house: Household):
        self._reports, self._house = reports, house

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reports, name)

    def daily(self, *, send: bool = True) -> list[Reply] | None:
        replies = self._reports.daily(send=send)
        if replies is None:
            return None
        total = self._house._daily_total(self._reports)
        return replies + ([total] if total is not None else [])


def _label_buttons(reply: Reply, label: str) -> Reply:
    if not reply.buttons:
        return reply
    buttons = []
    for button in reply.buttons:
        action, sep, ident = button.data.partition(":")
        if action in LABELLED and sep and not ident.startswith(label + ":"):
            button = Button(button.label, f"{action}:{label}:{ident}")
        buttons.append(button)
    return replace(reply, buttons=tuple(buttons))


class LabelledSink:
    """A sink for one account's pushes: its buttons name the account, and with several accounts each push
    says whose it is."""

    def __init__(self, sink: Any, label: str, name: str, several: bool):
        self.sink, self.label, self.name, self.several = sink, label, name, several
        self.per_language = getattr(sink, "per_language", False)  # bot.notifier: Pushes pass through, labelled

    def _labelled(self, reply: Any) -> Any:
        if isinstance(reply, Push):  # labelled as it is put into words, in each chat's language
            return Push(lambda: [self._labelled(one) for one in reply.replies()], reply.kind)
        if isinstance(reply, HouseReply):
            return reply
        reply = _label_buttons(reply, self.label)
        if self.several:  # on the first line: a terminal's progress line is the second
            reply = replace(reply, body=fmt.bold(t("household.tag", label=self.label)) + " " + reply.body)
        return reply

    def send(self, reply: Reply) -> Any:
        return self.sink.send(self._labelled(reply))

    def edit(self, handle: Any, reply: Reply) -> None:
        self.sink.edit(handle, self._labelled(reply))

    def send_to(self, chat: int, reply: Reply) -> Any:
        """One reply to one chat (a scheduled offer), labelled as `send` labels it."""
        return self.sink.send_to(chat, self._labelled(reply))


class RoutedService:
    """What a front end calls as its `BotService`: each call goes to the routed account; an id a button
    carries goes to the account it names, whatever the routing."""

    def __init__(self, house: Household):
        self._house = house

    def __getattr__(self, name: str) -> Any:  # anything not routed here is the current account's
        return getattr(self._house.current().service, name)

    def _call(self, method: str, *args: Any, header: bool = False, **kwargs: Any) -> list[Reply]:
        desk = self._house.current()
        return self._house.labelled(desk, getattr(desk.service, method)(*args, **kwargs), header=header)

    def _by_id(self, method: str, ident: str, *args: Any, header: bool = False, **kwargs: Any) -> list[Reply]:
        desk, bare = self._house.split(ident)
        with self._house.serving(Route(desk)):
            return self._house.labelled(desk, getattr(desk.service, method)(*args, bare, **kwargs), header=header)

    def help(self) -> list[Reply]:
        """/help: every command; with several accounts, how to pick one."""
        replies = self._call("help")
        if self._house.several:
            replies.append(Reply(t("household.help", labels=self._house._at_labels(),
                                   example="@" + self._house.desks[-1].label)))
        return replies

    start = help

    def price(self, args: Sequence[str]) -> list[Reply]:
        return self._call("price", _plain(args))

    def balance(self) -> list[Reply]:
        return self._call("balance")

    def accounts(self) -> list[Reply]:
        """`/accounts`: every account of the household (label, kind, masked number, what it may do), this
        chat's marked; with several, how to pick one."""
        if not self._house.several:
            return self._call("accounts")
        views = tuple(AccountView(d.label, d.name, mask_number(str(getattr(d.service.client.config, "account", ""))),
                                  d.kind, account_value(d.service.client), client_gated(d.service.client))
                      for d in self._house.desks)
        replies = [Reply(fmt.text("\n".join(accounts_text(views, self._house.current().label))))]
        if self._house.several:
            replies.append(Reply(t("household.accounts_hint", labels=self._house._at_labels(),
                                   label=self._house.current().label,
                                   first="@" + self._house.desks[-1].label)))
        return replies

    def plan(self, args: Sequence[str] = (), *, chat: int = 0) -> list[Reply]:
        return self._call("plan", _plain(args), chat=chat, header=True)

    def model(self, args: Sequence[str] = (), *, chat: int = 0) -> list[Reply]:
        return self._call("model", _plain(args), chat=chat, header=True)

    def status(self, *, chat: int = 0) -> list[Reply]:
        return self._call("status", chat=chat, header=True)

    def confirm(self, args: Sequence[str] = (), plan_id: str | None = None, *, chat: int = 0) -> list[Reply]:
        if plan_id is None:
            here = self._house.current()
            elsewhere = [(d, p) for d in self._house.desks if d is not here and here.service.pending_plan(chat) is None
                         and (p := d.service.pending_plan(chat)) is not None]
            replies = self._call("confirm", _plain(args), chat=chat, header=True)
            if elsewhere:  # /plan @pension, then a bare /confirm: say where the plan waits
                replies.append(Reply(t("household.pending_elsewhere", label=here.label, plans=", ".join(
                    t("household.pending_plan", plan=plan, label=d.label) for d, plan in elsewhere))))
            return replies
        return self._by_id("confirm", plan_id, _plain(args), chat=chat, header=True)

    def cancel(self, plan_id: str | None = None, *, chat: int = 0) -> list[Reply]:
        if plan_id is None:
            return self._call("cancel", chat=chat, header=True)
        return self._by_id("cancel", plan_id, chat=chat, header=True)

    def stop(self, run_id: str, *, chat: int = 0) -> list[Reply]:
        return self._by_id("stop", run_id, chat=chat, header=True)

    def shown(self, plan_id: str, chat: int = 0) -> None:
        desk, bare = self._house.split(plan_id)
        desk.service.shown(bare, chat)

    def file_received(self, chat: int = 0) -> int:
        return self._house.current().service.file_received(chat)

    def file_answered(self, ticket: int) -> list[Reply]:
        return self._call("file_answered", ticket)

    def check_document(self, file_name: str | None, file_size: int | None,
                       ticket: int | None = None) -> list[Reply] | None:
        refusal = self._house.current().service.check_document(file_name, file_size, ticket)
        return None if refusal is None else self._house.labelled(self._house.current(), refusal)

    def plan_file(self, data: bytes, file_name: str, ticket: int | None = None, args: Sequence[str] = (),
                  *, chat: int = 0) -> list[Reply]:
        return self._call("plan_file", data, file_name, ticket, _plain(args), chat=chat, header=True)

    def unknown(self, command: str) -> list[Reply]:
        return self._call("unknown", command)

    def text(self, message: str) -> list[Reply]:
        return self._call("text", message)

    def resume(self) -> list[Reply]:
        return self._house.resume()

    def active_run(self) -> Any:
        return self._house.current().service.active_run()


class RoutedPushes:
    """What a front end calls as its `Pushes`: reports, health and the Plan button of the routed account;
    the startup message and the report schedules of all."""

    def __init__(self, house: Household):
        self._house = house

    def __getattr__(self, name: str) -> Any:
        return getattr(self._desk().pushes, name)

    def _desk(self) -> Desk:
        desk = self._house.current()
        return desk if desk.pushes is not None else next(d for d in self._house.desks if d.pushes is not None)

    def _call(self, method: str, *args: Any, header: bool = True) -> list[Reply]:
        desk = self._desk()
        return self._house.labelled(desk, getattr(desk.pushes, method)(*args), header=header)

    def report(self) -> list[Reply]:
        return self._call("report")

    def perf(self, args: Sequence[str] = ()) -> list[Reply]:
        return self._call("perf", _plain(args))

    def health(self) -> list[Reply]:
        return self._call("health")

    def notify(self, chat_id: int, args: Sequence[str]) -> list[Reply]:
        return self._call("notify", chat_id, _plain(args), header=False)  # the chat's settings: one for all

    def band_plan(self, ident: str = "", chat: int = 0) -> list[Reply]:
        desk, bare = self._house.split(ident)
        with self._house.serving(Route(desk)):
            return self._house.labelled(desk, desk.pushes.band_plan(bare, chat), header=True)

    def startup(self) -> list[Reply]:
        replies = []
        for desk in self._house.desks:
            said = desk.pushes.startup() if desk.pushes is not None else desk.service.resume()
            replies += self._house.labelled(desk, said, header=True)
        return replies

    def start(self) -> None:
        for desk in self._house.desks:
            if desk.pushes is not None:
                desk.pushes.start()

    def stop(self) -> None:
        for desk in self._house.desks:
            if desk.pushes is not None:
                desk.pushes.stop()


class HouseNotifier:
    """Every account's notifier as one: held, started and stopped together."""

    def __init__(self, house: Household):
        self._notifiers = [d.notifier for d in house.desks if d.notifier is not None]

    @contextmanager
    def held(self) -> Iterator[None]:
        with ExitStack() as stack:
            for notifier in self._notifiers:
                stack.enter_context(notifier.held())
            yield

    def start(self) -> "HouseNotifier":
        for notifier in self._notifiers:
            notifier.start()
        return self

    def stop(self) -> None:
        for notifier in self._notifiers:
            notifier.stop()

    def drain(self, timeout: float | None = None) -> bool:
        return all([n.drain(timeout) for n in self._notifiers])


def account_value(client: Any) -> int | str:
    """An account's value in won for `/accounts`, or why it is not available (one clause)."""
    try:
        return client.balance().total_value
    except (KisError, KisTransportError) as exc:
        return describe_error(exc)


def _plain(words: Sequence[str]) -> list[str]:
    """The words without any `@label` (the household has read it)."""
    return [w for w in words if not w.startswith("@")]


def open_household(source: Any, *, sink: Any, data_dir: str | Path, viewers: frozenset[int] = frozenset(),
                   clients: Callable[[Any], Any] | None = None, prefs: Any = None, notices: bool = True,
                   default_duration: Any = None, notifier_options: dict | None = None,
                   accounts: tuple[Any, ...] | None = None, chats: tuple[int, ...] | None = None,
                   lang_for: Callable[[int], Any] | None = None) -> Household:
    """The household `kisbot run` (and the demo) serve: for each configured account its client (`clients(label)`,
    default `open_client(load_kis_config(source, label))`), notice stream, notifier on `sink`, service and pushes."""
    from bot.health import notice_news, notice_text
    from bot.notifier import Notifier
    from bot.pushes import open_pushes
    from bot.redact import protect
    from bot.service import open_service
    from kis import load_kis_config, open_client
    from kis.config import load_accounts
    from kis.files import private_dir
    from kis.notices import open_notices

    accounts = load_accounts(source) if accounts is None else accounts
    make = clients or (lambda label: open_client(load_kis_config(source, label)))
    desks: list[Desk] = []
    try:
        for account in accounts:
            client = make(account.label)
            protect(client.config.app_key, client.config.app_secret)
            private_dir(Path(client.config.data_dir))  # accounts/<label>/ of a further account, made 0700
            notifier = Notifier(LabelledSink(sink, account.label, account.name, len(accounts) > 1),
                                **(notifier_options or {}))
            stream = open_notices(client.config, on_message=notice_news(notifier.on_event)) if notices else None
            service = open_service(client, source=source, on_event=notifier.on_event, notices=stream,
                                   accounts=tuple(accounts), default_duration=default_duration)
            labelled = notifier.sink  # scheduled offers go to each chat, labelled as the account's pushes are
            extra = {} if chats is None else {"chats": chats, "send_to": labelled.send_to, "hold": notifier.held}
            pushes = open_pushes(service, source=source, push=notifier.push, prefs=prefs,
                                 notices=notice_text(stream), **extra,
                                 **({"lang_for": lang_for} if lang_for is not None else {}))
            desks.append(Desk(account.label, account.name, account.kind, service, pushes, notifier, stream))
    except BaseException:
        for desk in desks:
            if desk.notices is not None:
                desk.notices.stop()
        raise
    return Household(desks, data_dir=data_dir, viewers=viewers)
