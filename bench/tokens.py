"""`python bench/run.py --tokens`: the 10-room list with each kind of bearer token, against the
local authorization server of the tests (tests/support/authorization_server.py).

One database (SQLite by default, `--db postgresql`), seeded as usual; the 10-room user gets
an OIDC `sub`. Two servers on it, both with resource-server tokens on: A keeps answers
(OIDC_RS_CACHE_SECONDS=60), B asks the provider every time (0). In turns, each run
`--duration` seconds (2 wrk threads, 8 connections):

1. the list with an application token, at A;
2. the list with a resource-server token whose answer is kept, at A (target: >= 0.9x 1.);
3. the list with a resource-server token at B, cache off: the rate, and at one connection
   the p50 against 2.'s and one introspection's own p50 (the provider's share of latency);
4. the list with an application token at A while the provider hangs and 8 more connections
   send unknown opaque tokens to A, each one introspected and left waiting (target: >= 0.8x 1.).

Figures and the command: docs/performance.md.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import httpx

SMALL_SUB = "bench-small-sub"
SCOPES = "lasuite_visio lasuite_visio:rooms:list"


def run_tokens(kind: str, out: Dict[str, object], args, processes, wrk, secret_key: str) -> None:
    """Fills `out` as it goes."""
    harness = _harness()

    sys.path.insert(0, str(harness.ROOT))
    from tests.support.authorization_server import AuthorizationServerProcess

    meet_schema = args.meet_schema if kind == "postgresql" and args.pg_layout == "meet" else None
    with harness.Database(kind, args.pg_url, meet_schema) as db:
        env = harness.init_database(db.url, secret_key)
        sys.path.insert(0, str(harness.BENCH))
        import seed

        seeded = seed.seed(db.url)
        _give_sub(db.url, seed.SMALL_EMAIL)
        provider = AuthorizationServerProcess(harness.free_port(), str(Path(db.tmpdir) / "provider.log"))
        provider.start()
        processes_started: List = []
        try:
            rs_env = {**env, **provider.settings(), "OIDC_RS_SCOPES": "lasuite_visio"}
            kept_base, kept_workers = _serve(harness, processes, processes_started, rs_env, args,
                                             Path(db.tmpdir) / "kept.log")
            off_base, off_workers = _serve(harness, processes, processes_started,
                                           {**rs_env, "OIDC_RS_CACHE_SECONDS": "0"}, args,
                                           Path(db.tmpdir) / "off.log")
            application = harness.get_token(kept_base, seeded, "small")
            oidc = provider.token(SMALL_SUB, SCOPES)
            page = "/rooms?page=1&page_size=10"
            for base, token in ((kept_base, application), (kept_base, oidc), (off_base, oidc)):
                status, _, body = harness.http("GET", base + page,
                                               headers={"Authorization": f"Bearer {token}"})
                harness.expect(status == 200 and (body or {}).get("count") == 10,
                               f"the list answered {status} {body}")
            runs: Dict[str, object] = {}
            out["load"] = runs

            def load(name, base, token, workers, connections=args.connections, threads=args.threads):
                wrk.server_pids = workers
                res = wrk.run(base + page, "list.lua", args.duration, connections, threads,
                              {"BENCH_TOKEN": token})
                res.pop("raw", None)
                runs[name] = res
                print(f"[tokens/{kind}] {name}: {res['rps']:.1f} req/s, p50 {res.get('p50_ms')} ms,"
                      f" p99 {res.get('p99_ms')} ms, non-2xx {res['non_2xx']}", flush=True)
                return res

            # Warm-up of each worker's first requests.
            wrk.run(kept_base + page, "list.lua", 1, args.connections, args.threads, {"BENCH_TOKEN": oidc})
            wrk.run(off_base + page, "list.lua", 1, args.connections, args.threads, {"BENCH_TOKEN": oidc})
            calls_before = provider.introspections
            app_rate = load("application", kept_base, application, kept_workers)["rps"]
            kept_rate = load("resource_server_kept", kept_base, oidc, kept_workers)["rps"]
            out["introspections_during_kept"] = provider.introspections - calls_before
            load("resource_server_cache_off", off_base, oidc, off_workers)
            kept_one = load("resource_server_kept_1conn", kept_base, oidc, kept_workers, 1, 1)
            off_one = load("resource_server_cache_off_1conn", off_base, oidc, off_workers, 1, 1)
            provider_p50 = _introspection_p50(provider, oidc)
            out["provider_p50_ms"] = provider_p50
            off_p50 = off_one.get("p50_ms")
            out["provider_share"] = round(provider_p50 / off_p50, 3) if off_p50 else None
            out["cache_off_added_ms"] = round(off_one["p50_ms"] - kept_one["p50_ms"], 3)
            out["hang"] = _while_hanging(harness, provider, wrk, kept_base, kept_workers, page,
                                         application, args, load)
            out["ratios"] = {
                "kept_over_application": round(kept_rate / app_rate, 3) if app_rate else None,
                "hang_over_application": round(out["hang"]["rps"] / app_rate, 3) if app_rate else None,
            }
            print(f"[tokens/{kind}] kept / application {out['ratios']['kept_over_application']}"
                  f" (target >= 0.9); application while the provider hangs / application"
                  f" {out['ratios']['hang_over_application']} (target >= 0.8); one introspection"
                  f" p50 {provider_p50} ms = {out['provider_share']} of the cache-off p50 at 1 connection",
                  flush=True)
        finally:
            wrk.server_pids = []
            provider.behave("answer")
            for proc, workers in processes_started:
                processes.stop(proc, children=workers)
            provider.stop()


def _harness():
    """bench/run.py's helpers: the running script's own module (its BenchError is the one caught)."""
    main = sys.modules.get("__main__")
    if main is not None and hasattr(main, "Database"):
        return main
    import run

    return run


def _give_sub(url: str, email: str) -> None:
    from meet_external import models
    from meet_external.models import User

    models.bind(url)
    with models.database.connection_context():
        User.update(sub=SMALL_SUB).where(User.email == email).execute()
    models.database.close()


def _serve(harness, processes, started, env, args, log: Path):
    port = harness.free_port()
    argv = [*harness.meet_external(), "serve", "--host", harness.HOST, "--port", str(port),
            "--workers", str(args.workers)]
    begun = time.monotonic()
    server = processes.start(argv, env=env, log=log, cwd=tempfile.gettempdir())
    harness.wait_healthy(server, f"http://{harness.HOST}:{port}/healthz", log, begun)
    workers: List[int] = []
    deadline = time.monotonic() + 30
    while len(workers) < args.workers and time.monotonic() < deadline:
        workers = harness.worker_pids(server.pid)
        time.sleep(0.1)
    started.append((server, workers))
    return f"http://{harness.HOST}:{port}{harness.API}", workers


def _introspection_p50(provider, token: str, calls: int = 200) -> float:
    """One introspection's own p50 (ms), asked of the provider directly, one at a time."""
    from tests.support.authorization_server import RS_CLIENT_ID, RS_CLIENT_SECRET

    times = []
    with httpx.Client() as client:
        for _ in range(calls):
            begun = time.perf_counter()
            client.post(f"{provider.url}/introspect",
                        data={"client_id": RS_CLIENT_ID, "client_secret": RS_CLIENT_SECRET, "token": token})
            times.append((time.perf_counter() - begun) * 1000)
    return round(statistics.median(times), 3)


def _while_hanging(harness, provider, wrk, base, workers, page, application, args,
                   load) -> Dict[str, object]:
    """The application-token list while 8 connections send unknown opaque tokens to the same
    server and the provider hangs: each of those requests waits for its introspection."""
    provider.behave("hang")
    waiting = harness.subprocess.Popen(
        [wrk.exe, "-t1", "-c8", f"-d{int(args.duration) + 3}s", "--timeout", "30s",
         "-s", str(harness.BENCH / "random_bearer.lua"), base + page],
        stdout=harness.subprocess.PIPE, stderr=harness.subprocess.STDOUT,
        stdin=harness.subprocess.DEVNULL, text=True)
    wrk.processes.started.append(waiting)
    try:
        time.sleep(1)  # the introspections are waiting
        wrk.server_pids = []  # the waiting requests keep the workers from ever being idle
        res = load("application_while_provider_hangs", base, application, workers)
        output, _ = waiting.communicate(timeout=args.duration + 60)
    finally:
        wrk.processes.stop(waiting, grace=2)
        provider.behave("answer")
    hanging = harness.parse_wrk(output)
    res["hanging_requests"] = {"answered": hanging.get("requests"), "non_2xx": hanging.get("non_2xx"),
                               "p50_ms": hanging.get("p50_ms")}
    return res
