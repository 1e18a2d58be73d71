"""`kisbot demo`: the paper exchange in-process and a console chat with the bot's own commands.

No account, token or network is needed: the simulator runs on loopback, the data (token cache,
journal) lives in a temporary directory, and every day is a trading day. Works interactively and
with piped input; at the end of piped input it waits for a running plan to finish.
"""
from __future__ import annotations

import shlex
import signal
import sys
import tempfile
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, TextIO

from bot import format as fmt
from bot import progress
from bot.lang import terminal_lang
from bot.notifier import Notifier
from bot.health import notice_news, notice_text
from bot.pushes import open_pushes
from bot.service import ASK_FOR_MODEL, BotService, Reply, open_service
from kis.notices import open_notices
from rebalance.i18n import current, parse_lang, t, using
from rebalance.options import OptionsError, parse_plan_words

DEMO_RATE = 20.0  # calls per second: quick, yet paced like KIS
DEMO_DURATION = timedelta(minutes=1)  # a demo confirm trades from now for this long
PROMPT = "you> "
CONSOLE_CHAT = 0  # the terminal's /notify settings



class ConsoleSink:
    """Pushes printed as they come, between the user's lines."""

    def __init__(self, out: TextIO, lock: threading.Lock, save_photo: Callable[[bytes], str], *,
                 prompt: str = ""):
        self.out, self.lock, self.save_photo, self.prompt = out, lock, save_photo, prompt
        self._last_progress = ""

    def send(self, reply: Reply) -> str:
        show(reply, self.out, self.lock, self.save_photo, prompt=self.prompt)
        return "console"  # a terminal cannot edit a line above: edits print one progress line

    def edit(self, handle: Any, reply: Reply) -> None:
        first = reply.plain.split("\n")
        line = " | ".join(part for part in first[1:2] if part) or first[0]
        if line == self._last_progress:
            return
        self._last_progress = line
        with self.lock:
            print(f"\r  [progress] {line}" if self.prompt else f"  [progress] {line}", file=self.out)
            print(self.prompt, end="", file=self.out, flush=True)


def show(reply: Reply, out: TextIO, lock: threading.Lock, save_photo: Callable[[bytes], str], *,
         prompt: str = "") -> None:
    """One reply as terminal text: its plain rendering, chart saved to a file, buttons as the commands to type.

    A push that arrives while the user is at the prompt starts on a fresh line and prompts again.
    """
    lines = [reply.plain]
    if reply.photo:
        lines.append(f"[chart: {save_photo(reply.photo)}]")
    if reply.buttons:
        commands = {"confirm": "/confirm", "cancel": "/cancel", "stop": "/cancel", "bandplan": "/plan"}
        typed = [f"{b.label} = {commands.get(b.data.split(':')[0], b.data)}" for b in reply.buttons]
        lines.append(f"[buttons: {', '.join(typed)}]")
    with lock:
        print(("\r" if prompt else "") + "\n".join(lines), file=out)
        print(file=out)
        print(prompt, end="", file=out, flush=True)


class ConsoleChat:
    """Reads lines, runs them as commands on the service, prints the replies."""

    def __init__(self, service: BotService, out: TextIO, lock: threading.Lock,
                 save_photo: Callable[[bytes], str], *, echo: bool, pushes: Any = None):
        self.service, self.out, self.lock, self.save_photo, self.echo = service, out, lock, save_photo, echo
        self.pushes = pushes  # bot.pushes.Pushes: /report, /health, /notify
        self.lang = current()  # the terminal's language until /lang changes it for this session

    def handle(self, line: str) -> bool:
        """Run one line in the session's language; False when the user asked to leave."""
        with using(self.lang):
            return self._handle(line)

    def _handle(self, line: str) -> bool:
        line = line.strip()
        if not line:
            return True
        if self.echo:
            with self.lock:
                print(f"> {line}", file=self.out, flush=True)
        if line.lower() in ("quit", "exit", "/quit", "/exit"):
            return False
        said = []  # a slow command says once what it is doing and how long it takes, then answers

        def say(state: progress.Progress) -> None:
            if not said:
                said.append(state)
                with self.lock:
                    print(f"  … {progress.progress_text(state)}", file=self.out, flush=True)

        with progress.listening(say):
            replies = self.replies(line)
        for reply in replies:
            show(reply, self.out, self.lock, self.save_photo)
            if reply.offers:  # printed: from now on /confirm means this plan
                self.service.shown(reply.offers)
        return True

    def replies(self, line: str) -> list[Reply]:
        try:
            words = shlex.split(line)
        except ValueError:
            words = line.split()
        command, args = words[0].lower(), words[1:]
        service = self.service
        try:
            if command.endswith(".xlsx"):
                return self.plan(words)
            if command == "/plan":
                return self.plan(args)
            simple = {"/start": service.help, "/help": service.help, "/balance": service.balance,
                      "/cancel": service.cancel, "/status": service.status, "/accounts": service.accounts}
            if command in simple:
                return simple[command]()
            if command == "/model":
                return service.model(args)
            if command == "/price":
                return service.price(args)
            if command == "/confirm":
                return service.confirm(args)
            if command == "/lang":
                return [Reply(self.set_lang(args))]
            if self.pushes is not None and command in ("/report", "/health"):
                return self.pushes.report() if command == "/report" else self.pushes.health()
            if self.pushes is not None and command == "/perf":
                return self.pushes.perf(args)
            if self.pushes is not None and command == "/notify":
                return self.pushes.notify(CONSOLE_CHAT, args)
            if command.startswith("/"):
                return service.unknown(command)
            return service.text(line)
        except Exception as exc:  # the chat stays up, as the Telegram bot does
            from bot.service import describe_error
            import logging

            logging.getLogger(__name__).exception("console command %r failed", line)
            return [Reply(describe_error(exc))]

    def set_lang(self, args: list[str]) -> str:
        """`/lang ko|en` for the rest of this session (the terminal keeps no per-chat setting)."""
        lang = parse_lang(args[0]) if len(args) == 1 else None
        if lang is None:
            return t("lang.unknown", given=" ".join(args)[:20]) if args else t("lang.usage")
        self.lang = lang
        with using(lang):
            return t("lang.set")

    def plan(self, words: list[str]) -> list[Reply]:
        """`/plan [PATH.xlsx] [options]`: the option words go to the service, the rest is the path."""
        try:
            _, rest = parse_plan_words(words)
        except OptionsError:
            rest = []  # the service says what is wrong with the words
        if not rest:
            replies = self.service.plan(words)
            if [r.body for r in replies] == [ASK_FOR_MODEL]:  # no file can be sent here: ask for a path
                return [Reply("No model is saved yet: give the path of an .xlsx after /plan, e.g. "
                              "/plan examples/model.xlsx, with any options after it: "
                              "/plan examples/model.xlsx buy 500000.")]
            return replies
        # A path may hold spaces and ends at its .xlsx; words after it are options (read or refused).
        end = next((i + 1 for i, w in enumerate(rest) if w.lower().endswith(".xlsx")), len(rest))
        path_words = rest[:end]
        path_text = " ".join(path_words)
        options = [w for w in words if w not in path_words]
        path = Path(path_text).expanduser()
        if not path.is_file():
            return [Reply(f"There is no file {path_text}; give the path of an .xlsx, "
                          "e.g. /plan examples/model.xlsx")]
        ticket = self.service.file_received()
        refusal = self.service.check_document(path.name, path.stat().st_size, ticket)
        if refusal:
            return refusal
        return self.service.plan_file(path.read_bytes(), path.name, ticket, options)


def demo(args: Any, *, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """`kisbot demo`: simulator + console chat; returns when the input ends and any run is done."""
    from kis.config import Source

    with using(terminal_lang(Source().get("KISBOT_LANG"))):  # the console speaks KISBOT_LANG, else the locale
        return _demo(args, stdin=stdin, stdout=stdout)


def _demo(args: Any, *, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    from kis.config import Source
    from kis.sim import SimServer
    from kis.sim.server import TRADED_SECONDS
    from kis.sim.clients import client_for

    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    if threading.current_thread() is threading.main_thread():
        # Ctrl-C (SIGINT) always reaches the demo, even started in the background, where a shell
        # would have it ignored: it is how a user stops a run and leaves.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    rate = float(getattr(args, "speed", None) or DEMO_RATE)
    lock = threading.Lock()
    interactive = stdin.isatty()
    counter = iter(range(1, 10_000))
    with tempfile.TemporaryDirectory(prefix="kisbot-demo-") as data_dir:
        charts = Path(data_dir) / "charts"  # thrown away with the rest of the demo's data at the end
        charts.mkdir()

        def save_photo(data: bytes) -> str:
            path = charts / f"plan-chart-{next(counter)}.png"
            path.write_bytes(data)
            return str(path)

        sim = SimServer(0, rate_limit=rate, traded_seconds=TRADED_SECONDS, always_open=True, book="liquid").start()
        try:
            client = client_for(sim, Path(data_dir), rate_limit=rate)
            # MARKET_CALENDAR=always: the demo trades whatever the day and hour.
            source = Source(environ={"MARKET_CALENDAR": "always"}, dotenv_path=Path(data_dir) / "none.env",
                            use_keyring=False)
            sink = ConsoleSink(out, lock, save_photo, prompt=PROMPT if interactive else "")
            notifier = Notifier(sink, batch_seconds=1.0, min_gap_seconds=3.0)
            notices = open_notices(client.config, on_message=notice_news(notifier.on_event))
            service = open_service(client, source=source, on_event=notifier.on_event,
                                   default_duration=DEMO_DURATION, notices=notices)
            pushes = open_pushes(service, source=source, push=notifier.push, notices=notice_text(notices))
            notifier.start()
            with lock:
                print(t("demo.intro", account=sim.account, cash=fmt.won(sim.cash),
                        duration=fmt.duration_text(DEMO_DURATION)), file=out, flush=True)
            chat = ConsoleChat(service, out, lock, save_photo, echo=not interactive, pushes=pushes)
            left = _read_loop(chat, stdin, out, lock, interactive)
            _finish(service, out, lock, cancel=interactive or left)
            notifier.stop()
            if notices is not None:
                notices.stop()
        finally:
            sim.stop()
    with lock:
        print(t("demo.thrown_away"), file=out, flush=True)
    return 0


def _read_loop(chat: ConsoleChat, stdin: TextIO, out: TextIO, lock: threading.Lock, interactive: bool) -> bool:
    """Read commands until the input ends (False) or the user leaves: quit or Ctrl-C (True)."""
    while True:
        if interactive:
            with lock:
                print(PROMPT, end="", file=out, flush=True)
        try:
            line = stdin.readline()
        except KeyboardInterrupt:
            return True
        if not line:  # end of input
            return False
        if not chat.handle(line):
            return True


def _finish(service: BotService, out: TextIO, lock: threading.Lock, *, cancel: bool) -> None:
    """At the end of piped input a running plan is waited for (Ctrl-C cancels it); when the user
    left (quit, Ctrl-C, or the end of a terminal session), the run is cancelled so the demo never
    leaves orders behind."""
    status = service.active_run()
    if status is None:
        return
    if cancel:
        with lock:
            print(t("demo.stopping_to_leave"), file=out, flush=True)
        service.stop_active_run()
    else:
        with lock:
            print(t("demo.waiting", run_id=status.run_id), file=out, flush=True)
    try:
        while not service.wait_for_run(0.5):
            pass
    except KeyboardInterrupt:
        with lock:
            print(t("demo.stopping"), file=out, flush=True)
        service.stop_active_run()
        service.wait_for_run(30)
