"""The paper exchange: KIS's REST protocol on localhost, with its own account, prices and rules."""
from kis.sim.clock import KST, ManualClock
from kis.sim.discover import find_or_start, ws_url_of
from kis.sim.server import DEFAULT_PORT, SimServer

__all__ = ["SimServer", "find_or_start", "ws_url_of", "ManualClock", "KST", "DEFAULT_PORT"]
