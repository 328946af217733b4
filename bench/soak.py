"""A soak: every service running for minutes under a steady paced rate of registrations,
sampled at intervals for resident memory, queue depths, outbox backlogs and the lag from
registered to assigned; exit 1 if memory grows or anything piles up (bench/README.md)."""
import argparse
import math
import os
import sys
import threading
import time
import uuid
from datetime import datetime

import psycopg

import measure
import stack
from fengqiao import config

# Assigned since the last sample: how long after its registration each case was assigned, by
# the events' own times (intake's and routing's clocks: one machine).
LAG_SQL = """
SELECT now(), count(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM a.time - r.time)),
       max(extract(epoch FROM a.time - r.time))
FROM events a JOIN events r ON r.case_id = a.case_id AND r.type = 'case.registered'
WHERE a.type = 'case.assigned' AND a.received_at > %s
"""


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10, help="length of the paced load (default 10)")
    p.add_argument("--rate", type=float, default=10,
                   help="registrations started per second; well within what the flood reaches (default 10)")
    p.add_argument("--every", type=float, default=30, help="seconds between samples (default 30)")
    p.add_argument("--warmup", type=int, default=100,
                   help="cases run through the whole chain before the load, not sampled (default 100)")
    p.add_argument("--timeout", type=float, default=300,
                   help="seconds to wait for the last cases once the load stops (default 300)")
    return p.parse_args(argv)


class Sampler:
    """What one sample holds, read from /proc, rabbitmqctl and the services' databases."""

    def __init__(self, pids):
        self.pids = pids
        self.reporting = psycopg.connect(config.settings("reporting").database_url, autocommit=True)
        self.since = self.reporting.execute("SELECT now()").fetchone()[0]
        self.started = time.monotonic()

    def sample(self):
        now, assigned, lag_p50, lag_max = self.reporting.execute(LAG_SQL, (self.since,)).fetchone()
        seconds = (now - self.since).total_seconds()
        self.since = now
        return {"t": time.monotonic() - self.started,
                "rss": {name: sum(measure.rss_mb(pid) for pid in pids) for name, pids in self.pids.items()},
                "queues": stack.queue_depths(), "outbox": stack.outbox_backlogs(),
                "assigned_per_s": assigned / seconds,
                "lag_p50_ms": milliseconds(lag_p50), "lag_max_ms": milliseconds(lag_max)}

    def close(self):
        self.reporting.close()


def milliseconds(seconds):
    return math.nan if seconds is None else 1000 * seconds  # None: no case assigned since the last sample


# --- the verdict -----------------------------------------------------------------------------

def thirds(values):
    """The first and the last third of a series (a value each at least)."""
    k = max(1, len(values) // 3)
    return values[:k], values[-k:]


def slope_per_hour(ts, values):
    """Least-squares slope of values over ts (seconds), per hour."""
    mean_t, mean_v = sum(ts) / len(ts), sum(values) / len(values)
    spread = sum((t - mean_t) ** 2 for t in ts)
    return 3600 * sum((t - mean_t) * (v - mean_v) for t, v in zip(ts, values)) / spread if spread else 0.0


def memory_verdict(samples):
    """[(service, first third's mean, last third's mean, MB/hour, flat)]: flat when the last
    third's mean is at most 10% above the first's."""
    verdicts = []
    for name in samples[0]["rss"]:
        series = [s["rss"][name] for s in samples]
        first, last = (sum(part) / len(part) for part in thirds(series))
        slope = slope_per_hour([s["t"] for s in samples], series)
        verdicts.append((name, first, last, slope, last <= 1.10 * first))
    return verdicts


def growing(samples, key, allowance):
    """{name: (max before the last third, max in it)} of every series under samples[i][key]
    whose depth in the last third exceeds both its maximum before and `allowance`."""
    found = {}
    k = max(1, len(samples) // 3)
    for name in samples[-1][key]:
        before = max((s[key].get(name, 0) for s in samples[:-k]), default=0)
        late = max(s[key].get(name, 0) for s in samples[-k:])
        if late > max(before, allowance):
            found[name] = (before, late)
    return found


def achieved_rate(records):
    """Registrations answered per second, from the first one due to the last answer."""
    return len(records) / (max(a for _, _, a in records) - min(s for _, s, _ in records)) if records else 0.0


# --- the report ------------------------------------------------------------------------------

def report(facts, args, argv, samples, memory, queues_growing, outboxes_growing, records, errors, complete):
    command = " ".join([".venv/bin/python", "bench/soak.py", *argv])
    names = list(config.SERVICES)
    lines = [
        "",
        f"#### Soak, {datetime.now().strftime('%Y-%m-%d')} (`{command}`)",
        "",
        stack.machine_line(facts) + f" {args.minutes:g} minutes of registrations paced at {args.rate:g}/s"
        f" ({len(records)} registered, {len(errors)} failed; {achieved_rate(records):.1f}/s achieved),"
        f" sampled every {args.every:g} s.",
        "",
        "| t (s) | " + " | ".join(f"{n} RSS (MiB)" for n in names) + " | Queued (ready + unacked) |"
        " Deepest queue | Outbox unpublished (" + "/".join(names) + ") | Assigned/s recorded | Lag p50 (ms) |"
        " Lag max (ms) |",
        "|" + "---:|" * (len(names) + 2) + "---|---:|---:|---:|---:|",
    ]
    for s in samples:
        deepest = max(s["queues"].items(), key=lambda item: item[1], default=("-", 0))
        lines.append(f"| {s['t']:.0f} | " + " | ".join(f"{s['rss'][n]:.0f}" for n in names)
                     + f" | {sum(s['queues'].values())} | {deepest[0]} ({deepest[1]}) |"
                     f" {'/'.join(str(s['outbox'][n]) for n in names)} | {s['assigned_per_s']:.1f} |"
                     f" {s['lag_p50_ms']:.0f} | {s['lag_max_ms']:.0f} |")
    lines += ["", "Memory (first and last third of the samples; flat: the last at most 10% above the first):", "",
              "| Service | First third (MiB) | Last third (MiB) | Slope (MiB/hour) | Flat |", "|---|---:|---:|---:|---|"]
    lines += [f"| {name} | {first:.1f} | {last:.1f} | {slope:+.1f} | {'yes' if flat else '**no**'} |"
              for name, first, last, slope, flat in memory]
    lines.append("")
    for what, found in (("Queues", queues_growing), ("Outbox backlogs", outboxes_growing)):
        lines.append(f"{what} growing: " + (", ".join(f"**{name}** ({before} → {late})"
                                                      for name, (before, late) in found.items()) or "none") + ".")
    if errors:
        lines.append(f"\nFailed registrations: {len(errors)}, first: {errors[0]}")
    if not complete:
        lines.append(f"\nNot every case was carried through the chain within {args.timeout:g} s of the load's end.")
    return "\n".join(lines).rstrip()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    prefix = f"fqbench{uuid.uuid4().hex[:6]}"
    os.environ.update(stack.bench_environment(prefix))
    facts = stack.machine_facts()
    threads = max(10, math.ceil(args.rate))  # a second's worth, as e2e_throughput.py's paced mode
    with stack.running_services(prefix) as processes:
        clients = stack.http_clients([f"http://127.0.0.1:{stack.port_of('intake')}/cases"])
        model = stack.read_model()
        stack.progress(f"soak: {args.warmup} warm-up cases, then {args.minutes:g} min at {args.rate:g}/s")
        measure.settle(args.warmup, threads, clients, model, 0.5, args.timeout, args.rate)
        sampler = Sampler({name: [p.pid for p in replicas] for name, replicas in processes.items()})
        samples, outcome = [], []
        # A daemon: stopped by a signal, the soak cleans up at once, not after the load's schedule.
        load = threading.Thread(daemon=True, target=lambda: outcome.append(measure.drive(
            round(args.rate * args.minutes * 60), threads, clients, args.warmup, args.rate)))
        load.start()
        while True:
            load.join(args.every - (time.monotonic() - sampler.started) % args.every)
            if not load.is_alive():
                break
            samples.append(sampler.sample())
            stack.progress(f"soak: sample at {samples[-1]['t']:.0f} s")
        samples.append(sampler.sample())  # and one as the load ends
        sampler.close()
        [(records, errors)] = outcome
        complete = measure.wait_for_events(model, args.warmup + len(records), 1, args.timeout)
    memory = memory_verdict(samples)
    allowance = 5 * args.rate  # five seconds of registrations: a backlog a burst may leave, not growth
    queues_growing = growing(samples, "queues", allowance)
    outboxes_growing = growing(samples, "outbox", allowance)
    print(report(facts, args, argv, samples, memory, queues_growing, outboxes_growing, records, errors, complete))
    healthy = (all(flat for *_, flat in memory) and not queues_growing and not outboxes_growing
               and not errors and complete)
    print(f"\nVerdict: {'memory flat and nothing piling up' if healthy else '**not steady**'}.")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
