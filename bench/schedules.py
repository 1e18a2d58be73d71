"""Three months of schedules on an injected clock, checked every 5 minutes as the bot does: deposits on the
25th with a `cash 30만` schedule and no allowance (one offer per deposit, no order), then three 40만 dca
schedules with deposits on the 5th, 15th and 25th under a 100만/month allowance with restarts on the 10th and
20th (spend per calendar month against the cap).

    PYTHONPATH=. /work/venv/bin/python bench/schedules.py
"""
from __future__ import annotations

import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "bot"))

from kis.krx import xkrx  # noqa: E402
from schedule_harness import kst, simulate  # noqa: E402

START, END = kst("2026-10-01 08:00"), kst("2027-01-01 00:00")
STEP = timedelta(minutes=5)
CAP = 1_000_000


def main() -> int:
    xkrx()  # the calendar is built once per process; not part of the figures
    ticks = int((END - START) / STEP)
    with tempfile.TemporaryDirectory() as data_dir:
        began = time.perf_counter()
        off = simulate(Path(data_dir), start=START, end=END, schedules=[["cash", "30만"]], deposits={25: 500_000},
                       step=STEP)
        seconds = time.perf_counter() - began
    print(f"allowance off: {ticks:,} checks over {START:%Y-%m-%d} – {END:%Y-%m-%d} in {seconds:.2f} s")
    print(f"  deposits 3, offers {len(off.offers)} on {', '.join(f'{s.at:%a %m-%d %H:%M}' for s in off.offers)}")
    print(f"  orders without a tap {off.orders}, offers expired at the close {off.expired}")
    with tempfile.TemporaryDirectory() as data_dir:
        began = time.perf_counter()
        on = simulate(Path(data_dir), start=START, end=END, allowance="100만/month",
                      schedules=[["dca", "5", "40만"], ["dca", "15", "40만"], ["dca", "25", "40만"]],
                      deposits={5: 450_000, 15: 450_000, 25: 450_000}, step=STEP, restart_days=(10, 20))
        seconds = time.perf_counter() - began
    print(f"allowance {CAP:,}/month, restarts on the 10th and 20th: {ticks:,} checks in {seconds:.2f} s")
    print(f"  runs started without a tap {len(on.autos)} ({on.orders} orders), offers waiting for a tap "
          f"{len(on.offers)}")
    for month, won in sorted(on.spend.items()):
        print(f"  {month}: spent {won:>9,} of {CAP:,} ({100 * won / CAP:.1f} %), recorded {on.recorded.get(month, 0):,}")
    over = [m for m, won in on.spend.items() if won > CAP]
    print("  months over the cap: " + (", ".join(over) if over else "none"))
    return 1 if over or off.orders or len(off.offers) != 3 else 0


if __name__ == "__main__":
    sys.exit(main())
