#!/usr/bin/env python3
"""The list's cost against the user's number of rooms: one keep-alive connection, p50s.

    python bench/curve.py [--db sqlite|postgresql|both] [--requests 300]
                          [--statistics analyzed|none|both] [--pg-layout meet|own]

For each database and each family of users it makes a fresh database as bench/run.py does
(PostgreSQL attached to Meet's `core 0022` schema dump by default) and seeds it (bench/seed.py):
"spread", users of 10, 100, 1,000, 10,000 and 100,000 rooms interleaved with everybody's
(222,210 rooms in all); "api", users of 10, 100, 1,000 and 10,000 rooms each made in one burst,
one user after the other, the newest of the database (as users made through the API). It starts
`meet-external serve --workers 2`, and asks each user's first and last page of
`GET /rooms?page_size=20` over one keep-alive connection, one request at a time, in rounds
(every point a few requests per round, so that the machine's other load falls on all points
alike). It prints each point's p50 and its ratio to the 10-room user's (the target: at most
1.5x, 2x required), and writes bench/results/curve-<timestamp>.json.

`--against PATH` runs a second server from another checkout of meet-external (its root put on
PYTHONPATH; e.g. `git worktree add /tmp/before <commit>`) beside this one, on the same database,
each point of both measured in the same rounds: a before and after in one run.

`--statistics none` (PostgreSQL) leaves Meet's tables as a restore leaves them: no planner
statistics, no visibility map, autovacuum off for them in this throwaway database; `both`
measures that, then runs ANALYZE (what autovacuum or an operator does later), restarts
the server and measures again.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

import run as harness  # noqa: E402

PAGE_SIZE = 20
# Two databases, each seeded as bench/run.py seeds (222,210 rooms in all in the first): in
# "spread", every user's rooms are interleaved with everybody's over the seed's two days; in
# "api", users made through the API one after the other, each user's rooms in a burst, the
# newest of the database (the first user made first; the 10-room user last, on top).
INTERLEAVED = {"i100@bench.example": 100, "i1000@bench.example": 1_000,
               "i10000@bench.example": 10_000}
BURST = {"b100@bench.example": 100, "b1000@bench.example": 1_000, "b10000@bench.example": 10_000,
         "b10@bench.example": 10}
GOAL, REQUIRED = 1.5, 2.0


def users_of(family: str, seeded: dict) -> List[tuple]:
    """(label, email, rooms) of every point, fewest rooms first; the first is the 10-room user."""
    if family == "spread":
        points = [("10", seeded["emails"]["small"], 10)]
        points += [(f"{n:,}", email, n) for email, n in INTERLEAVED.items()]
        return points + [("100,000", seeded["emails"]["big"], 100_000)]
    return sorted(((f"{n:,}", email, n) for email, n in BURST.items()), key=lambda p: p[2])


class Client:
    """One keep-alive HTTP/1.1 connection; the time of each request, in ms."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection(harness.HOST, port, timeout=30)

    def get(self, path: str, token: str) -> tuple:
        for attempt in (1, 2):
            started = time.perf_counter()
            try:
                self.conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
                response = self.conn.getresponse()
                body = response.read()
            except (http.client.RemoteDisconnected, ConnectionError):
                # The server closed the connection after its keep-alive timeout, while the
                # other server's points were measured: reconnect, and time the retry alone.
                self.conn.close()
                if attempt == 2:
                    raise
                continue
            return (time.perf_counter() - started) * 1000, response.status, body

    def close(self):
        self.conn.close()


def token_for(base: str, seeded: dict, email: str) -> str:
    body = json.dumps({"client_id": seeded["client_id"], "client_secret": seeded["client_secret"],
                       "grant_type": "client_credentials", "scope": email}).encode()
    status, _, data = harness.http("POST", f"{base}/application/token/", body,
                                   {"Content-Type": "application/json"})
    if status != 200:
        raise harness.BenchError(f"token for {email}: HTTP {status} {data!r}")
    return data["access_token"]


def measure(points: List[dict], requests: int, rounds: int = 10) -> None:
    """Fills each point's `ms` with `requests` timings, taken in `rounds` interleaved rounds
    (each point's requests on its server's one keep-alive connection)."""
    clients = {port: Client(port) for port in {point["port"] for point in points}}
    try:
        for point in points:  # checked once, and warmed: whatever a process does once is done
            client = clients[point["port"]]
            for _ in range(5):
                ms, status, body = client.get(point["path"], point["token"])
            data = json.loads(body)
            expected = min(PAGE_SIZE, point["rooms"] - (point["page"] - 1) * PAGE_SIZE)
            if status != 200 or data["count"] != point["rooms"] or len(data["results"]) != expected:
                raise harness.BenchError(f"{point['name']}: HTTP {status}, count {data.get('count')},"
                                         f" {len(data.get('results', []))} rooms")
            point["ms"] = []
        per_round = max(1, requests // rounds)
        for round_ in range(rounds):
            # Every other round backwards: no point always follows the same one.
            for point in (points if round_ % 2 == 0 else points[::-1]):
                client = clients[point["port"]]
                for _ in range(per_round):
                    ms, status, _ = client.get(point["path"], point["token"])
                    if status != 200:
                        raise harness.BenchError(f"{point['name']}: HTTP {status}")
                    point["ms"].append(ms)
    finally:
        for client in clients.values():
            client.close()


def serve_and_measure(kind: str, family: str, db, env: dict, seeded: dict, args, processes,
                      phase: str) -> dict:
    """This checkout's server, and with `--against` another checkout's on the same database,
    their points measured in the same rounds."""
    codes = {"this": env}
    if args.against:
        codes["against"] = {**env, "PYTHONPATH": str(args.against)}
    servers, points = [], []
    try:
        for code, code_env in codes.items():
            port = harness.free_port()
            log = Path(db.tmpdir) / f"server-{family}-{phase}-{code}.log"
            argv = [*harness.meet_external(), "serve", "--host", harness.HOST, "--port", str(port),
                    "--workers", str(args.workers)]
            started = time.monotonic()
            server = processes.start(argv, env=code_env, log=log, cwd=tempfile.gettempdir())
            servers.append((server, []))
            harness.wait_healthy(server, f"http://{harness.HOST}:{port}/healthz", log, started)
            servers[-1][1].extend(harness.worker_pids(server.pid))
            base = f"http://{harness.HOST}:{port}{harness.API}"
            for label, email, rooms in users_of(family, seeded):
                token = token_for(base, seeded, email)
                last = -(-rooms // PAGE_SIZE)
                for page in (1, last):
                    points.append({"name": f"{label}, page {page}", "label": label, "rooms": rooms,
                                   "page": page, "token": token, "port": port, "code": code,
                                   "path": f"{harness.API}/rooms?page={page}&page_size={PAGE_SIZE}"})
        # Each point of one server next to the same point of the other, within every round.
        order = {code: 0 for code in codes}
        for point in points:
            point["at"], order[point["code"]] = order[point["code"]], order[point["code"]] + 1
        measure(sorted(points, key=lambda point: point["at"]), args.requests)
    finally:
        for server, workers in servers:
            processes.stop(server, children=workers)
    out = {}
    for code in codes:
        mine = [point for point in points if point["code"] == code]
        # The 10-room user's first and last page are the same request: both make the base.
        base_p50 = statistics.median(mine[0]["ms"] + mine[1]["ms"])
        rows = []
        for point in mine:
            p50 = statistics.median(point["ms"])
            p90 = sorted(point["ms"])[int(0.9 * len(point["ms"]))]
            rows.append({"name": point["name"], "rooms": point["rooms"], "page": point["page"],
                         "p50_ms": round(p50, 3), "p90_ms": round(p90, 3),
                         "over_10_rooms": round(p50 / base_p50, 2), "requests": len(point["ms"])})
            print(f"[{kind}, {family}, {phase}, {code}] {point['name']}: p50 {p50:.2f} ms,"
                  f" {p50 / base_p50:.2f}x", flush=True)
        out[code] = {"points": rows, "worst_over_10_rooms": max(r["over_10_rooms"] for r in rows)}
    return {**out["this"], **({"against": out["against"]} if "against" in out else {})}


def run_database(kind: str, family: str, args, processes) -> dict:
    meet_schema = args.meet_schema if kind == "postgresql" and args.pg_layout == "meet" else None
    if meet_schema is not None and not meet_schema.is_file():
        raise harness.BenchError(f"Meet's schema dump is not at {meet_schema}"
                                 " (give --meet-schema, or --pg-layout own)")
    out: Dict[str, object] = {}
    with harness.Database(kind, args.pg_url, meet_schema) as db:
        out["layout"] = "attached to Meet's schema (core 0022)" if meet_schema else "own"
        out["server_version"] = db.server_version
        env = harness.init_database(db.url)
        import seed

        phases = ["analyzed"] if kind == "sqlite" else (
            ["none", "analyzed"] if args.statistics == "both" else [args.statistics])
        print(f"[{kind}, {family}] seeding", flush=True)
        users = {"extra": INTERLEAVED} if family == "spread" else {"burst": BURST}
        seeded = seed.seed(db.url, statistics=phases[0] == "analyzed", **users)
        out["seed"] = {"seconds": seeded["seconds"], **seeded["counts"]}
        for phase in phases:
            if phase == "analyzed" and phases[0] == "none":
                subprocess.run(["psql", "-q", "-d", db.url, "-c", "VACUUM ANALYZE"], check=True,
                               capture_output=True, timeout=300)
            out[phase] = serve_and_measure(kind, family, db, env, seeded, args, processes, phase)
    return out


def table(report: dict) -> str:
    lines = []
    against = report.get("against")
    for name, res in report["databases"].items():
        kind, family = name.split("/")
        for phase in ("none", "analyzed"):
            if phase not in res:
                continue
            title = {"none": "no statistics, no visibility map",
                     "analyzed": "after VACUUM ANALYZE"}[phase] if kind == "postgresql" else "SQLite"
            lines += [f"\n{kind} ({res.get('layout')}), users' rooms {FAMILY_TITLES[family]}, {title}:",
                      "| user's rooms | first page p50 | x 10 rooms | last page p50 | x 10 rooms |"
                      + (" against: first | x 10 | last | x 10 |" if against else ""),
                      "|---|---:|---:|---:|---:|" + ("---:|---:|---:|---:|" if against else "")]
            points = res[phase]["points"]
            other = (res[phase].get("against") or {}).get("points") or [None] * len(points)
            for first, last, ofirst, olast in zip(points[::2], points[1::2], other[::2], other[1::2],
                                                  strict=True):
                label = first["name"].rsplit(", page", 1)[0]
                line = (f"| {label} | {first['p50_ms']:.2f} ms | {first['over_10_rooms']:.2f}x"
                        f" | {last['p50_ms']:.2f} ms (page {last['page']}) | {last['over_10_rooms']:.2f}x |")
                if ofirst:
                    line += (f" {ofirst['p50_ms']:.2f} ms | {ofirst['over_10_rooms']:.2f}x"
                             f" | {olast['p50_ms']:.2f} ms | {olast['over_10_rooms']:.2f}x |")
                lines.append(line)
            worst = res[phase]["worst_over_10_rooms"]
            verdict = "goal met" if worst <= GOAL else ("required met" if worst <= REQUIRED else "MISSED")
            line = (f"| worst | | | | **{worst:.2f}x** ({verdict}: goal ≤ {GOAL}x,"
                    f" required ≤ {REQUIRED}x) |")
            if res[phase].get("against"):
                line += f" | | | {res[phase]['against']['worst_over_10_rooms']:.2f}x |"
            lines.append(line)
        if "error" in res:
            lines.append(f"\n{name}: failed: {res['error'][:300]}")
    return "\n".join(lines)


FAMILY_TITLES = {"spread": "interleaved with everybody's",
                 "api": "made through the API in bursts, the newest"}


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--requests", type=int, default=300, help="requests per point (default 300)")
    parser.add_argument("--statistics", choices=("analyzed", "none", "both"), default="both",
                        help="PostgreSQL: measure after ANALYZE, without statistics, or both")
    parser.add_argument("--family", action="append", choices=("spread", "api"),
                        help="which users (default both): rooms interleaved with everybody's, or made"
                             " through the API in bursts")
    parser.add_argument("--against", type=Path,
                        help="the root of another checkout of meet-external (e.g. a `git worktree` of"
                             " an older commit): its server runs beside this one on the same database"
                             " (PYTHONPATH), measured in the same rounds: a before and after in one run")
    parser.add_argument("--workers", type=int, default=2)
    harness.add_postgres_options(parser)
    args = parser.parse_args(argv)
    args.family = args.family or ["spread", "api"]
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    stamp, report = harness.new_report("python bench/curve.py", argv, databases={},
                                       against=str(args.against) if args.against else None)
    names = [f"{kind}/{family}" for kind in kinds for family in args.family]
    failed = harness.run_each(names, lambda name, processes: run_database(
        *name.split("/"), args, processes), report)
    harness.finish_report("curve", stamp, report, table(report))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
