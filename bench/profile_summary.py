#!/usr/bin/env python3
"""Summarise a py-spy `--format raw` profile (collapsed stacks) of the server's workers.

    python bench/profile_summary.py bench/results/<stamp>-profiles/sqlite-list_big_first-c1.txt \
        [--rate 250 --requests 1234] [--top 25]

Each sample is attributed to one category: walking from the innermost frame outwards,
generic standard-library frames (threading, re, copy, ...) are skipped and the first
frame of a known library or of this project decides. Time inside a database driver call
shows as the Peewee frame that made it (`execute_sql`, cursor iteration), so it is its
own category. Given py-spy's sampling rate and the number of requests served while it
sampled, shares are also given as microseconds of thread time per request.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
from typing import Dict, List, Tuple

# "function (file:line)"; py-spy names files relative to sys.path (`flask/app.py`,
# `threading.py`, `handlers/rooms.py`) and absolute otherwise.
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^():]*):?(?P<line>\d*)\)$")

DB_CALLS = {"execute_sql", "_execute_cursor", "iterate", "fetchone", "fetchall", "fetchmany",
            "_initialize_columns", "commit", "rollback", "begin"}
POOL_CALLS = {"connect", "close", "_close", "_connect", "_initialize_connection",
              "_set_server_version", "is_closed", "connection_context", "is_connection_closed",
              "_is_closed", "manual_close", "close_idle", "close_stale"}


def _in(path: str, *prefixes: str) -> bool:
    return any(path == p or path.startswith(p if p.endswith((".py", "/")) else p + "/")
               for p in prefixes)


# (category, test on (method name, normalised file)) in order; the first match wins.
CATEGORIES: List[Tuple[str, object]] = [
    ("DB: driver + engine (SQL execution, fetch, commit)",
     lambda f, p: (p == "peewee.py" and f in DB_CALLS) or _in(p, "sqlite3", "psycopg2")),
    ("DB: connection pool (connect/close/reset)",
     lambda f, p: _in(p, "playhouse/pool.py") or (p == "peewee.py" and f in POOL_CALLS)),
    ("Peewee: query building + row mapping", lambda f, p: _in(p, "peewee.py", "playhouse")),
    ("PyJWT + hashing", lambda f, p: _in(p, "jwt", "hmac.py", "hashlib.py")),
    ("request validation (jsonschema, connexion validators)",
     lambda f, p: _in(p, "jsonschema", "jsonschema_specifications", "referencing", "rpds",
                      "connexion/validators", "connexion/middleware/request_validation.py",
                      "connexion/middleware/response_validation.py", "meet_external/api/validation.py")),
    ("security (connexion security + bearer handler)",
     lambda f, p: _in(p, "connexion/security.py", "connexion/middleware/security.py",
                      "meet_external/auth/bearer.py", "meet_external/auth/jwts.py")),
    ("JSON serialisation", lambda f, p: _in(p, "json", "connexion/jsonifier.py", "flask/json")),
    ("logging (incl. audit)", lambda f, p: _in(p, "logging", "meet_external/ops/audit.py")),
    ("app code (handlers, models, meet_external)",
     lambda f, p: _in(p, "handlers", "models", "meet_external")),
    ("Flask + Werkzeug", lambda f, p: _in(p, "flask", "werkzeug")),
    ("a2wsgi (ASGI→WSGI bridge)", lambda f, p: _in(p, "a2wsgi")),
    ("Connexion middleware (routing, params, context, errors)", lambda f, p: _in(p, "connexion")),
    ("Starlette", lambda f, p: _in(p, "starlette")),
    ("anyio (to_thread hand-off)", lambda f, p: _in(p, "anyio")),
    ("uvicorn + httptools/h11 + asyncio (HTTP, event loop)",
     lambda f, p: _in(p, "uvicorn", "h11", "httptools", "asyncio", "uvloop", "selectors.py")),
    ("gunicorn", lambda f, p: _in(p, "gunicorn")),
]
# Generic frames that say nothing about who is paying: skipped when attributing.
NEUTRAL = ("threading.py", "concurrent/", "re/", "copy.py", "functools.py", "typing.py", "abc.py",
           "contextlib.py", "inspect.py", "enum.py", "urllib/", "uuid.py", "datetime.py",
           "_collections_abc.py", "collections/", "weakref.py", "_weakrefset.py", "string.py",
           "dataclasses.py", "queue.py", "ipaddress.py", "socket.py", "email/", "<frozen",
           "http/", "importlib/", "posixpath.py", "genericpath.py", "encodings/", "base64.py",
           "secrets.py", "random.py", "operator.py", "types.py", "os.py", "_strptime.py")


def _neutral(path: str) -> bool:
    return path.startswith(NEUTRAL)


def parse(path: str) -> List[Tuple[List[Tuple[str, str]], int, str]]:
    """(frames outermost first as (function, file), count, process) per stack line."""
    stacks = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if not line:
                continue
            stack, _, count = line.rpartition(" ")
            frames, process = [], ""
            for raw in stack.split(";"):
                if raw.startswith("process "):
                    process = raw
                    continue
                if raw.startswith("thread "):
                    continue
                match = _FRAME.match(raw)
                if match:  # anything else is a piece of a process title holding a ';'
                    frames.append((match.group("func"), _short(match.group("file"))))
            stacks.append((frames, int(count), process))
    return stacks


def _method(func: str) -> str:
    """`Class.method` -> `method` (py-spy qualifies methods with their class)."""
    return func.rsplit(".", 1)[-1]


# Innermost frames that mean "waiting", not working (py-spy's idle detection misses
# some when it samples every thread; with --gil they do not occur).
WAITING = {("wait", "threading.py"), ("get", "queue.py"), ("acquire", "threading.py"),
           ("_worker", "concurrent/futures/thread.py"), ("run", "asyncio/runners.py"),
           ("select", "selectors.py"), ("_recv", "multiprocessing/connection.py"),
           ("_run_once", "asyncio/base_events.py")}


def is_waiting(frames: List[Tuple[str, str]]) -> bool:
    if not frames:
        return True
    func, path = frames[-1]
    return (_method(func), path) in WAITING


def categorise(frames: List[Tuple[str, str]]) -> str:
    frames = [(_method(func), path) for func, path in frames]
    for func, path in reversed(frames):
        if _neutral(path):
            continue
        for name, test in CATEGORIES:
            if test(func, path):
                return name
    for func, path in reversed(frames):  # only neutral frames: name the innermost library
        for name, test in CATEGORIES:
            if test(func, path):
                return name
    return "other (" + (frames[-1][1] if frames else "?") + ")"


def summarise(path: str, rate: int = 0, requests: int = 0, top: int = 25) -> Dict[str, object]:
    """Shares of the busy samples; with the sampling rate and the number of requests served
    while sampling, also thread-time per request in microseconds."""
    stacks = [s for s in parse(path) if "spawn_main" in s[2] or "gunicorn" in s[2] or not s[2]]
    waiting = sum(count for frames, count, _ in stacks if is_waiting(frames))
    stacks = [s for s in stacks if not is_waiting(s[0])]
    total = sum(count for _, count, _ in stacks) or 1
    by_category: Dict[str, int] = collections.Counter()
    self_time: Dict[str, int] = collections.Counter()
    inclusive: Dict[str, int] = collections.Counter()
    for frames, count, _ in stacks:
        by_category[categorise(frames)] += count
        if frames:
            func, file = frames[-1]
            self_time[f"{func} ({file})"] += count
        for func, file in {(f, p) for f, p in frames if _telling(f, p)}:
            inclusive[f"{func} ({file})"] += count

    def share(count: int) -> Dict[str, float]:
        entry = {"pct": round(100.0 * count / total, 1)}
        if rate and requests:
            entry["us_per_request"] = round(1e6 / rate * count / requests)
        return entry

    return {
        "samples": total,
        "waiting_samples_dropped": waiting,
        "us_per_request_total": round(1e6 / rate * total / requests) if rate and requests else None,
        "categories": {k: share(v) for k, v in by_category.most_common()},
        "self": {k: share(v) for k, v in self_time.most_common(top)},
        "inclusive": {k: share(v) for k, v in inclusive.most_common(top * 2)},
    }


def _telling(func: str, path: str) -> bool:
    """Frames worth listing by inclusive time (not thread and process bootstrapping)."""
    return bool(path) and not _neutral(path) and not path.startswith((
        "multiprocessing/", "uvicorn/supervisors", "uvicorn/_subprocess", "uvicorn/_compat",
        "uvicorn/server.py", "asyncio/runners", "asyncio/base_events", "asyncio/events", "<string>"))


def _short(path: str) -> str:
    """A file as py-spy names it when it is on sys.path: relative to its root."""
    for marker in ("site-packages/", "/lib/python3.11/", "/lib/python3.12/", "/lib/python3.10/",
                   "/work/main/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def render(summary: Dict[str, object], top: int = 1000) -> str:
    per = ""
    if summary.get("us_per_request_total"):
        per = f", ~{summary['us_per_request_total']} us of thread time per request"
    lines = [f"{summary['samples']} samples of busy worker threads"
             f" ({summary['waiting_samples_dropped']} waiting ones dropped){per}", "",
             "by category:"]
    for name, entry in summary["categories"].items():
        extra = f"  ~{entry['us_per_request']} us/request" if "us_per_request" in entry else ""
        lines.append(f"  {entry['pct']:5.1f}%  {name}{extra}")
    lines += ["", "top self time (innermost frame):"]
    for name, entry in list(summary["self"].items())[:top]:
        lines.append(f"  {entry['pct']:5.1f}%  {name}")
    lines += ["", "top inclusive time:"]
    for name, entry in list(summary["inclusive"].items())[:top]:
        lines.append(f"  {entry['pct']:5.1f}%  {name}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file")
    parser.add_argument("--rate", type=int, default=0, help="py-spy's sampling rate (Hz)")
    parser.add_argument("--requests", type=int, default=0, help="requests served while sampled")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    print(render(summarise(args.file, args.rate, args.requests, args.top)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
