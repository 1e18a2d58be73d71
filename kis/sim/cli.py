"""`kisbot sim`: the paper exchange in the foreground on 127.0.0.1, until Ctrl-C."""
from __future__ import annotations

import argparse
import errno
import signal
import sys
import threading

from kis.config import SIM_ACCOUNT, SIM_APP_KEY, SIM_APP_SECRET, SIM_HTS_ID, Source, parse_rate_limit
from kis.errors import ConfigError
from kis.models import Account
from kis.sim.server import CANCEL_CONFIRM_DELAY, DEFAULT_PORT, LISTING_LAG, TRADED_SECONDS, SimServer


def _mask(secret: str) -> str:
    return f"{secret[:4]}…{secret[-4:]}" if len(secret) > 12 else "…"


def _banner(out, url: str, app_key: str, app_secret: str, account: str, rate: float, state: str | None,
            always_open: bool, ws_url: str = "", hts_id: str = "", book: str = "off") -> None:
    own_key = app_key != SIM_APP_KEY
    print(f"kisbot paper exchange (KIS mock protocol) listening on {url}", file=out)
    print(f"  app key    {_mask(app_key) + ' (KIS_APP_KEY of your configuration)' if own_key else app_key}", file=out)
    print(f"  app secret {_mask(app_secret) + ' (KIS_APP_SECRET)' if own_key else app_secret}", file=out)
    print(f"  account    {account}", file=out)
    print(f"  limit      {rate:g} calls/s per account", file=out)
    print(f"  state      {state or 'in memory (use --state FILE to keep the account across restarts)'}", file=out)
    if always_open:
        print("  hours      always open: orders are accepted at any hour (--always-open)", file=out)
    else:
        print("  hours      KRX sessions only (09:00-15:30 KST on trading days), as KIS mock; "
              "--always-open to trade at any hour", file=out)
    print(f"  rules      buys without a price reserve at the upper limit; new orders show in today's orders "
          f"~{LISTING_LAG:g} s late and cancels confirmed {CANCEL_CONFIRM_DELAY:g} s after they are taken: both late, as on KIS",
          file=out)
    if ws_url:
        print(f"  notices    {ws_url} (H0STCNI9, HTS ID {hts_id}; H0STCNT0 prices, H0STASP0 books)", file=out)
    print("Point kisbot at it from another terminal:", file=out)
    print(f"  export KIS_ENV=sim KIS_BASE_URL={url}" + (f" KIS_HTS_ID={hts_id}" if ws_url else ""), file=out)
    print("  kisbot price 005930 && kisbot balance", file=out)
    if book == "off":
        print("Order book: none: orders fill at the walk's price at once (--no-book)", file=out)
    else:
        what = {"listed": "each stock as the stock list marks it (liquid or thin)",
                "liquid": "every stock liquid", "thin": "every stock thin"}[book]
        print(f"Order book: ten levels a side, {what}: orders pay the spread, walk the depth, queue and "
              f"fill in parts (--market liquid|thin)", file=out)
    print("Ctrl-C stops it.", file=out, flush=True)


def _stop_on_signals() -> None:
    """Ctrl-C and `kill` both stop the sim cleanly (state saved); a shell's `&` ignores SIGINT otherwise."""
    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupt)


def main(args: argparse.Namespace, *, out=None) -> int:
    out = out or sys.stdout
    source = Source()
    app_key = source.get("KIS_APP_KEY") or SIM_APP_KEY
    app_secret = source.get("KIS_APP_SECRET") or SIM_APP_SECRET
    account = source.get("KIS_ACCOUNT") or SIM_ACCOUNT
    try:
        Account.parse(account)
    except ValueError as exc:
        raise ConfigError(f"KIS_ACCOUNT: {exc}") from None
    rate = getattr(args, "rate_limit", None) or parse_rate_limit(source.get("KIS_RATE_LIMIT"), 1.0)
    if rate <= 0:
        raise ConfigError("--rate-limit must be a positive number of calls per second")
    port = DEFAULT_PORT if getattr(args, "port", None) is None else args.port
    state = getattr(args, "state", None)
    always_open = bool(getattr(args, "always_open", False))
    book = "off" if getattr(args, "no_book", False) else (getattr(args, "market", None) or "listed")
    try:
        server = SimServer(port, rate_limit=rate, state_path=state, app_key=app_key, app_secret=app_secret,
                           account=account, synthetic=getattr(args, "synthetic", 0) or 0,
                           traded_seconds=TRADED_SECONDS, always_open=always_open,
                           hts_id=source.get("KIS_HTS_ID") or SIM_HTS_ID, book=book)
        server.bind()
        server.start_notices()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(f"kisbot sim: port {port} is in use (another kisbot sim?); stop it or pick another with --port",
                  file=sys.stderr)
            return 1
        raise
    except ValueError as exc:  # a state file of another account, or not a state file at all
        print(f"kisbot sim: {exc}; use another --state file or delete this one", file=sys.stderr)
        return 1
    _stop_on_signals()  # before the banner: whoever reads it may press Ctrl-C at once
    try:
        _banner(out, server.url, app_key, app_secret, account, rate, state, always_open, server.ws_url,
                server.hts_id, book)
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()
        print("\nkisbot sim: stopped" + (f"; account kept in {state}" if state else ""), file=out)
    return 0
