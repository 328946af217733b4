"""The web console (控制台) in a real browser: Debian's headless Chromium, driven by Playwright,
through the gateway as people reach it, with the console calling the services through the
gateway too. A clerk registers a case at the window (live checks, the services' field errors
next to the fields, the receipt), routing assigns it, a handler signs, accepts and resolves it at
the desk, and the leader's wall counts it; a neighbour dispute's mediation file, opened by itself
at the village committee, is mediated to an agreement and its PDF downloaded
(tests/e2e/console_browser.py, in a process of its own).
Each page is photographed at 1366×768 (into run/screenshots; `make screenshots` renews the
README's)."""
import importlib.util
import os
import shutil
import socket
import subprocess
import sys

import pytest
import requests

from fengqiao import config, launcher
from tests.e2e.conftest import LOG_DIR, eventually


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_of(url):
    try:
        return requests.get(url, timeout=2).status_code
    except requests.ConnectionError:
        return None


@pytest.fixture
def console(single_stack, tmp_path):
    """The services, the gateway in front of them, and the console behind the gateway calling
    the services through it: the URL a browser opens."""
    single_stack.start(*config.SERVICES)
    env = {"FENGQIAO_GATEWAY_PORT": str(free_port()), "FENGQIAO_CONSOLE_PORT": str(free_port())}
    base = f"http://127.0.0.1:{env['FENGQIAO_GATEWAY_PORT']}"
    gateway = launcher.start_gateway(tmp_path / "gateway", env)
    assert gateway is not None, "nginx is missing: scripts/ensure-servers.sh installs it"
    process = launcher.start_console({**env, **{f"FENGQIAO_{n.upper()}_URL": f"{base}/{n}" for n in config.SERVICES}},
                                     log_file=open(LOG_DIR / "console.log", "ab"))
    try:
        launcher.wait_ready(f"http://127.0.0.1:{env['FENGQIAO_CONSOLE_PORT']}/health/live", process)
        eventually(lambda: status_of(f"{base}/health/live"), lambda s: s == 200, timeout=10)
        yield base
    finally:
        launcher.stop([process, gateway])


def test_register_handle_count_and_mediate_a_dispute_to_an_agreement(console):
    assert importlib.util.find_spec("playwright"), "Playwright is missing: it is in the test extra (pip install -e '.[test]')"
    assert shutil.which("chromium"), "Chromium is missing: scripts/ensure-test-tools.sh installs Debian's chromium"
    walk = subprocess.run([sys.executable, "-m", "tests.e2e.console_browser", console], cwd=config.REPO_ROOT,
                          env=os.environ, capture_output=True, text=True, timeout=180)
    assert walk.returncode == 0, walk.stdout + walk.stderr
