"""TWAP execution of a confirmed plan in a worker thread, journaled so nothing is lost or sent twice.

One unit per job, each readable on its own:

- `executor`: `TwapExecutor`, the facade the bot uses (start, cancel, status, resume, wait);
- `scheduling`: `Worker`, one run's thread: a `schedule` scheduler on the injected clock fires slices,
  fill polls, the catch-up pass and the end, and sleeps in between on the cancel/notice alarm;
- `placing`: `Placer`, sending and re-pricing orders, the guard price, and the never-past-target rule
  (`missing`, asserted right before each order is sent);
- `reconciling`: `Reconciler`, today's orders and KIS's notices applied to the journal through the pure
  functions of `rebalance.reconcile`;
- `cash`: `Cash`, what a buy may spend without 미수;
- `legs`: one object per market a run trades (`KrxLeg`, `UsLeg`): its quotes and guard price, buying power,
  orders, cancels, today's orders, day and window; `leg_windows` and `slice_legs` give each market its window;
- `ending`: `Ending`, settling, cancelling what rests, the balance and the summary;
- `run`: `Run`, what those parts share; `status`: `RunStatus`, where a run stands.
"""
from rebalance.journal import RunActive
from rebalance.twap.cash import cash_without_credit, shares_without_credit
from rebalance.twap.executor import TwapExecutor
from rebalance.twap.placing import PastTarget, beyond_guard, guard_price
from rebalance.twap.status import RunStatus, StockProgress, run_status

__all__ = [
    "PastTarget", "RunActive", "RunStatus", "StockProgress", "TwapExecutor", "beyond_guard", "cash_without_credit",
    "guard_price", "run_status", "shares_without_credit",
]
