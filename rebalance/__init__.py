"""Rebalancing: read a model portfolio, plan the trades, execute them over time."""
from rebalance.costs import CostRates
from rebalance.model import Plan, PlanLine, Portfolio, Target
from rebalance.options import OptionsError, PlanOptions, parse_plan_words
from rebalance.plan import PlanSettings, build_plan, make_plan
from rebalance.saved_model import SavedModel, load_model, save_model
from rebalance.portfolio import PortfolioError, read_portfolio
from rebalance.charts import plan_chart
from rebalance.render import PlanSection, plan_sections, plan_text
from rebalance.journal import Journal
from rebalance.twap import RunActive, RunStatus, StockProgress, TwapExecutor
from rebalance.window import TwapSettings, Window, execution_window, parse_duration

__all__ = [
    "CostRates",
    "Plan",
    "PlanLine",
    "PlanSettings",
    "PlanOptions",
    "OptionsError",
    "parse_plan_words",
    "SavedModel",
    "load_model",
    "save_model",
    "Portfolio",
    "PortfolioError",
    "Target",
    "build_plan",
    "make_plan",
    "plan_chart",
    "plan_sections",
    "PlanSection",
    "plan_text",
    "read_portfolio",
    # TWAP execution
    "Journal",
    "RunActive",
    "RunStatus",
    "StockProgress",
    "TwapExecutor",
    "TwapSettings",
    "Window",
    "execution_window",
    "parse_duration",
]
