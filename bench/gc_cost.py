#!/usr/bin/env python3
"""What a full garbage collection of a worker costs, before and after meet_external/asgi.py freezes
what start-up built.

    python bench/gc_cost.py

Builds the app as a worker does (on a SQLite file in a temporary directory), then prints the
objects the collector tracks and the wall time of `gc.collect()`, twice, before and after
`gc.freeze()`. Nothing is asserted; the numbers are for docs/performance.md.
"""

from __future__ import annotations

import gc
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from meet_external import models  # noqa: E402
from meet_external.app import create_app  # noqa: E402
from meet_external.config import Config  # noqa: E402


def collect_ms() -> float:
    started = time.perf_counter()
    gc.collect()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = Config(database_url=f"sqlite:///{folder}/gc.sqlite3", jwt_secret_key="k" * 40)
        models.bind(config.database_url)
        models.create_tables()
        create_app(config)
        print(f"objects tracked after start-up: {len(gc.get_objects()):,}")
        print(f"full collection: {collect_ms():.1f} ms, again {collect_ms():.1f} ms")
        gc.freeze()
        print(f"after gc.freeze() ({gc.get_freeze_count():,} frozen): {collect_ms():.2f} ms")


if __name__ == "__main__":
    main()
