"""How close to KIS's per-second limit the client runs, and whether it ever crosses it.

A local server (127.0.0.1, port 0) answers quotes like KIS and refuses with EGW00201 whenever more
than L calls arrive within any 1-second window. N threads share one KisClient and fire quotes for a
bounded time; the server's own count is the measure. The multi-process case runs P processes of
one account (one data dir, so one shared pace), each making C calls from the same moment: the floor
is (P*C - 1) turns of the limiter's spacing.

    .venv/bin/python bench/pacing.py                # 30 s at 18/s, then 30 s at 1/s, then 5 processes at 1/s
    .venv/bin/python bench/pacing.py --seconds 5 --threads 16 --processes 5 --calls 2
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kis.client import KisClient  # noqa: E402
from kis.config import KisConfig  # noqa: E402
from kis.errors import KisError, KisTransportError  # noqa: E402
from kis.models import Account, Env  # noqa: E402

QUOTE = {"rt_cd": "0", "msg_cd": "MCA00000", "msg1": "정상처리 되었습니다.",
         "output": {"stck_prpr": "71000", "prdy_vrss": "500", "prdy_vrss_sign": "5", "prdy_ctrt": "-0.70",
                    "acml_vol": "13817290", "stck_mxpr": "92800", "stck_llam": "50000"}}
REFUSAL = {"rt_cd": "1", "msg_cd": "EGW00201", "msg1": "초당 거래건수를 초과하였습니다."}


class LimitedKis(ThreadingHTTPServer):
    """Counts every call's arrival; a call that makes more than `limit` in the last second is refused."""

    daemon_threads = True

    def __init__(self, limit: int):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.limit = limit
        self.lock = threading.Lock()
        self.window: deque[float] = deque()
        self.accepted: list[float] = []
        self.refused = 0
        self.max_in_window = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def admit(self) -> bool:
        with self.lock:
            now = time.monotonic()
            while self.window and self.window[0] <= now - 1.0:
                self.window.popleft()
            self.window.append(now)
            self.max_in_window = max(self.max_in_window, len(self.window))
            if len(self.window) > self.limit:
                self.refused += 1
                return False
            self.accepted.append(now)
            return True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as against KIS
    server: LimitedKis

    def log_message(self, *args) -> None:  # quiet
        pass

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json; charset=utf-8")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # the token: not counted against the limit
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self._reply(200, {"access_token": "bench-token", "token_type": "Bearer", "expires_in": 86400,
                          "access_token_token_expired": "2099-12-31 23:59:59"})

    def do_GET(self) -> None:
        if self.server.admit():
            self._reply(200, QUOTE)
        else:
            self._reply(500, REFUSAL)


def run(limit: float, seconds: float, threads: int) -> dict:
    server = LimitedKis(int(limit))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as data_dir:
        config = KisConfig(env=Env.REAL, app_key="bench-app-key", app_secret="bench-app-secret",
                           account=Account.parse("50087375-01"), base_url=server.url, rate_limit=limit,
                           data_dir=Path(data_dir))
        client = KisClient(config)
        client.tokens.token()  # issue outside the measured time
        deadline = time.monotonic() + seconds
        errors: list[str] = []

        def fire() -> None:
            while time.monotonic() < deadline:
                try:
                    client.price("005930")
                except (KisError, KisTransportError) as exc:
                    errors.append(type(exc).__name__)

        workers = [threading.Thread(target=fire) for _ in range(threads)]
        started = time.monotonic()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        elapsed = time.monotonic() - started
    server.shutdown()
    server.server_close()
    calls = len(server.accepted)
    span = server.accepted[-1] - server.accepted[0] if calls > 1 else elapsed
    rate = (calls - 1) / span if calls > 1 and span > 0 else 0.0
    return {"limit": limit, "seconds": elapsed, "calls": calls, "rate": rate, "share": rate / limit,
            "refused": server.refused, "max_in_window": server.max_in_window, "errors": len(errors),
            "threads": threads}


def _process_worker(url: str, data_dir: str, limit: float, calls: int, ready, go, done) -> None:
    """One kisbot process: its own client on the shared data dir; `calls` quotes once told to go."""
    config = KisConfig(env=Env.REAL, app_key="bench-app-key", app_secret="bench-app-secret",
                       account=Account.parse("50087375-01"), base_url=url, rate_limit=limit,
                       data_dir=Path(data_dir))
    client = KisClient(config)
    client.tokens.token()
    ready.put(True)
    go.wait()
    errors = 0
    for _ in range(calls):
        try:
            client.price("005930")
        except (KisError, KisTransportError):
            errors += 1
    done.put(errors)


def run_processes(limit: float, processes: int, calls: int) -> dict:
    server = LimitedKis(max(1, int(limit)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ctx = multiprocessing.get_context("spawn")
    ready, done, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    with tempfile.TemporaryDirectory() as data_dir:
        workers = [ctx.Process(target=_process_worker, args=(server.url, data_dir, limit, calls, ready, go, done))
                   for _ in range(processes)]
        for w in workers:
            w.start()
        for _ in workers:
            ready.get(timeout=60)
        started = time.monotonic()
        go.set()
        errors = sum(done.get(timeout=600) for _ in workers)
        elapsed = time.monotonic() - started
        for w in workers:
            w.join()
    server.shutdown()
    server.server_close()
    total = processes * calls
    floor = (total - 1) * (1.0 + 0.05) / limit  # the limiter's spacing, SAFETY_MARGIN included
    return {"limit": limit, "processes": processes, "calls": len(server.accepted), "wanted": total,
            "seconds": elapsed, "floor": floor, "refused": server.refused,
            "max_in_window": server.max_in_window, "errors": errors}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0, help="how long each limit is sustained")
    parser.add_argument("--threads", type=int, default=8, help="threads firing quotes through one client")
    parser.add_argument("--limits", type=float, nargs="+", default=[18.0, 1.0], help="calls per second")
    parser.add_argument("--processes", type=int, default=5, help="processes of one account (0: skip)")
    parser.add_argument("--calls", type=int, default=4, help="quotes per process in the multi-process case")
    parser.add_argument("--process-limit", type=float, default=1.0, help="calls per second, multi-process case")
    args = parser.parse_args(argv)
    ok = True
    for limit in args.limits:
        r = run(limit, args.seconds, args.threads)
        print(f"limit {r['limit']:g}/s, {r['threads']} threads, {r['seconds']:.1f} s: {r['calls']} calls, "
              f"{r['rate']:.2f} calls/s = {100 * r['share']:.1f} % of the limit, {r['refused']} refusals, "
              f"at most {r['max_in_window']} calls in any 1 s window, {r['errors']} client errors")
        ok = ok and r["share"] >= 0.9 and r["refused"] == 0
    if args.processes > 0:
        r = run_processes(args.process_limit, args.processes, args.calls)
        print(f"limit {r['limit']:g}/s, {r['processes']} processes x {r['wanted'] // r['processes']} calls: "
              f"{r['calls']} of {r['wanted']} calls answered in {r['seconds']:.2f} s (floor {r['floor']:.2f} s), "
              f"{r['refused']} refusals, at most {r['max_in_window']} calls in any 1 s window, "
              f"{r['errors']} client errors")
        ok = ok and r["refused"] == 0 and r["calls"] == r["wanted"] and r["seconds"] <= 1.2 * r["floor"] + 1.0
    print("target (>= 90 % of the limit, 0 refusals; processes within 20 % + 1 s of the floor):",
          "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
