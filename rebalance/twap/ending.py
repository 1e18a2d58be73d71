"""Ending one run: settle what is unknown, cancel what still rests, read the balance, journal and report."""
from __future__ import annotations

import logging
import math
import threading
from dataclasses import replace
from datetime import timedelta
from typing import Callable

from rebalance.events import Cancelled, Failed, Finished, StockResult, ToCheck
from rebalance.i18n import DEFAULT, Msg
from rebalance.lifecycle import OrderState, RunState
from rebalance.receipt import Receipt, build_receipt
from rebalance.shortfall import shortfalls
from rebalance.twap.reconciling import Reconciler
from rebalance.twap.run import READ_ERRORS, Run

log = logging.getLogger(__name__)

END_BALANCE_TRIES = 3
CANCEL_PASSES = 3  # rounds of cancelling what still rests when a run ends
CONFIRM_GAP = 1.0  # seconds between two looks at today's orders while a cancel KIS took is unconfirmed


class Ending:
    """Ends a run as finished, cancelled or failed; sends no order, only cancels, and tells the user once."""

    def __init__(self, run: Run, reading: Reconciler):
        self.run = run
        self.reading = reading

    def finish(self, *, cancelled: bool) -> None:
        """End the run: settle unknowns, cancel what still rests, read the balance, report."""
        run = self.run
        if self.reading.unsettled():  # when every order is final and confirmed by a poll, one more tells nothing
            self.reading.poll()
        if not cancelled:
            self._settle_after_window()
        today = run.clock.now()
        rested: dict[str, int] = {}  # what rests when the end's cancels go out: unfilled at its limit
        for o in run.todays_orders(today):
            if o.resting:
                rested[o.code] = rested.get(o.code, 0) + o.open_qty
        withdrawn = self.cancel_resting()
        for _ in range(CANCEL_PASSES - 1):
            if not withdrawn and not any(o.resting for o in run.orders()):
                break  # nothing was cancelled and nothing rests: no cancel to confirm
            self.confirm_cancels()
            # A cancel that got no answer or failed leaves its order working: try again. A cancel KIS
            # took is never sent again, confirmed or not (`cancel_resting` skips it).
            if not any(o.resting for o in run.orders()):
                break
            withdrawn += self.cancel_resting()
        if any(o.resting for o in run.todays_orders(today)):
            self.confirm_cancels()  # did the last cancels take? What still rests is the user's to cancel
        results, cash_after = self._results()
        orders = run.todays_orders(today)
        unresolved = tuple(run.unresolved(o, 2 if o.state is OrderState.AMBIGUOUS else 0)
                           for o in orders if o.state.unsettled)
        unresolved += tuple(replace(run.unresolved(o), open_qty=o.open_qty, order_no=o.order_no)
                            for o in orders if o.resting and o.remaining is not None)
        state = RunState.CANCELLED if cancelled else RunState.FINISHED
        run.journal.end_run(run.id, state, run.clock.now(),
                            f"{len(unresolved)} order(s) unresolved" if unresolved else "")
        short = shortfalls(run.stocks(), run.orders(), rested, cancelled=cancelled,
                           settle_seconds=run.settings.settle_seconds)
        receipt = self._receipt(state, cash_after)
        if receipt is not None:
            receipt = replace(receipt, shortfalls=short)  # /status names them after the run too
        for s in short:
            log.info("run %s: %s ended %d share(s) short: %s", run.id, s.code, s.short,
                     ", ".join(f"{qty} {reason.value}" for reason, qty in s.parts))
        if cancelled:
            run.emit(Cancelled(run.id, withdrawn, results, unresolved, receipt, short))
        else:
            run.emit(Finished(run.id, results, unresolved, receipt, short))

    def fail(self, reason: Msg) -> None:
        """End the run as failed: cancel what KIS lists as resting, name what the user must check, report."""
        run = self.run
        try:
            # An order the error cut off mid-send may be working at KIS: find it, so it is cancelled too.
            self.reading.poll()
            self.cancel_resting()
        except Exception:  # best effort: the reason below matters more
            log.exception("cancelling resting orders after a failure")
        try:
            unknown = [run.unresolved(o) for o in run.todays_orders() if o.state.unsettled]
            if unknown:  # a failed run is never resumed: these are the user's to check
                reason = Msg("run_failure.also", reason=reason, checks=ToCheck(tuple(unknown)))
        except Exception:
            log.exception("listing the unresolved orders of %s", run.id)
        try:
            run.journal.end_run(run.id, RunState.FAILED, run.clock.now(), reason.render(DEFAULT))
        except Exception:
            log.exception("journaling the failure of %s", run.id)
        run.emit(Failed(run.id, reason))

    def cancel_resting(self, leg: str | None = None) -> int:
        """Cancel each of today's resting orders (of the market `leg`, else all) whose cancel KIS has not taken
        yet; how many it took now."""
        run = self.run
        withdrawn = 0
        for order in run.todays_orders():  # another day's order expired at that close
            if not order.resting or (leg is not None and run.leg_of(order).key != leg):
                continue
            if order.cancel_sent:  # KIS took its cancel and confirms it later: wait for that, never re-send
                continue
            try:
                run.leg_of(order).cancel(order.order_no, order.org_no, order.code)
            except READ_ERRORS as exc:  # e.g. filled meanwhile: nothing left to cancel
                log.warning("cancel of order %s failed: %s", order.order_no, exc)
                continue
            run.journal.cancel_accepted(order.id, owe_rest=False)
            withdrawn += 1
        return withdrawn

    def confirm_cancels(self) -> None:
        """Poll today's orders until every cancel KIS took shows confirmed, at most the settle horizon."""
        # KIS confirms a cancel after it takes it; what is still open then is named in the summary.
        run = self.run
        gap = max(0.1, min(CONFIRM_GAP, run.record.poll_seconds))
        deadline = run.clock.now() + timedelta(seconds=run.settings.settle_seconds)
        self.reading.poll()
        for _ in range(math.ceil(run.settings.settle_seconds / gap)):  # bounded even if the clock stands still
            if not self.reading.cancels_unconfirmed() or run.clock.now() >= deadline:
                break
            run.clock.wait(gap, threading.Event())  # not the run's cancel event: it may be set
            self.reading.poll()

    def _settle_after_window(self) -> None:
        """Poll (no new orders) until KIS lists every unanswered or unlisted order, or the horizon passes."""
        # So the results and the cancels rest on what KIS lists. The horizon runs from the later of the
        # window's end and now: a run restarted after its window still looks.
        run = self.run
        deadline = max(run.record.window.end, run.clock.now()) + timedelta(seconds=run.settings.settle_seconds)
        today = run.clock.now()
        while any(o.state.unsettled or (o.state is OrderState.OPEN and o.remaining is None)
                  for o in run.todays_orders(today)):
            now = run.clock.now()
            if now >= deadline:
                return
            if run.clock.wait(min(run.record.poll_seconds, (deadline - now).total_seconds()), run.cancel):
                return
            self.reading.poll()

    def _receipt(self, state: RunState, cash_after: int | None) -> Receipt | None:
        """Plan vs fills for the completion summary; a receipt that cannot be built is left out."""
        run = self.run
        try:
            return build_receipt(run.id, run.record.plan, run.orders(), cash_after, state)
        except Exception:
            log.exception("building the receipt of %s", run.id)
            return None

    def _results(self) -> tuple[tuple[StockResult, ...], int | None]:
        """Target vs actual holding per stock, and cash (D+2), from the balance read at the end of the run."""
        run = self.run
        held: dict[str, Callable[[str], int]] = {}
        cash_d2: int | None = None  # KRX's D+2 cash; None when the run traded no KRX stock
        for leg in run.legs:  # each market's holdings: the KRX balance (and its D+2 cash), the US balance
            last: Exception | None = None
            for attempt in range(END_BALANCE_TRIES):
                try:
                    qty, cash = leg.holdings()
                    break
                except READ_ERRORS as exc:
                    last = exc
                    run.clock.wait(min(5.0, run.record.poll_seconds), threading.Event())
            else:
                raise RuntimeError(f"the balance could not be read at the end ({last}); check /balance") from last
            held[leg.key] = qty
            if cash is not None:
                cash_d2 = cash

        def actual(line) -> int:
            qty = held.get(run.leg(line.code).key)
            return line.current_qty if qty is None else qty(line.code)

        return (tuple(StockResult(line.code, line.name, line.current_qty, line.target_qty, actual(line))
                      for line in run.record.plan.lines), cash_d2)
