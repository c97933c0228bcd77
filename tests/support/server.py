"""A real `meet-external serve` process on 127.0.0.1, for tests that need one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from typing import Dict, List

import httpx

from .constants import SECRET_KEY


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """Starts the command line's `serve`, waits for /readyz, stops by PID (whole group)."""

    def __init__(self, database_url: str, workers: int = 1, env: Dict[str, str] | None = None,
                 port: int | None = None, args: List[str] = ()):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "APPLICATION_JWT_SECRET_KEY": SECRET_KEY,
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.command = [sys.executable, "-m", "meet_external", "serve", "--port", str(self.port),
                        "--workers", str(workers), *args]
        self.process: subprocess.Popen | None = None
        self.log_path: str | None = None

    def start(self, log_path: str, timeout: float = 30) -> ServerProcess:
        self.log_path = log_path
        log = open(log_path, "ab")
        self.process = subprocess.Popen(self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: {self.log()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not become ready: {self.log()}")

    def log(self) -> str:
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, encoding="utf-8", errors="replace") as fh:
            return fh.read()

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown, no flush."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if not self.process or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
