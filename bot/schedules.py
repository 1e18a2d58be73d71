"""`/schedule` and the job that offers scheduled plans (rebalance/schedules.py says what is due).

`ScheduleDesk.command` answers `/schedule [list | dca DAY AMOUNT | cash AMOUNT | monthly | quarterly | half |
rm N | allow AMOUNT/month | allow off]`. `ScheduleDesk.tick` is the check the tests drive on a fake clock;
`start()` runs it every CHECK_EVERY on a thread. An offer is an ordinary plan of the service, made and sent in
each allowed chat with its Confirm, and dropped when its session ends. With an allowance, a buy-only plan
that fits under this month's cap starts without the tap: its cost is recorded first, then it is confirmed in
the first chat and announced in every chat with a Cancel button.
"""
from __future__ import annotations

import contextlib
import logging
import threading
from datetime import datetime, timedelta
from typing import Any, Callable, Sequence

from bot.service import BotService, Button, Reply
from bot.ticking import TickThread
from kis.errors import KisError, KisTransportError
from rebalance.amounts import korean_won
from rebalance.clock import Clock
from rebalance.i18n import Lang, t, using
from rebalance.deposit import free_cash
from rebalance.plan import PlanSettings
from rebalance.schedules import (Kind, Offer, ScheduleError, ScheduleStore, describe, due, month_of,
                                 parse_command, session_of)

log = logging.getLogger(__name__)

CHECK_EVERY = timedelta(minutes=5)
MAX_TRIES = 3  # checks a plan KIS could not make is tried at, quietly, before its reason is said


class ScheduleDesk:
    """One account's schedules: the `/schedule` command and the check that offers what is due."""

    def __init__(self, service: BotService, store: ScheduleStore, clock: Clock, *, calendar: str,
                 chats: Sequence[int], send: Callable[[int, Reply], Any],
                 lang_for: Callable[[int], Lang | None] = lambda chat: None,
                 hold: Callable[[], Any] = contextlib.nullcontext):
        self.service = service
        self.store = store
        self.clock = clock
        self.calendar = calendar
        self.chats = list(chats) or [0]
        self._send = send  # one reply to one chat (Telegram: that chat; the console: the terminal)
        self.lang_for = lang_for
        self.hold = hold  # the notifier's `held`: a started run's pushes wait for its announcement
        self.cash_buffer = (service.plan_settings or PlanSettings()).cash_buffer
        self._ticks = TickThread("kisbot-schedules", self._check, clock, every=CHECK_EVERY.total_seconds(),
                                 failure="schedule check failed", log=log)  # a failed check: the next as usual
        self._tick_lock = threading.Lock()
        self._tries: dict[str, int] = {}  # event key -> checks that could not make its plan

    # --- the command ------------------------------------------------------------------------------

    def command(self, args: Sequence[str]) -> list[Reply]:
        """`/schedule ...`: list, add, remove, set or end the allowance; bad words are one sentence."""
        try:
            cmd = parse_command(list(args))
        except ScheduleError as exc:
            return [Reply(str(exc))]
        now = self.clock.now()
        if cmd.action == "add":
            added = self.store.add(cmd.kind, now, day=cmd.day, amount=cmd.amount)
            if added is None:
                return [Reply(t("schedule.too_many"))]
            said = t("schedule.added", item=describe(added))
            if self.service.models is None or self.service.models.load() is None:
                said += " " + t("schedule.no_model")
            return [Reply(said)]
        if cmd.action == "rm":
            removed = self.store.remove(cmd.number or 0)
            if removed is None:
                return [Reply(t("schedule.rm_unknown", number=cmd.number))]
            return [Reply(t("schedule.removed", item=describe(removed)))]
        if cmd.action == "allow":
            self.store.set_allowance(cmd.amount, now)
            if cmd.amount is None:
                return [Reply(t("schedule.allow_off"))]
            return [Reply(t("schedule.allow_on", cap=cmd.amount, won=korean_won(cmd.amount),
                            spent=self.store.spent(month_of(now))))]
        return [Reply(self.list_text(now))]

    def list_text(self, now: datetime) -> str:
        schedules = self.store.schedules()
        lines = [t("schedule.list_head") if schedules else t("schedule.list_empty")]
        lines += [describe(s) for s in schedules]
        cap = self.store.allowance()
        if cap is not None:
            lines.append(t("schedule.list_allowance", cap=cap, won=korean_won(cap), spent=self.store.spent(month_of(now))))
        return "\n".join(lines)

    # --- the check ---------------------------------------------------------------------------------

    def tick(self) -> list[str]:
        """Expire offers whose session ended, then offer what is due now; the event keys offered."""
        with self._tick_lock:
            now = self.clock.now()
            self._expire(now)
            schedules = self.store.schedules()
            hours = session_of(now, self.calendar)
            if not schedules or hours is None or self.service.active_run() is not None:
                return []  # a run is trading: its holdings move; the next check after it looks again
            models = self.service.models
            if models is None or models.load() is None:
                return []  # nothing to plan yet; the events stay owed
            try:
                balance = self.service.client.balance()
            except (KisError, KisTransportError) as exc:
                log.warning("schedules: KIS did not answer (%s); checking again later", exc)
                return []
            watches = self.store.watches()
            prices = {h.code: h.price for h in balance.holdings if h.qty > 0}
            found = due(schedules, now, self.calendar, free=free_cash(balance, prices, self.cash_buffer),
                        cash=balance.cash_d2, offered=self.store.offered(), watches=watches,
                        rebase=self._kisbot_traded())
            offered_ids = {o.schedule.id for o in found.offers}
            for ident, watch in found.watches.items():
                if ident not in offered_ids and watches.get(ident) != watch:
                    self.store.keep_watch(ident, watch)
            sent = []
            for offer in found.offers:
                if not self.store.claim(offer.key, now):
                    continue  # another process offered this event
                try:
                    made = self._offer(offer, hours[1])
                except Exception:  # a bug: said in the log, tried again at most MAX_TRIES times, never a flood
                    log.exception("scheduled offer %s failed", offer.key)
                    self._tries[offer.key] = self._tries.get(offer.key, 0) + 1
                    made = self._tries[offer.key] >= MAX_TRIES
                if not made:
                    self.store.release(offer.key)
                    continue
                if offer.schedule.kind is Kind.CASH and offer.schedule.id in found.watches:
                    self.store.keep_watch(offer.schedule.id, found.watches[offer.schedule.id])
                sent.append(offer.key)
            return sent

    def _kisbot_traded(self) -> bool:
        """True once after each kisbot run ended: the cash it moved is no arrival."""
        receipts = self.service.receipts
        try:
            last = receipts.last() if receipts is not None else None
        except Exception:
            log.exception("reading the last receipt failed")
            return False
        if last is None or self.store.mark("last_run") == last.run_id:
            return False
        self.store.set_mark("last_run", last.run_id)
        return True

    def _expire(self, now: datetime) -> None:
        for key, chat, plan_id in self.store.ended_offers(now):
            if self.service.drop_offer(plan_id, chat):
                with self._speaking(chat):
                    self._send(chat, Reply(t("schedule.expired", plan=plan_id), silent=True))

    def _head(self, offer: Offer) -> str:
        s = offer.schedule
        if s.kind is Kind.DCA:
            return t("schedule.offer_dca", id=s.id, day=s.day, amount=s.amount)
        if s.kind is Kind.CASH:
            return t("schedule.offer_cash", id=s.id, amount=s.amount, free=offer.amount)
        return t(f"schedule.offer_{s.kind.value}", id=s.id)

    def _offer(self, offer: Offer, until: datetime) -> bool:
        """Offer in every chat (or start it under the allowance); False when no plan could be made (KIS did not
        answer): the event stays owed for the next check, at most MAX_TRIES times, then the reason is said."""
        first = self.chats[0]
        before = self.service.last_plan(first)
        with self._speaking(first):
            replies = self.service.plan(list(offer.words), chat=first)
        if self.service.last_plan(first) == before:  # no plan was made: a refusal or KIS trouble
            self._tries[offer.key] = self._tries.get(offer.key, 0) + 1
            if self._tries[offer.key] < MAX_TRIES:
                log.warning("scheduled offer %s: no plan made (%s); trying at the next check", offer.key,
                            replies[0].plain[:200] if replies else "")
                return False
        note = ""
        if offer.buy_only and self.store.allowance() is not None:
            done, note = self._auto(offer, replies)
            if done:
                return True
        for chat in self.chats:
            with self._speaking(chat):
                if chat != first:
                    replies = self.service.plan(list(offer.words), chat=chat)
                head = self._head(offer) + (" " + t(note) if note else "")
                self._deliver(chat, [Reply(head)] + replies)
            plan = self.service.offered_plan(chat)
            if plan is not None:
                self.store.keep_open_offer(offer.key, chat, plan.id, until)
        return True

    def _deliver(self, chat: int, replies: list[Reply]) -> None:
        for reply in replies:
            self._send(chat, reply)
            if reply.offers:  # delivered: a typed /confirm in this chat now means this plan
                self.service.shown(reply.offers, chat)

    def _auto(self, offer: Offer, replies: list[Reply]) -> tuple[bool, str]:
        """Start the plan `replies` offer in the first chat without a tap if it fits the allowance and sells
        nothing: (True, "") when it started or there was nothing to start; else (False, why it waits for a tap)."""
        first = self.chats[0]
        plan = self.service.offered_plan(first)
        if plan is None or not any(r.offers == plan.id for r in replies):  # nothing to buy, or no plan made
            with self._speaking(first):
                self._deliver(first, [Reply(self._head(offer))] + replies)
            return True, ""
        if plan.sells:  # never a sell without a tap
            return False, "schedule.not_auto_sells"
        cost = plan.buy_value + plan.est_costs
        left = self.store.reserve(offer.key, cost, self.clock.now())  # recorded before the run starts
        if left is None:
            return False, "schedule.not_auto_cap"
        with self.hold():
            started = self.service.confirm((), plan.id, chat=first)
            run_id = next((b.data.partition(":")[2] for r in started for b in r.buttons
                           if b.data.startswith("stop:")), None)
            if run_id is None:  # it did not start: the spend is given back, the answer says why
                self.store.unreserve(offer.key)
                with self._speaking(first):
                    self._deliver(first, [Reply(self._head(offer))] + started)
                return True, ""
            shown = [r for r in replies if not r.offers]  # the plan's table; its Confirm caption is not for this
            cap = self.store.allowance() or 0
            for chat in self.chats:
                with self._speaking(chat):
                    announce = Reply(t("schedule.auto_started", run=run_id, plan=plan.id, cost=cost, left=left,
                                       cap=cap), buttons=(Button(t("schedule.cancel_button"), f"stop:{run_id}"),))
                    self._deliver(chat, [Reply(self._head(offer))] + shown + [announce])
        return True, ""

    def _speaking(self, chat: int) -> Any:
        """The chat's language for the block; the current one when the front end keeps none per chat."""
        lang = self.lang_for(chat)
        return using(lang) if lang is not None else contextlib.nullcontext()

    # --- the thread ----------------------------------------------------------------------------------

    def start(self) -> "ScheduleDesk":
        self._ticks.start()
        return self

    def stop(self) -> None:
        self._ticks.stop()

    def _check(self) -> None:
        self.tick()  # what it offered is for the tests; the thread waits CHECK_EVERY
