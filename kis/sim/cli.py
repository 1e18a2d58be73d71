"""`kisbot sim`: the paper exchange in the foreground on 127.0.0.1, until Ctrl-C."""
from __future__ import annotations

import argparse
import errno
import signal
import sys
import threading
from decimal import Decimal, InvalidOperation

from kis.config import SIM_ACCOUNT, SIM_APP_KEY, SIM_APP_SECRET, SIM_HTS_ID, Source, parse_rate_limit
from kis.errors import ConfigError
from kis.models import Account
from kis.sim.desks import SimAccountSpec
from kis.sim.server import CANCEL_CONFIRM_DELAY, DEFAULT_PORT, LISTING_LAG, TRADED_SECONDS, SimServer


def _mask(secret: str) -> str:
    return f"{secret[:4]}…{secret[-4:]}" if len(secret) > 12 else "…"


def _banner(out, url: str, app_key: str, app_secret: str, account: str, rate: float, state: str | None,
            always_open: bool, ws_url: str = "", hts_id: str = "", book: str = "listed") -> None:
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


def sim_accounts(source: Source, flag: str | None = None) -> tuple[SimAccountSpec, ...]:
    """The accounts a sim of several serves: `--accounts` (labels, each optionally `=NUMBER`) or KIS_ACCOUNTS
    with each label's KIS_<LABEL>_ACCOUNT / _APP_KEY / _APP_SECRET, as the bot reads them (no keys set: the
    sim's own pair per label); () when neither names accounts: the one-account sim. ConfigError otherwise."""

    from kis.config import _load_account, account_labels
    from kis.models import Env

    text = (flag or "").strip() or source.get("KIS_ACCOUNTS")
    if not text:
        return ()
    overlay, labels = {}, []
    for part in text.split(","):
        label, _, number = part.partition("=")
        if label.strip():
            labels.append(label.strip())
            if number.strip():
                overlay[f"KIS_{label.strip().upper()}_ACCOUNT"] = number.strip()
    overlay["KIS_ACCOUNTS"] = ",".join(labels)
    merged = Source(environ={**dict(source.environ), **overlay},
                    use_keyring=False)
    merged.dotenv = source.dotenv
    accounts = [_load_account(merged, Env.SIM, label) for label in account_labels(merged)]
    numbers = [str(a.number) for a in accounts]
    keys = [a.credentials.app_key for a in accounts]
    if len(set(numbers)) < len(numbers) or len(set(keys)) < len(keys):
        raise ConfigError("two accounts share a number or an app key: KIS issues a key pair per account, so "
                          "give each its own KIS_<LABEL>_ACCOUNT and KIS_<LABEL>_APP_KEY")
    return tuple(SimAccountSpec(str(a.number), a.credentials.app_key, a.credentials.app_secret, label=a.label)
                 for a in accounts)


def _accounts_banner(out, specs: tuple[SimAccountSpec, ...]) -> None:
    from kis.accounts import kind_of

    print(f"  accounts   {len(specs)} on this one exchange, each with its own keys, cash, orders and call limit "
          "(the first starts with the seed's holdings, the others with its cash only):", file=out)
    for spec in specs:
        number = Account.parse(spec.number)
        key = spec.app_key if spec.app_key.startswith("PSsim") else _mask(spec.app_key)
        print(f"             {spec.label:<10} {number}  {kind_of(number).value:<8} app key {key}", file=out)


def _stop_on_signals() -> None:
    """Ctrl-C and `kill` both stop the sim cleanly (state saved); a shell's `&` ignores SIGINT otherwise."""
    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupt)


def pay_in(args: argparse.Namespace, *, out=None) -> int:
    """`kisbot sim --deposit AMOUNT` / `--dividend CODE:WON`: ask the sim running on --port to pay it in."""
    import json
    import urllib.error
    import urllib.request

    from kis.sim.server import ADMIN_DEPOSIT, ADMIN_DIVIDEND

    out = out or sys.stdout
    port = DEFAULT_PORT if getattr(args, "port", None) is None else args.port
    if args.deposit is not None:
        path, body = ADMIN_DEPOSIT, {"amount": args.deposit}
    else:
        path, body = ADMIN_DIVIDEND, {"code": args.dividend[0], "per_share": args.dividend[1]}
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        print(f"kisbot sim: the sim refused it: {exc.read().decode(errors='replace')[:200]}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"kisbot sim: no sim answers on port {port} ({getattr(exc, 'reason', exc)}); start one with "
              "kisbot sim", file=sys.stderr)
        return 1
    if args.deposit is not None:
        print(f"kisbot sim: deposited {answer['amount']:,} won; cash {answer['cash']:,} won", file=out)
    else:
        print(f"kisbot sim: paid {answer['paid']:,} won of dividend on {answer['code']}; cash {answer['cash']:,} won",
              file=out)
    return 0


def _usd_cash(text: str | None) -> str | None:
    """--usd-cash as a dollar amount with at most two places (None: the seed's); ConfigError otherwise."""
    if text is None:
        return None
    try:
        amount = Decimal(str(text).strip().replace(",", "").lstrip("$"))
    except InvalidOperation:
        amount = Decimal(-1)
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise ConfigError(f"--usd-cash '{text}' is not an amount of dollars such as 20000 or 1234.56")
    return str(amount)


def main(args: argparse.Namespace, *, out=None) -> int:
    if getattr(args, "deposit", None) is not None or getattr(args, "dividend", None) is not None:
        return pay_in(args, out=out)
    out = out or sys.stdout
    source = Source()
    app_key = source.get("KIS_APP_KEY") or SIM_APP_KEY
    app_secret = source.get("KIS_APP_SECRET") or SIM_APP_SECRET
    account = source.get("KIS_ACCOUNT") or SIM_ACCOUNT
    specs = sim_accounts(source, getattr(args, "accounts", None))
    if specs:
        account, app_key, app_secret = specs[0].number, specs[0].app_key, specs[0].app_secret
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
    usd_cash = _usd_cash(getattr(args, "usd_cash", None))
    book = "off" if getattr(args, "no_book", False) else (getattr(args, "market", None) or "listed")
    try:
        server = SimServer(port, rate_limit=rate, state_path=state, app_key=app_key, app_secret=app_secret,
                           account=account, synthetic=getattr(args, "synthetic", 0) or 0,
                           traded_seconds=TRADED_SECONDS, always_open=always_open,
                           hts_id=source.get("KIS_HTS_ID") or SIM_HTS_ID, usd_cash=usd_cash,
                           book=book, accounts=specs)
        server.set_after_market(bool(getattr(args, "after_market", False)))  # kis/sim/venues.py
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
        if len(specs) > 1:
            _accounts_banner(out, specs)
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()
        print("\nkisbot sim: stopped" + (f"; account kept in {state}" if state else ""), file=out)
    return 0
