#!/usr/bin/env python3
"""The benchmark harness of issue 5: one command, every number.

    python bench/run.py [--db sqlite|postgresql|both] [--duration S] [--quick]
                        [--profile SCENARIO]... [--profile-connections N]

For each database it makes a fresh one (a SQLite file in a temporary directory, or a
`meet_bench_<random>` database on PostgreSQL, dropped afterwards), creates the tables
with `meet-external init-db`, bulk-seeds it (bench/seed.py), starts
`meet-external serve --workers 2` on a free port of 127.0.0.1, and drives load at it
with wrk (bench/*.lua). In the same run it drives the list load at a plain-Flask
floor (bench/floor_app.py under gunicorn, 2 sync workers). It prints one markdown table
and writes everything to bench/results/<timestamp>.json.

Every process it starts is stopped by PID in `finally` blocks, also on Ctrl-C.
All traffic goes to 127.0.0.1. It installs nothing: wrk must be on PATH (see README).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import math
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Tuple

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
API = "/external-api/v1.0"
HOST = "127.0.0.1"
DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432"
# The schema dump the PostgreSQL runs attach to by default: Meet at e5f0b1c2 (v1.27), beside the checkout.
DEFAULT_MEET_SCHEMA = ROOT.parent / "shared" / "meet-schema" / "meet-e5f0b1c2.sql"

# The reference implementation's numbers (issue 8: Meet's Django code at the file's commit,
# gunicorn with 2 sync workers, PostgreSQL, wrk -t2 -c8, this kind of machine, quiet), and
# the targets, as ratios to the plain-Flask floor measured in the same run.
REFERENCE = {"token": 7.2, "list_small": 140, "list_big_first": 140, "list_big_last": 140,
             "retrieve": 142, "create": 98}
FLOOR_TARGET = {"token": 0.25, "list_small": 0.4, "list_big_first": 0.4, "list_big_last": 0.4,
                "retrieve": 0.4, "create": 0.17}
P99_OVER_P50 = 10  # every operation: p99 at most this many times its p50
OVER_CREATE = {"patch_20": 0.5, "delete": 0.5}  # req/s, over create's in the same run
# DELETE needs a room per request, created through the API before its run: the create rate
# times the run's seconds times this (DELETE may be faster than POST), within the bounds.
DELETE_ROOMS_FACTOR = 3
DELETE_ROOMS_MIN, DELETE_ROOMS_MAX = 500, 20_000
BIG_OVER_SMALL = {"list_big_first": 2, "list_big_last": 3}  # p50, the 100k-room user's over the 10-room's

# Direct connections only: a proxy from the environment must never see this traffic.
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class BenchError(Exception):
    """Something the run cannot go on without; the message says what."""


# --- processes -----------------------------------------------------------------


class Processes:
    """Every process this run starts, so that each can be stopped by its PID."""

    def __init__(self) -> None:
        self.started: List[subprocess.Popen] = []

    def start(self, argv: List[str], *, env: Dict[str, str], log: Path | None = None,
              new_session: bool = True, **kwargs) -> subprocess.Popen:
        out = open(log, "ab") if log else subprocess.DEVNULL
        try:
            # Servers get their own session: a Ctrl-C in the terminal reaches only this
            # harness, which then stops them in order.
            proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=new_session,
                                    **kwargs)
        finally:
            if log:
                out.close()
        self.started.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, children: List[int] = (), grace: float = 15.0) -> None:
        """SIGTERM the process, wait, then SIGKILL it and any of its recorded children left."""
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        for pid in children:
            while _alive(pid) and _parent_of(pid) in (proc.pid, 1) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _alive(pid) and _parent_of(pid) in (proc.pid, 1):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if proc in self.started:
            self.started.remove(proc)

    def stop_all(self) -> None:
        for proc in list(reversed(self.started)):
            self.stop(proc)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _parent_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def children_of(pid: int) -> List[int]:
    """PIDs whose parent is `pid` (from /proc, no psutil needed)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _parent_of(int(entry.name)) == pid:
            found.append(int(entry.name))
    return sorted(found)


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def worker_pids(parent: int) -> List[int]:
    """uvicorn's or gunicorn's workers: the parent's children but multiprocessing's resource tracker."""
    return [pid for pid in children_of(parent) if "resource_tracker" not in cmdline(pid)]


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_cpu() -> Dict[str, float]:
    """Busy and stolen CPU seconds of the whole machine so far (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    return {"busy": (user + nice + system + irq + softirq) / tick, "steal": steal / tick}


def quiesce(pids: List[int], limit: float = 120.0) -> float:
    """Wait until the workers are idle (requests a finished load left in flight are done)."""
    started = time.monotonic()
    while pids and time.monotonic() - started < limit:
        before = sum(cpu_seconds(p) for p in pids)
        time.sleep(0.3)
        if sum(cpu_seconds(p) for p in pids) - before < 0.3 * 0.1:
            break
    return round(time.monotonic() - started, 2)


def postgres_backends(database: str) -> List[int]:
    """PIDs of the PostgreSQL backends serving `database` (their titles name it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            title = cmdline(int(entry.name))
            if title.startswith("postgres:") and f" {database} " in title:
                found.append(int(entry.name))
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def run_each(names: List[str], run_one, report: dict) -> bool:
    """`run_one(name, processes)` for each name into report["databases"], every process stopped
    after; a BenchError is that name's result. True when any failed."""
    processes = Processes()
    failed = False
    try:
        for name in names:
            try:
                report["databases"][name] = run_one(name, processes)
            except BenchError as exc:
                report["databases"][name] = {"error": str(exc)}
                print(f"[{name}] failed: {exc}", file=sys.stderr, flush=True)
                failed = True
    finally:
        processes.stop_all()
    report["loadavg_end"] = loadavg()
    return failed


def add_postgres_options(parser: argparse.ArgumentParser, layout: bool = True, schema: bool = True) -> None:
    """--pg-url, --pg-layout (`layout`) and --meet-schema (`schema`): every benchmark reads them alike."""
    parser.add_argument("--pg-url", default=DEFAULT_PG_ADMIN_URL,
                        help=f"PostgreSQL server, as a superuser (default {DEFAULT_PG_ADMIN_URL})")
    if layout:
        parser.add_argument("--pg-layout", choices=("meet", "own"), default="meet",
                            help="PostgreSQL: La Suite Meet's schema (the server attaches) or an empty"
                                 " database")
    if schema:
        parser.add_argument("--meet-schema", type=Path, default=DEFAULT_MEET_SCHEMA,
                            help="the pg_dump of Meet's schema to attach to")


def new_report(command: str, argv: List[str] | None, **fields) -> Tuple[str, Dict[str, object]]:
    """A benchmark run's stamp and report: its command, when, the code measured and the load
    average at the start, then `fields`."""
    now = datetime.datetime.now()
    report = {"command": " ".join([command, *(sys.argv[1:] if argv is None else argv)]),
              "started": now.isoformat(timespec="seconds"), "git": git_state(),
              "loadavg_start": loadavg(), **fields}
    return now.strftime("%Y%m%d-%H%M%S"), report


def finish_report(prefix: str, stamp: str, report: dict, table_markdown: str) -> None:
    """The table, the load average and the code printed; the report written (`write_results`)."""
    report.setdefault("loadavg_end", loadavg())
    report["table_markdown"] = table_markdown
    print(table_markdown)
    print(f"\nload average {report['loadavg_start']} -> {report['loadavg_end']};"
          f" code at {report['git']['commit']}"
          f"{' + uncommitted changes' if report['git']['uncommitted_server_files'] else ''}")
    write_results(prefix, stamp, report)


def write_results(prefix: str, stamp: str, report: dict) -> None:
    """The report as bench/results/<prefix>-<stamp>.json, named on standard output."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{prefix}-{stamp}.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"results: {path.relative_to(ROOT)}")


WRK_MISSING = ("wrk is not installed. On Debian/Ubuntu: `sudo apt-get install wrk`; elsewhere see"
               " https://github.com/wg/wrk (bench/README.md).")


def require_wrk() -> str:
    """wrk's path; without it, says how to install it and stops the benchmark (exit status 2)."""
    exe = shutil.which("wrk")
    if not exe:
        print(f"bench: {WRK_MISSING}", file=sys.stderr)
        raise SystemExit(2)
    return exe


def init_database(url: str, secret_key: str | None = None) -> Dict[str, str]:
    """`meet-external init-db` on the database; the environment a server on it is started with."""
    env = {**os.environ, "DATABASE_URL": url,
           "APPLICATION_JWT_SECRET_KEY": secret_key or secrets.token_urlsafe(48)}
    done = subprocess.run([*meet_external(), "init-db"], env=env, capture_output=True, text=True,
                          cwd=tempfile.gettempdir(), timeout=120)
    if done.returncode != 0:
        raise BenchError(f"init-db failed: {done.stderr.strip()}")
    return env


def meet_external() -> List[str]:
    """The console script next to this interpreter (not a pyenv shim: no extra exec hops)."""
    beside = Path(sys.executable).parent / "meet-external"
    if beside.exists():
        return [str(beside)]
    exe = shutil.which("meet-external")
    return [exe] if exe else [sys.executable, "-m", "meet_external"]


def log_tail(log: Path, lines: int = 25) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --- HTTP ----------------------------------------------------------------------------


def http(method: str, url: str, body: bytes | None = None,
         headers: Dict[str, str] | None = None, timeout: float = 10.0):
    """(status, headers, parsed JSON or None) for one request."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with _HTTP.open(request, timeout=timeout) as response:
            status, head, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        status, head, raw = exc.code, dict(exc.headers), exc.read()
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        data = raw[:200].decode(errors="replace")
    return status, head, data


def wait_healthy(proc: subprocess.Popen, url: str, log: Path, started: float,
                 timeout: float = 90.0) -> float:
    """Seconds from `started` to the first 200 from `url`."""
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise BenchError(f"server exited with {proc.returncode} before answering:\n{log_tail(log)}")
        try:
            with _HTTP.open(url, timeout=1) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.01)
    raise BenchError(f"no answer from {url} after {timeout:.0f} s:\n{log_tail(log)}")


# --- wrk ---------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> Dict[str, object]:
    """req/s, latency percentiles (ms), request and error counts from `wrk --latency`."""
    result: Dict[str, object] = {}
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    result["rps"] = float(match.group(1)) if match else None
    for pct, value in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", output, re.M):
        result[f"p{pct}_ms"] = round(_ms(value), 3)
    match = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", output)
    if match:
        result["avg_ms"] = round(_ms(match.group(1)), 3)
        result["max_ms"] = round(_ms(match.group(3)), 3)
    match = re.search(r"(\d+) requests in ([\d.]+\w+)", output)
    result["requests"] = int(match.group(1)) if match else 0
    match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    result["non_2xx"] = int(match.group(1)) if match else 0
    match = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    result["socket_errors"] = sum(map(int, match.groups())) if match else 0
    return result


class Wrk:
    def __init__(self, processes: Processes, exe: str):
        self.processes = processes
        self.exe = exe
        self.server_pids: List[int] = []  # whose CPU is accounted and awaited around each run
        self.database = ""  # a PostgreSQL database whose backends are accounted the same way

    def _backends(self) -> List[int]:
        return postgres_backends(self.database) if self.database else []

    def run(self, url: str, script: str, seconds: float, connections: int, threads: int,
            env: Dict[str, str], settle: bool = True) -> Dict[str, object]:
        argv = [self.exe, f"-t{min(threads, connections)}", f"-c{connections}",
                f"-d{max(1, int(round(seconds)))}s", "--timeout", "10s", "--latency",
                "-s", str(BENCH / script), url]
        # Requests a finished run left in flight (in the workers or in the database) end first.
        idle_wait = quiesce(self.server_pids + self._backends()) if settle else 0.0
        servers_before = sum(cpu_seconds(p) for p in self.server_pids)
        db_before = {p: cpu_seconds(p) for p in self._backends()}
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        machine_before, wall_before = machine_cpu(), time.monotonic()
        # wrk's output is parsed, so it is started here with a pipe, but tracked the same way.
        proc = subprocess.Popen(argv, env={**os.environ, **env}, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
        self.processes.started.append(proc)
        try:
            output, _ = proc.communicate(timeout=seconds + 60)
        finally:
            self.processes.stop(proc, grace=2)
        wall = time.monotonic() - wall_before
        machine_after = machine_cpu()
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise BenchError(f"wrk failed ({proc.returncode}): {output.strip()[:500]}")
        result = parse_wrk(output)
        servers = sum(cpu_seconds(p) for p in self.server_pids) - servers_before
        db_after = {p: cpu_seconds(p) for p in self._backends()}
        db_cpu = sum(max(0.0, db_after.get(p, db_before.get(p, 0.0)) - db_before.get(p, 0.0))
                     for p in set(db_before) | set(db_after))
        wrk_cpu = (children_after.ru_utime + children_after.ru_stime
                   - children_before.ru_utime - children_before.ru_stime)
        busy = machine_after["busy"] - machine_before["busy"]
        # Cores in use on average while the load ran: the server's workers, the PostgreSQL
        # backends of the bench database, wrk itself, and everything else (other users of
        # the machine), plus CPU stolen by the hypervisor.
        result["cpu_cores"] = {
            "server": round(servers / wall, 2), "db": round(db_cpu / wall, 2),
            "wrk": round(wrk_cpu / wall, 2),
            "rest": round(max(0.0, busy - servers - db_cpu - wrk_cpu) / wall, 2),
            "steal": round((machine_after["steal"] - machine_before["steal"]) / wall, 2),
        }
        result.update(connections=connections, threads=min(threads, connections),
                      seconds=seconds, waited_for_idle_s=idle_wait, raw=output)
        return result


# --- scenarios -------------------------------------------------------------------------


@dataclasses.dataclass
class Scenario:
    name: str
    label: str
    script: str
    path: str
    env: Dict[str, str]
    check: object  # callable(base_url) -> None, raising BenchError
    # callable(base_url, results so far) -> None, run before the check: makes what the run
    # needs (rooms), completes `env`; raises BenchError
    prepare: object = None
    # callable(result) -> None: reads what the script reported, after the run
    after: object = None


def token_body(seeded: dict, who: str = "small") -> str:
    return json.dumps({"client_id": seeded["client_id"], "client_secret": seeded["client_secret"],
                       "grant_type": "client_credentials", "scope": seeded["emails"][who]})


def get_token(base: str, seeded: dict, who: str) -> str:
    status, _, data = http("POST", f"{base}/application/token/", token_body(seeded, who).encode(),
                           {"Content-Type": "application/json"})
    if status != 200 or not isinstance(data, dict) or "access_token" not in data:
        raise BenchError(f"token for {who}: HTTP {status} {data!r}")
    return data["access_token"]


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise BenchError(what)


def create_rooms(base: str, token: str, count: int, parallel: int = 8) -> List[str]:
    """`count` new rooms of the token's user, through the API (POST /rooms {}); their ids."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def one(_):
        status, _, data = http("POST", f"{base}/rooms", b"{}", headers, timeout=30)
        if status != 201 or not isinstance(data, dict) or "id" not in data:
            raise BenchError(f"creating rooms for the run: HTTP {status} {data!r}")
        return data["id"]

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        return list(pool.map(one, range(count)))


def delete_room_count(create_rps: float | None, seconds: float) -> int:
    """Rooms to create for the DELETE run: create's rate (or a guess without it) x seconds x 3."""
    rate = create_rps if create_rps else 200.0
    wanted = math.ceil(rate * seconds * DELETE_ROOMS_FACTOR)
    return max(DELETE_ROOMS_MIN, min(DELETE_ROOMS_MAX, wanted))


class AuditCount:
    """Audit events (one JSON line each on the server's stderr, in its log) written after `mark`."""

    def __init__(self, log: Path | None):
        self.log = log
        self.offset = 0

    def mark(self) -> None:
        try:
            self.offset = self.log.stat().st_size if self.log else 0
        except OSError:
            self.offset = 0

    def count(self, event: str) -> int | None:
        if self.log is None:
            return None
        try:
            with open(self.log, "rb") as handle:
                handle.seek(self.offset)
                text = handle.read().decode(errors="replace")
        except OSError:
            return None
        return len(re.findall(r'"event":\s*"' + re.escape(event) + '"', text))


def scenarios(base: str, seeded: dict, tokens: Dict[str, str], *, threads: int = 2,
              connections: int = 8, seconds: float = 10.0, workdir: Path | None = None,
              audit: AuditCount | None = None) -> List[Scenario]:
    auth = {k: {"Authorization": f"Bearer {v}"} for k, v in tokens.items()}
    room = seeded["rooms"]["big"][0]
    threads = min(threads, connections)
    workdir = Path(workdir or tempfile.gettempdir())
    audit = audit or AuditCount(None)

    def check_token(url):
        status, head, data = http("POST", url, token_body(seeded).encode(),
                                  {"Content-Type": "application/json"})
        expect(status == 200 and "access_token" in (data or {}), f"token: HTTP {status} {data!r}")

    def check_list(count, size, last=False):
        def check(url):
            status, _, data = http("GET", url, headers=auth["small" if count == 10 else "big"])
            expect(status == 200, f"list: HTTP {status} {data!r}")
            expect(data["count"] == count and len(data["results"]) == size,
                   f"list: count {data.get('count')} results {len(data.get('results', []))},"
                   f" expected {count} and {size}")
            if last:
                expect(data["next"] is None, f"list: last page has next {data['next']!r}")
        return check

    def check_retrieve(url):
        status, _, data = http("GET", url, headers=auth["big"])
        expect(status == 200 and data.get("id") == room, f"retrieve: HTTP {status} {data!r}")

    def check_create(url):
        status, head, data = http("POST", url, b"{}",
                                  {**auth["writer"], "Content-Type": "application/json"})
        expect(status == 201 and "id" in (data or {}), f"create: HTTP {status} {data!r}")

    # PATCH: two lists of 20 attendees sharing 10, so that each PATCH removes 10 members and
    # adds 10. Rooms of the writer created through the API, 2 for each connection of a wrk
    # thread, each thread its own (patch.lua): a request practically never waits for another's
    # room lock, and a room's PATCHes arrive in the order sent, A, B, A, ..., so none is a no-op.
    people = seeded["attendees"]
    lists = {"A": people[:20], "B": people[10:30]}
    patch_env = {"BENCH_TOKEN": tokens["writer"], "BENCH_THREADS": str(threads),
                 **{f"BENCH_BODY_{k}": json.dumps({"attendees": v}) for k, v in lists.items()}}
    patch_rooms: List[str] = []

    def prepare_patch(url, results):
        per_thread = 2 * math.ceil(connections / threads)
        # One more for the check: the run's rooms start without members, so whichever list
        # a room gets first changes it (wrk calls request() once before the run, unsent).
        patch_rooms[:] = create_rooms(base, tokens["writer"], threads * per_thread + 1)
        patch_env["BENCH_ROOMS"] = ",".join(patch_rooms[1:])

    def check_patch(url):
        for name in ("A", "B"):
            body = patch_env[f"BENCH_BODY_{name}"].encode()
            status, _, data = http("PATCH", url + patch_rooms[0], body,
                                   {**auth["writer"], "Content-Type": "application/json"})
            expect(status == 200 and isinstance(data, dict)
                   and sorted(data.get("attendees") or []) == sorted(lists[name]),
                   f"patch: HTTP {status} {data!r}")
        audit.mark()

    def after_patch(result):
        # Every PATCH that changed the member list writes a room.updated audit line.
        time.sleep(0.5)
        result["room_updated_events"] = audit.count("room.updated")
        result["rooms"] = len(patch_rooms) - 1

    # DELETE: rooms of the writer created through the API before the run, one per request,
    # from a file delete.lua walks (each wrk thread its own ids); only 204s count.
    ids_file = workdir / "delete-ids.txt"
    delete_env = {"BENCH_TOKEN": tokens["writer"], "BENCH_THREADS": str(threads),
                  "BENCH_IDS": str(ids_file)}
    delete_state: Dict[str, object] = {}

    def prepare_delete(url, results):
        create = results.get("create") or {}
        count = delete_room_count(create.get("rps"), seconds)
        started = time.monotonic()
        ids = create_rooms(base, tokens["writer"], count + 1)
        delete_state.update(check_id=ids.pop(), rooms_created=count,
                            creating_seconds=round(time.monotonic() - started, 2),
                            from_create_rps=create.get("rps"))
        ids_file.write_text("\n".join(ids) + "\n")

    def check_delete(url):
        target = url + delete_state["check_id"]
        status, _, data = http("DELETE", target, headers=auth["writer"])
        expect(status == 204 and data is None, f"delete: HTTP {status} {data!r}")
        status, _, data = http("GET", target, headers=auth["writer"])
        expect(status == 404, f"delete: the deleted room answers HTTP {status} {data!r}")
        audit.mark()

    def after_delete(result):
        match = re.search(r"^bench-delete: ids (\d+), 204 (\d+), other (\d+), past the ids (\d+)",
                          result.get("raw", ""), re.M)
        if not match:
            raise BenchError("delete: delete.lua's summary line is missing from wrk's output")
        given, deleted, other, past = map(int, match.groups())
        result.update(rooms_created=delete_state["rooms_created"],
                      creating_seconds=delete_state["creating_seconds"],
                      sized_from_create_rps=delete_state["from_create_rps"],
                      ids=given, deleted_204=deleted, other_answers=other,
                      requests_past_the_ids=past, ids_ran_out=past > 0)
        # The rate of 204s only: wrk's own counts every answer.
        result["rps_all_answers"] = result.get("rps")
        if result.get("rps") is not None and result.get("requests"):
            result["rps"] = round(result["rps"] * deleted / result["requests"], 2)
        time.sleep(0.5)
        result["room_deleted_events"] = audit.count("room.deleted")
        try:
            ids_file.unlink()
        except OSError:
            pass

    big_pages = 100_000 // 20
    return [
        Scenario("token", "token (POST /application/token/)", "token.lua",
                 "/application/token/", {"BENCH_BODY": token_body(seeded)}, check_token),
        Scenario("list_small", "list, 10-room user, page 1", "list.lua",
                 "/rooms?page=1&page_size=20", {"BENCH_TOKEN": tokens["small"]},
                 check_list(10, 10)),
        Scenario("list_big_first", "list, 100k-room user, page 1", "list.lua",
                 "/rooms?page=1&page_size=20", {"BENCH_TOKEN": tokens["big"]},
                 check_list(100_000, 20)),
        Scenario("list_big_last", f"list, 100k-room user, page {big_pages} (last)", "list.lua",
                 f"/rooms?page={big_pages}&page_size=20", {"BENCH_TOKEN": tokens["big"]},
                 check_list(100_000, 20, last=True)),
        Scenario("retrieve", "retrieve (GET /rooms/{id}, 100k-room user)", "retrieve.lua",
                 f"/rooms/{room}", {"BENCH_TOKEN": tokens["big"]}, check_retrieve),
        Scenario("create", "create (POST /rooms {})", "create.lua", "/rooms",
                 {"BENCH_TOKEN": tokens["writer"]}, check_create),
        Scenario("patch_20", "update (PATCH /rooms/{id}, 20 attendees)", "patch.lua", "/rooms/",
                 patch_env, check_patch, prepare_patch, after_patch),
        Scenario("delete", "delete (DELETE /rooms/{id})", "delete.lua", "/rooms/",
                 delete_env, check_delete, prepare_delete, after_delete),
    ]


def over_create(results: Dict[str, object]) -> Dict[str, float | None]:
    """patch_20's and delete's req/s over create's, measured in the same run."""
    create = (results.get("create") or {}).get("rps")
    ratios = {}
    for name in OVER_CREATE:
        rps = (results.get(name) or {}).get("rps")
        ratios[name] = round(rps / create, 3) if rps is not None and create else None
    return ratios


def extra(name: str, res: Dict[str, object]) -> str:
    """What the progress line adds for the scenarios whose scripts report more."""
    if name == "patch_20" and res.get("room_updated_events") is not None:
        return (f"; {res['room_updated_events']} room.updated events for {res.get('requests')}"
                f" answers ({res.get('rooms')} rooms)")
    if name == "delete" and "deleted_204" in res:
        text = (f"; {res['deleted_204']} rooms deleted (204) of {res['ids']} created"
                f" in {res['creating_seconds']:.1f} s before the run")
        if res["ids_ran_out"]:
            text += (f"; THE IDS RAN OUT: {res['requests_past_the_ids']} requests after them"
                     " (404s, not counted: the rate is a lower bound)")
        return text
    return ""


# --- one database -------------------------------------------------------------------------


class Database:
    """A fresh, empty database for one run; removed afterwards."""

    def __init__(self, kind: str, pg_admin_url: str, meet_schema: Path | None = None):
        self.kind = kind
        self.meet_schema = meet_schema
        self.pg_admin_url = pg_admin_url.rstrip("/")
        self.tmpdir: str | None = None
        self.pg_name: str | None = None
        self.url = ""
        self.server_version = ""

    def __enter__(self) -> Database:
        # Holds the SQLite file and the server's log, whatever the database.
        self.tmpdir = tempfile.mkdtemp(prefix="meet_bench_")
        if self.kind == "sqlite":
            import sqlite3

            self.url = f"sqlite:///{self.tmpdir}/bench.sqlite3"
            self.server_version = f"SQLite {sqlite3.sqlite_version}"
        else:
            self.pg_name = f"meet_bench_{secrets.token_hex(6)}"
            with self._admin() as cursor:
                cursor.execute("SELECT version()")
                self.server_version = cursor.fetchone()[0].split(" on ")[0]
                cursor.execute(f'CREATE DATABASE "{self.pg_name}"')
            self.url = f"{self.pg_admin_url}/{self.pg_name}"
            if self.meet_schema is not None:
                # La Suite Meet's own schema, as its migrations make it: the server attaches.
                subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.url,
                                "-f", str(self.meet_schema)], check=True, capture_output=True,
                               timeout=120)
        return self

    def _admin(self):
        import contextlib

        try:
            import psycopg
        except ImportError:
            raise BenchError("psycopg is not installed (pip install '.[bench]')") from None

        @contextlib.contextmanager
        def cursor():
            try:
                conn = psycopg.connect(f"{self.pg_admin_url}/postgres", connect_timeout=5,
                                       autocommit=True)
            except psycopg.OperationalError as exc:
                raise BenchError(f"PostgreSQL at {self.pg_admin_url}: {str(exc).strip()}") from None
            try:
                with conn.cursor() as cur:
                    yield cur
            finally:
                conn.close()

        return cursor()

    def __exit__(self, *exc) -> None:
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        if self.pg_name:
            with self._admin() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')


def run_database(kind: str, out: Dict[str, object], args, processes: Processes, wrk: Wrk,
                 secret_key: str, profile_dir: Path | None) -> None:
    """Fills `out` as it goes, so that an interrupted run still reports what it measured."""
    meet_schema = None
    if kind == "postgresql" and args.pg_layout == "meet":
        meet_schema = args.meet_schema
        if not meet_schema.is_file():
            raise BenchError(f"Meet's schema dump is not at {meet_schema}"
                             " (give --meet-schema, or --pg-layout own)")
    with Database(kind, args.pg_url, meet_schema) as db:
        out["layout"] = "attached to Meet's schema (core 0022)" if meet_schema else "own"
        out["server_version"] = db.server_version
        print(f"[{kind}] creating tables (meet-external init-db)", flush=True)
        env = init_database(db.url, secret_key)
        print(f"[{kind}] seeding", flush=True)
        sys.path.insert(0, str(BENCH))
        import seed

        seeded = seed.seed(db.url)
        out["seed"] = {"seconds": seeded["seconds"], **seeded["counts"]}
        print(f"[{kind}] seeded {seeded['counts']['rooms']:,} rooms in {seeded['seconds']:.1f} s",
              flush=True)

        port = free_port()
        log = Path(db.tmpdir) / "server.log"
        argv = [*meet_external(), "serve", "--host", HOST, "--port", str(port),
                "--workers", str(args.workers)]
        started = time.monotonic()
        server = processes.start(argv, env=env, log=log, cwd=tempfile.gettempdir())
        workers: List[int] = []
        try:
            base = f"http://{HOST}:{port}{API}"
            out["startup_seconds"] = round(
                wait_healthy(server, f"http://{HOST}:{port}/healthz", log, started), 3)
            print(f"[{kind}] first /healthz answer after {out['startup_seconds']:.2f} s", flush=True)
            deadline = time.monotonic() + 30
            while len(workers) < args.workers and time.monotonic() < deadline:
                workers = worker_pids(server.pid)
                time.sleep(0.1)
            out["server_pid"], out["worker_pids"] = server.pid, workers
            wrk.server_pids, wrk.database = workers, db.pg_name or ""

            tokens = {who: get_token(base, seeded, who) for who in ("small", "big", "writer")}
            plan = scenarios(base, seeded, tokens, threads=args.threads,
                             connections=args.connections, seconds=args.duration,
                             workdir=Path(db.tmpdir), audit=AuditCount(log))
            # Warm-up: each worker builds what it builds on its first requests.
            wrk.run(base + plan[1].path, plan[1].script, 1, args.connections, args.threads,
                    plan[1].env)

            results: Dict[str, object] = {}
            out["load"] = results
            for scenario in plan:
                url = base + scenario.path
                try:
                    if scenario.prepare is not None:
                        scenario.prepare(url, results)
                    scenario.check(url)
                except BenchError as exc:
                    results[scenario.name] = {"error": str(exc)}
                    print(f"[{kind}] {scenario.name}: check failed, skipped: {exc}", flush=True)
                    continue
                if scenario.name == "create":
                    # Last, with patch_20 and delete after it: they write. Before them,
                    # the 1-connection latency of the list.
                    single(kind, base, plan, args, wrk, out)
                res = wrk.run(url, scenario.script, args.duration, args.connections, args.threads,
                              scenario.env)
                results[scenario.name] = res
                if scenario.after is not None:
                    try:
                        scenario.after(res)
                    except BenchError as exc:
                        res["error"] = str(exc)
                print(f"[{kind}] {scenario.name}: {res['rps']:.1f} req/s, p50 {res.get('p50_ms')} ms,"
                      f" p99 {res.get('p99_ms')} ms, non-2xx {res['non_2xx']}"
                      f"{extra(scenario.name, res)}", flush=True)
            out["over_create"] = over_create(results)
            if "single_connection" not in out:
                single(kind, base, plan, args, wrk, out)
            if not args.no_attack:
                under_attack(kind, base, plan, args, wrk, out)
            out["rss_mb"] = {str(pid): rss_mb(pid) for pid in workers}
            out["server_parent_rss_mb"] = rss_mb(server.pid)
            print(f"[{kind}] RSS per worker after the load: {out['rss_mb']} MB", flush=True)

            if args.metrics_cost:
                out["metrics_cost"] = metrics_cost(kind, env, db, plan[1], base, workers, args,
                                                   processes, wrk, seeded)
            if args.tracing_cost:
                with otlp_sink() as endpoint:
                    out["tracing_cost"] = metrics_cost(
                        kind, env, db, plan[1], base, workers, args, processes, wrk, seeded,
                        setting="tracing", on_env={"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint})
            if args.profile and profile_dir is not None:
                out["profile"] = profile(kind, base, plan, args, wrk, server.pid, profile_dir)
        except Exception:
            out["server_log_tail"] = log_tail(log)
            raise
        finally:
            wrk.server_pids, wrk.database = [], ""
            processes.stop(server, children=workers)
            if server.returncode not in (0, -signal.SIGTERM, None):
                out["server_exit"] = server.returncode


def metrics_cost(kind, env, db, scenario, base_off, workers_off, args, processes, wrk,
                 seeded, setting: str = "metrics", on_env: Dict[str, str] | None = None) -> Dict[str, object]:
    """The list at a second server with METRICS_ENABLED=true (or `on_env`: traces exported), in
    turns with the first (off), on the same database in the same run: off, on, off, on. The
    target is on ≥ 0.9x off."""
    port = free_port()
    log = Path(db.tmpdir) / f"server-{setting}.log"
    argv = [*meet_external(), "serve", "--host", HOST, "--port", str(port), "--workers", str(args.workers)]
    started = time.monotonic()
    server = processes.start(argv, env={**env, **(on_env or {"METRICS_ENABLED": "true"})}, log=log,
                             cwd=tempfile.gettempdir())
    workers_on: List[int] = []
    try:
        wait_healthy(server, f"http://{HOST}:{port}/healthz", log, started)
        deadline = time.monotonic() + 30
        while len(workers_on) < args.workers and time.monotonic() < deadline:
            workers_on = worker_pids(server.pid)
            time.sleep(0.1)
        base_on = f"http://{HOST}:{port}{API}"
        token_on = get_token(base_on, seeded, "small")
        scenario.check(base_on + scenario.path)
        runs: Dict[str, list] = {"off": [], "on": []}
        for _ in range(2):
            for state, base, pids, token_env in (("off", base_off, workers_off, scenario.env),
                                                 ("on", base_on, workers_on, {"BENCH_TOKEN": token_on})):
                wrk.server_pids = pids
                res = wrk.run(base + scenario.path, scenario.script, args.duration, args.connections,
                              args.threads, token_env)
                runs[state].append(res)
                print(f"[{kind}] {scenario.name}, {setting} {state}: {res['rps']:.1f} req/s", flush=True)
        scrape = http("GET", f"http://{HOST}:{port}/metrics")[0] if on_env is None else None
        off = sum(r["rps"] for r in runs["off"]) / len(runs["off"])
        on = sum(r["rps"] for r in runs["on"]) / len(runs["on"])
        return {"off": runs["off"], "on": runs["on"], "ratio": round(on / off, 3) if off else None,
                "metrics_status": scrape}
    finally:
        wrk.server_pids = workers_off
        processes.stop(server, children=workers_on)


@contextlib.contextmanager
def otlp_sink():
    """An OTLP/HTTP endpoint on this machine that takes every export and answers 200 (an empty
    ExportTraceServiceResponse): the endpoint of --tracing-cost's server."""
    import http.server
    import threading

    class Sink(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    sink = http.server.ThreadingHTTPServer((HOST, 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    try:
        yield f"http://{HOST}:{sink.server_address[1]}"
    finally:
        sink.shutdown()
        sink.server_close()


def under_attack(kind, base, plan, args, wrk, out) -> None:
    """The 10-room user's list while 8 other connections send wrong secrets for new client_ids,
    each needing a slow check: the list's latency shows whether the checks starve it."""
    scenario = plan[1]
    attacker = subprocess.Popen(
        [wrk.exe, "-t1", "-c8", f"-d{int(args.duration) + 3}s", "--timeout", "30s",
         "-s", str(BENCH / "token_wrong.lua"), base + "/application/token/"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    wrk.processes.started.append(attacker)
    try:
        time.sleep(1)  # the checks are under way
        res = wrk.run(base + scenario.path, scenario.script, args.duration, args.connections,
                      args.threads, scenario.env, settle=False)
        attack_output, _ = attacker.communicate(timeout=args.duration + 60)
    finally:
        wrk.processes.stop(attacker, grace=2)
    attack = parse_wrk(attack_output)
    res["attack"] = {"rps": attack.get("rps"), "non_2xx": attack.get("non_2xx"),
                     "p50_ms": attack.get("p50_ms")}
    out.setdefault("load", {})["list_small_under_attack"] = res
    print(f"[{kind}] list while the token endpoint takes wrong secrets: {res['rps']:.1f} req/s,"
          f" p50 {res.get('p50_ms')} ms, p99 {res.get('p99_ms')} ms; the wrong secrets:"
          f" {attack.get('rps')} req/s", flush=True)


def single(kind, base, plan, args, wrk, out) -> None:
    """p50 of the list at one connection: the 10-room user against the 100k-room user."""
    seconds = max(2.0, args.duration / 2)
    results = {}
    for scenario in plan[1:4]:
        res = wrk.run(base + scenario.path, scenario.script, seconds, 1, 1, scenario.env)
        results[scenario.name] = res
        print(f"[{kind}] {scenario.name} @1 connection: p50 {res.get('p50_ms')} ms", flush=True)
    out["single_connection"] = results


def profile(kind, base, plan, args, wrk, server_pid, profile_dir) -> Dict[str, object]:
    """py-spy on all workers while each chosen scenario's load runs once more.

    Every thread that is not idle is sampled (py-spy's default), so with the default of
    one connection the samples are the wall time of one request at a time, database calls
    included, without GIL contention between request threads; `--profile-connections 8`
    shows the same under the full load. Output: raw collapsed stacks, and a summary.
    """
    spy = shutil.which("py-spy")
    if not spy:
        print("py-spy not found (pip install py-spy): no profile", flush=True)
        return {"error": "py-spy not installed"}
    import profile_summary

    by_name = {s.name: s for s in plan}
    seconds = max(3, int(args.duration))
    results: Dict[str, object] = {}
    for name in args.profile:
        scenario = by_name[name]
        path = profile_dir / f"{kind}-{scenario.name}-c{args.profile_connections}.txt"
        argv = [spy, "record", "--pid", str(server_pid), "--subprocesses", "--rate", "250",
                "--duration", str(seconds + 3), "--format", "raw", "--output", str(path),
                "--nonblocking"]
        quiesce(wrk.server_pids + wrk._backends())
        spy_proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, text=True)
        try:
            time.sleep(1)  # py-spy attaches to every worker; the samples before the load are idle
            res = wrk.run(base + scenario.path, scenario.script, seconds, args.profile_connections,
                          args.threads, scenario.env)
            spy_out, _ = spy_proc.communicate(timeout=60)
        finally:
            if spy_proc.poll() is None:
                spy_proc.terminate()
                spy_proc.wait(timeout=10)
        out = {"file": str(path.relative_to(ROOT)), "connections": args.profile_connections,
               "rps_while_sampled": res["rps"], "p50_ms_while_sampled": res.get("p50_ms"),
               "requests": res.get("requests"), "seconds": res.get("seconds"),
               "cpu_cores": res.get("cpu_cores"), "py_spy": spy_out.strip()[-300:]}
        print(f"[{kind}] profile of {scenario.name} at {args.profile_connections} connection(s),"
              f" {res['rps']:.0f} req/s while sampled: {path.relative_to(ROOT)}", flush=True)
        if path.exists() and res.get("requests"):
            cpu_ms = 1000.0 * res["cpu_cores"]["server"] * res["seconds"] / res["requests"]
            out["server_cpu_ms_per_request"] = round(cpu_ms, 3)
            out["summary"] = profile_summary.summarise(str(path), rate=250, requests=res["requests"])
            print(profile_summary.render(out["summary"], top=12), flush=True)
        results[name] = out
    return results


def run_floor(out: Dict[str, object], args, processes: Processes, wrk: Wrk, secret_key: str) -> None:
    """The same list load at bench/floor_app.py under gunicorn with 2 sync workers."""
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        out["error"] = "gunicorn is not installed (pip install gunicorn): no floor"
        return
    import jwt

    port = free_port()
    log = Path(tempfile.gettempdir()) / f"meet_bench_floor_{port}.log"
    env = {**os.environ, "APPLICATION_JWT_SECRET_KEY": secret_key}
    argv = [sys.executable, "-m", "gunicorn", "--workers", str(args.workers), "--worker-class",
            "sync", "--bind", f"{HOST}:{port}", "--chdir", str(BENCH), "floor_app:app"]
    now = int(time.time())
    token = jwt.encode({"iss": "lasuite-meet", "iat": now, "exp": now + 3600,
                        "client_id": "x" * 40, "scope": "rooms:list rooms:retrieve rooms:create",
                        "user_id": "2c7d7bb5-3f1a-4bd4-9d3e-6e1b2f0c8a11", "delegated": True},
                       secret_key, algorithm="HS256")
    out.update(server="gunicorn, sync workers", workers=args.workers)
    started = time.monotonic()
    server = processes.start(argv, env=env, log=log)
    workers: List[int] = []
    try:
        out["startup_seconds"] = round(
            wait_healthy(server, f"http://{HOST}:{port}/healthz", log, started), 3)
        deadline = time.monotonic() + 30
        while len(workers) < args.workers and time.monotonic() < deadline:
            workers = worker_pids(server.pid)
            time.sleep(0.1)
        wrk.server_pids = workers
        url = f"http://{HOST}:{port}{API}/rooms?page=1&page_size=20"
        status, _, data = http("GET", url, headers={"Authorization": f"Bearer {token}"})
        if status != 200 or len(data["results"]) != 20:
            raise BenchError(f"floor app: HTTP {status} {data!r}")
        wrk.run(url, "list.lua", 1, args.connections, args.threads, {"BENCH_TOKEN": token})
        out["load"] = wrk.run(url, "list.lua", args.duration, args.connections, args.threads,
                              {"BENCH_TOKEN": token})
        out["single_connection"] = wrk.run(url, "list.lua", max(2.0, args.duration / 2), 1, 1,
                                           {"BENCH_TOKEN": token})
        out["rss_mb"] = {str(pid): rss_mb(pid) for pid in workers}
        print(f"[floor] plain Flask list: {out['load']['rps']:.1f} req/s,"
              f" p50 {out['load'].get('p50_ms')} ms", flush=True)
    except Exception:
        out["server_log_tail"] = log_tail(log)
        raise
    finally:
        wrk.server_pids = []
        processes.stop(server, children=workers)
        try:
            log.unlink()
        except OSError:
            pass


# --- report ---------------------------------------------------------------------------


def _num(value, digits=1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and value >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def _ms_cell(value) -> str:
    if value is None:
        return "–"
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"


def _cpu(load: dict) -> str:
    cpu = load.get("cpu_cores")
    if not cpu:
        return ""
    return (f"{cpu['server']:.2f} / {cpu.get('db', 0):.2f} / {cpu['wrk']:.2f}"
            f" / {cpu['rest'] + cpu['steal']:.2f}")


def _row(kind: str, label: str, load: dict, notes: List[str]) -> str:
    if load.get("requests") == 0:
        notes = [f"no request completed within the {load.get('seconds', 0):.0f} s run"] + notes
        return (f"| {kind} | {label} | 0 | > {load.get('seconds', 0):.0f} s | | |"
                f" {_cpu(load)} | {'; '.join(notes)} |")
    if load.get("socket_errors"):
        notes.append(f"{load['socket_errors']} socket errors")
    return (f"| {kind} | {label} | {_num(load.get('rps'))} | {_ms_cell(load.get('p50_ms'))}"
            f" | {_ms_cell(load.get('p99_ms'))} | {load.get('non_2xx', 0)} | {_cpu(load)}"
            f" | {'; '.join(notes)} |")


def _over_create_rows(kind: str, res: Dict[str, object]) -> List[str]:
    return [f"| {kind} | {name} / create (req/s, same run) | | | | | |"
            f" **{ratio:.2f}** (target ≥ {OVER_CREATE[name]}) |"
            for name, ratio in (res.get("over_create") or {}).items() if ratio is not None]


def table(report: Dict[str, object]) -> str:
    """Every number of the run as one markdown table."""
    rows = ["| db | measure | req/s | p50 | p99 | non-2xx | CPU cores: server / db / wrk / rest | notes |",
            "|---|---|---:|---:|---:|---:|---|---|"]
    floor = report.get("floor") or {}
    floor_rps = (floor.get("load") or {}).get("rps")
    labels = dict(LABELS)
    for kind, res in report["databases"].items():
        for name, load in (res.get("load") or {}).items():
            label = labels.get(name, name)
            if "error" in load:
                rows.append(f"| {kind} | {label} | | | | | | check failed: {load['error'][:150]} |")
                continue
            notes = []
            if floor_rps and load.get("rps") is not None and name in FLOOR_TARGET:
                notes.append(f"**{load['rps'] / floor_rps:.2f} of floor** (target ≥ {FLOOR_TARGET[name]})")
            if name in REFERENCE and load.get("rps"):
                notes.append(f"{load['rps'] / REFERENCE[name]:.1f}x ref's {REFERENCE[name]} req/s")
            if load.get("p99_ms") and load.get("p50_ms"):
                notes.append(f"p99 {load['p99_ms'] / load['p50_ms']:.1f}x p50 (target ≤ {P99_OVER_P50}x)")
            small = (res.get("load") or {}).get("list_small") or {}
            attack = load.get("attack") or {}
            if attack.get("rps") is not None and small.get("p99_ms") and load.get("p99_ms"):
                notes.append(f"wrong secrets answered at {attack['rps']:.1f} req/s meanwhile; list p99"
                             f" {load['p99_ms'] / small['p99_ms']:.1f}x the quiet list's")
            if name in BIG_OVER_SMALL and small.get("p50_ms") and load.get("p50_ms"):
                notes.append(f"p50 {load['p50_ms'] / small['p50_ms']:.2f}x the 10-room user's"
                             f" (target ≤ {BIG_OVER_SMALL[name]}x)")
            if name == "patch_20" and load.get("room_updated_events") is not None:
                notes.append(f"{load['room_updated_events']} room.updated events for"
                             f" {load.get('requests')} answers, {load.get('rooms')} rooms")
            if name == "delete" and "deleted_204" in load:
                notes.append(f"req/s of 204s only; {load['ids']} rooms made for it")
                if load.get("ids_ran_out"):
                    notes.append(f"**the rooms ran out**: {load['requests_past_the_ids']} requests"
                                 " after them (404s): the rate is a lower bound")
            rows.append(_row(kind, label, load, notes))
            if name == "delete":  # the last of the writes: their ratios follow it
                rows.extend(_over_create_rows(kind, res))
        if "delete" not in (res.get("load") or {}):
            rows.extend(_over_create_rows(kind, res))
        one = res.get("single_connection") or {}
        base_p50 = (one.get("list_small") or {}).get("p50_ms")
        for name, load in one.items():
            notes = []
            if name in BIG_OVER_SMALL and base_p50 and load.get("p50_ms"):
                notes.append(f"p50 {load['p50_ms'] / base_p50:.2f}x the 10-room user's"
                             f" (target ≤ {BIG_OVER_SMALL[name]}x)")
            rows.append(_row(kind, f"{labels.get(name, name)}, 1 connection", load, notes))
        for setting in ("metrics", "tracing"):
            cost = res.get(f"{setting}_cost") or {}
            if cost.get("ratio") is None:
                continue
            for state in ("off", "on"):
                for load in cost[state]:
                    rows.append(_row(kind, f"list, 10-room user, {setting} {state}", load, []))
            rows.append(f"| {kind} | list rate, {setting} on / off (same run, in turns) | | | | | |"
                        f" **{cost['ratio']:.2f}** (target ≥ 0.9) |")
        rss = [v for v in (res.get("rss_mb") or {}).values() if v is not None]
        if rss:
            rows.append(f"| {kind} | RSS per worker after the load | | | | | |"
                        f" {', '.join(f'{v:.1f}' for v in rss)} MB (target ≤ 100) |")
        if res.get("startup_seconds") is not None:
            workers = len(res.get("worker_pids") or [])
            rows.append(f"| {kind} | process start → first /healthz 200 | | | | | |"
                        f" {res['startup_seconds']:.2f} s (`serve --workers {workers}`) |")
        if res.get("seed"):
            info = res["seed"]
            rows.append(f"| {kind} | seed (bulk) | | | | | | {info['rooms']:,} rooms, {info['users']:,}"
                        f" users in {info['seconds']:.1f} s; {res.get('server_version', '')} |")
        if "error" in res:
            rows.append(f"| {kind} | **failed** | | | | | | {res['error'][:300]} |")
    if floor.get("load"):
        rss = [v for v in (floor.get("rss_mb") or {}).values() if v is not None]
        label = f"plain Flask + PyJWT, canned 20-room page (gunicorn, {floor['workers']} sync)"
        rows.append(_row("floor", label, floor["load"], [f"RSS {', '.join(f'{v:.1f}' for v in rss)} MB"]))
        if floor.get("single_connection"):
            rows.append(_row("floor", "same, 1 connection", floor["single_connection"], []))
    elif floor.get("error"):
        rows.append(f"| floor | **failed** | | | | | | {floor['error'][:200]} |")
    if report.get("interrupted"):
        rows.append("| – | **interrupted**: the numbers above are the part measured before | | | | | | |")
    return "\n".join(rows)


LABELS = [
    ("token", "token (POST /application/token/)"),
    ("list_small", "list, 10-room user, page 1"),
    ("list_big_first", "list, 100k-room user, page 1"),
    ("list_big_last", "list, 100k-room user, page 5000 (last)"),
    ("retrieve", "retrieve (GET /rooms/{id})"),
    ("create", "create (POST /rooms {})"),
    ("patch_20", "update (PATCH /rooms/{id}, 20 attendees)"),
    ("delete", "delete (DELETE /rooms/{id})"),
    ("list_small_under_attack", "list, 10-room user, while 8 connections send wrong secrets"),
]


def machine() -> Dict[str, object]:
    info: Dict[str, object] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                               "kernel": platform.release()}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        match = re.search(r"model name\s*:\s*(.+)", cpuinfo)
        info["cpu"] = match.group(1).strip() if match else None
        mem = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
        info["memory_gb"] = round(int(mem.group(1)) / 1024 / 1024, 1) if mem else None
    except OSError:
        pass
    from importlib import metadata

    versions = {}
    for package in ("connexion", "flask", "starlette", "a2wsgi", "uvicorn", "peewee", "pyjwt",
                    "psycopg", "gunicorn"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    info["packages"] = versions
    return info


def git_state() -> Dict[str, object]:
    """The commit measured, and whether the server's code differed from it (read-only git)."""
    def git(*argv):
        try:
            done = subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    changed = git("status", "--porcelain", "--", "meet_external", "models", "handlers")
    return {"commit": git("rev-parse", "--short", "HEAD") or None,
            "uncommitted_server_files": [line[3:] for line in changed.splitlines()]}


def loadavg() -> List[float] | None:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


# --- main ----------------------------------------------------------------------------------


SCENARIOS = {  # opt-in runs of their own, in their own modules: `--scenario NAME [their options]`
    "curve": "curve",      # the list's p50 at one connection against the user's rooms
    "growing": "growing",  # the mixed load that grows one user's rooms, rate per minute
    "slug": "slug",        # GET /rooms?slug= of a 10,000-room user against the 10-room list
}


def main(argv: List[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--scenario" in argv:
        at = argv.index("--scenario")
        name = argv[at + 1] if at + 1 < len(argv) else ""
        if name not in SCENARIOS:
            print(f"bench: --scenario is one of {', '.join(SCENARIOS)}", file=sys.stderr)
            return 2
        sys.path.insert(0, str(BENCH))
        import importlib

        return importlib.import_module(SCENARIOS[name]).main(argv[:at] + argv[at + 2:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    # Handled above, before these options are parsed; declared for --help.
    parser.add_argument("--scenario", choices=sorted(SCENARIOS),
                        help="an opt-in run of its own module, with that module's options"
                             " (bench/README.md)")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--duration", type=float, default=10.0,
                        help="seconds per load run (default 10; 1-connection runs take half)")
    parser.add_argument("--quick", action="store_true", help="3-second runs")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    add_postgres_options(parser)
    parser.add_argument("--profile", action="append",
                        choices=[name for name, _ in LABELS
                                 if not name.endswith("_under_attack") and name != "delete"],
                        help="after the load, sample the workers with py-spy during one more run of"
                             " this scenario (repeatable); collapsed stacks and a summary go to"
                             " bench/results/")
    parser.add_argument("--profile-connections", type=int, default=1,
                        help="connections of the profiled run (default 1: one request at a time)")
    parser.add_argument("--no-floor", action="store_true", help="skip the plain-Flask floor")
    parser.add_argument("--no-attack", action="store_true",
                        help="skip the list measured while the token endpoint takes wrong secrets")
    parser.add_argument("--metrics-cost", action="store_true",
                        help="also run the 10-room list against a second server with METRICS_ENABLED=true,"
                             " in turns with the first (off, on, off, on), and report on/off")
    parser.add_argument("--tracing-cost", action="store_true",
                        help="also run the 10-room list against a second server exporting traces"
                             " (OTEL_EXPORTER_OTLP_ENDPOINT, to a local sink), in turns with the first")
    parser.add_argument("--tokens", action="store_true",
                        help="only the bearer-token mode (bench/tokens.py): the 10-room list with an"
                             " application token, a kept resource-server token, the cache off, and"
                             " while the provider hangs")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = 3.0

    exe = require_wrk()

    def terminate(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminate)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(exist_ok=True)
    profile_dir = RESULTS / f"{stamp}-profiles" if args.profile else None
    if profile_dir:
        profile_dir.mkdir(exist_ok=True)
    processes = Processes()
    wrk = Wrk(processes, exe)
    secret_key = secrets.token_urlsafe(48)
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    report: Dict[str, object] = {
        "command": " ".join(["python bench/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": machine(), "git": git_state(), "loadavg_start": loadavg(),
        "settings": {"duration_s": args.duration, "workers": args.workers,
                     "connections": args.connections, "threads": args.threads,
                     "single_connection_duration_s": max(2.0, args.duration / 2),
                     "wrk": subprocess.run([exe, "--version"], capture_output=True,
                                           text=True).stdout.splitlines()[0:1]},
        "reference": REFERENCE, "databases": {},
    }
    load_now = loadavg()
    if load_now and load_now[0] > 0.5 * (os.cpu_count() or 1):
        print(f"bench: note: the machine is already busy (load average {load_now[0]:.2f} on"
              f" {os.cpu_count()} CPUs); numbers will be lower than on an idle machine. The table's"
              " CPU column shows what else ran.", file=sys.stderr, flush=True)
    interrupted = False
    try:
        if not args.no_floor and not args.tokens:
            report["floor"] = floor = {}
            try:
                run_floor(floor, args, processes, wrk, secret_key)
            except BenchError as exc:
                floor["error"] = str(exc)
                print(f"[floor] failed: {exc}", file=sys.stderr, flush=True)
        for kind in kinds:
            report["databases"][kind] = out = {"database": kind}
            try:
                if args.tokens:
                    import tokens

                    tokens.run_tokens(kind, out, args, processes, wrk, secret_key)
                    continue
                run_database(kind, out, args, processes, wrk, secret_key, profile_dir)
            except BenchError as exc:
                out["error"] = str(exc)
                print(f"[{kind}] failed: {exc}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: stopping everything this run started", file=sys.stderr, flush=True)
    finally:
        processes.stop_all()
    report["loadavg_end"] = loadavg()
    report["interrupted"] = interrupted
    report["table_markdown"] = table(report)
    print()
    print(report["table_markdown"])
    print()
    print(f"{args.workers} workers, wrk {args.threads} threads / {args.connections} connections,"
          f" {args.duration:g} s a run ({max(2.0, args.duration / 2):g} s at 1 connection);"
          f" machine: {report['machine'].get('cpus')} CPUs ({report['machine'].get('cpu')}),"
          f" load average {report['loadavg_start']} -> {report['loadavg_end']};"
          f" code at {report['git']['commit']}"
          f"{' + uncommitted changes' if report['git']['uncommitted_server_files'] else ''}."
          " CPU cores are averages over each run: the server's workers, the PostgreSQL backends"
          " of the bench database, wrk, and the rest (other processes, hypervisor steal).")
    path = RESULTS / f"{stamp}.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"results: {path.relative_to(ROOT)}")
    failed = interrupted or any("error" in r for r in report["databases"].values())
    return 130 if interrupted else (1 if failed else 0)


if __name__ == "__main__":
    sys.exit(main())
