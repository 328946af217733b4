"""Start services as processes and wait until they are ready: used by `make run`, the
end-to-end tests and the benchmarks, so all three run the same topology."""
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

from fengqiao import config

GATEWAY_CONF = config.REPO_ROOT / "deploy" / "gateway" / "nginx.conf"


def start(name, env=None, log_file=None, replica=0):
    environment = {**os.environ, **(env or {})}
    if replica:
        # A second replica listens on its own port (port + 100 per replica).
        environment[f"FENGQIAO_{name.upper()}_PORT"] = str(port_of(name, env) + 100 * replica)
    return subprocess.Popen(
        [sys.executable, "-m", "fengqiao.runner", name], cwd=config.REPO_ROOT, env=environment,
        stdout=log_file or subprocess.DEVNULL, stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C in a terminal reaches the launcher only; it stops them in order
    )


def start_console(env=None, log_file=None):
    """The web console (services/console): no database or broker, only the services' APIs."""
    return subprocess.Popen(
        [sys.executable, "-m", "services.console"], cwd=config.REPO_ROOT, env={**os.environ, **(env or {})},
        stdout=log_file or subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)


def console_port(env=None):
    return int({**os.environ, **(env or {})}.get("FENGQIAO_CONSOLE_PORT", config.CONSOLE_PORT))


def port_of(name, env=None):
    return int({**os.environ, **(env or {})}.get(f"FENGQIAO_{name.upper()}_PORT", config.SERVICES[name]))


def wait_ready(url, process, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout}s")


def stop(processes, timeout=15):
    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in processes:
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def gateway_port(env=None):
    return int({**os.environ, **(env or {})}.get("FENGQIAO_GATEWAY_PORT", 8080))


def gateway_config(run_dir, env=None):
    """The compose gateway's nginx.conf as a process of its own on loopback: the services and
    the console (at /) at their local ports, every path nginx writes under `run_dir`."""
    server = GATEWAY_CONF.read_text()
    upstreams = {**{name: (default, port_of(name, env)) for name, default in config.SERVICES.items()},
                 "console": (config.CONSOLE_PORT, console_port(env))}
    for name, (default, port) in upstreams.items():
        server = server.replace(f"http://{name}:{default}/", f"http://127.0.0.1:{port}/")
    server = server.replace("listen 8080;", f"listen 127.0.0.1:{gateway_port(env)};")
    temp = " ".join(f"{kind}_temp_path {run_dir}/{kind};"
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"daemon off;\npid {run_dir}/nginx.pid;\nevents {{}}\n"
            f"http {{\n  {temp}\n{server}}}\n")


def start_gateway(run_dir, env=None, log_file=None):
    """nginx in front of the services as in compose (/intake/… → intake), or None without nginx."""
    nginx = shutil.which("nginx") or shutil.which("/usr/sbin/nginx")
    if nginx is None:
        return None
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "nginx.conf").write_text(gateway_config(run_dir, env))
    command = [nginx, "-p", str(run_dir), "-e", str(run_dir / "error.log"), "-c", str(run_dir / "nginx.conf")]
    return subprocess.Popen(command, stdout=log_file or subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            start_new_session=True)


def main():
    """`make run`: every service, the console, and the gateway in front of them, until Ctrl-C."""
    # A shell starting us in the background ignores SIGINT for us; Ctrl-C must still work.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    log_dir = config.REPO_ROOT / "run" / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    processes = []
    try:
        for name in config.SERVICES:
            p = start(name, log_file=open(log_dir / f"{name}.log", "ab"))
            processes.append(p)
            wait_ready(f"http://127.0.0.1:{port_of(name)}/health/ready", p)
            print(f"  {name:<10} http://127.0.0.1:{port_of(name)}   (log: run/logs/{name}.log)", flush=True)
        console = start_console(log_file=open(log_dir / "console.log", "ab"))
        processes.append(console)
        wait_ready(f"http://127.0.0.1:{console_port()}/health/live", console)
        print(f"  {'console':<10} http://127.0.0.1:{console_port()}   (log: run/logs/console.log)", flush=True)
        gateway = start_gateway(config.REPO_ROOT / "run" / "gateway", log_file=open(log_dir / "gateway.log", "ab"))
        if gateway is not None:
            processes.append(gateway)
            wait_ready(f"http://127.0.0.1:{gateway_port()}/healthz", gateway)
            print(f"  {'gateway':<10} http://127.0.0.1:{gateway_port()}/<service>/…, the console at /", flush=True)
        print("Fengqiao is running. Ctrl-C stops it.", flush=True)
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        failed = [n for n, p in zip([*config.SERVICES, "console", "gateway"], processes) if p.poll() is not None]
        print(f"stopped unexpectedly: {', '.join(failed)} (see run/logs)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
        return 0
    finally:
        stop(processes)


if __name__ == "__main__":
    sys.exit(main())
