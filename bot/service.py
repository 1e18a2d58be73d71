"""The bot's commands as plain methods returning replies: no Telegram, no terminal.

`bot/telegram.py` and `bot/console.py` map their input onto these methods and send the replies.
Methods may be called from several threads at once (Telegram handlers run concurrently so that
/cancel never waits behind /plan); shared state sits behind one short-held lock.
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence

import rebalance
from bot import order_gate
from bot import format as fmt
from bot import progress
from kis.accounts import AccountKind
from rebalance.accounts import AccountView, accounts_text, mask_number
from kis.codes import BadSymbol, normalize_code, split_symbol
from kis.markets import KRX, market_of
from kis.errors import (
    ConfigError,
    KisError,
    KisTransportError,
    OrderUncertain,
    OverseasNotEnabled,
    RateLimited,
    TokenExpired,
    TokenInvalid,
    UnknownStock,
)
from kis.files import DiskFull
from kis.krx import KST
from kis.limits import Pace
from kis.listing_lag import settle_horizon
from kis.models import OrderType, Quote
from rebalance import Plan, PlanSettings, Portfolio, PortfolioError, RunActive, RunStatus, TwapSettings, Window
from rebalance.deposit import deposit_note
from rebalance.events import Cancelled, Event, Finished
from rebalance.i18n import Msg, t
from rebalance.plan import PriceSource
from rebalance.options import OptionsError, PlanOptions, plan_options, refuse_real_only
from rebalance.pending import PendingPlan
from rebalance.portfolio import MAX_FILE_BYTES
from bot.venues import after_start, open_venues, plan_notes as venue_notes
from rebalance.venues import VenueRouter
from rebalance.window import is_after_word

if TYPE_CHECKING:
    from rebalance.names import NameBook
    from rebalance.pending import PendingPlans
    from rebalance.receipt import Receipt, ReceiptStore
    from rebalance.saved_model import ModelStore

log = logging.getLogger(__name__)

MAX_CODES = 30
MIN_DURATION = timedelta(seconds=10)
MAX_DURATION = timedelta(hours=8)
# A typed /confirm may arrive while Telegram's answer to the offer it follows is still on the way back:
# it waits this long for the transport to report the offer delivered, not for a slow send.
OFFER_DELIVERY_GRACE = 1.0
# The chat of a front end that has only one (the console); Telegram passes each update's chat id.
ONE_CHAT = 0


@dataclass(frozen=True)
class Button:
    """An inline button; `data` comes back on a press (Telegram allows at most 64 bytes)."""

    label: str
    data: str

    def __post_init__(self) -> None:
        if len(self.data.encode()) > 64:
            raise ValueError(f"callback data over 64 bytes: {self.data!r}")


@dataclass(frozen=True)
class Reply:
    """One message: its text as data (the caption when there is a photo), optional PNG, buttons.

    Each front end renders the same reply: `text` is Telegram HTML, `plain` is terminal text.
    A `str` body is plain text. `kind` lets each chat's /notify settings route a push: "fills", "report",
    "alert" (always rings). `keyboard`: the shortcut keyboard's labels (bot/shortcuts.py) this message sets.
    """

    body: fmt.Rich | str
    photo: bytes | None = None
    buttons: tuple[Button, ...] = ()
    silent: bool = False
    kind: str = ""
    app: str = ""  # the URL of a Telegram Mini App its reply-keyboard button opens (bot/webapp.py), "" none
    keyboard: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.body, fmt.Rich):
            object.__setattr__(self, "body", fmt.text(self.body))

    @property
    def text(self) -> str:
        """The message as Telegram HTML, everything from data escaped."""
        return self.body.html()  # type: ignore[union-attr]

    @property
    def plain(self) -> str:
        """The message as a terminal shows it."""
        return self.body.plain()  # type: ignore[union-attr]

    @property
    def offers(self) -> str | None:
        """The plan id this reply offers for confirmation (its Confirm button), else None."""
        return next((b.data.partition(":")[2] for b in self.buttons if b.data.startswith("confirm:")), None)


# /plan with no saved model; the console demo, where no file can be sent, asks for a path instead.
def ask_for_model() -> fmt.Rich:
    return fmt.sentence("service_replies.ask_model", code=fmt.bold("종목코드"), weight=fmt.bold("비중"),
                        band=fmt.bold("밴드"))


def text_replies(body: fmt.Rich | str, **kwargs: Any) -> list[Reply]:
    """`body` as one or more replies, each one Telegram message long; kwargs go on the last one."""
    parts = (body if isinstance(body, fmt.Rich) else fmt.text(body)).split()
    return [Reply(p) for p in parts[:-1]] + [Reply(parts[-1], **kwargs)]


def with_buttons(replies: list[Reply], *buttons: tuple[str, str]) -> list[Reply]:
    """`replies` with more (label, data) buttons on the last one."""
    last = replies[-1]
    return replies[:-1] + [replace(last, buttons=last.buttons + tuple(Button(*b) for b in buttons))]


def planning(stocks: int) -> Msg:
    """The task of planning `stocks` stocks, as a progress line names it."""
    return Msg("progress.plan_one" if stocks == 1 else "progress.plan", n=stocks)


def fold(replies: list[Reply], limit: int = fmt.TELEGRAM_LIMIT) -> list[Reply]:
    """Consecutive text-only replies joined into one message where they fit: a plan's notes ride on its table."""
    out: list[Reply] = []
    for reply in replies:
        last = out[-1] if out else None
        plain = reply.photo is None and not reply.buttons
        if last is not None and plain and last.photo is None and not last.buttons \
                and last.silent == reply.silent and last.kind == reply.kind:
            joined = last.body + "\n\n" + reply.body  # type: ignore[operator]
            if len(joined.html()) <= limit:
                out[-1] = Reply(joined, silent=last.silent, kind=last.kind)
                continue
        out.append(reply)
    return out


def parse_duration(text: str) -> timedelta:
    """`90s`, `45m`, `2h`, `1h30m` -> timedelta, within what a trading day allows; ValueError says why."""
    delta = rebalance.parse_duration(text)
    if delta < MIN_DURATION:
        raise ValueError(t("service_replies.too_short", text=text))
    if delta > MAX_DURATION:
        raise ValueError(t("service_replies.too_long", text=text))
    return delta


def _bad_symbols_text(bad: Sequence[str]) -> str:
    """One sentence for inputs that are no symbol: the KRX wording when none starts with a letter."""
    shown = ", ".join(f"'{c}'" for c in bad[:5])
    if len(bad) == 1 and ":" in bad[0]:
        try:
            prefix, _ = split_symbol(bad[0])
        except BadSymbol:
            prefix = ""
        if prefix:
            return t("markets.bad_exchange", prefix=prefix, symbol=bad[0])
    if not any(c[:1].isascii() and c[:1].isalpha() for c in bad):
        return t("service_replies.price_bad_one" if len(bad) == 1 else "service_replies.price_bad_many", shown=shown)
    if len(bad) == 1:
        return t("markets.bad_ticker", shown=bad[0])
    return t("markets.bad_symbols", shown=shown)


def describe_error(exc: BaseException) -> str:
    """One sentence a user can act on, never a traceback or a secret, keyed by the error's type."""
    if isinstance(exc, RateLimited):
        return t("errors.rate_limited")
    if isinstance(exc, (TokenExpired, TokenInvalid)):
        return t("errors.token")
    if isinstance(exc, OrderUncertain):
        return t("errors.order_uncertain")
    if isinstance(exc, UnknownStock):
        return t("errors.unknown_stock", codes=", ".join(exc.codes))
    if isinstance(exc, OverseasNotEnabled):
        return t("usmore.overseas_not_enabled", code=exc.msg_cd or "-", reason=exc.msg1)
    if isinstance(exc, KisError):
        reason = exc.msg1 or t("errors.no_reason")
        return t("errors.kis_refused_code", reason=reason, code=exc.msg_cd) if exc.msg_cd else \
            t("errors.kis_refused", reason=reason)
    if isinstance(exc, KisTransportError):
        return t("errors.transport")
    if isinstance(exc, ConfigError):
        return t("errors.config", detail=exc)
    if isinstance(exc, DiskFull):
        return t("errors.disk_full", disk=exc.disk, data_dir=exc.data_dir, free=fmt.size_text(exc.free))
    return t("errors.internal")


class Executor(Protocol):
    """What the service needs of `rebalance.TwapExecutor`: one run at a time for the account."""

    def start(self, plan: Plan, window: Window) -> str: ...

    def cancel(self) -> None: ...

    def status(self) -> RunStatus | None: ...

    def resume(self) -> RunStatus | None: ...

    def run_owner(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> bool: ...


@dataclass(frozen=True)
class _Pending:
    """A plan offered with its buttons, the portfolio and options to re-plan it from when its prices expire,
    the file it came from, and whether its offer has reached the user (a typed /confirm runs only a plan seen)."""

    plan: Plan
    portfolio: Portfolio
    ticket: int
    shown: bool = False
    options: PlanOptions = PlanOptions()


class BotService:
    """Commands over one KIS account: prices, balance, plan -> confirm -> TWAP run, cancel, status.

    Several chats share the account, its one run at a time and the saved model; each chat has its own
    offered plan (`chat=`), and a typed /confirm or a Confirm press runs only a plan offered in that chat.
    """

    def __init__(
        self,
        client: PriceSource,
        executor: Executor,
        *,
        twap_settings: TwapSettings,
        plan_settings: PlanSettings | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(KST),
        max_file_bytes: int = MAX_FILE_BYTES,
        read_portfolio: Callable[..., Portfolio] = rebalance.read_portfolio,
        make_plan: Callable[..., Plan] = rebalance.make_plan,
        plan_messages: Callable[[Plan], list[fmt.Rich]] = fmt.plan_messages,
        plan_chart: Callable[[Plan], bytes] = rebalance.plan_chart,
        execution_window: Callable[..., Window] = rebalance.execution_window,
        default_duration: timedelta | None = None,
        models: ModelStore | None = None,
        plan_options: PlanOptions = PlanOptions(),
        names: NameBook | None = None,
        pending_store: PendingPlans | None = None,
        receipts: ReceiptStore | None = None,
        pace: Pace | None = None,
        accounts: tuple[Any, ...] = (),
    ):
        self.client = client
        self.accounts_configured = accounts  # kis.accounts.Account of every configured account; () = this one
        self.executor = executor
        self.venues = None  # rebalance.venues.VenuePolicy (bot/venues.py): SOR and /confirm after; None: KRX only
        self.twap_settings = twap_settings
        self.plan_settings = plan_settings
        self.now = now
        self.max_file_bytes = max_file_bytes
        self.default_duration = default_duration  # the demo runs "now for a minute", not 09:10-15:00
        self.models = models  # rebalance.saved_model.ModelStore: the last model accepted, or None
        self.plan_options = plan_options  # the defaults (KISBOT_BAND, KISBOT_MIN_TRADE) words build on
        self.names = names  # rebalance.names.NameBook, or None
        self.pace = pace  # kis.limits.Pace of the account: how long a plan's calls take, for the progress line
        # The planner and window functions are injectable so the service is testable alone.
        self._read_portfolio = read_portfolio
        self._make_plan = make_plan
        self._plan_messages = plan_messages
        self._plan_chart = plan_chart
        self._execution_window = execution_window

        self._lock = threading.Lock()
        self._offer_delivered = threading.Condition(self._lock)
        self._confirm_lock = threading.Lock()  # one confirm at a time: a plan never starts twice
        self._pending_store = pending_store  # rebalance.pending.PendingPlans: the pending plan outlives a restart
        self.receipts = receipts  # rebalance.receipt.ReceiptStore: the last run's receipt, for /status
        self._pendings: dict[int, _Pending] = self._load_pending()  # chat -> the plan offered there
        # every plan id ever shown -> the chat it was offered in, to tell "old" from "unknown" and "not here"
        self._shown: dict[str, int] = {p.plan.id: chat for chat, p in self._pendings.items()}
        self._nothing_to_trade: dict[int, str] = {}  # chat -> its last plan, when that plan had nothing to trade
        self._confirmed: dict[str, str] = {}  # plan id -> run id
        self._run_chats: dict[str, int] = {}  # run id -> the chat whose /confirm started it
        self._starting: tuple[str, int] | None = None  # (plan id, chat) being started right now
        self._cancel_while_starting = False
        self._files = 0  # files received so far, all chats: each file's number
        self._file_chats: dict[int, int] = {}  # file number -> the chat it came from
        self._newest: dict[int, int] = {}  # chat -> its newest file: a plan is offered only for that one
        self._dropped_by_file: dict[int, str] = {}  # file number -> the plan its arrival dropped
        self._answered: dict[int, int] = {}  # chat -> its newest file number whose plan (or refusal) is made

    def _pending(self, chat: int) -> _Pending | None:
        return self._pendings.get(chat)

    def _set_pending(self, chat: int, pending: _Pending | None) -> None:
        """Every change of a chat's pending plan is written through to the journal's database."""
        if pending is self._pendings.get(chat):
            return
        if pending is None:
            self._pendings.pop(chat, None)
        else:
            self._pendings[chat] = pending
        if self._pending_store is None:
            return
        try:
            if pending is None:
                self._pending_store.clear(chat)
            else:
                self._pending_store.save(PendingPlan(pending.plan, pending.portfolio, pending.options,
                                                     pending.shown), chat)
        except Exception:  # the chat goes on; only a restart would forget the plan
            log.exception("keeping the pending plan failed")

    def _load_pending(self) -> dict[int, _Pending]:
        if self._pending_store is None:
            return {}
        try:
            kept = self._pending_store.load_all()
        except Exception:
            log.exception("reading the pending plans failed")
            return {}
        # Only a plan whose offer reached the user is worth keeping: one never seen cannot be confirmed.
        return {chat: _Pending(p.plan, p.portfolio, ticket=0, shown=True, options=p.options)
                for chat, p in kept.items() if p.shown}

    # --- help ---------------------------------------------------------------------------------

    def start(self) -> list[Reply]:
        """/start and /help: every command, in the chat's language, and the shortcut keyboard."""
        from bot.short_status import help_more
        from bot.shortcuts import labels
        return [Reply(fmt.bold(t("menu.help_title")) + "\n\n" + t("menu.help_body", confirm=self._confirm_help())
                      + "\n\n" + help_more(), keyboard=labels())]

    def _confirm_help(self) -> str:
        """The /confirm line of /help with the window a bare /confirm really runs in (the demo: from now)."""
        if self.default_duration is not None:
            return t("run.help_confirm_for", duration=fmt.duration_text(self.default_duration))
        settings = self.twap_settings
        return t("run.help_confirm_window", start=f"{settings.start:%H:%M}", end=f"{settings.end:%H:%M}")

    help = start

    def unknown(self, command: str) -> list[Reply]:
        return [Reply(t("menu.unknown", command=command))]

    def text(self, message: str) -> list[Reply]:
        return [Reply(t("menu.text"))]

    # --- prices and balance -------------------------------------------------------------------

    def price(self, args: Sequence[str]) -> list[Reply]:
        """`/price 005930 AAPL NYSE:KO`: KRX codes in won and US tickers in dollars, in the order given."""
        given = [a.strip() for a in args if a.strip()]
        if not given:
            return [Reply(t("markets.price_usage"))]
        markets: dict[str, Any] = {}
        bad: list[str] = []
        for a in given:
            try:
                markets[a] = market_of(a)
            except BadSymbol:
                bad.append(a)
        if bad:
            return [Reply(_bad_symbols_text(bad))]
        krx = list(dict.fromkeys(normalize_code(a) for a in given if markets[a] is KRX))
        abroad = list(dict.fromkeys(a.upper() for a in given if markets[a] is not KRX))
        if len(krx) + len(abroad) > MAX_CODES:
            return [Reply(t("service_replies.price_too_many", n=MAX_CODES))]
        unknown: tuple[str, ...] = ()
        quotes: dict[str, Quote] = {}
        try:
            if krx:
                try:
                    quotes = self.client.prices(krx)
                except UnknownStock as exc:
                    unknown = exc.codes
                    known = [c for c in krx if c not in unknown]
                    quotes = self.client.prices(known) if known else {}
            us_quotes, us_unknown = self._us_prices(abroad)
        except (KisError, KisTransportError) as exc:
            return [Reply(describe_error(exc))]
        if self.names is not None and quotes:
            try:
                names = self.names.fill(quotes)
                quotes = {c: replace(q, name=q.name or names.get(c, "")) for c, q in quotes.items()}
            except Exception:  # a name is a nicety; the price stands without it
                log.exception("naming quotes failed")
        shown_quotes: list[Any] = []
        for a in given:
            if markets[a] is KRX:
                quote = quotes.get(normalize_code(a))
            else:
                quote = us_quotes.get(a.upper())
            if quote is not None and quote not in shown_quotes:
                shown_quotes.append(quote)
        if abroad:
            text = fmt.mixed_quotes_text(shown_quotes) if shown_quotes else fmt.Rich()
        else:  # the KRX-only reply stays as it was
            text = fmt.quotes_text(shown_quotes) if shown_quotes else fmt.Rich()
        notes = []
        if unknown:
            notes.append(t("service_replies.price_unknown_many" if len(unknown) > 1
                           else "service_replies.price_unknown_one", codes=", ".join(unknown)))
        if us_unknown:
            notes.append(t("markets.us_unknown", tickers=", ".join(us_unknown)))
        for note in notes:
            text = text + "\n" + note if text else fmt.text(note)
        return text_replies(text)

    def _us_prices(self, symbols: Sequence[str]) -> tuple[dict[str, Any], tuple[str, ...]]:
        """US quotes by the symbol as given (AAPL, NYSE:KO), and the ones no exchange lists."""
        if not symbols:
            return {}, ()
        prices = getattr(self.client, "overseas_price", None)
        if prices is None:
            return {}, tuple(symbols)
        found: dict[str, Any] = {}
        unknown: list[str] = []
        for symbol in symbols:
            try:
                found[symbol] = prices(symbol)
            except UnknownStock as exc:
                unknown += list(exc.codes)
        return found, tuple(unknown)

    def balance(self) -> list[Reply]:
        """`/balance`: KRX holdings and cash in won, then the US side when the account holds any or has dollars."""
        try:
            balance = self.client.balance()
        except (KisError, KisTransportError) as exc:
            return [Reply(describe_error(exc))]
        text = fmt.balance_text(balance)
        us_balance = getattr(self.client, "us_balance", None)
        if us_balance is not None:
            try:
                us = us_balance()
            except KisError as exc:
                if type(exc) is not KisError:  # rate limit, token: the US side is named as unread
                    text = text + "\n" + t("markets.us_unread", error=describe_error(exc))
                # KIS refusing the overseas balance: an account without overseas trading has no US side to show
                log.info("US balance refused: %s", exc)
            except KisTransportError as exc:  # the KRX side stands; the US side is named as unread
                log.info("US balance unread: %s", exc)
                text = text + "\n" + t("markets.us_unread", error=describe_error(exc))
            else:
                if not us.empty:
                    text = text + "\n" + fmt.us_balance_text(balance, us)
        from bot.short_status import refresh_button
        return with_buttons(text_replies(text), refresh_button("balance"))

    # --- planning -----------------------------------------------------------------------------

    def plan(self, args: Sequence[str] = (), *, chat: int = ONE_CHAT) -> list[Reply]:
        """`/plan [buy [AMOUNT] | sell AMOUNT] [keep] [band P] [min WON]`: plan the saved model, or ask for a file."""
        refusal = self._busy_refusal(saved_model=True)
        if refusal:
            return refusal
        options = self._options(args)
        if isinstance(options, list):
            return options
        saved = self.models.load() if self.models is not None else None
        if saved is None:
            return [Reply(ask_for_model())]
        note = t("model.planning_saved", name=saved.name or saved.file_name or t("model.unnamed"),
                 at=f"{saved.saved_at.astimezone(KST):%Y-%m-%d %H:%M}")
        with self._lock:
            ticket = self._newest.get(chat, 0)  # a file arriving in this chat while this plans supersedes it
        return self._plan_and_offer(saved.portfolio, note=note, ticket=ticket, chat=chat, options=options)

    def accounts(self) -> list[Reply]:
        """`/accounts`: each configured account (label, name, kind, masked number) and what it may do."""
        config = getattr(self.client, "config", None)
        serving = getattr(config, "label", "main")
        if self.accounts_configured:
            views = tuple(AccountView(a.label, a.name, mask_number(str(a.number)), a.kind,
                                      self._account_value() if a.label == serving else None,
                                      order_gate.client_gated(self.client) if a.label == serving else False)
                          for a in self.accounts_configured)
        else:
            views = (AccountView(serving, serving, mask_number(str(getattr(config, "account", ""))),
                                 getattr(config, "kind", AccountKind.GENERAL), self._account_value(),
                                 order_gate.client_gated(self.client)),)
        return [Reply(fmt.text("\n".join(accounts_text(views, serving))))]

    def _account_value(self) -> int | str:
        try:
            return self.client.balance().total_value
        except (KisError, KisTransportError) as exc:
            return describe_error(exc)

    def model(self, args: Sequence[str] = (), *, chat: int = ONE_CHAT) -> list[Reply]:
        """`/model [set|add|rm|band|cash|undo|history|diff|save|use|list ...]`: show or edit the saved model."""
        if self.models is None:
            return [Reply(t("model_edit.none"))]
        from bot.model_edits import model_command
        return text_replies(model_command(self.models.versions(), list(args), self.model_context(f"chat {chat}")))

    def with_model_editor(self, replies: list[Reply], url: str, *, chat: int = ONE_CHAT) -> list[Reply]:
        """`replies` with the Mini App editor of the saved model (page at `url`) on the last; a model too
        large for it gets a sentence instead (bot/webapp.py)."""
        if self.models is None or not replies:
            return replies
        from bot.webapp import editor_link, weights_now
        cash_buffer = (self.plan_settings or PlanSettings()).cash_buffer
        link, note = editor_link(url, self.models.versions(), self.model_context(f"chat {chat}"),
                                 weights_now=lambda state: weights_now(self.client, state, cash_buffer=cash_buffer),
                                 default_band=self.plan_options.band)
        if link is not None:
            return [*replies[:-1], replace(replies[-1], app=link)]
        return [*replies, Reply(note)] if note else replies

    def webapp_save(self, data: str, *, chat: int, allowed: frozenset[int]) -> tuple[list[Reply], bool]:
        """A Save of the Mini App editor (`web_app_data`) from `chat`: one /model edit or one refusal, never
        an order; True when it made a version."""
        if self.models is None:
            return [Reply(t("model_edit.none"))], False
        from bot.webapp import save
        text, changed = save(self.models.versions(), data, self.model_context(f"chat {chat}"), chat=chat,
                             allowed=allowed)
        return text_replies(text), changed

    def model_context(self, who: str) -> Any:
        """What `/model` edits need from the service: the clock, names, KIS's word on a code, the band."""
        from bot.model_edits import ModelContext

        def names(codes: Sequence[str]) -> dict[str, str]:
            return self.names.known(codes) if self.names is not None else {}

        def check_code(code: str) -> bool | None:
            try:
                quotes = self.client.prices([code])
            except UnknownStock:
                return False
            except Exception:  # KIS unreachable: the code's shape was checked, KIS's word waits for /plan
                log.debug("checking %s", code, exc_info=True)
                return None
            quote = quotes.get(code)
            if quote is not None and quote.name and self.names is not None:
                try:
                    self.names.fill({code: quote})
                except Exception:  # a name is a nicety
                    log.debug("naming %s", code, exc_info=True)
            return True

        def us_market(ticker: str) -> str | None:
            if not hasattr(self.client, "us_market"):
                return None
            return self.client.us_market(ticker).code  # UnknownStock: no US exchange lists it

        return ModelContext(who=who, now=self.now, names=names, check_code=check_code,
                            band_for=self.plan_options.band_for, us_market=us_market)

    def _options(self, args: Sequence[str]) -> PlanOptions | list[Reply]:
        """Every word read as an option, or one refusal: the same for a typed /plan and a caption."""
        try:
            options = plan_options(list(args), self.plan_options)
            refuse_real_only(options, getattr(getattr(self.client, "config", None), "env", None))
            return options
        except OptionsError as exc:
            return [Reply(str(exc))]

    def file_received(self, chat: int = ONE_CHAT) -> int:
        """A file arrived in `chat` (call before fetching it): that chat's pending plan is dropped; the file's
        number, for plan_file."""
        with self._lock:
            self._files += 1
            self._file_chats[self._files] = chat
            self._newest[chat] = self._files
            self._nothing_to_trade.pop(chat, None)
            pending = self._pending(chat)
            if pending is not None:
                self._dropped_by_file[self._files] = pending.plan.id
                self._set_pending(chat, None)
            return self._files

    def file_answered(self, ticket: int) -> list[Reply]:
        """Marks the file `ticket` answered (planned, refused or failed); a note on the plan it dropped."""
        with self._lock:
            dropped = self._dropped_by_file.pop(ticket, None)
            chat = self._file_chats.get(ticket, ONE_CHAT)
            self._answered[chat] = max(self._answered.get(chat, 0), ticket)
        return [Reply(t("service_replies.file_replaced", plan=dropped))] if dropped else []

    def check_document(self, file_name: str | None, file_size: int | None,
                       ticket: int | None = None) -> list[Reply] | None:
        """A refusal for a file we will not download, or None when it may be fetched."""
        name = file_name or t("service_replies.the_file")
        refusal = None
        if not (file_name or "").lower().endswith(".xlsx"):
            refusal = [Reply(t("service_replies.not_xlsx_file", name=name))]
        elif file_size is None or file_size > self.max_file_bytes:
            refusal = [Reply(t("service_replies.file_size_unknown", name=name, limit=self.max_file_bytes)
                             if file_size is None else
                             t("service_replies.file_too_big", name=name, size=file_size, limit=self.max_file_bytes))]
        if refusal and ticket is not None:
            return self.file_answered(ticket) + refusal
        return refusal

    def plan_file(self, data: bytes, file_name: str, ticket: int | None = None,
                  args: Sequence[str] = (), *, chat: int = ONE_CHAT) -> list[Reply]:
        """Read a model portfolio, plan it against the account with the options in `args` (the caption's
        words), and offer Confirm / Cancel. A file that plans becomes the saved model.

        `ticket` is `file_received()`'s number taken when the file arrived; without one the file counts
        as arriving now in `chat`. A newer file arriving in the same chat while this one is planned means this
        plan is not offered (nor saved as the model).
        """
        ticket = self.file_received(chat) if ticket is None else ticket
        try:
            replies = self._plan_file(data, file_name, ticket, args)
        finally:  # the file counts as answered once its plan is pending (or refused)
            note = self.file_answered(ticket)
        return note + replies

    def _plan_file(self, data: bytes, file_name: str, ticket: int, args: Sequence[str] = ()) -> list[Reply]:
        refusal = self.check_document(file_name, len(data)) or self._busy_refusal()
        if refusal:
            return refusal
        options = self._options([a for a in args if not a.lower().startswith("/plan")])
        if isinstance(options, list):
            return options
        try:
            portfolio = self._read_portfolio(data, name=file_name)
        except PortfolioError as exc:
            return text_replies(fmt.bold(t("service_replies.cannot_use", name=file_name)) + f"\n{exc}")
        # Which sheet and weight column were read, so a misread file is seen before Confirm.
        with self._lock:
            chat = self._file_chats.get(ticket, ONE_CHAT)
        return self._plan_and_offer(portfolio, note=" ".join(portfolio.notes), ticket=ticket, chat=chat,
                                    options=options, save=True)


    def _busy_refusal(self, saved_model: bool = False) -> list[Reply] | None:
        """No new plan while a run trades: its holdings are moving, and one /cancel must mean one thing.
        `saved_model`: /plan of the saved model, which /plan plans again (a file sent must be sent again)."""
        status = self.active_run()
        if status is None:
            return None
        if saved_model and self._model_saved():
            return [Reply(t("chats.busy_saved", run=status.run_id))]
        return [Reply(t("service_replies.busy", run=status.run_id))]

    def _guard_hint(self) -> str:
        if self.twap_settings.order_type is not OrderType.LIMIT:  # only limit orders have a guard
            return ""
        return t("service_replies.guard_hint", pct=self.twap_settings.price_guard * 100)

    def _plan_and_offer(self, portfolio: Any, note: str = "", asked: str | None = None, *,
                        ticket: int, chat: int = ONE_CHAT, options: PlanOptions = PlanOptions(),
                        save: bool = False) -> list[Reply]:
        extra: dict[str, Any] = {}
        if options != PlanOptions():
            extra["options"] = options
        if self.names is not None:
            extra["names"] = self.names
        try:
            with progress.counting(planning(len(portfolio.codes)), self._plan_calls(portfolio),
                                   self.pace):
                plan = self._make_plan(self.client, portfolio, self.plan_settings, self.now(), **extra)
            plan = replace(plan, execution="cross" if options.cross else self.twap_settings.execution)
        except PortfolioError as exc:
            return text_replies(fmt.bold(t("service_replies.cannot_plan",
                                           name=portfolio.source or t("service_replies.this_portfolio"))) + f"\n{exc}")
        except OptionsError as exc:
            return [Reply(str(exc))]
        except (KisError, KisTransportError) as exc:
            return [Reply(describe_error(exc))]
        saved = ""
        with self._lock:
            newer = ticket != self._newest.get(chat, 0)
            if not newer:
                # Only the file offered becomes the saved model: one a newer file superseded never does.
                # Saved under the lock, so a newer file's plan cannot be saved first and then overwritten.
                if save and self.models is not None:
                    try:
                        self.models.save(portfolio, self.now())
                        saved = (t("service_replies.saved_model", name=portfolio.source) if portfolio.source
                                 else t("service_replies.saved_unnamed"))
                    except OSError:
                        log.exception("saving the model failed")
                self._shown[plan.id] = chat
                # The plan shown last in this chat is its only one confirmable: one with nothing to trade
                # leaves none.
                # A manual plan (IRP: read-only over the API) is a list to place by hand: never confirmable.
                self._set_pending(chat, _Pending(plan, portfolio, ticket, options=options)
                                  if plan.has_orders and not plan.manual else None)
                if plan.has_orders:
                    self._nothing_to_trade.pop(chat, None)
                else:
                    self._nothing_to_trade[chat] = plan.id
        if newer:  # its buttons would sit beside, or below, the newer file's: offer only the newest
            return [Reply(t("service_replies.newer_file", name=portfolio.source or t("service_replies.a_file")))]
        deposit = deposit_note(plan, portfolio, self.plan_settings, options)  # issue 23: the deposit figure
        replies = [Reply(n) for n in (note, saved) if n]
        replies += [Reply(m) for m in self._plan_messages(plan)]
        replies += [Reply(deposit)] if deposit else []
        replies += [Reply(n) for n in venue_notes(self.venues, plan)]  # SOR's refusals (issue 25)
        if not plan.has_orders:
            return fold(replies + [Reply(t("service_replies.nothing_to_trade"))])
        if plan.manual:  # its notes say to place the orders in the KIS app; no Confirm button
            return fold(replies)
        gate = order_gate.plan_note(self.client)  # a 연금저축 before the doctor's pass: no Confirm button
        if gate:
            return fold(replies + [Reply(gate)])
        caption = fmt.sentence("service_replies.caption", plan=fmt.bold(plan.id), sell=fmt.won(plan.sell_value),
                               buy=fmt.won(plan.buy_value), window=self._window_hint(asked),
                               until=fmt.clock_text(plan.expires_at), guard=self._guard_hint())
        # Each button names its plan, so a press can only ever run (or drop) the plan it sits under.
        buttons = (Button(t("menu.confirm_button", plan_id=plan.id), f"confirm:{plan.id}"),
                   Button(t("menu.cancel_button"), f"cancel:{plan.id}"))
        try:
            chart = self._plan_chart(plan)
        except Exception:  # a chart is a nicety; the plan stands without it
            log.exception("plan chart failed for plan %s", plan.id)
            chart = None
        return fold(replies) + [Reply(caption, photo=chart, buttons=buttons)]  # notes ride on the table

    def _plan_calls(self, portfolio: Portfolio) -> int:
        """About how many KIS calls planning `portfolio` makes: the balance, its quotes, names not known yet."""
        if self.pace is None:
            return 0
        codes = list(portfolio.codes)
        return 1 + self.pace.quote_calls(len(codes)) + (self.names.lookups(codes) if self.names is not None else 0)

    def _window_hint(self, asked: str | None = None) -> str:
        if asked:  # the user already chose a duration for this portfolio
            return t("service_replies.window_asked", asked=asked, duration=fmt.duration_text(parse_duration(asked)))
        if self.default_duration is not None:
            return t("service_replies.window_duration", duration=fmt.duration_text(self.default_duration))
        try:
            window = self._execution_window(self.now(), self.twap_settings)
        except Exception:
            log.exception("execution window")
            return t("service_replies.window_default")
        start, end = f"{window.start:%H:%M}", f"{window.end:%H:%M}"
        if window.start.date() == self.now().date():
            return t("service_replies.window_today", start=start, end=end)
        date = t("service_replies.date", weekday=t(f"service_replies.weekday_{window.start.weekday()}"),
                 month=window.start.month, day=window.start.day)
        return t("service_replies.window_day", start=start, end=end, date=date)

    # --- confirm, cancel, status ----------------------------------------------------------------

    def confirm(self, args: Sequence[str] = (), plan_id: str | None = None, *, chat: int = ONE_CHAT) -> list[Reply]:
        """Start the TWAP run for the plan pending in `chat` (or re-plan it when its prices are stale)."""
        if len(args) > 1:
            return [Reply(t("service_replies.confirm_usage"))]
        after = bool(args) and is_after_word(args[0])  # /confirm after: the after-markets (bot/venues.py)
        try:
            duration = None if after else parse_duration(args[0]) if args else self.default_duration
        except ValueError as exc:
            return [Reply(str(exc))]
        if plan_id is None:
            with self._offer_delivered:
                self._offer_delivered.wait_for(lambda: self._offer_settled(chat), OFFER_DELIVERY_GRACE)
        with self._confirm_lock:
            with self._lock:
                refusal = self._confirm_refusal(plan_id, chat)
                if refusal:
                    return [Reply(refusal)]
                pending = self._pending(chat)
                assert pending is not None
                stale = self.now() >= pending.plan.expires_at
                if not stale:
                    self._set_pending(chat, None)
                    self._starting = (pending.plan.id, chat)
                    self._cancel_while_starting = False
            if stale:
                return self._plan_and_offer(
                    pending.portfolio, ticket=pending.ticket, chat=chat, options=pending.options,
                    note=t("service_replies.expired", plan=pending.plan.id, at=fmt.clock_text(pending.plan.expires_at)),
                    asked=args[0] if args and not after else None,
                )
            return self._start_run(pending, duration, chat, after=after)

    def offered_plan(self, chat: int = ONE_CHAT) -> Plan | None:
        """The plan pending in `chat` (what its Confirm would run), or None."""
        with self._lock:
            pending = self._pending(chat)
        return pending.plan if pending is not None else None

    def last_plan(self, chat: int = ONE_CHAT) -> str | None:
        """The id of the newest plan made for `chat` (offered or with nothing to trade), or None."""
        with self._lock:
            return next((plan for plan, where in reversed(self._shown.items()) if where == chat), None)

    def drop_offer(self, plan_id: str, chat: int = ONE_CHAT) -> bool:
        """Drop `plan_id` if it is still the plan pending in `chat` (a scheduled offer whose session ended)."""
        with self._lock:
            pending = self._pending(chat)
            if pending is None or pending.plan.id != plan_id:
                return False
            self._set_pending(chat, None)
            return True

    def _offer_settled(self, chat: int) -> bool:
        pending = self._pending(chat)
        return pending is None or pending.shown

    def _confirm_refusal(self, plan_id: str | None, chat: int) -> str | None:
        if plan_id is not None and self._shown.get(plan_id, chat) != chat:  # never offered here: not run here
            return t("chats.plan_of_other_chat", plan=plan_id)
        if plan_id is not None and plan_id in self._confirmed:
            return t("service_replies.already_confirmed", plan=plan_id, run=self._confirmed[plan_id])
        if self.active_run() is not None:
            return t("service_replies.run_active_status")
        pending = self._pending(chat)
        if pending is None:
            if self._answered.get(chat, 0) < self._newest.get(chat, 0):
                return t("service_replies.newest_planning")
            if plan_id is not None and plan_id in self._shown:
                return t("chats.no_longer_pending_saved" if self._model_saved() else "chats.no_longer_pending",
                         plan=plan_id)
            if chat in self._nothing_to_trade:
                return t("chats.nothing_to_trade", plan=self._nothing_to_trade[chat])
            if self._model_saved():
                return t("chats.no_plan_here")
            return t("service_replies.no_plan")
        gate = order_gate.confirm_refusal(self.client)  # fail closed (bot/order_gate.py)
        if gate:
            return gate
        if plan_id is not None and plan_id != pending.plan.id:
            return t("service_replies.replaced", plan=plan_id, newest=pending.plan.id)
        if plan_id is None and not pending.shown:  # a pressed button proves its plan was seen
            return t("service_replies.on_its_way", plan=pending.plan.id)
        return None

    def _model_saved(self) -> bool:
        try:
            return self.models is not None and self.models.load() is not None
        except Exception:  # a sentence's hint; the refusal stands without it
            log.exception("reading the saved model failed")
            return False

    def pending_plan(self, chat: int = ONE_CHAT) -> str | None:
        """The id of the plan offered in `chat` that a /confirm there would run, or None."""
        with self._lock:
            pending = self._pending(chat)
        return pending.plan.id if pending is not None else None

    def shown(self, plan_id: str, chat: int = ONE_CHAT) -> None:
        """The transport delivered the offer of `plan_id` to `chat` (see `Reply.offers`): a typed /confirm
        there may run it. Delivered to another chat, it stays unconfirmable by typing."""
        with self._lock:
            pending = self._pending(chat)
            if pending is not None and pending.plan.id == plan_id:
                self._set_pending(chat, replace(pending, shown=True))
                self._offer_delivered.notify_all()

    def _start_run(self, pending: _Pending, duration: timedelta | None, chat: int = ONE_CHAT, *,
                   after: bool = False) -> list[Reply]:
        plan = pending.plan
        warning = None
        try:
            # the plan word `cross` (or none) against the settings' execution style
            crossed = plan.execution and plan.execution != self.twap_settings.execution
            style = {"execution": plan.execution} if crossed else {}
            if after:
                found = after_start(self.venues, plan, self.now(), self.twap_settings)
                window, warning = found.window.window, found.warning
                run_id = self.executor.start(plan, window, guard=found.window.guard, **style)
            else:
                window = self._execution_window(self.now(), self.twap_settings, duration)
                run_id = self.executor.start(plan, window, **style)
        except RunActive:
            with self._lock:
                self._starting = None
                self._set_pending(chat, self._pending(chat) or pending)
            return [Reply(t("service_replies.run_active"))]
        except Exception as exc:
            log.exception("starting plan %s failed", plan.id)
            with self._lock:
                self._starting = None
                self._set_pending(chat, self._pending(chat) or pending)
            # The executor's ValueErrors are sentences meant for the user (e.g. the window is over).
            why = f"{exc}." if isinstance(exc, ValueError) else describe_error(exc)
            return [Reply(t("service_replies.not_started", why=why))]
        with self._lock:
            self._confirmed[plan.id] = run_id
            self._run_chats[run_id] = chat
            self._starting = None
            cancel_now = self._cancel_while_starting
        if cancel_now:
            self.executor.cancel()
            return [Reply(t("service_replies.started_stopping", run=run_id))]
        orders = len(plan.sells) + len(plan.buys)
        started = fmt.sentence("service_replies.started_one" if orders == 1 else "service_replies.started_many",
                               run=fmt.bold(run_id), plan=plan.id, n=orders, start=fmt.clock_text(window.start),
                               end=fmt.clock_text(window.end))
        status = self.executor.status()
        if status is not None and status.run_id == run_id and status.markets:  # one window per market
            started += fmt.text("\n" + "\n".join(fmt.market_line(part, status.now) for part in status.markets))
        stop = (Button(t("menu.stop_button"), f"stop:{run_id}"),)
        return ([Reply(warning)] if warning else []) + [Reply(started, buttons=stop)]

    def cancel(self, plan_id: str | None = None, *, chat: int = ONE_CHAT) -> list[Reply]:
        """Drop the plan pending in `chat` and stop the active run; a button press names its plan.

        The run is the account's, but a bare /cancel stops it only from the chat whose /confirm started it
        (or when that is not known, e.g. a run resumed after a restart): from another chat it says whose run
        it is and offers a Stop button, which stops it for every chat."""
        with self._lock:
            if plan_id is not None:
                if self._shown.get(plan_id, chat) != chat:
                    return [Reply(t("chats.plan_of_other_chat", plan=plan_id))]
                pending = self._pending(chat)
                if pending is not None and pending.plan.id == plan_id:
                    self._set_pending(chat, None)
                    return [Reply(t("service_replies.dropped", plan=plan_id))]
                if self._starting == (plan_id, chat):  # Cancel pressed right after its Confirm
                    self._cancel_while_starting = True
                    return [Reply(t("service_replies.being_started", plan=plan_id))]
                run_id = self._confirmed.get(plan_id)
                if run_id is None:
                    return [Reply(t("service_replies.not_pending", plan=plan_id))]
            else:
                run_id = None
        if run_id is not None:
            return self.stop(run_id, chat=chat)
        buttons: tuple[Button, ...] = ()
        with self._lock:
            said: list[str] = []
            if self._starting is not None:
                if self._starting[1] == chat:
                    self._cancel_while_starting = True
                    said.append(t("service_replies.starting_stop"))
                else:
                    said.append(t("chats.starting_elsewhere", chat=self._starting[1]))
            dropped = self._pending(chat)
            self._set_pending(chat, None)
        status = self.active_run()
        if status is not None:
            with self._lock:
                started_in = self._run_chats.get(status.run_id, chat)
            if started_in == chat:
                said.append(self._stop_run(status))
            else:
                said.append(t("chats.run_of_other_chat", run=status.run_id, chat=started_in))
                buttons = (Button(t("chats.stop_button"), f"stop:{status.run_id}"),)
        if dropped is not None:
            said.append(t("service_replies.dropped_part", plan=dropped.plan.id))
        return [Reply(" ".join(said) if said else t("service_replies.nothing_to_cancel"),
                      buttons=buttons)]

    def stop(self, run_id: str, *, chat: int = ONE_CHAT) -> list[Reply]:
        """The Stop button under a started run (or under /cancel's answer in another chat): stops it for all."""
        status = self.active_run()
        if status is None or status.run_id != run_id:
            return [Reply(t("service_replies.not_running", run=run_id))]
        with self._lock:
            started_in = self._run_chats.get(run_id, chat)
        said = self._stop_run(status)
        if started_in != chat:
            said = t("chats.stopping_other_chats_run", run=run_id, chat=started_in) + " " + said
        return [Reply(said)]

    def _stop_run(self, status: RunStatus) -> str:
        """Stop the active run if this process drives it; else say which process does."""
        run_id = status.run_id
        owner = self.executor.run_owner()
        if owner == os.getpid():
            self.executor.cancel()
            return t("service_replies.stopping")
        if owner is None:
            return t("service_replies.orphan", run=run_id)
        return _elsewhere("service_replies.elsewhere_stop", run_id, owner)

    def status(self, *, chat: int = ONE_CHAT) -> list[Reply]:
        """The account's run (whichever chat started it), or the last run in three lines and this chat's plan;
        a Refresh button either way (bot/short_status.py)."""
        from bot.short_status import after_run_buttons, refresh_button, summary_text
        status = self.active_run()
        if status is None:
            with self._lock:
                pending = self._pending(chat)
            receipt = self._last_receipt()
            if receipt is not None:
                return [Reply(summary_text(receipt, self._kept_at(receipt), self.now(),
                                           pending.plan.id if pending else None),
                              buttons=tuple(Button(*b) for b in after_run_buttons(receipt.run_id)))]
            said = [t("shortstatus.no_run")] + ([t("shortstatus.pending", plan=pending.plan.id)] if pending else [])
            return with_buttons([Reply(" ".join(said))], refresh_button("status"))
        with self._lock:
            started_in = self._run_chats.get(status.run_id, chat)
        whose = "\n" + t("chats.status_other_chat", chat=started_in) if started_in != chat else ""
        return with_buttons(text_replies(fmt.status_text(status) + whose), refresh_button("status"))

    def receipt(self, run_id: str | None = None) -> list[Reply]:
        """`/receipt` and the Full receipt button: the whole receipt of `run_id` (the last run when None)."""
        from bot.short_status import receipt_body
        try:
            return text_replies(receipt_body(self.receipts, run_id))
        except Exception:
            log.exception("reading the receipt failed")
            return [Reply(t("errors.internal"))]

    def version(self) -> list[Reply]:
        """`/version`: the installed kisbot's version."""
        from bot.short_status import version_text
        return [Reply(version_text())]

    def _kept_at(self, receipt: Receipt) -> datetime | None:
        try:
            return self.receipts.kept_at(receipt.run_id) if self.receipts is not None else None
        except Exception:  # the summary stands without its time
            log.exception("reading when the receipt was kept failed")
            return None

    def _last_receipt(self) -> Receipt | None:
        if self.receipts is None:
            return None
        try:
            return self.receipts.last()
        except Exception:
            log.exception("reading the last receipt failed")
            return None

    def resume(self) -> list[Reply]:
        """On start: pick up a run a crash left active; tell the user, or say nothing."""
        try:
            status = self.executor.resume()
        except RunActive:
            owner, active = self.executor.run_owner(), self.active_run()
            if owner in (None, os.getpid()) or active is None:
                raise
            return [Reply(_elsewhere("service_replies.elsewhere_resume", active.run_id, owner))]
        if status is None:
            return []
        return text_replies(fmt.bold(t("service_replies.resumed")) + "\n" + fmt.status_text(status))

    def stop_active_run(self) -> None:
        """Stop the run this process executes: no new orders, resting ones cancelled (the demo leaving)."""
        self.executor.cancel()

    def wait_for_run(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the run this process executes to end; True once none runs."""
        return self.executor.wait(timeout)

    def active_run(self) -> RunStatus | None:
        """The status of the run in progress, or None."""
        status = self.executor.status()
        if status is None or not status.active:
            return None
        return status


def _elsewhere(key: str, run_id: str, owner: int) -> str:
    pid = t("service_replies.pid", pid=owner) if owner > 0 else ""
    return t(key, run=run_id, pid=pid)


def open_service(client: Any, *, source: Any, on_event: Callable[[Any], None], clock: Any = None,
                 default_duration: timedelta | None = None, notices: Any = None,
                 accounts: tuple[Any, ...] = (), **twap_overrides: Any) -> BotService:
    """The service over the real executor: TWAP settings from `source`, the journal in the data dir.

    `notices`: KIS's order/fill notice stream (kis.notices.open_notices), or None to poll only."""
    from rebalance.names import NameBook
    from bot.settings import load_twap_settings, options_from
    from rebalance.pending import PendingPlans
    from rebalance.receipt import ReceiptStore
    from rebalance.saved_model import ModelStore

    twap_settings = load_twap_settings(source, **twap_overrides)
    # A listing lag measured by `kisbot doctor --orders` that is longer than the setting wins.
    twap_settings = replace(twap_settings, settle_seconds=settle_horizon(twap_settings.settle_seconds, client.config))
    plan_options = options_from(source)
    journal = rebalance.Journal.in_dir(client.config.data_dir)
    receipts = ReceiptStore(journal.path, client.config.account)

    def keep_receipt(event: Event) -> None:
        receipt = event.receipt if isinstance(event, (Finished, Cancelled)) else None
        if receipt is not None:
            try:
                receipts.save(receipt, at=clock.now() if clock is not None else None)  # /perf's costs
            except Exception:  # /status loses the receipt; the completion message still shows it
                log.exception("keeping the receipt failed")
        on_event(event)

    venues = open_venues(client, source)  # KISBOT_SOR, the kept NXT list, the doctor's venue checks
    broker = VenueRouter(client, venues) if venues.settings.sor else client
    executor = rebalance.TwapExecutor(broker, journal, twap_settings, keep_receipt, clock, notices=notices)
    now = (lambda: clock.now()) if clock is not None else (lambda: datetime.now(KST))
    service = BotService(client, executor, twap_settings=twap_settings, now=now, default_duration=default_duration,
                      models=ModelStore(client.config.data_dir, client.config.account), plan_options=plan_options,
                      names=NameBook(client.config.data_dir, client),
                      pending_store=PendingPlans(journal.path, client.config.account), receipts=receipts,
                      pace=client.pace(), accounts=accounts,
                      plan_settings=rebalance.PlanSettings(kind=getattr(client.config, "kind", AccountKind.GENERAL)))
    service.venues = venues
    return service
