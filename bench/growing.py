#!/usr/bin/env python3
"""The growing mix of issue 17: one user's rooms grow under a mixed load; the rate per minute.

    python bench/run.py --scenario growing [--minutes 3] [--connections 16]

On PostgreSQL attached to Meet's schema (as bench/run.py), seeded as bench/seed.py seeds and
analyzed once, like a database autovacuum has seen before the load: then the writer user, who
had no room when the statistics were taken, gets 60% `GET /rooms` (page 1), 25% `GET
/rooms/{id}` and 15% `POST /rooms {}` (bench/mixed.lua) from `wrk -t2 -c16` against
`meet-external serve --workers 2`, after a 5-second warm-up, one minute at a time, `--minutes`
times in a row. For each minute it prints the rate, p50 and p99, the user's room count at its
end, and the list's p50 at one connection measured right after (the plans the workers settled
on), and writes bench/results/growing-<timestamp>.json. No ANALYZE runs in between: the statistics go stale
as the user grows, as on a server autovacuum has not reached.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import List

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

import curve  # noqa: E402
import run as harness  # noqa: E402


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    harness.add_postgres_options(parser, layout=False)
    args = parser.parse_args(argv)
    exe = harness.require_wrk()
    if not args.meet_schema.is_file():
        print(f"bench: Meet's schema dump is not at {args.meet_schema} (give --meet-schema)",
              file=sys.stderr)
        return 2
    processes = harness.Processes()
    wrk = harness.Wrk(processes, exe)
    stamp, report = harness.new_report(
        "python bench/run.py --scenario growing", argv or [], minutes=[],
        settings={"connections": args.connections, "threads": args.threads, "workers": args.workers})
    try:
        with harness.Database("postgresql", args.pg_url, args.meet_schema) as db:
            env = harness.init_database(db.url)
            import seed

            print("[growing] seeding", flush=True)
            seeded = seed.seed(db.url)
            port = harness.free_port()
            log = Path(db.tmpdir) / "server.log"
            started = time.monotonic()
            server = processes.start([*harness.meet_external(), "serve", "--host", harness.HOST,
                                      "--port", str(port), "--workers", str(args.workers)],
                                     env=env, log=log, cwd=tempfile.gettempdir())
            workers: List[int] = []
            try:
                harness.wait_healthy(server, f"http://{harness.HOST}:{port}/healthz", log, started)
                workers = harness.worker_pids(server.pid)
                wrk.server_pids, wrk.database = workers, db.pg_name
                base = f"http://{harness.HOST}:{port}{harness.API}"
                token = curve.token_for(base, seeded, seeded["emails"]["writer"])
                room = harness.create_rooms(base, token, 1)[0]
                env_mix = {"BENCH_TOKEN": token, "BENCH_ROOM": room}
                # Warm-up, as bench/run.py's: each worker's first connections, prepares and plans.
                wrk.run(base, "mixed.lua", 5, args.connections, args.threads, env_mix, settle=False)
                for minute in range(1, args.minutes + 1):
                    res = wrk.run(base, "mixed.lua", 60, args.connections, args.threads, env_mix,
                                  settle=False)
                    status, _, data = harness.http("GET", f"{base}/rooms?page=1&page_size=1",
                                                   headers={"Authorization": f"Bearer {token}"})
                    rooms = data.get("count") if status == 200 else None
                    single = one_connection_p50(port, token)
                    res.pop("raw", None)
                    report["minutes"].append({"minute": minute, "rooms_at_end": rooms,
                                              "list_p50_ms_1_connection": single, **res})
                    print(f"[growing] minute {minute}: {res['rps']:.1f} req/s, p50 {res.get('p50_ms')} ms,"
                          f" p99 {res.get('p99_ms')} ms, non-2xx {res['non_2xx']}; the user has {rooms}"
                          f" rooms; list p50 at 1 connection {single:.2f} ms", flush=True)
                report["rss_mb"] = {str(pid): harness.rss_mb(pid) for pid in workers}
            finally:
                wrk.server_pids, wrk.database = [], ""
                processes.stop(server, children=workers)
    except harness.BenchError as exc:
        report["error"] = str(exc)
        print(f"[growing] failed: {exc}", file=sys.stderr)
    finally:
        processes.stop_all()
    lines = ["| minute | req/s | p50 | p99 | non-2xx | user's rooms at the end | list p50, 1 connection |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for m in report["minutes"]:
        lines.append(f"| {m['minute']} | {m['rps']:,.1f} | {m.get('p50_ms')} ms | {m.get('p99_ms')} ms"
                     f" | {m['non_2xx']} | {m['rooms_at_end']:,} | {m['list_p50_ms_1_connection']:.2f} ms |")
    harness.finish_report("growing", stamp, report, "\n".join(lines))
    return 1 if "error" in report else 0


def one_connection_p50(port: int, token: str, requests: int = 100) -> float:
    client = curve.Client(port)
    try:
        times = [client.get(f"{harness.API}/rooms?page=1&page_size=20", token)[0]
                 for _ in range(requests)]
    finally:
        client.close()
    return statistics.median(times[10:])


if __name__ == "__main__":
    sys.exit(main())
