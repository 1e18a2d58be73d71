"""What running kisbot for real needs, checked as far as this machine can: a systemd unit systemd accepts,
a container image definition that keeps secrets out and data on a volume, a version, a private log."""
from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "deploy" / "kisbot.service"
DOCKERFILE = ROOT / "Dockerfile"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def kisbot_executable() -> str:
    here = Path(sys.executable).with_name("kisbot")
    return str(here) if here.exists() else (shutil.which("kisbot") or sys.executable)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is missing (Debian's systemd package; .ci/run installs it)")
def test_the_systemd_unit_passes_systemd_analyze_verify(tmp_path):
    # The unit names /opt/kisbot; verify checks that ExecStart exists, so point it at this install.
    unit = tmp_path / "kisbot.service"
    unit.write_text(UNIT.read_text().replace("/opt/kisbot/.venv/bin/kisbot", kisbot_executable()))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "kisbot.service" not in done.stderr, done.stderr  # no warning about our unit either


def test_the_systemd_unit_restarts_a_crash_but_not_a_setting_to_fix_and_stops_cleanly():
    lines = dict(line.split("=", 1) for line in UNIT.read_text().splitlines()
                 if "=" in line and not line.startswith("#"))
    assert lines["Restart"] == "on-failure" and lines["RestartPreventExitStatus"] == "2"
    assert lines["ExecStart"].endswith("kisbot run") and lines["WorkingDirectory"] and lines["EnvironmentFile"]
    assert lines["KillSignal"] == "SIGTERM" and int(lines["TimeoutStopSec"]) >= 10
    assert lines["StateDirectoryMode"] == "0700"


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
            for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_the_image_is_a_slim_python_run_as_a_non_root_user_with_the_data_dir_a_volume():
    steps = dockerfile_instructions()
    base = [arg for op, arg in steps if op == "FROM"]
    assert len(base) == 1 and re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", base[0]), base
    users = [arg for op, arg in steps if op == "USER"]
    assert users and users[-1] not in ("root", "0"), "the image must not run as root"
    assert any("/data" in arg for op, arg in steps if op == "VOLUME")
    assert any("KISBOT_DATA_DIR=/data" in arg for op, arg in steps if op == "ENV")


def test_the_image_bakes_in_no_secret_and_runs_the_readmes_command():
    text = DOCKERFILE.read_text()
    for secret in ("KIS_APP_KEY", "KIS_APP_SECRET", "TELEGRAM_BOT_TOKEN", "KIS_ACCOUNT"):
        assert secret not in text, f"{secret} must come from the environment, not the image"
    assert not any(op == "COPY" and ".env" in arg.split() for op, arg in dockerfile_instructions())
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored and ".git" in ignored
    steps = dockerfile_instructions()
    assert ("ENTRYPOINT", '["kisbot"]') in steps and ("CMD", '["run"]') in steps
    assert "kisbot run" in (ROOT / "README.md").read_text()
    compose = (ROOT / "compose.yaml").read_text()
    assert "env_file: .env" in compose and ":/data" in compose


def test_kisbot_version_prints_the_package_version():
    done = subprocess.run([sys.executable, "-m", "bot", "--version"], capture_output=True, text=True, timeout=60,
                          cwd=ROOT)
    assert done.returncode == 0 and done.stdout.strip() == f"kisbot {VERSION}"


def test_the_run_log_is_a_private_rotating_file_in_the_data_dir_with_secrets_masked(tmp_path):
    from bot.logs import log_to_data_dir
    from bot.redact import protect

    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    try:
        path = log_to_data_dir(tmp_path / "data")
        protect("SECRET-APP-KEY-123")
        logging.getLogger("kis.client").info("sent with key SECRET-APP-KEY-123")
        for handler in root.handlers:
            handler.flush()
        assert path == tmp_path / "data" / "logs" / "kisbot.log"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        text = path.read_text()
        assert "sent with key <secret>" in text and "SECRET-APP-KEY-123" not in text
    finally:
        for handler in root.handlers[:]:
            if handler not in before:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)
