"""Five kisbot processes of one account share KIS's per-second budget: none of their calls is refused."""
import os
import subprocess
import sys
from pathlib import Path

from kis.sim import SimServer

ROOT = Path(__file__).resolve().parents[2]

# Each child gets its token first (shared through the cache) and says so, then all five ask for a
# quote when told to: without one pace per account the simulator refuses all but one of them.
CHILD = """
import sys
sys.path.insert(0, {root!r})
from kis import open_client
client = open_client()
client.tokens.token()
print("ready", flush=True)
sys.stdin.readline()
print(client.price("005930").price > 0)
"""


def test_five_processes_at_one_call_a_second_get_no_refusal(tmp_path):
    sim = SimServer(0, rate_limit=1.0, always_open=True).start()
    env = {**os.environ, "KIS_ENV": "sim", "KIS_BASE_URL": sim.url, "KIS_RATE_LIMIT": "1",
           "KISBOT_DATA_DIR": str(tmp_path / "data")}
    try:
        code = CHILD.format(root=str(ROOT))
        children = [subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
                    for _ in range(5)]
        assert [child.stdout.readline().strip() for child in children] == ["ready"] * 5
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        outputs = [child.communicate(timeout=120) for child in children]
    finally:
        sim.stop()
    assert [out.strip() for out, _ in outputs] == ["True"] * 5, [err for _, err in outputs]
    quotes = [c for c in sim.calls if c.path.endswith("inquire-price")]
    assert sim.limiter.refused == 0
    assert [c.status for c in quotes] == [200] * 5
