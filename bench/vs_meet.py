#!/usr/bin/env python3
"""This server against La Suite Meet's own backend, on the same Meet database, in one run.

    python bench/vs_meet.py --meet-git-dir PATH [--commit e5f0b1c2] [--duration 5] [--rounds 3]
    MEET_GIT_DIR=PATH python bench/vs_meet.py

PATH is the operator's clone of suitenumerique/meet (a work tree or a bare mirror). The first
run sets Meet's backend up outside the repository (bench/meet_backend.py: `src/backend` at the
commit, a virtualenv with its pinned dependencies; minutes, cold); without a clone, or where it
cannot be set up, the run is skipped with the reason. Then, on PostgreSQL (`--pg-url`):

1. a database migrated by Meet's own migrations (a template kept per commit, cloned per run);
2. through Meet's ORM: one application with the three scopes, a user with 200 rooms made as
   Meet's create makes them, and a user without rooms who creates during the run;
3. `meet-external init-db` attached to that database (side tables and indexes only);
4. Meet under gunicorn (2 sync workers, as its image) and `meet-external serve --workers 2`,
   both on 127.0.0.1;
5. for each operation (token, list page 1, retrieve, create; Meet's trailing-slash paths on
   both), wrk `-t2 -c8` against one, then the other, alternating who goes first, `--rounds`
   times: the machine's other load falls on both alike.

It prints each operation's req/s on both and the ratio (this server / Meet, the median of the
rounds' ratios) against the targets, and writes bench/results/vs-meet-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

import meet_backend  # noqa: E402
import run as harness  # noqa: E402

ROOMS = 200
READER, WRITER = "reader@bench.example", "writer@bench.example"
TARGETS = {"token": (100, 100), "list": (10, 8), "retrieve": (10, 8), "create": (10, 8)}  # goal, required


def skip(reason: str) -> int:
    print(f"vs_meet: skipped: {reason}", flush=True)
    return 0


def redis_answers(url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def meet_database(admin: harness.Database, work: Path, commit: str, jwt_key: str) -> None:
    """Fill the run's empty database from a template migrated by Meet (made once per commit)."""
    template = f"meet_external_bench_meet_{commit[:8]}"
    with admin._admin() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template,))
        if cursor.fetchone() is None:
            print(f"[meet] migrating a template database {template} with Meet's migrations", flush=True)
            cursor.execute(f'CREATE DATABASE "{template}"')
            try:
                meet_backend.migrate(work, meet_backend.environment(
                    work, f"{admin.pg_admin_url}/{template}", jwt_key))
            except Exception:
                cursor.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
                raise
        cursor.execute(f'DROP DATABASE "{admin.pg_name}"')
        cursor.execute(f'CREATE DATABASE "{admin.pg_name}" TEMPLATE "{template}"')


def run(args) -> int:
    git_dir = args.meet_git_dir or os.environ.get("MEET_GIT_DIR")
    work = None if git_dir else meet_backend.ready(args.commit)
    if work is None:
        if not git_dir:
            return skip("Meet's backend is not set up here. Give a clone of suitenumerique/meet:"
                        " `python bench/vs_meet.py --meet-git-dir PATH` (or MEET_GIT_DIR=PATH) sets it"
                        " up outside the repository, minutes the first time.")
        try:
            work = meet_backend.setup(git_dir, args.commit)
        except (meet_backend.NotSetUp, subprocess.CalledProcessError, OSError) as exc:
            return skip(f"Meet's backend could not be set up from {git_dir}: {exc}")
    redis = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1")
    if not redis_answers(redis):
        return skip(f"Meet's backend needs Redis for its cache, and nothing answers at {redis}"
                    " (set REDIS_URL).")
    exe = shutil.which("wrk")
    if not exe:
        return skip(harness.WRK_MISSING)
    commit = (work / "tree/.commit").read_text().strip()
    processes = harness.Processes()
    wrk = harness.Wrk(processes, exe)
    jwt_key = secrets.token_urlsafe(48)
    stamp, report = harness.new_report(
        "python bench/vs_meet.py", None, meet_commit=commit,
        settings={"duration_s": args.duration, "rounds": args.rounds, "connections": 8,
                  "threads": 2, "workers": 2, "rooms": ROOMS})
    try:
        with harness.Database("postgresql", args.pg_url) as db:
            meet_database(db, work, commit, jwt_key)
            meet_env = meet_backend.environment(work, db.url, jwt_key)
            print("[meet] provisioning through Meet's ORM", flush=True)
            made = meet_backend.provision(work, meet_env, {READER: ROOMS, WRITER: 0})
            ours_env = harness.init_database(db.url, jwt_key)
            # What autovacuum would have done on a database Meet has served for a while.
            subprocess.run(["psql", "-q", "-d", db.url, "-c", "VACUUM ANALYZE"], check=True,
                           capture_output=True, timeout=300)
            report["results"] = side_by_side(args, processes, wrk, db, work, meet_env, ours_env, made)
    except (harness.BenchError, meet_backend.NotSetUp) as exc:
        print(f"vs_meet: failed: {exc}", file=sys.stderr)
        report["error"] = str(exc)
    except KeyboardInterrupt:
        report["interrupted"] = True
    finally:
        processes.stop_all()
    harness.finish_report("vs-meet", stamp, report, table(report))
    return 1 if "error" in report or report.get("interrupted") else 0


def side_by_side(args, processes, wrk, db, work, meet_env, ours_env, made) -> Dict[str, object]:
    logs = Path(db.tmpdir)
    meet_port, ours_port = harness.free_port(), harness.free_port()
    meet = meet_backend.start(processes, work, meet_env, meet_port, 2, logs / "meet.log")
    started = time.monotonic()
    ours = processes.start([*harness.meet_external(), "serve", "--host", harness.HOST, "--port",
                            str(ours_port), "--workers", "2"], env=ours_env, log=logs / "ours.log",
                           cwd=tempfile.gettempdir())
    harness.wait_healthy(ours, f"http://{harness.HOST}:{ours_port}/healthz", logs / "ours.log", started)
    servers = {"meet": (meet, meet_port), "ours": (ours, ours_port)}
    workers = {name: harness.worker_pids(proc.pid) for name, (proc, _) in servers.items()}
    plans = {}
    for name, (_, port) in servers.items():
        base = f"http://{harness.HOST}:{port}{harness.API}"
        tokens = {who: token(base, made, who) for who in (READER, WRITER)}
        room = made["users"][READER]["rooms"][0]
        plans[name] = {
            "token": ("/application/token/", "token.lua", {"BENCH_BODY": body(made, READER)}),
            "list": ("/rooms/?page=1", "list.lua", {"BENCH_TOKEN": tokens[READER]}),
            "retrieve": (f"/rooms/{room}/", "retrieve.lua", {"BENCH_TOKEN": tokens[READER]}),
            "create": ("/rooms/", "create.lua", {"BENCH_TOKEN": tokens[WRITER]}),
        }
        check(base, plans[name], room)
    results: Dict[str, object] = {}
    try:
        for op in ("token", "list", "retrieve", "create"):
            runs = {"meet": [], "ours": []}
            for round_ in range(args.rounds):
                order = ("meet", "ours") if round_ % 2 == 0 else ("ours", "meet")
                for name in order:
                    path, script, env = plans[name][op]
                    port = servers[name][1]
                    wrk.server_pids = workers[name]
                    res = wrk.run(f"http://{harness.HOST}:{port}{harness.API}{path}", script,
                                  args.duration, 8, 2, env)
                    res.pop("raw", None)
                    runs[name].append(res)
                    print(f"[{op}] {name}: {res['rps']:.1f} req/s, p50 {res.get('p50_ms')} ms,"
                          f" non-2xx {res['non_2xx']}", flush=True)
            ratios = [o["rps"] / m["rps"] for o, m in zip(runs["ours"], runs["meet"], strict=True)
                      if m["rps"]]
            results[op] = {**runs, "ratios": [round(r, 1) for r in ratios],
                           "ratio": round(statistics.median(ratios), 1) if ratios else None}
    finally:
        wrk.server_pids = []
        for name, (proc, _) in servers.items():
            processes.stop(proc, children=workers[name])
    return results


def body(made: dict, email: str) -> str:
    return json.dumps({"client_id": made["client_id"], "client_secret": made["client_secret"],
                       "grant_type": "client_credentials", "scope": email})


def token(base: str, made: dict, email: str) -> str:
    status, _, data = harness.http("POST", f"{base}/application/token/", body(made, email).encode(),
                                   {"Content-Type": "application/json"}, timeout=30)
    if status != 200 or not isinstance(data, dict):
        raise harness.BenchError(f"token from {base}: HTTP {status} {data!r}")
    return data["access_token"]


def check(base: str, plan: dict, room: str) -> None:
    """Each operation answers as expected once before the load."""
    path, _, env = plan["list"]
    auth = {"Authorization": f"Bearer {env['BENCH_TOKEN']}"}
    status, _, data = harness.http("GET", base + path, headers=auth)
    harness.expect(status == 200 and data.get("count") == ROOMS,
                   f"list at {base}: HTTP {status} {str(data)[:200]}")
    status, _, data = harness.http("GET", base + plan["retrieve"][0], headers=auth)
    harness.expect(status == 200 and data.get("id") == room,
                   f"retrieve at {base}: HTTP {status} {str(data)[:200]}")
    writer = {"Authorization": f"Bearer {plan['create'][2]['BENCH_TOKEN']}",
              "Content-Type": "application/json"}
    status, _, data = harness.http("POST", base + plan["create"][0], b"{}", writer)
    harness.expect(status == 201, f"create at {base}: HTTP {status} {str(data)[:200]}")


def table(report: dict) -> str:
    rows = ["| operation | Meet req/s | this server req/s | ratio (median of rounds) | rounds' ratios"
            " | target |",
            "|---|---:|---:|---:|---|---|"]
    for op, res in (report.get("results") or {}).items():
        meet = [r["rps"] for r in res["meet"]]
        ours = [r["rps"] for r in res["ours"]]
        goal, required = TARGETS[op]
        ratio = res["ratio"]
        verdict = ("goal met" if ratio and ratio >= goal else
                   "required met" if ratio and ratio >= required else "MISSED")
        rows.append(f"| {op} | {min(meet):,.1f}–{max(meet):,.1f} | {min(ours):,.0f}–{max(ours):,.0f}"
                    f" | **{ratio}x** | {', '.join(f'{r}x' for r in res['ratios'])}"
                    f" | ≥ {goal}x goal, ≥ {required}x required: {verdict} |")
    if report.get("error"):
        rows.append(f"| failed | | | | | {report['error'][:300]} |")
    return "\n".join(rows)


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meet-git-dir", help="a clone of suitenumerique/meet (or MEET_GIT_DIR)")
    parser.add_argument("--commit", default=meet_backend.DEFAULT_COMMIT)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run (default 5)")
    parser.add_argument("--rounds", type=int, default=3)
    harness.add_postgres_options(parser, layout=False, schema=False)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
