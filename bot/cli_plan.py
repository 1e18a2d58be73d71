"""`kisbot plan FILE.xlsx [--chart out.png]`: the rebalance plan for a model portfolio, priced now."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from kis import open_client
from kis.errors import KisError, KisTransportError
from rebalance import PortfolioError, make_plan, plan_chart, plan_text, read_portfolio

log = logging.getLogger(__name__)


def plan(args: argparse.Namespace) -> int:
    """Print the plan against the configured environment; a bad file or broker trouble is one line, exit 1."""
    try:
        portfolio = read_portfolio(args.file)
    except PortfolioError as exc:
        return _fail(exc.one_line())
    client = open_client()
    try:
        result = make_plan(client, portfolio)
    except PortfolioError as exc:
        return _fail(exc.one_line())
    except (KisError, KisTransportError) as exc:
        log.debug("plan inquiry failed", exc_info=True)
        return _fail(f"the broker did not answer the balance or price inquiry ({exc}): try again in a minute")
    count = len(portfolio.targets)
    print(f"{client.config.env.value} account {client.config.account}, {count} stock{'s' if count != 1 else ''} "
          f"in {portfolio.source}")
    for note in portfolio.notes:
        print(note)
    print()
    print(plan_text(result))
    if args.chart:
        try:
            Path(args.chart).write_bytes(plan_chart(result))
        except OSError as exc:
            return _fail(f"cannot write the chart to {args.chart} ({exc.strerror}): choose another path")
        print(f"\nChart written to {args.chart}")
    return 0


def _fail(message: str) -> int:
    print(f"kisbot: {message}", file=sys.stderr)
    return 1
