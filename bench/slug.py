#!/usr/bin/env python3
"""The slug lookup (`GET /rooms?slug=`) against the 10-room list: one keep-alive connection, p50s.

    python bench/slug.py [--db sqlite|postgresql|both] [--requests 300] [--workers 1]
    python bench/run.py --scenario slug [the same options]

For each database it makes a fresh one as bench/run.py does (PostgreSQL attached to Meet's
`core 0022` schema dump by default), seeds it (bench/seed.py: 222,210 rooms, among them the
10-room user's and the 100,000-room user's) with one more user of 10,000 rooms interleaved
with everybody's, starts `meet-external serve`, and asks, over one keep-alive connection, one
request at a time, in interleaved rounds: the 10-room user's list (`page_size=10`, the
reference), and the slug lookup of the 10,000-room user's newest and oldest rooms and of the
100,000-room user's newest room. It prints each point's p50 and its ratio to the 10-room
list's (the target: at most 1.5x), and writes bench/results/slug-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

import curve  # noqa: E402
import run as harness  # noqa: E402

TEN_THOUSAND = "i10000@bench.example"
GOAL = 1.5


def slug_of(client: curve.Client, token: str, rooms: int, newest: bool) -> str:
    """The slug of the user's newest or oldest room, read from the list."""
    page = 1 if newest else rooms
    _, status, body = client.get(f"{harness.API}/rooms?page={page}&page_size=1", token)
    data = json.loads(body)
    if status != 200 or data["count"] != rooms:
        raise harness.BenchError(f"list for a slug: HTTP {status}, count {data.get('count')}")
    return data["results"][0]["slug"]


def points_for(port: int, base: str, seeded: dict) -> List[dict]:
    small = curve.token_for(base, seeded, seeded["emails"]["small"])
    middle = curve.token_for(base, seeded, TEN_THOUSAND)
    big = curve.token_for(base, seeded, seeded["emails"]["big"])
    client = curve.Client(port)
    try:
        slugs = {"newest": slug_of(client, middle, 10_000, True),
                 "oldest": slug_of(client, middle, 10_000, False),
                 "big": slug_of(client, big, 100_000, True)}
    finally:
        client.close()
    rooms = f"{harness.API}/rooms"
    return [
        {"name": "list, 10-room user, page_size=10", "path": f"{rooms}?page=1&page_size=10",
         "token": small, "count": 10, "results": 10},
        {"name": "slug, 10,000-room user, newest room", "path": f"{rooms}?slug={slugs['newest']}",
         "token": middle, "count": 1, "results": 1},
        {"name": "slug, 10,000-room user, oldest room", "path": f"{rooms}?slug={slugs['oldest'].upper()}",
         "token": middle, "count": 1, "results": 1},
        {"name": "slug, 100,000-room user, newest room", "path": f"{rooms}?slug={slugs['big']}",
         "token": big, "count": 1, "results": 1},
    ]


def measure(port: int, points: List[dict], requests: int, rounds: int = 10) -> None:
    """Fills each point's `ms`, taken in `rounds` interleaved rounds after a checked warm-up."""
    client = curve.Client(port)
    try:
        for point in points:
            for _ in range(5):
                _, status, body = client.get(point["path"], point["token"])
            data = json.loads(body)
            if status != 200 or (data["count"], len(data["results"])) != (point["count"], point["results"]):
                raise harness.BenchError(f"{point['name']}: HTTP {status} {data!r}"[:300])
            point["ms"] = []
        for _ in range(rounds):
            for point in points:
                for _ in range(max(1, requests // rounds)):
                    ms, status, _ = client.get(point["path"], point["token"])
                    if status != 200:
                        raise harness.BenchError(f"{point['name']}: HTTP {status}")
                    point["ms"].append(ms)
    finally:
        client.close()


def run_database(kind: str, args, processes) -> dict:
    meet_schema = args.meet_schema if kind == "postgresql" and args.pg_layout == "meet" else None
    out: Dict[str, object] = {}
    with harness.Database(kind, args.pg_url, meet_schema) as db:
        out["layout"] = "attached to Meet's schema (core 0022)" if meet_schema else "own"
        env = harness.init_database(db.url)
        import seed

        print(f"[{kind}] seeding", flush=True)
        seeded = seed.seed(db.url, extra={TEN_THOUSAND: 10_000})
        out["seed"] = {"seconds": seeded["seconds"], **seeded["counts"]}
        port = harness.free_port()
        log = Path(db.tmpdir) / "server-slug.log"
        argv = [*harness.meet_external(), "serve", "--host", harness.HOST, "--port", str(port),
                "--workers", str(args.workers)]
        server = processes.start(argv, env=env, log=log, cwd=tempfile.gettempdir())
        workers: List[int] = []
        try:
            harness.wait_healthy(server, f"http://{harness.HOST}:{port}/healthz", log, time.monotonic())
            workers = harness.worker_pids(server.pid)
            points = points_for(port, f"http://{harness.HOST}:{port}{harness.API}", seeded)
            measure(port, points, args.requests)
        except Exception:
            print(harness.log_tail(log), file=sys.stderr)
            raise
        finally:
            processes.stop(server, children=workers)
    base = statistics.median(points[0]["ms"])
    out["points"] = [{"name": p["name"], "p50_ms": round(statistics.median(p["ms"]), 3),
                      "over_10_room_list": round(statistics.median(p["ms"]) / base, 2),
                      "requests": len(p["ms"])} for p in points]
    out["worst_over_10_room_list"] = max(p["over_10_room_list"] for p in out["points"][1:])
    return out


def table(report: dict) -> str:
    lines = []
    for kind, res in report["databases"].items():
        if "error" in res:
            lines.append(f"\n{kind}: failed: {res['error'][:300]}")
            continue
        lines += [f"\n{kind} ({res['layout']}), one keep-alive connection:",
                  "| request | p50 | x the 10-room list |", "|---|---:|---:|"]
        lines += [f"| {p['name']} | {p['p50_ms']:.2f} ms | {p['over_10_room_list']:.2f}x |"
                  for p in res["points"]]
        worst = res["worst_over_10_room_list"]
        lines.append(f"| worst slug lookup | | **{worst:.2f}x** "
                     f"({'goal met' if worst <= GOAL else 'MISSED'}: ≤ {GOAL}x) |")
    return "\n".join(lines)


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--requests", type=int, default=300, help="requests per point (default 300)")
    parser.add_argument("--workers", type=int, default=1)
    harness.add_postgres_options(parser)
    args = parser.parse_args(argv)
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    stamp, report = harness.new_report("python bench/slug.py", argv, databases={})
    failed = harness.run_each(kinds, lambda kind, processes: run_database(kind, args, processes),
                              report)
    harness.finish_report("slug", stamp, report, table(report))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
