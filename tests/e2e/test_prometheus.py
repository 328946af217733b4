"""A real Prometheus (Debian's package, which brings promtool to the suite) scrapes the running
services on loopback with the project's relabelling and alert rules, and finds every target up
and every rule loaded; promtool finds nothing to say about any service's metric names."""
import shutil
import socket
import subprocess

import requests
import yaml

from fengqiao import config
from tests.e2e.conftest import eventually

PROM_DIR = config.REPO_ROOT / "deploy" / "prometheus"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_prometheus_scrapes_every_service_and_loads_the_alerts(single_stack, tmp_path):
    single_stack.start(*config.SERVICES)
    for name in config.SERVICES:
        exposed = requests.get(f"{single_stack.url(name)}/metrics", timeout=5).text
        lint = subprocess.run([shutil.which("promtool"), "check", "metrics"], input=exposed, capture_output=True,
                              text=True)
        assert lint.returncode == 0 and not lint.stdout.strip(), f"{name}: {lint.stdout}{lint.stderr}"
    shipped = yaml.safe_load((PROM_DIR / "prometheus.yml").read_text())
    [job] = [j for j in shipped["scrape_configs"] if j["job_name"] == "fengqiao"]  # (the broker's is not ours to run)
    shipped["scrape_configs"] = [job]
    job["static_configs"] = [{"targets": [single_stack.url(name).split("//", 1)[1] for name in config.SERVICES]}]
    shipped.update(rule_files=[str(PROM_DIR / "alerts.yml")],
                   **{"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}})
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(shipped))
    port = free_port()
    server = subprocess.Popen(
        [shutil.which("prometheus"), f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        api = f"http://127.0.0.1:{port}/api/v1"

        def targets():
            try:
                r = requests.get(f"{api}/targets", timeout=2)
            except requests.ConnectionError:
                return []
            return r.json()["data"]["activeTargets"] if r.ok else []  # 503 while its storage starts
        up = eventually(targets, lambda ts: len(ts) == len(config.SERVICES) and all(t["health"] == "up" for t in ts),
                        timeout=30)
        assert {t["labels"]["job"] for t in up} == {"fengqiao"}
        groups = requests.get(f"{api}/rules", timeout=2).json()["data"]["groups"]
        assert sum(len(g["rules"]) for g in groups) >= 8 and all(r["health"] != "err" for g in groups for r in g["rules"])
        registered = eventually(lambda: requests.get(f"{api}/query", params={"query": "sum(fengqiao_open_cases)"},
                                                     timeout=2).json()["data"]["result"], bool, timeout=30)
        assert float(registered[0]["value"][1]) == 0  # reporting's gauges, scraped
    finally:
        server.terminate()
        server.wait(timeout=10)
