"""`kisbot plan [FILE.xlsx] [options] [--chart out.png] [--json]`: the rebalance plan, priced now.

Without FILE it plans the saved model (the last file accepted by the bot or this command).
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from bot import progress
from bot.cli_common import fail, failure_sentence
from kis import open_client
from kis.accounts import AccountKind
from kis.config import Source
from kis.files import private_dir
from kis.errors import KisError, KisTransportError
from rebalance.deposit import deposit_note
from rebalance.render import money_text
from rebalance.i18n import Msg, t
from rebalance import Plan, PlanSettings, PortfolioError, make_plan, plan_chart, plan_text, read_portfolio
from bot.settings import options_from
from bot.service import planning
from rebalance.options import OptionsError, PlanOptions, parse_points, parse_won, refuse_real_only
from rebalance.names import NameBook
from rebalance.saved_model import load_model, model_path, save_model

log = logging.getLogger(__name__)


def plan(args: argparse.Namespace) -> int:
    """Print the plan against the configured environment; bad input or broker trouble is one line, exit 1."""
    try:
        options = _options(args, options_from(Source()))
    except OptionsError as exc:
        return fail(str(exc))
    client = open_client()
    try:
        refuse_real_only(options, client.config.env)  # LOC and 주간거래: real accounts only, said before any call
    except OptionsError as exc:
        return fail(str(exc))
    data_dir, account = client.config.data_dir, client.config.account
    if args.file:
        try:
            portfolio = read_portfolio(args.file)
        except PortfolioError as exc:
            return fail(exc.one_line())
    else:
        private_dir(data_dir)  # DataDirUnusable says why, rather than "no model is saved"
        saved = load_model(data_dir, account)
        if saved is None:
            if model_path(data_dir, account).exists():
                return fail(t("cli_lines.saved_unreadable", path=model_path(data_dir, account)))
            return fail(t("cli_lines.no_saved_model"))
        portfolio = saved.portfolio
    names = NameBook(data_dir, client)
    pace, codes = client.pace(), list(portfolio.codes)
    calls = 1 + pace.quote_calls(len(codes)) + names.lookups(codes)
    try:
        with progress.terminal_bar(enabled=not args.json), \
                progress.counting(planning(len(codes)), calls, pace):
            settings = PlanSettings(kind=getattr(client.config, "kind", AccountKind.GENERAL))
            result = make_plan(client, portfolio, settings, options=options, names=names)
    except PortfolioError as exc:
        return fail(exc.one_line())
    except OptionsError as exc:
        return fail(str(exc))
    except (KisError, KisTransportError) as exc:
        log.debug("plan inquiry failed", exc_info=True)
        return fail(failure_sentence(exc))
    if args.file:
        try:
            save_model(data_dir, account, portfolio, result.priced_at)
        except OSError as exc:
            log.warning("could not save the model: %s", exc)
    if args.json:
        print(json.dumps(plan_json(result, options, portfolio.source), ensure_ascii=False))
    else:
        count = len(portfolio.targets)
        print(t("cli_lines.plan_head_one" if count == 1 else "cli_lines.plan_head_many", env=client.config.env.value,
                account=account, n=count, source=portfolio.source, saved="" if args.file else t("cli_lines.saved_model")))
        for note in portfolio.notes:
            print(note)
        print()
        print(plan_text(result))
        deposit = deposit_note(result, portfolio, settings, options)  # issue 23: the deposit that rebalances
        if deposit:
            print(deposit)
    if args.chart:
        try:
            Path(args.chart).write_bytes(plan_chart(result))
        except OSError as exc:
            return fail(t("chart.unwritable", path=args.chart, reason=exc.strerror))
        if not args.json:
            print("\n" + t("chart.written", path=args.chart))
    return 0


def plan_json(result: Plan, options: PlanOptions, source: str = "") -> dict:
    """The plan as one JSON-ready object: lines, totals, options in force; money in int won."""
    return {
        "id": result.id,
        "model": source,
        "priced_at": result.priced_at.isoformat(),
        "expires_at": result.expires_at.isoformat(),
        "options": options.to_dict(),
        "lines": [{"code": line.code, "name": line.name, "market": line.market, "currency": line.currency,
                   "price": money_text(line.price).replace(",", "") if line.is_us else line.price,
                   "now": line.current_qty, "target": line.target_qty, "order": line.order_qty,
                   "value": line.order_value, "amount": line.order_amount, "tax_free": line.tax_free}
                  for line in result.lines],
        "totals": {"total_value": result.total_value, "investable": result.investable, "cash": result.cash,
                   "sell_value": result.sell_value, "buy_value": result.buy_value,
                   "est_costs": result.est_costs, "cash_after": result.cash_after,
                   **({"usd_cash": result.usd_cash, "usd_cash_after": result.usd_cash_after,
                       "usd_costs": result.usd_costs, "usd_missing": result.usd_missing,
                       "rate": str(result.rate)} if result.rate is not None else {})},
        "sold_outside_model": list(result.dropped),
        "notes": list(result.notes),
    }


def _options(args: argparse.Namespace, defaults: PlanOptions) -> PlanOptions:
    """The flags as PlanOptions over the defaults; a bad value raises OptionsError saying what to type."""
    if args.amount is not None and not args.buy_only:
        raise OptionsError(Msg("cli_lines.amount_needs_buy"))
    if args.buy_only and args.sell_amount is not None:
        raise OptionsError(Msg("cli_lines.buy_and_sell"))
    return PlanOptions(
        buy_only=args.buy_only,
        amount=parse_won(args.amount, "--amount") if args.amount is not None else None,
        sell_amount=parse_won(args.sell_amount, "--sell-amount") if args.sell_amount is not None else None,
        keep_others=args.keep_others,
        band=parse_points(args.band, "--band") if args.band is not None else defaults.band,
        min_trade=parse_won(args.min_trade, "--min-trade") if args.min_trade is not None else defaults.min_trade,
        loc=bool(getattr(args, "loc", False)), daytime=bool(getattr(args, "daytime", False)),
    )
