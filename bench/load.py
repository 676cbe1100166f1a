"""Load on a real `tierflow studio`: concurrent clients submit drafts and read the gallery; nothing is lost.

    python bench/load.py [--clients 8] [--duration 20 | --ops N] [--budget 100000] [--json]

Starts `tierflow studio` (TIERFLOW_PRESET=tiny) on a free loopback port in a temporary
TIERFLOW_HOME, creates a project with a budget grant, then runs N client threads (httpx) that mix
draft submissions (POST /api/v1/generations, 64x64, 1-3 variations) with gallery reads, prompt
searches and job polls; like a person at the studio, each client has one draft batch in flight at a
time and browses while it renders (so the queue stays bounded and the drain short). Reports
throughput and p50/p95 latency per operation kind, waits for every accepted job, then checks that
no job was lost (each reached a terminal state; the draft assets equal the variations the finished
jobs rendered) and that every credit is accounted for (granted = spent + reserved + remaining,
reserved 0, spent = the priced cost of the finished jobs = the ledger's commits).
Exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

API = "/api/v1"
PROJECT = "load"
WORDS = "fox lighthouse city neon forest ocean robot castle dragon garden sunset river owl train".split()
# operation kind → share of requests; "draft" submits a job, the others read
MIX = (("draft", 0.25), ("gallery", 0.35), ("search", 0.25), ("job", 0.15))
OK_STATUS = {"draft": {202, 402}, "gallery": {200}, "search": {200}, "job": {200}}  # 402: the budget ran out
TERMINAL = {"succeeded", "failed", "cancelled"}
EPSILON = 1e-6


@dataclass
class Submitted:
    job_id: str
    n: int


@dataclass
class LoadResult:
    clients: int
    seconds: float  # the load phase only
    drain_seconds: float  # from the end of the load phase until every job was terminal
    latencies: dict[str, list[float]]  # kind → ms of each answered request
    unexpected: list[str]  # "kind status: body" for every answer outside OK_STATUS (and transport errors)
    jobs: list[Submitted]
    refused: int  # drafts refused with 402
    accepted: int  # drafts accepted (202) during the load phase; ``jobs`` also holds the warm-up job
    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(passed for _, passed, _ in self.checks)

    def to_dict(self) -> dict:
        return {"clients": self.clients, "seconds": round(self.seconds, 3),
                "drain_seconds": round(self.drain_seconds, 3),
                "requests_per_s": round(self.requests / self.seconds, 2),
                "drafts_per_s": round(self.accepted / self.seconds, 2),
                "images_per_s": round(self.images / (self.seconds + self.drain_seconds), 2),
                "operations": {k: {"count": len(v), "p50_ms": round(pct(v, 50), 2), "p95_ms": round(pct(v, 95), 2)}
                               for k, v in sorted(self.latencies.items())},
                "jobs": len(self.jobs), "refused": self.refused, "unexpected": self.unexpected,
                "checks": [{"check": c, "ok": ok, "detail": d} for c, ok, d in self.checks], "ok": self.ok}

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    @property
    def images(self) -> int:
        return sum(j.n for j in self.jobs)


def pct(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


# -- the studio ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = studio_env(home)
    return subprocess.run([sys.executable, "-m", "tierflow", *args], capture_output=True, text=True, env=env,
                          timeout=300, check=True)


def studio_env(home: Path) -> dict[str, str]:
    src = str(Path(__file__).resolve().parents[1] / "src")
    return {**os.environ, "TIERFLOW_HOME": str(home), "TIERFLOW_PRESET": "tiny", "PYTHONWARNINGS": "ignore",
            "HF_HUB_OFFLINE": "1", "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}


class Studio:
    """`tierflow studio` in a child process; the context waits until the API answers and stops it after."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Studio:
        log = open(self.home / "studio.log", "w")  # a file, not a pipe: a full pipe would block the server
        self.proc = subprocess.Popen([sys.executable, "-m", "tierflow", "studio", "--port", str(self.port)],
                                     stdout=log, stderr=subprocess.STDOUT, env=studio_env(self.home))
        log.close()
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.url}{API}/engines", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"tierflow studio did not start: {(self.home / 'studio.log').read_text()[-2000:]}")
            time.sleep(0.2)

    def __exit__(self, *_exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# -- the load -----------------------------------------------------------------------------------
def run_load(home: Path, *, clients: int = 8, duration: float = 20.0, ops: int | None = None,
             budget: float = 100_000.0, seed: int = 7, drain_timeout: float = 300.0) -> LoadResult:
    """Start a studio on ``home``, run the load (``ops`` requests in all, else ``duration`` s), drain, check."""
    cli(home, "project", "create", PROJECT, "--min-drafts", "0", "--budget", str(budget))
    with Studio(home) as studio, httpx.Client(base_url=studio.url + API, timeout=60) as http:
        warm = _submit(http, "warm-up render", 1)  # builds the tiny models before the clock starts
        _wait(http, [warm], drain_timeout)
        result = _drive(studio.url + API, clients, duration, ops, seed)
        result.jobs.insert(0, warm)
        t0 = time.perf_counter()
        finals = _wait(http, result.jobs, drain_timeout)
        result.drain_seconds = time.perf_counter() - t0
        result.checks = check(http, result, finals, budget)
    return result


def _submit(http: httpx.Client, prompt: str, n: int) -> Submitted:
    r = http.post("/generations", json=_draft_body(prompt, n, 0))
    r.raise_for_status()
    return Submitted(r.json()["job_id"], n)


def _draft_body(prompt: str, n: int, seed: int) -> dict:
    return {"stage": "draft", "project": PROJECT, "prompt": prompt, "n": n, "size": "64x64", "steps": 1, "seed": seed}


def _drive(base_url: str, clients: int, duration: float, ops: int | None, seed: int) -> LoadResult:
    lock = threading.Lock()
    latencies: dict[str, list[float]] = defaultdict(list)
    unexpected: list[str] = []
    jobs: list[Submitted] = []
    refused = 0
    left = [ops] if ops is not None else None
    stop_at = time.monotonic() + duration

    def take() -> bool:
        if left is None:
            return time.monotonic() < stop_at
        with lock:
            left[0] -= 1
            return left[0] >= 0

    def client(index: int) -> None:
        nonlocal refused
        rng = random.Random(seed * 1000 + index)
        mine: Submitted | None = None  # like a person at the studio: one draft batch at a time, browse meanwhile
        mine_done = True
        with httpx.Client(base_url=base_url, timeout=60) as http:
            while take():
                kind = _pick(rng)
                if kind == "draft" and not mine_done:
                    kind = "job"
                n = rng.randint(1, 3)
                target = mine if kind == "job" and not mine_done else None
                t0 = time.perf_counter()
                try:
                    r = _request(http, kind, rng, n, jobs, target)
                except httpx.TransportError as e:
                    with lock:
                        unexpected.append(f"{kind} {type(e).__name__}: {e}")
                    continue
                ms = (time.perf_counter() - t0) * 1000
                with lock:
                    latencies[kind].append(ms)
                    if r.status_code not in OK_STATUS[kind]:
                        unexpected.append(f"{kind} {r.status_code}: {r.text[:200]}")
                    elif kind == "draft" and r.status_code == 202:
                        mine, mine_done = Submitted(r.json()["job_id"], n), False
                        jobs.append(mine)
                    elif kind == "draft":
                        refused += 1
                    elif target is not None:
                        mine_done = r.json().get("status") in TERMINAL

    threads = [threading.Thread(target=client, args=(i,), name=f"load-client-{i}") for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return LoadResult(clients, time.perf_counter() - t0, 0.0, dict(latencies), unexpected, jobs, refused, len(jobs))


def _pick(rng: random.Random) -> str:
    x, acc = rng.random(), 0.0
    for kind, share in MIX:
        acc += share
        if x < acc:
            return kind
    return MIX[-1][0]


def _request(http: httpx.Client, kind: str, rng: random.Random, n: int, jobs: list[Submitted],
             target: Submitted | None) -> httpx.Response:
    if kind == "draft":
        prompt = " ".join(rng.sample(WORDS, 3))
        return http.post("/generations", json=_draft_body(prompt, n, rng.randrange(2**31)))
    if kind == "gallery":
        return http.get("/assets", params={"project": PROJECT, "limit": 50})
    if kind == "search":
        return http.get("/assets", params={"project": PROJECT, "search": rng.choice(WORDS), "limit": 50})
    if target is None and not jobs:  # nothing submitted yet: a one-row gallery read instead
        return http.get("/assets", params={"project": PROJECT, "limit": 1})
    return http.get(f"/generations/{(target or rng.choice(list(jobs))).job_id}")


def _wait(http: httpx.Client, jobs: list[Submitted], timeout: float) -> dict[str, dict]:
    """Job id → its final JobPublic; a job still running at ``timeout`` is left with its last state."""
    deadline = time.monotonic() + timeout
    finals: dict[str, dict] = {}
    pending = [j.job_id for j in jobs]
    while pending:
        still = []
        for job_id in pending:
            body = http.get(f"/generations/{job_id}").json()
            finals[job_id] = body
            if body.get("status") not in TERMINAL:
                still.append(job_id)
        pending = still
        if pending:
            if time.monotonic() > deadline:
                break
            time.sleep(0.25)
    return finals


# -- the checks ---------------------------------------------------------------------------------
def check(http: httpx.Client, result: LoadResult, finals: dict[str, dict],
          granted: float) -> list[tuple[str, bool, str]]:
    """No request failed, no job was lost, every credit is accounted for: (name, passed, detail) each."""
    checks = [("every request answered as expected (no 5xx)", not result.unexpected,
               f"{len(result.unexpected)} unexpected: {result.unexpected[:3]}" if result.unexpected else
               f"{result.requests} requests")]

    states = [finals.get(j.job_id, {}).get("status") for j in result.jobs]
    lost = [j.job_id for j, s in zip(result.jobs, states, strict=True) if s not in TERMINAL]
    tally = ", ".join(f"{s} {states.count(s)}" for s in sorted(set(states), key=str))
    checks.append(("every accepted job reached a terminal state", not lost,
                   f"{len(result.jobs)} jobs: {tally}" + (f"; not terminal: {lost[:5]}" if lost else "")))

    # the API lists at most 1000 generations: enough for minutes of this load (one batch in flight per client)
    generations = http.get("/generations", params={"project": PROJECT, "limit": 1000}).json()["generations"]
    by_id = {g["id"]: g for g in generations}
    gen_ids = {finals[j.job_id].get("generation_id") for j in result.jobs if j.job_id in finals} - {None}
    # a job refused when its worker reserves (the budget ran out after the 202) fails before its row exists
    rowless = [j.job_id for j in result.jobs if not finals.get(j.job_id, {}).get("generation_id")
               and finals.get(j.job_id, {}).get("status") != "failed"]
    checks.append(("every accepted job has its generation row, and no other exists",
                   gen_ids == set(by_id) and not rowless,
                   f"{len(gen_ids)} jobs with a row, {len(by_id)} generations"
                   + (f"; no row and not failed: {rowless[:5]}" if rowless else "")))

    expected = 0
    for j in result.jobs:
        body = finals.get(j.job_id, {})
        # a failed job keeps the assets it rendered before failing; a finished one has all n
        expected += j.n if body.get("status") == "succeeded" else len(body.get("assets", []))
    short = [j.job_id for j in result.jobs
             if finals.get(j.job_id, {}).get("status") == "succeeded" and len(finals[j.job_id]["assets"]) != j.n]
    stored = _count_assets(http)
    checks.append(("draft assets = variations of the finished jobs", stored == expected and not short,
                   f"{stored} stored, {expected} expected" + (f"; short jobs {short[:5]}" if short else "")))

    b = http.get(f"/projects/{PROJECT}/budget").json()
    entries = http.get(f"/projects/{PROJECT}/ledger", params={"limit": 5000}).json()["entries"]
    own = [e for e in entries if e["scope"] == "project"]
    commits = sum(e["amount"] for e in own if e["kind"] == "commit")
    priced = sum(g["credits"] or 0.0 for g in generations)
    balance = abs(b["granted"] - (b["spent"] + b["reserved"] + b["remaining"]))
    checks.append(("ledger: granted = spent + reserved + remaining, reserved 0",
                   abs(b["granted"] - granted) < EPSILON and balance < EPSILON and abs(b["reserved"]) < EPSILON,
                   f"granted {b['granted']:.6f} = spent {b['spent']:.6f} + reserved {b['reserved']:.6f} "
                   f"+ remaining {b['remaining']:.6f}"))
    reservations = {e["reservation_id"] for e in own if e["kind"] == "reserve"}
    closed = [e["reservation_id"] for e in own if e["kind"] in ("commit", "refund")]
    checks.append(("spent = priced cost of the finished jobs = ledger commits",
                   abs(b["spent"] - priced) < EPSILON and abs(commits - priced) < EPSILON
                   and sorted(closed) == sorted(reservations) and len(reservations) == len(by_id),
                   f"spent {b['spent']:.6f}, jobs priced {priced:.6f}, commits {commits:.6f}; "
                   f"{len(reservations)} reservations, {len(closed)} closed"))
    return checks


def _count_assets(http: httpx.Client) -> int:
    count, cursor = 0, None
    while True:
        params = {"project": PROJECT, "stage": "draft", "limit": 500} | ({"cursor": cursor} if cursor else {})
        page = http.get("/assets", params=params).json()
        count += len(page["assets"])
        cursor = page["next_cursor"]
        if not cursor:
            return count


# -- the report -----------------------------------------------------------------------------------
def report(result: LoadResult) -> str:
    d = result.to_dict()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [f"{result.clients} clients, {result.seconds:.1f} s of load, {result.drain_seconds:.1f} s to drain; "
             f"{os.cpu_count()} CPUs, load average {load:.1f}",
             f"{'operation':10} {'count':>6} {'p50 ms':>8} {'p95 ms':>8}"]
    for kind, row in d["operations"].items():
        lines.append(f"{kind:10} {row['count']:6d} {row['p50_ms']:8.1f} {row['p95_ms']:8.1f}")
    lines.append(f"\nthroughput: {d['requests_per_s']:.1f} requests/s, {d['drafts_per_s']:.2f} drafts accepted/s, "
                 f"{d['images_per_s']:.2f} images rendered/s (load + drain); "
                 f"{d['jobs']} jobs, {d['refused']} refused (402)")
    lines += [f"{'ok  ' if ok else 'FAIL'} {name}: {detail}" for name, ok, detail in result.checks]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load (default 20)")
    parser.add_argument("--ops", type=int, default=None, help="stop after this many requests instead")
    parser.add_argument("--budget", type=float, default=100_000.0, help="credits granted to the project")
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--home", type=Path, default=None, help="default: a new temporary TIERFLOW_HOME")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="tierflow-load-"))
    result = run_load(home, clients=args.clients, duration=args.duration, ops=args.ops, budget=args.budget,
                      drain_timeout=args.drain_timeout)
    print(json.dumps(result.to_dict(), indent=2) if args.json else report(result))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
