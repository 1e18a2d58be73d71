"""`kisbot demo`: the paper exchange in-process and a console chat with the bot's own commands.

No account, token or network is needed: the simulator runs on loopback, the data (token cache,
journal) lives in a temporary directory, and every day is a trading day. Works interactively and
with piped input; at the end of piped input it waits for a running plan to finish.
"""
from __future__ import annotations

import contextvars
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
from bot import shortcuts
from bot.household import open_household
from bot.service import BotService, Reply, ask_for_model
from rebalance.i18n import current, parse_lang, t, using
from rebalance.options import OptionsError, parse_plan_words

DEMO_RATE = 20.0  # calls per second: quick, yet paced like KIS
DEMO_DURATION = timedelta(minutes=1)  # a demo confirm trades from now for this long
PROMPT = "you> "
CONSOLE_CHAT = 0  # the terminal's /notify settings



class ConsoleSink:
    """Pushes printed as they come, between the user's lines, in the session's language (`lang`, which /lang
    changes): the notifier's thread has no language of its own."""

    per_language = True  # bot.notifier: give this sink Pushes, put into words here

    def __init__(self, out: TextIO, lock: threading.Lock, save_photo: Callable[[bytes], str], *,
                 prompt: str = ""):
        self.out, self.lock, self.save_photo, self.prompt = out, lock, save_photo, prompt
        self._last_progress = ""
        self.lang = current()

    def _in_words(self, reply: Any) -> list[Reply]:
        if isinstance(reply, Reply):
            return [reply]
        with using(self.lang):
            return reply.replies()

    def send(self, reply: Any) -> str:
        for one in self._in_words(reply):
            show(one, self.out, self.lock, self.save_photo, prompt=self.prompt)
        return "console"  # a terminal cannot edit a line above: edits print one progress line

    def edit(self, handle: Any, reply: Any) -> None:
        reply = self._in_words(reply)[-1]
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
        parts = [b.data.split(":") for b in reply.buttons]  # action:label:id names its account (bot/household.py)
        typed = [f"{b.label} = {commands.get(p[0]) or shortcuts.typed(b.data) or b.data}"
                 + (f" @{p[1]}" if len(p) == 3 and p[0] in commands else "")
                 for b, p in zip(reply.buttons, parts)]
        lines.append(f"[buttons: {', '.join(typed)}]")
    if reply.keyboard:  # the shortcut keyboard: its labels may be typed as they are
        keys = [f"{label} = /{shortcuts.command_for(label)}" for label in reply.keyboard]
        lines.append(f"[shortcuts: {', '.join(keys)}]")
    with lock:
        print(("\r" if prompt else "") + "\n".join(lines), file=out)
        print(file=out)
        print(prompt, end="", file=out, flush=True)


class ConsoleChat:
    """Reads lines, runs them as commands on the service, prints the replies."""

    def __init__(self, service: BotService, out: TextIO, lock: threading.Lock,
                 save_photo: Callable[[bytes], str], *, echo: bool, pushes: Any = None, sim: Any = None,
                 household: Any = None):
        self.service, self.out, self.lock, self.save_photo, self.echo = service, out, lock, save_photo, echo
        self.household = household  # bot.household.Household: @label and /use pick the account
        self.sim = sim  # the demo's kis.sim.SimServer: /deposit and /dividend pay cash in
        self.checks: list[threading.Thread] = []  # schedule checks a pay-in started; the demo waits for them
        self.pushes = pushes  # bot.pushes.Pushes: /report, /health, /notify
        self.lang = current()  # the terminal's language until /lang changes it for this session
        self.sink: ConsoleSink | None = None  # its pushes' language follows /lang

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
        line = f"/{shortcuts.command_for(line)}" if shortcuts.command_for(line) else line  # a shortcut label
        try:
            words = shlex.split(line)
        except ValueError:
            words = line.split()
        if self.household is not None:
            command = words[0].lower()
            name = "file" if command.endswith(".xlsx") else command[1:] if command.startswith("/") else "text"
            route = self.household.route(CONSOLE_CHAT, name, words[1:])
            if route.work is not None:  # a refusal, /use, /balance all
                return route.work()
            with self.household.serving(route):
                return self._replies(line, [w for w in words if not w.startswith("@")] or words)
        return self._replies(line, words)

    def _replies(self, line: str, words: list[str]) -> list[Reply]:
        command, args = words[0].lower(), words[1:]
        service = self.service
        try:
            if command.endswith(".xlsx"):
                return self.plan(words)
            if command == "/plan":
                return self.plan(args)
            simple = {"/start": service.help, "/help": service.help, "/balance": service.balance,
                      "/cancel": service.cancel, "/status": service.status, "/accounts": service.accounts,
                      "/receipt": service.receipt, "/version": service.version}
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
            if self.pushes is not None and command == "/schedule":
                return self.pushes.schedule(args)
            if self.sim is not None and command in ("/deposit", "/dividend"):
                return self.pay_in(command, args)
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

    def pay_in(self, command: str, args: list[str]) -> list[Reply]:
        """The demo's `/deposit AMOUNT` and `/dividend CODE WON`: the paper exchange pays cash in, then the
        schedules are checked at once (the bot checks every few minutes), so a `cash` offer can follow."""
        from kis.codes import is_code, normalize_code
        from rebalance.amounts import AmountError, parse_amount

        try:
            if command == "/deposit" and args:
                amount = parse_amount(" ".join(args))
                said = t("schedule.demo_deposited", amount=amount, cash=self.sim.deposit(amount)) if amount > 0 else ""
            elif command == "/dividend" and len(args) == 2 and is_code(args[0]):
                code, per_share = normalize_code(args[0]), parse_amount(args[1])
                paid = self.sim.pay_dividend(code, per_share) if per_share > 0 else -1
                said = "" if paid < 0 else t("schedule.demo_not_held", code=code) if paid == 0 else \
                    t("schedule.demo_dividend", amount=paid, code=code, qty=self.sim.exchange.holding_qty(code),
                      per_share=per_share, cash=self.sim.cash)
            else:
                said = ""
        except AmountError:
            said = ""
        if not said:
            return [Reply(t("schedule.demo_deposit_usage"))]
        if self.pushes is not None and self.pushes.schedules is not None:
            check = threading.Thread(target=contextvars.copy_context().run, args=(self.pushes.schedules.tick,),
                                     name="kisbot-schedule-check", daemon=True)  # in the session's language
            check.start()
            self.checks.append(check)
        return [Reply(said)]

    def set_lang(self, args: list[str]) -> str:
        """`/lang ko|en` for the rest of this session (the terminal keeps no per-chat setting)."""
        lang = parse_lang(args[0]) if len(args) == 1 else None
        if lang is None:
            return t("lang.unknown", given=" ".join(args)[:20]) if args else t("lang.usage")
        self.lang = lang
        if self.sink is not None:
            self.sink.lang = lang  # pushes follow the session's language too
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
            if [r.body for r in replies] == [ask_for_model()]:  # no file can be sent here: ask for a path
                return [Reply(t("misc_replies.console_no_model"))]
            return replies
        # A path may hold spaces and ends at its .xlsx; words after it are options (read or refused).
        end = next((i + 1 for i, w in enumerate(rest) if w.lower().endswith(".xlsx")), len(rest))
        path_words = rest[:end]
        path_text = " ".join(path_words)
        options = [w for w in words if w not in path_words]
        path = Path(path_text).expanduser()
        if not path.is_file():
            return [Reply(t("misc_replies.console_no_file", path=path_text))]
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

        # Two accounts on one paper exchange: a general one and a 연금저축 with an ETF model saved.
        sims = demo_sims(rate, Path(data_dir))
        try:
            # MARKET_CALENDAR=always: the demo trades whatever the day and hour.
            source = Source(environ={"MARKET_CALENDAR": "always"}, dotenv_path=Path(data_dir) / "none.env",
                            use_keyring=False)
            sink = ConsoleSink(out, lock, save_photo, prompt=PROMPT if interactive else "")
            household = open_household(
                source, sink=sink, data_dir=Path(data_dir), accounts=tuple(a for a, _ in sims),
                clients=lambda label: demo_client(sims, label, Path(data_dir), rate),
                default_duration=DEMO_DURATION, notifier_options={"batch_seconds": 1.0, "min_gap_seconds": 3.0})
            save_demo_model(household)
            household.notifier.start()
            sim = sims[0][1]
            with lock:
                print(t("demo.intro", account=sim.account, cash=fmt.won(sim.cash),
                        duration=fmt.duration_text(DEMO_DURATION)), file=out, flush=True)
                print(t("household.demo", labels=", ".join(f"@{a.label} ({a.name})" for a, _ in sims),
                        pension="@" + sims[1][0].label), file=out, flush=True)
            chat = ConsoleChat(household.service, out, lock, save_photo, echo=not interactive,
                               pushes=household.pushes, household=household, sim=sim)
            chat.sink = sink
            left = _read_loop(chat, stdin, out, lock, interactive)
            for check in chat.checks:  # an offer a pay-in brought is shown before the demo ends
                check.join(timeout=60)
            _finish(household, out, lock, cancel=interactive or left)
            household.notifier.stop()
            household.close()
        finally:
            for server in {id(server): server for _, server in sims}.values():  # one sim serves both
                server.stop()
    with lock:
        print(t("demo.thrown_away"), file=out, flush=True)
    return 0


DEMO_PENSION_CASH = 30_000_000
DEMO_PENSION_MODEL = (("069500", 0.4), ("360750", 0.3), ("148070", 0.3))  # KODEX 200, TIGER 미국S&P500, 국고채10년


def demo_sims(rate: float, data_dir: Path) -> list[tuple[Any, Any]]:
    """The demo's accounts on one started paper exchange, each with its own key pair, cash and pace: `main`
    (general, the seed's holdings) and `pension` (연금저축, cash only); (account, the sim) for each."""
    from kis.accounts import Account, AccountKind, Credentials
    from kis.config import SIM_ACCOUNT, sim_credentials
    from kis.models import Account as Number
    from kis.sim import SimServer
    from kis.sim.desks import SimAccountSpec
    from kis.sim.server import TRADED_SECONDS

    accounts = [Account("main", "main", Number.parse(SIM_ACCOUNT), AccountKind.GENERAL,
                        Credentials(*sim_credentials("main"))),
                Account("pension", "연금저축", Number.parse("50000001-22"), AccountKind.PENSION,
                        Credentials(*sim_credentials("pension")))]  # KIS issues a key pair per account
    specs = (SimAccountSpec(SIM_ACCOUNT, *sim_credentials("main"), label="main"),
             SimAccountSpec("50000001-22", *sim_credentials("pension"), label="pension", cash=DEMO_PENSION_CASH))
    server = SimServer(0, rate_limit=rate, traded_seconds=TRADED_SECONDS, always_open=True, book="liquid",
                       accounts=specs).start()
    return [(account, server) for account in accounts]


def demo_client(sims: list[tuple[Any, Any]], label: str, data_dir: Path, rate: float) -> Any:
    """A client on the paper exchange of account `label`, with its keys, in that account's own data dir."""
    from dataclasses import replace

    from bot import order_gate
    from kis.client import KisClient
    from kis.config import account_data_dir
    from kis.sim.clients import sim_config

    labels = tuple(a.label for a, _ in sims)
    account, server = next((a, s) for a, s in sims if a.label == label)
    config = replace(sim_config(server, account_data_dir(data_dir, label, labels), rate_limit=rate,
                                account=label), label=label, kind=account.kind)
    if account.kind in order_gate.GATED_KINDS:  # the demo's simulator takes a 연금저축's orders, as its doctor would find
        order_gate.record_pass(config, server.clock())
    return KisClient(config, wall=server.clock)


def save_demo_model(household: Any) -> None:
    """The 연금저축 starts with an ETF model saved, so `/plan @pension` plans at once."""
    from rebalance.model import Portfolio, Target

    desk = household.desk("pension")
    if desk is not None and desk.service.models is not None and desk.service.models.load() is None:
        portfolio = Portfolio(tuple(Target(code, weight) for code, weight in DEMO_PENSION_MODEL), source="pension ETFs")
        desk.service.models.save(portfolio, desk.service.now())


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


def _finish(service: Any, out: TextIO, lock: threading.Lock, *, cancel: bool) -> None:
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
