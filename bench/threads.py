#!/usr/bin/env python3
"""REQUEST_THREADS against the rate: the 10-room list, a retrieve and a create, served with each
value in turns on one seeded database.

    python bench/threads.py [--db postgresql|sqlite] [--values 2 4] [--rounds 2] [--duration 5]

For each round and value: `meet-external serve --workers 2` with REQUEST_THREADS set, a 1 s
warm-up, then each operation under `wrk -t2 -c8`; prints req/s and the workers' CPU per request.
The values take turns within each round, so the machine's other load falls on all of them.
Results in bench/results/threads-<timestamp>.json. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

import run as harness  # noqa: E402

OPERATIONS = ("list_small", "retrieve", "create")


def serve_and_measure(db, env, seeded, value: int, args, processes, wrk) -> Dict[str, dict]:
    port = harness.free_port()
    log = Path(db.tmpdir) / f"server-{value}.log"
    argv = [*harness.meet_external(), "serve", "--host", harness.HOST, "--port", str(port),
            "--workers", "2"]
    started = time.monotonic()
    server = processes.start(argv, env={**env, "REQUEST_THREADS": str(value)}, log=log,
                             cwd=tempfile.gettempdir())
    try:
        harness.wait_healthy(server, f"http://{harness.HOST}:{port}/healthz", log, started)
        workers: List[int] = []
        while len(workers) < 2 and time.monotonic() - started < 30:
            workers = harness.worker_pids(server.pid)
            time.sleep(0.1)
        wrk.server_pids, wrk.database = workers, db.pg_name or ""
        base = f"http://{harness.HOST}:{port}{harness.API}"
        tokens = {who: harness.get_token(base, seeded, who) for who in ("small", "big", "writer")}
        plan = {s.name: s for s in harness.scenarios(base, seeded, tokens, seconds=args.duration)}
        results = {}
        for name in OPERATIONS:
            scenario = plan[name]
            scenario.check(base + scenario.path)
            wrk.run(base + scenario.path, scenario.script, 1, 8, 2, scenario.env)
            res = wrk.run(base + scenario.path, scenario.script, args.duration, 8, 2, scenario.env)
            rate = res["rps"] or 0.0
            cpu_ms = res["cpu_cores"]["server"] / rate * 1000 if rate else None
            results[name] = {"rps": rate, "server_cpu_ms_per_request": cpu_ms,
                             "p50_ms": res.get("p50_ms"), "cpu_cores": res["cpu_cores"]}
            print(f"[{db.kind}] REQUEST_THREADS={value} {name}: {rate:,.0f} req/s, "
                  f"{cpu_ms:.2f} ms of server CPU a request", flush=True)
        return results
    finally:
        processes.stop(server, children=wrk.server_pids)


def run_database(kind: str, args, processes, exe: str) -> dict:
    wrk = harness.Wrk(processes, exe)
    meet_schema = args.meet_schema if kind == "postgresql" else None
    with harness.Database(kind, args.pg_url, meet_schema) as db:
        env = harness.init_database(db.url, "k" * 48)
        import seed

        seeded = seed.seed(db.url)
        rounds = []
        for _ in range(args.rounds):
            rounds.append({value: serve_and_measure(db, env, seeded, value, args, processes, wrk)
                           for value in args.values})
    return {"rounds": rounds}


def table(report: dict, values: List[int]) -> str:
    lines = ["| db | operation | " + " | ".join(f"{v} threads: req/s (CPU ms a request)" for v in values)
             + " |", "|---|---|" + "---:|" * len(values)]
    for kind, found in report["databases"].items():
        for name in OPERATIONS:
            cells = []
            for value in values:
                runs = [r[value][name] for r in found.get("rounds", []) if value in r]
                cells.append(", ".join(f"{r['rps']:,.0f} ({r['server_cpu_ms_per_request']:.2f})"
                                       for r in runs))
            lines.append(f"| {kind} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="postgresql")
    parser.add_argument("--values", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=float, default=5.0)
    harness.add_postgres_options(parser, layout=False)
    args = parser.parse_args(argv)
    exe = harness.require_wrk()
    stamp, report = harness.new_report("python bench/threads.py", argv, values=args.values,
                                       databases={})
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    failed = harness.run_each(kinds, lambda kind, processes: run_database(kind, args, processes, exe),
                              report)
    harness.finish_report("threads", stamp, report, table(report, args.values))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
