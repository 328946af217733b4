"""Where each service spends its time: py-spy records every service process over a measured
window (a speedscope file per process, to open at https://www.speedscope.app), and the
samples are summed up by the function and by the package that was running (own time).

py-spy samples from outside (ptrace: root, or CAP_SYS_PTRACE), 100 times a second, without
pausing the process (--nonblocking: a paused service would answer later, and the profiled run
would measure py-spy), and only while the process holds the GIL (--gil): a service is one
eventlet thread, so that is its Python running. Without it, on a saturated machine a process
woken from epoll or a socket call but waiting for a core counts as busy in that call."""
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from fengqiao import config


def py_spy():
    found = Path(sys.executable).with_name("py-spy")
    if found.exists():
        return str(found)
    if found := shutil.which("py-spy"):
        return found
    raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")


class Profiles:
    """A context manager: py-spy records each process of {service: [process]} while inside."""

    def __init__(self, directory, processes):
        self.directory = Path(directory)
        self.processes = processes
        self.command = py_spy()
        self.recorders, self.files = [], collections.defaultdict(list)

    def __enter__(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        for name, replicas in self.processes.items():
            for k, process in enumerate(replicas):
                output = self.directory / f"{name}-{k}.speedscope.json"
                self.files[name].append(output)
                self.recorders.append(subprocess.Popen(
                    [self.command, "record", "--pid", str(process.pid), "--format", "speedscope",
                     "--output", str(output), "--nonblocking", "--gil"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        return self

    def __exit__(self, *exc):
        for recorder in self.recorders:
            recorder.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
        for recorder in self.recorders:
            recorder.wait(60)

    def summary(self, top=8):
        """Markdown: per service, the busiest packages and functions by own time."""
        lines = [f"Where each service's Python spends its time (py-spy samples holding the GIL, own time;"
                 f" speedscope files in {self.directory}):", ""]
        for name, files in self.files.items():
            functions, total = own_time([f for f in files if f.exists()])
            if not total:
                lines += [f"- **{name}**: no samples", ""]
                continue
            packages = collections.Counter()
            for (function, where), seconds in functions.items():
                packages[package_of(where)] += seconds
            lines += [f"- **{name}** ({total:.1f} s sampled): "
                      + ", ".join(f"{p} {100 * s / total:.0f}%" for p, s in packages.most_common(6))]
            lines += [f"  - {100 * s / total:.1f}% `{function}` ({where})" for (function, where), s in
                      functions.most_common(top)]
            lines.append("")
        return lines


def own_time(files):
    """Counter {(function, file): seconds it was the running frame} over speedscope files, and
    the seconds sampled."""
    functions = collections.Counter()
    for path in files:
        profile = json.loads(path.read_text())
        frames = profile["shared"]["frames"]
        for thread in profile["profiles"]:
            for stack, seconds in zip(thread["samples"], thread["weights"]):
                if stack:
                    leaf = frames[stack[-1]]  # stacks run from the root to the running frame
                    functions[leaf["name"], short_path(leaf.get("file") or "?")] += seconds
    return functions, sum(functions.values())


def short_path(path):
    """A file as a reader knows it: from the package on (site-packages, the repository or the
    standard library)."""
    for marker in ("site-packages/", f"{config.REPO_ROOT}/", "/lib/python3."):
        if marker in path:
            rest = path.split(marker, 1)[1]
            return rest.split("/", 1)[1] if marker == "/lib/python3." else rest
    return os.path.basename(path)


def package_of(path):
    """The top package of a short path; a service's own code by service (services/intake)."""
    parts = path.split("/")
    return "/".join(parts[:2]) if parts[0] == "services" and len(parts) > 2 else parts[0].removesuffix(".py")
