"""`meet-external serve`: uvicorn with the settings this server needs, a graceful stop, and the
directory that metrics share between workers (docs/operators.md, Process model; Stopping).

uvicorn does the serving and its own graceful shutdown (stop accepting, let in-flight requests
finish up to `timeout_graceful_shutdown`, then cancel them). Two things are added here, each
small, because uvicorn leaves them out:

- With several workers, uvicorn's supervisor keeps its own copy of the listening socket open
  until every worker has exited, so connections that arrive while the workers drain are
  accepted by the kernel, wait unanswered, and are reset when the supervisor exits. Closing
  that copy when the stop begins makes them refused at once, like with one worker.
- With one worker, uvicorn re-raises the SIGTERM it drained on once it is done, so the
  process would die by the signal (status 143) after a clean stop; it exits 0 instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import shutil
import signal
import tempfile
from typing import Iterator

import uvicorn
from uvicorn.server import Server

from ..config import Config, ConfigError
from ..internals import Multiprocess
from ..ops import logs

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
ACCESS_LOG_ENV = "ACCESS_LOG"
# uvicorn's default, said here: an idle kept-alive connection is closed after this long.
KEEP_ALIVE_SECONDS = 5
# uvicorn exits with 3 when the app fails to start (a worker that cannot start).
STARTUP_FAILURE = 3


@dataclasses.dataclass(frozen=True)
class ServeOptions:
    host: str
    port: int
    workers: int
    access_log: bool
    graceful_timeout: int
    demo: bool = False

    @property
    def factory(self) -> str:
        # Each worker builds its app from this factory; the demo's reads the kept demo key
        # from the database (meet_external/cli/demo.py).
        name = "create_demo_asgi_app" if self.demo else "create_asgi_app"
        return f"meet_external.asgi:{name}"


def serve(config: Config, options: ServeOptions) -> int:
    """Run the API until SIGTERM or SIGINT; the exit status to return."""
    with access_log_setting(options.access_log), metrics_directory(config):
        uv_config = uvicorn.Config(
            options.factory,
            factory=True,
            host=options.host,
            port=options.port,
            workers=options.workers,
            lifespan="on",  # with "auto", a failed start is swallowed and every request gets 500
            # httptools with a deadline for request heads (uvicorn has none); an import string,
            # so that each worker process loads it.
            http="meet_external.server.slow_clients:HeaderTimeoutProtocol",
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            proxy_headers=False,  # the app applies uvicorn's middleware itself, from TRUSTED_PROXIES
            server_header=False,
            # uvicorn's lines on the one stream, in LOG_FORMAT; its access log is replaced by
            # the app's (request ids, path templates: meet_external/ops/logs.py).
            log_config=logs.dict_config(config.ops.log_format),
            access_log=False,
            log_level="info",
            timeout_graceful_shutdown=options.graceful_timeout,
        )
        if options.workers > 1:
            supervisor = _Supervisor(uv_config, sockets=[uv_config.bind_socket()])
            with contextlib.suppress(KeyboardInterrupt):  # as uvicorn.run does
                supervisor.run()
            failed = any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes)
            return STARTUP_FAILURE if failed else 0
        server = Server(uv_config)
        previous = signal.signal(signal.SIGTERM, _exit_after_stop)
        try:
            server.run()
        except (SystemExit, KeyboardInterrupt):  # the signal that stopped it, raised again
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
        return 0 if server.started else STARTUP_FAILURE


def _exit_after_stop(signum, frame) -> None:
    """SIGTERM outside uvicorn's own handling: uvicorn re-raises it after a graceful stop
    (then there is nothing left to do), or it came before uvicorn was serving."""
    raise SystemExit(0)


class _Supervisor(Multiprocess):
    """uvicorn's supervisor, closing its copy of the listening socket as the stop begins."""

    def terminate_all(self) -> None:
        for sock in self.sockets:
            sock.close()
        super().terminate_all()


@contextlib.contextmanager
def access_log_setting(on: bool) -> Iterator[None]:
    """`--access-log` as ACCESS_LOG for the workers, which read their configuration from the
    environment (meet_external/asgi.py), while the server runs."""
    if not on:
        yield
        return
    previous = os.environ.get(ACCESS_LOG_ENV)
    os.environ[ACCESS_LOG_ENV] = "true"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(ACCESS_LOG_ENV, None)
        else:
            os.environ[ACCESS_LOG_ENV] = previous


@contextlib.contextmanager
def metrics_directory(config: Config) -> Iterator[None]:
    """The directory prometheus-client's multiprocess mode shares between the workers.

    Its files hold the counters of processes that have run; left from an earlier run, they
    would be added to this one's, so the directory starts empty: a directory the server
    makes is removed when it stops; one the operator names (PROMETHEUS_MULTIPROC_DIR) has its
    metric files (*.db) deleted at start, and nothing else in it is touched.
    """
    if not config.metrics_enabled:
        yield
        return
    if config.metrics_dir:
        if not os.path.isdir(config.metrics_dir) or not os.access(config.metrics_dir, os.W_OK):
            raise ConfigError(f"{MULTIPROC_ENV} must name a writable directory, got {config.metrics_dir!r}")
        for stale in glob.glob(os.path.join(config.metrics_dir, "*.db")):
            os.remove(stale)
        yield
        return
    made = tempfile.mkdtemp(prefix="meet-external-metrics-")
    # The workers read it from the environment, as prometheus-client itself does.
    os.environ[MULTIPROC_ENV] = made
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(made, ignore_errors=True)
