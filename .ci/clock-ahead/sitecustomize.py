"""Moves the wall clock of every Python process started with this folder on PYTHONPATH.

CI's second pass sets KISBOT_CLOCK_AHEAD_DAYS=400 so a test that reads today's date, or meets a fixed
date with the real clock, fails here rather than on some future day. time-machine moves time.time,
datetime.now and friends and keeps ticking; monotonic clocks are left alone, so waits and timeouts behave.
"""
import datetime
import os

_days = int(os.environ.get("KISBOT_CLOCK_AHEAD_DAYS") or 0)
if _days:
    import time_machine

    _ahead = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=_days)
    time_machine.travel(_ahead, tick=True).start()
