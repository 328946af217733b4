"""Load and measurement shared by both runs of the benchmark: the same workload, the same
clock and the same way of seeing a case arrive, so the two rows of the table compare.

A case's latency runs from just before its registration is sent until a poller first sees it
as `assigned` in the read model's database. Polling adds up to one poll interval (half on
average) to every latency; both runs pay it alike."""
import contextlib
import itertools
import math
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta

import psycopg

from services.intake.schemas import REGISTRATION_EXAMPLE

# Villages of three townships of deploy/county/sample-county.yaml, and categories they handle
# or hand on: cases spread over several bodies and several case-number counters.
LOCATIONS = ["QS01", "QS02", "QS03", "BY01", "BY02", "BY03", "DS01", "DS02", "DS03"]
CATEGORIES = ["neighbour_dispute", "land_dispute", "marriage_family", "wage_arrears"]
CHAIN = ("case.registered", "case.assigned", "notification.sent")  # the events every case gets
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def registration(i):
    """The body of the i-th `POST /cases`: intake's own example, with a petitioner of its own,
    so that no registration is taken for a repeat petition of an earlier one."""
    [petitioner] = REGISTRATION_EXAMPLE["petitioners"]
    return {
        **REGISTRATION_EXAMPLE,
        "location": LOCATIONS[i % len(LOCATIONS)],
        "category": CATEGORIES[i % len(CATEGORIES)],
        "subject": subject(i),
        "petitioners": [{**petitioner, "id_number": resident_id(i), "phone": f"138{i:08d}"}],
    }


def subject(i):
    return f"{REGISTRATION_EXAMPLE['subject']}（压测 {i}）"


def resident_id(i):
    """A valid 18-digit resident ID number (GB 11643), different for each i below 20 million."""
    born = date(1950, 1, 1) + timedelta(days=i // 1000)
    first17 = f"110101{born:%Y%m%d}{i % 1000:03d}"
    check = "10X98765432"[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS)) % 11]
    return first17 + check


@dataclass(frozen=True)
class ReadModel:
    """Where cases become visible: a database with a cases table (number, status) and an
    events table holding every event of the chain."""
    db_url: str
    cases_table: str = "cases"
    events_table: str = "events"


@dataclass
class Result:
    label: str
    cases: int
    errors: int
    concurrency: int
    rate: float  # registrations started per second when paced; None for a flood
    registrations_per_s: float
    cases_per_s: float
    p50_ms: float
    p99_ms: float
    chain_s: float  # from the first send until every event of every case is recorded
    missing: int = 0
    first_error: str = ""
    cpu_ms_per_case: dict = field(default_factory=dict)  # by process, over the measured window
    machine_busy: float = math.nan  # share of all cores busy over the measured window
    memory_mb: dict = field(default_factory=dict)  # {label: ([idle RSS], [peak RSS])}, a value per process

    @property
    def load(self):
        if self.rate:
            return f"paced {self.rate:g}/s, {self.concurrency} threads"
        return f"flood, {self.concurrency} threads"


class Poller(threading.Thread):
    """Records when each case number is first seen assigned or further (a mediating body may
    have signed for it already by the next poll)."""

    def __init__(self, model, interval):
        super().__init__(daemon=True, name="assigned-poller")
        self.sql = f"SELECT number FROM {model.cases_table} WHERE status <> 'registered'"
        self.db_url, self.interval = model.db_url, interval
        self.seen = {}
        self.stopping = threading.Event()

    def run(self):
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            while not self.stopping.is_set():
                rows = conn.execute(self.sql).fetchall()
                now = time.monotonic()
                for (number,) in rows:
                    self.seen.setdefault(number, now)
                self.stopping.wait(self.interval)

    def wait_for(self, numbers, timeout):
        """Wait until every number was seen; returns those still missing at the timeout."""
        deadline = time.monotonic() + timeout
        while (missing := [n for n in numbers if n not in self.seen]) and time.monotonic() < deadline:
            time.sleep(self.interval)
        return missing

    def stop(self):
        self.stopping.set()
        self.join()


def drive(n, concurrency, make_worker, first_index=0, rate=None):
    """Register n cases from `concurrency` threads. `make_worker()` gives each thread its own
    (register(i) -> case number, close()) pair, so no client connection is shared.

    Without a rate it floods (closed loop): each thread sends its next registration as soon as
    the last is answered. With one it paces (open loop): the k-th registration is due k / rate
    seconds after the start whatever the answers, and counts as sent when it was due, so a
    client that falls behind shows as latency (no coordinated omission).
    Returns [(number, sent_at, answered_at)] and the errors."""
    indices = itertools.count(first_index)
    lock = threading.Lock()
    records, errors = [], []
    start = time.monotonic()

    def loop():
        register, close = make_worker()
        try:
            while True:
                with lock:
                    i = next(indices)
                if i >= first_index + n:
                    return
                sent = time.monotonic()
                if rate:
                    sent = start + (i - first_index) / rate
                    time.sleep(max(0.0, sent - time.monotonic()))
                try:
                    number = register(i)
                except Exception as exc:  # counted and shown; the run goes on
                    with lock:
                        errors.append(repr(exc))
                    continue
                with lock:
                    records.append((number, sent, time.monotonic()))
        finally:
            close()

    # Daemons: a benchmark stopped by a signal must not wait for the rest of a paced schedule.
    threads = [threading.Thread(target=loop, name=f"client-{k}", daemon=True) for k in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return records, errors


def wait_for_events(model, cases, interval, timeout):
    """Wait until `cases` cases each have every event of CHAIN in the read model; True if they
    got there in time. Cases counted, not events: the services record more events per case
    (mediation's, several notifications, case.clustered) than the chain's three."""
    deadline = time.monotonic() + timeout
    sql = (f"SELECT count(*) FROM (SELECT case_id FROM {model.events_table} WHERE type = ANY(%s)"
           f" GROUP BY case_id HAVING count(DISTINCT type) = {len(CHAIN)}) AS complete")
    with psycopg.connect(model.db_url, autocommit=True) as conn:
        while True:
            count = conn.execute(sql, (list(CHAIN),)).fetchone()[0]
            if count >= cases or time.monotonic() > deadline:
                return count >= cases
            time.sleep(interval)


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list."""
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def measure(label, n, concurrency, make_worker, model, poll_s, timeout, warmup=0, cpu_groups=None,
            self_label="load client", rate=None, memory=None, during=contextlib.nullcontext()):
    """Warm up (not counted), then register n cases (flooding, or paced at `rate` per second)
    and wait for each to be assigned and for its whole event chain to be recorded.
    `cpu_groups` ({label: () -> [pid]}) are the processes whose CPU time per case is reported;
    this process is always among them (`self_label`). `memory` ({label: [pid]}): processes
    whose resident memory is reported, idle after the warm-up and at its peak while measured.
    `during`: a context manager held over the measured window (a profiler)."""
    registered = 0
    if warmup:
        registered += settle(warmup, concurrency, make_worker, model, poll_s, timeout, rate)
    meter = CpuMeter({**(cpu_groups or {}), **process_groups({self_label: [os.getpid()]})})
    memory_meter = MemoryMeter(memory or {})
    memory_meter.start()
    poller = Poller(model, poll_s)
    poller.start()
    try:
        with during:
            records, errors = drive(n, concurrency, make_worker, first_index=warmup, rate=rate)
            missing = poller.wait_for([r[0] for r in records], timeout)
            registered += len(records)
            complete = wait_for_events(model, registered, poll_s, timeout)
            chain_end = time.monotonic()
    finally:
        poller.stop()
        memory_meter.stop()
    result = _summarize(label, concurrency, rate, records, errors, poller.seen, missing,
                        chain_end if complete else math.nan)
    result.cpu_ms_per_case, result.machine_busy = meter.per_case_ms(result.cases)
    result.memory_mb = memory_meter.idle_and_peak()
    return result


class CpuMeter:
    """CPU time (user + system, all threads) of groups of processes from its creation on, and
    how busy the whole machine was meanwhile. Linux /proc only."""

    def __init__(self, groups):
        self.groups = groups
        self.start, self.machine_start = self._sample(), _machine_ticks()

    def per_case_ms(self, cases):
        """({label: CPU ms per case}, share of all cores busy)."""
        end = self._sample()
        busy, total = (a - b for a, b in zip(_machine_ticks(), self.machine_start))
        per_case = {}
        for label, seconds in end.items():
            spent = sum(s - self.start[label].get(pid, 0.0) for pid, s in seconds.items())
            per_case[label] = 1000 * spent / cases
        return per_case, (busy / total if total else math.nan)

    def _sample(self):
        return {label: _cpu_by_pid(find()) for label, find in self.groups.items()}


def _cpu_by_pid(pids):
    seconds = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return seconds


def _machine_ticks():
    """(busy, total) CPU ticks of the whole machine since boot."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:9]]  # guest time is inside user already
    idle = ticks[3] + ticks[4]  # idle + iowait
    return sum(ticks) - idle, sum(ticks)


def process_groups(pids):
    """{label: [pid]} -> CPU groups of fixed processes."""
    return {label: (lambda pids=pids: pids) for label, pids in pids.items()}


def rss_mb(pid):
    """Resident memory of a process (VmRSS) in MiB; NaN once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return math.nan
    return kib / 1024


class MemoryMeter(threading.Thread):
    """Resident memory of groups of processes ({label: [pid]}): once at creation (idle), and the
    peak of each process, sampled every `interval` seconds from start() until stop()."""

    def __init__(self, groups, interval=0.5):
        super().__init__(daemon=True, name="memory-meter")
        self.interval = interval
        self.idle = {label: [rss_mb(pid) for pid in pids] for label, pids in groups.items()}
        self.peak = {label: list(values) for label, values in self.idle.items()}
        self.groups = groups
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.wait(self.interval):
            for label, pids in self.groups.items():
                self.peak[label] = [max(p, rss_mb(pid)) for p, pid in zip(self.peak[label], pids)]

    def stop(self):
        self.stopping.set()
        self.join()

    def idle_and_peak(self):
        return {label: (self.idle[label], self.peak[label]) for label in self.groups}


def children_of(pid):
    """Direct children of a process (PostgreSQL's backends are its postmaster's children)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except OSError:
                pass
    return found


def settle(n, concurrency, make_worker, model, poll_s, timeout, rate=None):
    """Run n cases through the whole chain and wait for them: connections, pools and caches
    are warm before the measured run starts."""
    poller = Poller(model, poll_s)
    poller.start()
    try:
        records, errors = drive(n, concurrency, make_worker, rate=rate)
        if errors:
            raise RuntimeError(f"warm-up failed: {errors[0]}")
        if poller.wait_for([r[0] for r in records], timeout):
            raise RuntimeError("warm-up cases were not all assigned in time")
    finally:
        poller.stop()
    if not wait_for_events(model, len(records), poll_s, timeout):
        raise RuntimeError("warm-up events were not all recorded in time")
    return len(records)


def _summarize(label, concurrency, rate, records, errors, seen, missing, chain_end):
    if not records:
        raise RuntimeError(f"{label}: no case was registered; first error: {errors[:1]}")
    start = min(sent for _, sent, _ in records)
    latencies = sorted(seen[number] - sent for number, sent, _ in records if number in seen)
    if not latencies:
        raise RuntimeError(f"{label}: no case was seen assigned")
    last_seen = max(seen[number] for number, _, _ in records if number in seen)
    return Result(
        label=label, cases=len(records), errors=len(errors), concurrency=concurrency, rate=rate,
        registrations_per_s=len(records) / (max(answered for _, _, answered in records) - start),
        cases_per_s=len(latencies) / (last_seen - start),
        p50_ms=1000 * percentile(latencies, 50), p99_ms=1000 * percentile(latencies, 99),
        chain_s=chain_end - start, missing=len(missing), first_error=errors[0] if errors else "",
    )
