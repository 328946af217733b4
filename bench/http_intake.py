"""Intake's HTTP registrations per second at 10 and at 100 connections, driven by wrk, with
every service running behind it (bench/README.md).

wrk's Lua script gives every request a petitioner of its own (measure.registration's resident
ID number and phone, ported to Lua) and a clerk's token from a pool of windows, so neither
repeat-petition linking nor the per-token write limit is what is measured."""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from datetime import datetime
from pathlib import Path

import psycopg

import measure
import stack
from fengqiao import config

WINDOWS = 1000  # clerks' tokens taken in turn: each stays far below the services' 20 writes/s per token

LUA = r"""
local template = [==[TEMPLATE]==]
local locations = {LOCATIONS}
local categories = {CATEGORIES}
local tokens = {TOKENS}
local weights = {ID_WEIGHTS}
local checks = "10X98765432"
local threads = {}

function setup(thread)
  thread:set("offset", #threads)
  table.insert(threads, thread)
end

function init(args)
  step = tonumber(args[2])
  i = tonumber(args[1]) + offset
  others = {}
end

-- measure.resident_id(i): born i // 1000 days after 1950-01-01 (7305 days before 1970).
local function resident_id(i)
  local first17 = "110101" .. os.date("!%Y%m%d", (math.floor(i / 1000) - 7305) * 86400)
                  .. string.format("%03d", i % 1000)
  local sum = 0
  for k = 1, 17 do sum = sum + tonumber(first17:sub(k, k)) * weights[k] end
  return first17 .. checks:sub(sum % 11 + 1, sum % 11 + 1)
end

function request()
  local fields = {i = tostring(i), location = locations[i % #locations + 1],
                  category = categories[i % #categories + 1], id_number = resident_id(i),
                  phone = string.format("138%08d", i)}
  local body = template:gsub("@([%w_]+)@", fields)
  local headers = {["Content-Type"] = "application/json",
                   ["Authorization"] = "Bearer " .. tokens[i % #tokens + 1]}
  i = i + step
  return wrk.format("POST", "/cases", headers, body)
end

function response(status, headers, body)
  if status ~= 201 then others[status] = (others[status] or 0) + 1 end
end

function done(summary, latency, requests)
  local next_index, others_all = 0, {}
  for _, thread in ipairs(threads) do
    next_index = math.max(next_index, thread:get("i"))
    for status, n in pairs(thread:get("others")) do others_all[status] = (others_all[status] or 0) + n end
  end
  local e = summary.errors
  io.write(string.format("FENGQIAO requests=%d duration_us=%d p50_us=%d p99_us=%d socket_errors=%d next=%d",
                         summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
                         e.connect + e.read + e.write + e.timeout, next_index))
  for status, n in pairs(others_all) do io.write(string.format(" status_%d=%d", status, n)) end
  io.write("\n")
end
"""


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--connections", type=int, nargs="+", default=[10, 100],
                   help="wrk connections, one run each (default 10 100)")
    p.add_argument("--seconds", type=float, default=20, help="length of each run (default 20)")
    p.add_argument("--warmup", type=float, default=5,
                   help="seconds of registrations at the first connection count first, not counted (default 5)")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="wrk threads (default: one per core)")
    p.add_argument("--timeout", type=float, default=300,
                   help="seconds to wait for the chain behind intake to finish after each run (default 300)")
    return p.parse_args(argv)


def lua_script():
    """The wrk script: measure.registration(i) as a template with @placeholders@ where it
    varies with i, and the clerks' tokens."""
    body = measure.registration(0)
    body.update(location="@location@", category="@category@", subject=measure.subject("@i@"),
                petitioners=[{**body["petitioners"][0], "id_number": "@id_number@", "phone": "@phone@"}])

    def lua_list(values):
        return ", ".join(json.dumps(v) for v in values)  # JSON strings and numbers read as Lua's

    return (LUA.replace("TEMPLATE", json.dumps(body, ensure_ascii=False))
            .replace("{LOCATIONS}", "{" + lua_list(measure.LOCATIONS) + "}")
            .replace("{CATEGORIES}", "{" + lua_list(measure.CATEGORIES) + "}")
            .replace("{TOKENS}", "{" + lua_list(stack.clerk_token(f"bench-window-{k}") for k in range(WINDOWS)) + "}")
            .replace("{ID_WEIGHTS}", "{" + lua_list(measure.ID_WEIGHTS) + "}"))


def wrk(script, url, connections, seconds, threads, first_index):
    """One wrk run; returns its figures as a dict (the script's last line)."""
    command = ["wrk", "-t", str(min(threads, connections)), "-c", str(connections), "-d", f"{seconds:g}s",
               "--timeout", "10s", "-s", script, url, "--", str(first_index), str(min(threads, connections))]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("FENGQIAO "))
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}


def registered_cases():
    """How many cases intake holds: what the chain behind it still has to carry."""
    with psycopg.connect(config.settings("intake").database_url) as conn:
        return conn.execute("SELECT count(*) FROM cases").fetchone()[0]


def drain(timeout):
    """Wait until the chain has carried every registered case, so that the next run does not
    share the machine with this one's backlog."""
    if not measure.wait_for_events(stack.read_model(), registered_cases(), 0.5, timeout):
        raise RuntimeError(f"the chain behind intake did not catch up within {timeout:g} s")


def report(facts, rows, argv):
    command = " ".join([".venv/bin/python", "bench/http_intake.py", *argv])
    lines = [
        "",
        f"#### Intake's HTTP registrations, {datetime.now().strftime('%Y-%m-%d')} (`{command}`)",
        "",
        stack.machine_line(facts) + " wrk drives `POST /cases`; the other four services carry"
        " each case on meanwhile.",
        "",
        "| Connections | Seconds | Requests/s | p50 latency (ms) | p99 latency (ms) | Non-201 answers | Socket errors |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for connections, seconds, r in rows:
        others = {k.removeprefix("status_"): v for k, v in r.items() if k.startswith("status_")}
        shown = ", ".join(f"{n} × {status}" for status, n in sorted(others.items())) or "0"
        lines.append(f"| {connections} | {seconds:g} | {r['requests'] / (r['duration_us'] / 1e6):.0f} |"
                     f" {r['p50_us'] / 1000:.0f} | {r['p99_us'] / 1000:.0f} | {shown} | {r['socket_errors']} |")
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk (Debian's package)")
    prefix = f"fqbench{uuid.uuid4().hex[:6]}"
    os.environ.update(stack.bench_environment(prefix))
    facts = stack.machine_facts()
    script = Path(tempfile.mkdtemp(prefix=f"{prefix}-wrk-")) / "register.lua"
    script.write_text(lua_script(), encoding="utf-8")
    rows = []
    with stack.running_services(prefix):
        url = f"http://127.0.0.1:{stack.port_of('intake')}/cases"
        stack.progress(f"intake: {args.warmup:g} s warm-up at {args.connections[0]} connections")
        next_index = wrk(script, url, args.connections[0], args.warmup, args.threads, 0)["next"]
        drain(args.timeout)
        for connections in args.connections:
            stack.progress(f"intake: {args.seconds:g} s at {connections} connections")
            figures = wrk(script, url, connections, args.seconds, args.threads, next_index)
            next_index = figures["next"]
            rows.append((connections, args.seconds, figures))
            drain(args.timeout)
    print(report(facts, rows, argv))
    return 1 if any(r["socket_errors"] or any(k.startswith("status_") for k in r) for _, _, r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
