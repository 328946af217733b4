"""`make run`'s launcher: prints where each service and the gateway listen, and stops them all on
Ctrl-C."""
import os
import signal
import subprocess
import sys

from fengqiao import config, launcher


def children_of(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_run_prints_every_service_and_ctrl_c_stops_them_all(single_stack):
    env = {**os.environ, "FENGQIAO_GATEWAY_PORT": "18080"}
    proc = subprocess.Popen([sys.executable, "-m", "fengqiao.launcher"], cwd=config.REPO_ROOT,
                            env=env, stdout=subprocess.PIPE, text=True)
    lines, started = [], []
    try:
        for line in proc.stdout:
            lines.append(line)
            if "Ctrl-C" in line:
                break
        started = children_of(proc.pid)
        assert len(started) == len(config.SERVICES) + 2  # and the console and the gateway
        for name in config.SERVICES:
            assert any(f"http://127.0.0.1:{launcher.port_of(name)}" in line and name in line for line in lines)
        assert any("console" in line and f"http://127.0.0.1:{launcher.console_port()}" in line for line in lines)
        assert any("gateway" in line and "http://127.0.0.1:18080/" in line for line in lines)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        for pid in started:
            assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in started:  # a failed run leaves no process behind to hold the next tests' ports
            if os.path.exists(f"/proc/{pid}"):
                os.kill(pid, signal.SIGKILL)
