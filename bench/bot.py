"""The bot's own cost: /price round trips through a fake Bot API and the simulator, and how many chat
messages a 500-fill run becomes.

(1) /price 005930 is queued at a loopback Bot API server (tests/bot/fake_bot_api.py); the real
    Telegram front end (python-telegram-bot polling, auth gate, handler, service, formatting) answers
    it with a real KisClient on the in-process simulator. Round trip = update queued -> sendMessage
    received. The time inside the KIS client is measured around `client.prices` and subtracted: the
    rest is the bot's overhead (target p50 < 20 ms).
(2) 500 one-share Filled events, as a one-share-per-slice run produces them, go through the notifier
    and the Telegram push path to the fake server, on a manual clock (fills 1 s apart, then a burst of
    500 within 10 s); the chat messages and edits the server received are counted.
(3) The same from a real TWAP run: 25 stocks x 20 one-share slices over a 10-minute window on the
    simulator, the executor on a fake clock that the notifier's batching also reads.

    .venv/bin/python bench/bot.py            # 300 round trips
    .venv/bin/python bench/bot.py --quick    # 60 round trips
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "bot"))

from bot.notifier import Notifier  # noqa: E402
from bot.service import open_service  # noqa: E402
from kis.config import Source  # noqa: E402
from kis.krx import KST  # noqa: E402
from kis.models import OrderSide  # noqa: E402
from kis.sim import SimServer  # noqa: E402
from kis.sim.clients import client_for  # noqa: E402
from rebalance.events import Filled, Finished, RunStarted, StockResult  # noqa: E402
from fake_bot_api import FakeBotApi  # noqa: E402
from tg_harness import OWNER, BotRunner  # noqa: E402

SIM_RATE = 1000.0  # calls per second: the sim must not pace the bench; KIS time is subtracted anyway
GAP = 0.05  # seconds between round trips, below Telegram's 30 messages/s so the rate limiter stays idle


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def price_round_trips(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, FakeBotApi() as api:
        sim = SimServer(0, rate_limit=SIM_RATE, always_open=True).start()
        try:
            client = client_for(sim, Path(tmp), rate_limit=SIM_RATE)
            kis_seconds: list[float] = []
            prices = client.prices

            def timed_prices(codes):
                start = time.perf_counter()
                try:
                    return prices(codes)
                finally:
                    kis_seconds.append(time.perf_counter() - start)

            client.prices = timed_prices
            source = Source(environ={"MARKET_CALENDAR": "always"}, dotenv_path=Path(tmp) / "none.env",
                            use_keyring=False)
            runner = BotRunner(api, lambda on_event: open_service(client, source=source, on_event=on_event))
            with runner:
                totals, overheads = [], []
                for i in range(count + 5):  # the first few warm up the token, pools and caches
                    before = len(api.calls_to("sendMessage"))
                    queued = time.monotonic()
                    api.send_text(OWNER, "/price 005930")
                    reply = api.wait_for(lambda a: a.calls_to("sendMessage")[before:])[0]
                    total = reply.at - queued
                    assert "005930" in reply.text, reply.text
                    if i >= 5:
                        totals.append(total)
                        overheads.append(total - kis_seconds[-1])
                    time.sleep(GAP)
        finally:
            sim.stop()
    kis_part = kis_seconds[5:]
    ms = lambda s: f"{s * 1000:6.1f} ms"  # noqa: E731
    print(f"/price round trip through the fake Bot API and the simulator, {count} runs")
    print(f"  total      p50 {ms(statistics.median(totals))}  p95 {ms(percentile(totals, 0.95))}")
    print(f"  KIS client p50 {ms(statistics.median(kis_part))}  p95 {ms(percentile(kis_part, 0.95))}")
    print(f"  bot itself p50 {ms(statistics.median(overheads))}  p95 {ms(percentile(overheads, 0.95))}"
          f"   (target p50 < 20 ms: {'met' if statistics.median(overheads) < 0.020 else 'NOT met'})")


class ManualClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def fills_to_messages(fills: int, spacing: float, label: str) -> None:
    with FakeBotApi() as api:
        clock = ManualClock()
        runner = BotRunner(api, _idle_service)
        with runner:
            # Driven here, synchronously, on the manual clock, with the batching a real bot uses;
            # it pushes through the runner's Telegram sink (the bot's event loop) like the real one.
            notifier = Notifier(runner.sink, clock=clock)
            start = datetime.now(KST)
            notifier.handle(RunStarted("bench", "plan", start, start, slices=fills))
            for n in range(1, fills + 1):
                notifier.handle(Filled("bench", "005930", "삼성전자", OrderSide.BUY, 1, 71_000, n, fills, n / fills))
                clock.t += spacing
                notifier.flush_due()
            notifier.handle(Finished("bench", (StockResult("005930", "삼성전자", 0, fills, fills),)))
            sent = api.calls_to("sendMessage", "sendPhoto")
            edits = api.calls_to("editMessageText")
    fill_messages = [c for c in sent if "Filled" in c.text]
    shares = sum(int(n.replace(",", "")) for c in fill_messages for n in re.findall(r"([\d,]+) sh @", c.text))
    print(f"{fills} one-share fills {label}: {len(sent)} chat messages "
          f"({len(fill_messages)} silent fill messages carrying {shares} shares, 1 progress, 1 summary) "
          f"and {len(edits)} edits of the progress message")


def run_of_one_share_fills(stocks: int = 25, shares: int = 20, window_minutes: int = 10) -> None:
    """A real TWAP run on the simulator whose every slice is one share, on a fake clock, pushed to chat.

    The notifier reads the executor's fake clock, so fills are batched as they would be in real time.
    """
    from datetime import timedelta

    from bot.settings import load_twap_settings
    from rebalance import Journal, Plan, PlanLine, TwapExecutor, Window
    from rebalance.testing import FakeClock

    start = datetime(2026, 11, 24, 10, 0, tzinfo=KST)
    with tempfile.TemporaryDirectory() as tmp, FakeBotApi() as api:
        fake = FakeClock(start)  # the executor's clock is the exchange's too, so orders get listed as time passes
        sim = SimServer(0, rate_limit=SIM_RATE, daily_page_rows=100, clock=fake.now, always_open=True).start()
        try:
            sim.exchange.add_cash(1_000_000_000)  # enough for every buy: this measures chat, not cash
            client = client_for(sim, Path(tmp), rate_limit=SIM_RATE)
            codes = sim.market.codes()[:stocks]
            quotes = client.prices(codes)
            lines = tuple(PlanLine(c, q.name, q.price, sim.exchange.holding_qty(c), sim.exchange.holding_qty(c) + shares,
                                   0.0, 0.0) for c, q in quotes.items())
            plan = Plan("bench500", lines, cash=0, total_value=0, investable=0, est_costs=0,
                        priced_at=start, expires_at=start + timedelta(minutes=5))
            source = Source(environ={"MARKET_CALENDAR": "always"}, dotenv_path=Path(tmp) / "none.env",
                            use_keyring=False)
            settings = load_twap_settings(source, max_slices=shares)
            with BotRunner(api, _idle_service) as runner:
                notifier = Notifier(runner.sink, clock=lambda: fake.now().timestamp()).start()
                executor = TwapExecutor(client, Journal.in_dir(tmp), settings, notifier.on_event, fake)
                began = time.monotonic()
                executor.start(plan, Window(start, start + timedelta(minutes=window_minutes)))
                assert executor.wait(300), "the run did not end"
                took = time.monotonic() - began
                notifier.drain(60)
                notifier.stop()
                sent = api.calls_to("sendMessage", "sendPhoto")
                edits = api.calls_to("editMessageText")
            orders = len(sim.exchange.order_log)
        finally:
            sim.stop()
    fill_messages = [c for c in sent if "Filled" in c.text]
    filled = sum(int(n.replace(",", "")) for c in fill_messages for n in re.findall(r"([\d,]+) sh @", c.text))
    summary = next((c.text for c in sent if "Run finished" in c.text), "")
    print(f"a real run on the sim: {stocks} stocks x {shares} one-share slices over {window_minutes} min "
          f"(fake clock, {took:.1f} s wall): {orders} orders, {filled} shares in {len(fill_messages)} "
          f"fill messages; {len(sent)} chat messages in all and {len(edits)} progress edits; "
          f"summary {'all on target' if 'all on target' in summary else 'NOT on target'}")


def _idle_service(on_event):
    """The push bench needs the Telegram loop, not KIS: a service that is never asked anything."""
    from bot_fakes import make_service

    return make_service()[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer round trips")
    parser.add_argument("--runs", type=int, default=None)
    args = parser.parse_args(argv)
    price_round_trips(args.runs or (60 if args.quick else 300))
    print()
    fills_to_messages(500, 1.0, "1 s apart (a 500-slice run over 8 min 20 s)")
    fills_to_messages(500, 0.02, "within 10 s (a burst)")
    run_of_one_share_fills()
    return 0


if __name__ == "__main__":
    sys.exit(main())
