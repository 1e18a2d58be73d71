"""Reading the exchange for one run: polls of today's orders and KIS's notices, applied to the journal.

What KIS shows is turned into journal updates by the pure functions of `rebalance.reconcile` (`reconcile`
for a poll, `observe` for one notice); this unit only reads, applies, and tells the user what changed.
"""
from __future__ import annotations

import logging

from kis import NoticeKind, same_order_no
from kis.models import OrderSide, OrderStatus
from rebalance.events import Filled, NeedsCheck, OrderSent
from rebalance.journal import OrderRecord
from rebalance.lifecycle import OrderState
from rebalance.notices import fill_status, notice_order, order_key, unsettled_match
from rebalance.reconcile import Ambiguous, Found, NewFill, RuledOut, observe, reconcile
from rebalance.twap.legs import Leg
from rebalance.twap.run import READ_ERRORS, Run
from rebalance.twap.status import run_status

log = logging.getLogger(__name__)


class Reconciler:
    """Polls today's orders and takes notices into the journal, with their events; it never sends an order."""

    def __init__(self, run: Run, rate: float):
        self.run = run
        self.notes = run.notes
        self.poll_cost = 1 / rate  # seconds the last fill poll took (first guess: one page)

    # what a poll would learn --------------------------------------------------------------------------
    def unsettled(self) -> bool:
        """Some order of the run may still fill or show up: a poll has something to learn."""
        return any(not o.state.done for o in self.run.todays_orders()) \
            or (self.notes is not None and bool(self.notes.unconfirmed))  # notice fills a poll must confirm

    def poll_could_forbid(self) -> bool:
        """Some order may be working unseen (unanswered, ambiguous or ruled out): notices alone must not decide."""
        # A poll could show more shares committed than the journal does.
        return any(o.state.may_show_up for o in self.run.todays_orders())

    def unnoticed_unsettled(self) -> bool:
        """Some order of today may still change in a market whose notices the stream does not carry now (KIS
        refused the US notices, say): only a poll at full pace learns of it."""
        notes = self.notes
        return notes is not None and any(not o.state.done and not notes.serves(self.run.leg_of(o).notices)
                                         for o in self.run.todays_orders())

    def cancels_unconfirmed(self) -> bool:
        """A cancel KIS took whose order today's orders do not show closed yet: polls keep their full pace."""
        # Its rest is placed again only after a poll shows it closed.
        return any(o.state is OrderState.OPEN and o.cancel_sent for o in self.run.orders())

    def _confirming(self, leg: Leg) -> list[str] | None:
        """The numbers of `leg`'s orders a poll only has to confirm (newest first), or None when it must read
        every order."""
        # While notices are trusted and no order can be working unseen, a poll only confirms the run's open
        # and notice-filled orders, so reading stops once all were seen.
        notes = self.notes
        if notes is None or not notes.serves(leg.notices) or not notes.trusted(self.run.clock.now()) \
                or self.poll_could_forbid():
            return None
        return [o.order_no for o in self.run.todays_orders() if self.run.leg_of(o) is leg and o.order_no
                and (o.state is OrderState.OPEN or order_key(o.order_no, leg.notices) in notes.unconfirmed)] \
            or None

    # polls ---------------------------------------------------------------------------------------------
    def poll(self) -> list[OrderStatus] | None:
        """Today's orders of each market the run has orders in -> reconciliation -> journal and events.

        None when a read failed (the markets read are still applied)."""
        run = self.run
        began = run.clock.now()
        read: list[tuple[Leg, list[OrderStatus] | None]] = []
        for leg in self._legs_to_poll():
            try:
                wanted = self._confirming(leg)
                statuses = leg.orders_today(wanted)
            except READ_ERRORS as exc:
                log.warning("fill poll of %s failed (%s); next poll will retry", leg.key, type(exc).__name__)
                statuses = None
            read.append((leg, statuses))
        self.poll_cost = (run.clock.now() - began).total_seconds()
        if self.notes is not None:
            self.take_notices()  # notices that came during the read are no mismatch
            for leg, statuses in read:
                if not self.notes.serves(leg.notices) or statuses is None:
                    continue
                self.notes.polled(run.clock.now())
                ours = {same_order_no(o.order_no) for o in run.todays_orders() if o.order_no and run.leg_of(o) is leg}
                for seen in statuses:
                    if same_order_no(seen.order_no) in ours and not (seen.orig_order_no.strip("0") and seen.cancelled):
                        self.notes.poll_saw(seen.order_no, seen.filled_qty, leg.notices)
        for leg, statuses in read:
            self.apply_observations(statuses, leg)
        if any(statuses is None for _, statuses in read):
            return None
        return [status for _, statuses in read for status in statuses or ()]

    def _legs_to_poll(self) -> list[Leg]:
        """The markets whose orders of today a poll can still learn about (each one inquiry); else those with
        orders today; else all the run's. A market whose orders are all final is not read again."""
        run = self.run
        today = run.todays_orders()
        live = {run.leg_of(o).key for o in today if not o.state.done or o.state.may_show_up}
        if self.notes is not None and self.notes.unconfirmed:  # notice fills only a poll of their market confirms
            live |= {leg.key for leg in run.legs if self.notes.unconfirmed_in(leg.notices)}
        busy = {run.leg_of(o).key for o in today}
        return [leg for leg in run.legs if leg.key in live] or [leg for leg in run.legs if leg.key in busy] \
            or list(run.legs)

    def apply_observations(self, statuses: list[OrderStatus] | None, leg: Leg | None = None) -> None:
        """Reconcile the run's orders of one market (`leg`; the first of the run's when None) against that
        market's orders of today (None: the inquiry failed) and tell the user what changed."""
        run = self.run
        leg = leg or run.legs[0]
        orders = [o for o in run.orders() if run.leg_of(o) is leg]
        now = run.clock.now()
        result = reconcile(orders, statuses, now=now, settle_seconds=run.settings.settle_seconds,
                           known_order_nos=run.known_today(leg), tz=leg.tz)
        by_id = {o.id: o for o in orders}
        findings: dict[int, list] = {}
        for finding in result.findings:
            findings.setdefault(finding.order_id, []).append(finding)
        for update in result.updates:  # each order's news right after its update: progress adds up in order
            run.journal.apply(update, now)
            for finding in findings.pop(update.order_id, ()):
                self._tell(by_id[finding.order_id], finding)

    def _tell(self, order: OrderRecord, finding) -> None:
        run = self.run
        if isinstance(finding, Found):
            log.warning("order %s for %s (%s) is listed by KIS as %s; counted", order.id, order.code,
                        finding.was.value, finding.order_no)
            run.emit(OrderSent(run.id, order.code, order.side, order.qty, finding.order_no))
        elif isinstance(finding, NewFill):
            self._emit_fill(order, finding.qty, finding.amount)
        elif isinstance(finding, RuledOut):
            log.info("order %s for %s never reached KIS; its shares are owed again", order.id, order.code)
        elif isinstance(finding, Ambiguous):
            run.emit(NeedsCheck(run.id, run.unresolved(order, finding.candidates)))

    def _emit_fill(self, order: OrderRecord, qty: int, amount: int) -> None:
        run = self.run
        status = run_status(run.journal, run.id, run.clock.now())
        stock = next(s for s in status.stocks if s.code == order.code)
        run.emit(Filled(run.id, order.code, stock.name, order.side, qty, round(amount / qty),
                        stock.done_qty, stock.order_qty, status.progress, run.leg_of(order).currency.code))

    # notices -------------------------------------------------------------------------------------------
    def take_notices(self) -> None:
        """Apply the notices that arrived, each as one observation of one order (reconcile.observe)."""
        notes = self.notes
        if notes is None:
            return
        for notice in notes.take():
            if notice.kind is NoticeKind.FILLED:
                self._notice_fill(notice)
            elif notice.kind is NoticeKind.ACCEPTED:
                self._notice_acceptance(notice)
            else:  # a refusal frees nothing: the next poll (at full pace now) says what happened
                notes.distrust(f"KIS refused order {notice.order_no}")
        for leg in self.run.legs:
            if not notes.parked:
                return
            known = [o.order_no for o in self.run.orders() if o.order_no and o.state is OrderState.OPEN
                     and self.run.leg_of(o) is leg]
            for notice in notes.unparked(known, leg.notices):
                self._notice_fill(notice)

    def _today_order(self, notice) -> OrderRecord | None:
        """The run's order of today this notice is about: the same number in the notice's market (KRX and US
        number apart, so a US notice never touches a KRX order of its number, nor the reverse)."""
        run = self.run
        return notice_order(notice, [o for o in run.todays_orders() if run.leg_of(o).notices == notice.market])

    def _observed(self, order: OrderRecord, seen: OrderStatus) -> None:
        update, findings = observe(order, seen)
        self.run.journal.apply(update, self.run.clock.now())
        for finding in findings:
            self._tell(order, finding)

    def _notice_acceptance(self, notice) -> None:
        if self._today_order(notice) is not None:
            self.notes.accepted(notice.order_no, notice.market)
            return
        if notice.market != "KRX":
            return  # a US order without an answer is settled by polls of inquire-ccnl (New York day and clock)
        run = self.run
        krx = [o for o in run.orders() if run.leg_of(o).notices == "KRX"]
        found = unsettled_match(krx, notice, run.known_today(), run.today())
        if found is None:
            return  # another program's order, or one several of ours could be: polls settle those
        order, seen = found
        self.notes.stats.resolved += 1
        log.info("order %s for %s settled by its acceptance notice as %s", order.id, order.code, notice.order_no)
        self._observed(order, seen)

    def _notice_fill(self, notice) -> None:
        """A fill notice raises its order's fill (a US one in cents, `Notice.amount`), never its commitment."""
        order = self._today_order(notice)
        if order is None:
            self.notes.park(notice)
            return
        if order.state is not OrderState.OPEN:
            return  # closed already (a poll or notice counted it) or not ours to move
        if notice.side is OrderSide.SELL:
            self.notes.forget_cash()  # proceeds came in: the next buy asks KIS what it may spend
        seen = fill_status(order, *self.notes.add_fill(notice))
        if seen is not None:
            self.notes.stats.fills += 1
            self._observed(order, seen)
