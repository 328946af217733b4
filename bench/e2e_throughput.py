"""End-to-end throughput and latency of the Fengqiao case flow, beside a raw kombu + psycopg
baseline doing the same durable work on the same machine (bench/README.md).

This is a plain Python process: it never imports fengqiao.runner or fengqiao.green, which
monkey-patch with eventlet. The services run as processes of their own (fengqiao.launcher),
in the vhost fengqiao_bench, on databases and ports of their own (bench/stack.py); its queues
and databases are removed at the end."""
import argparse
import contextlib
import math
import os
import sys
import uuid
from datetime import datetime

import measure
import raw_baseline
import stack
from fengqiao import config, db
from profiling import Profiles, py_spy


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=2000, help="cases registered per run (default 2000)")
    p.add_argument("--rate", type=float,
                   help="pace registrations at this many per second whatever the answers (open loop);"
                        " default: flood (each client thread sends as soon as answered)")
    p.add_argument("--concurrency", type=int,
                   help="client threads registering at once (default 10; paced: a second's worth of"
                        " registrations, at least 10)")
    p.add_argument("--replicas", type=int, default=1, help="processes of every service (default 1)")
    p.add_argument("--warmup", type=int, default=50,
                   help="cases run through the whole chain first and not counted (default 50)")
    p.add_argument("--workers", type=int, default=10,
                   help="baseline: consumer threads per stage and producer database connections;"
                        " the services' max_workers is 10 (default 10)")
    p.add_argument("--poll-ms", type=float, default=50,
                   help="read-model polling interval in ms; latencies round up by as much (default 50)")
    p.add_argument("--timeout", type=float, default=300, help="seconds to wait for every case (default 300)")
    p.add_argument("--only", choices=("services", "baseline"), help="run one side only (no ratio then)")
    p.add_argument("--profile", metavar="DIR",
                   help="py-spy every service process over the measured window: speedscope files in DIR"
                        " and a summary in the output (its figures are not for the table)")
    args = p.parse_args(argv)
    if args.concurrency is None:
        args.concurrency = max(10, math.ceil(args.rate)) if args.rate else 10
    return args


def run_services(args, prefix):
    with stack.running_services(prefix, args.replicas) as processes:
        urls = [f"http://127.0.0.1:{stack.port_of('intake', k)}/cases" for k in range(args.replicas)]
        pids = {name: [p.pid for p in replicas] for name, replicas in processes.items()}
        profiles = Profiles(args.profile, processes) if args.profile else None
        each = f"{args.replicas} × " if args.replicas > 1 else ""
        progress_line("services", args)
        result = measure.measure(
            f"Fengqiao services ({each}5 nameko processes, HTTP in)", args.cases, args.concurrency,
            stack.http_clients(urls), stack.read_model(),
            args.poll_ms / 1000, args.timeout, args.warmup,
            cpu_groups={**measure.process_groups(pids), **stack.server_cpu_groups()},
            self_label="HTTP load client", rate=args.rate, memory=pids,
            during=profiles or contextlib.nullcontext())
        return result, profiles


def run_baseline(args, prefix):
    admin = config.settings("intake").admin_database_url
    name = f"{prefix}_raw"
    db.ensure_database(admin, name)
    try:
        stack.assert_plain_process()
        progress_line("baseline", args)
        return raw_baseline.run(args, f"{admin.rsplit('/', 1)[0]}/{name}", stack.AMQP_URI, stack.server_cpu_groups())
    finally:
        db.drop_database(admin, name)


def progress_line(side, args):
    load = f"paced at {args.rate:g}/s from" if args.rate else "flooding from"
    stack.progress(f"{side}: {args.warmup} warm-up + {args.cases} cases, {load} {args.concurrency} threads")


# --- the report ------------------------------------------------------------------------------

def report(facts, results, profiles, argv):
    command = " ".join([".venv/bin/python", "bench/e2e_throughput.py", *argv])
    lines = [
        "",
        f"#### End-to-end throughput, {datetime.now().strftime('%Y-%m-%d')} (`{command}`)",
        "",
        stack.machine_line(facts),
        "",
        "| Run | Cases | Load | Registrations/s | Cases assigned/s | p50 latency (ms) |"
        " p99 latency (ms) | All 3 events recorded (s) |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(f"| {r.label} | {r.cases} | {r.load} | {r.registrations_per_s:.0f} |"
                     f" {r.cases_per_s:.0f} | {r.p50_ms:.0f} | {r.p99_ms:.0f} | {r.chain_s:.1f} |")
    lines += ["", "CPU time per case over the measured window (ms), by process (a service's replicas"
              " together; RabbitMQ and PostgreSQL include anyone else using them); machine busy is the"
              " share of all cores in use:", ""]
    lines += [f"- {r.label}: " + ", ".join(f"{k} {v:.1f}" for k, v in r.cpu_ms_per_case.items())
              + f"; machine busy {100 * r.machine_busy:.0f}% of {facts['nproc']} cores" for r in results]
    for r in results:
        if r.memory_mb:
            lines += ["", f"Resident memory (VmRSS, MiB; one figure per process) of {r.label}:", "",
                      "| Service | Idle, after the warm-up | Peak while measured |", "|---|---:|---:|"]
            lines += [f"| {name} | {' / '.join(f'{v:.0f}' for v in idle)} | {' / '.join(f'{v:.0f}' for v in peak)} |"
                      for name, (idle, peak) in r.memory_mb.items()]
    if len(results) == 2:
        services, baseline = results
        lines += ["", f"Services / baseline throughput: **{services.cases_per_s / baseline.cases_per_s:.2f}**;"
                      f" latency p50 {services.p50_ms / baseline.p50_ms:.1f}×, p99 {services.p99_ms / baseline.p99_ms:.1f}×"]
    if profiles:
        lines += ["", *profiles.summary()]
    lines += [f"\n{r.label}: {r.errors} failed registration(s), first: {r.first_error}"
              for r in results if r.errors]
    lines += [f"\n{r.label}: {r.missing} case(s) never seen assigned" for r in results if r.missing]
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.profile:
        py_spy()  # missing: say so before starting anything
    prefix = f"fqbench{uuid.uuid4().hex[:6]}"
    os.environ.update(stack.bench_environment(prefix))
    facts = stack.machine_facts()
    results, profiles = [], None
    if args.only != "baseline":
        result, profiles = run_services(args, prefix)
        results.append(result)
    if args.only != "services":
        results.append(run_baseline(args, prefix))
    print(report(facts, results, profiles, argv))
    return 1 if any(r.errors or r.missing for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
