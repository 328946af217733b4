"""`make run`'s launcher: prints where each service listens and stops them all on Ctrl-C."""
import os
import signal
import subprocess
import sys

from fengqiao import config, launcher


def children_of(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_run_prints_every_service_and_ctrl_c_stops_them_all(stack):
    proc = subprocess.Popen([sys.executable, "-m", "fengqiao.launcher"], cwd=config.REPO_ROOT,
                            env=os.environ.copy(), stdout=subprocess.PIPE, text=True)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if "Ctrl-C" in line:
                break
        services = children_of(proc.pid)
        assert len(services) == len(config.SERVICES)
        for name in config.SERVICES:
            assert any(f"http://127.0.0.1:{launcher.port_of(name)}" in line and name in line for line in lines)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        for pid in services:
            assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    finally:
        if proc.poll() is None:
            proc.kill()
