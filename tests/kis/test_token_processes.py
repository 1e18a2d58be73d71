"""Two processes on one machine share one token: KIS alerts the holder on every issue."""
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from kis.client import KisClient
from kis.config import KisConfig
from kis.models import Account, Env
config = KisConfig(env=Env.REAL, app_key="process-test-key", app_secret="process-test-secret",
                   account=Account.parse("50087375-01"), base_url={url!r}, rate_limit=100.0,
                   data_dir=Path({data_dir!r}))
print(KisClient(config).tokens.token() == "shared-token")
"""


class TokenServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), TokenHandler)
        self.issued = 0
        self.lock = threading.Lock()


class TokenHandler(BaseHTTPRequestHandler):
    server: TokenServer

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        with self.server.lock:
            self.server.issued += 1
        time.sleep(0.3)  # a slow issue: the other process must wait for it, not issue its own
        data = json.dumps({"access_token": "shared-token", "token_type": "Bearer", "expires_in": 86400,
                           "access_token_token_expired": "2099-12-31 23:59:59"}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_two_processes_starting_together_issue_one_token(tmp_path):
    server = TokenServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        code = CHILD.format(root=str(ROOT), url=f"http://127.0.0.1:{server.server_address[1]}",
                            data_dir=str(tmp_path / "data"))
        children = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
                    for _ in range(2)]
        outputs = [child.communicate(timeout=60)[0].strip() for child in children]
    finally:
        server.shutdown()
        server.server_close()
    assert outputs == ["True", "True"]
    assert server.issued == 1
