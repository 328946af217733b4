"""The gateway (deploy/gateway/nginx.conf) in front of the running services, as `make run`
starts it: one port, a path prefix per service, the client's address passed on to the audit log."""
import socket

import requests

from fengqiao import auth, config, launcher
from services.intake.schemas import REGISTRATION_EXAMPLE
from tests.e2e.conftest import eventually


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url):
    try:
        return requests.get(url, timeout=2).status_code
    except requests.ConnectionError:  # nginx not listening yet
        return None


def test_the_gateway_answers_for_every_service_under_its_prefix(single_stack, headers, tmp_path):
    single_stack.start(*config.SERVICES)
    env = {"FENGQIAO_GATEWAY_PORT": str(free_port())}
    log = tmp_path / "gateway.log"
    gateway = launcher.start_gateway(tmp_path / "gateway", env, log_file=open(log, "ab"))
    assert gateway is not None, "nginx is missing: scripts/ensure-servers.sh installs it"
    try:
        base = f"http://127.0.0.1:{launcher.gateway_port(env)}"
        eventually(lambda: answers(f"{base}/healthz"), lambda s: s == 200, timeout=10)
        for name in config.SERVICES:
            assert requests.get(f"{base}/{name}/health/ready", timeout=5).json()["status"] == "ready", name
        r = requests.post(f"{base}/intake/cases", json=REGISTRATION_EXAMPLE, headers=headers, timeout=10)
        assert r.status_code == 201, r.text
        s = config.settings("intake")
        auditor = {"Authorization": "Bearer " + auth.issue(s.jwt_secret, s.jwt_audience, "SH-SHAOYJ", ["auditor"], "SH")}
        [entry] = requests.get(f"{base}/intake/audit", params={"action": "POST"}, headers=auditor, timeout=5).json()
        assert entry["target"] == "/cases" and entry["details"]["forwarded_for"] == "127.0.0.1"  # nginx said who
        # Open311 clients send their token in the query: the gateway's access lines leave queries out
        token = headers["Authorization"].split()[1]
        assert requests.get(f"{base}/intake/open311/v2/services.json", params={"api_key": token}).status_code == 200
        lines = eventually(lambda: log.read_text(), lambda text: "/intake/open311/v2/services.json" in text)
        assert token not in lines and "api_key" not in lines
    finally:
        launcher.stop([gateway])
