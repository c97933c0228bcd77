"""Fast bulk seeding of a fresh benchmark database: raw multi-row INSERTs in batches.

Layout (deterministic for a given seed):
  * `small@bench.example`  owns 10 rooms,
  * `big@bench.example`    owns 100,000 rooms,
  * `writer@bench.example` owns none (the create benchmark writes its rooms, so the
    list numbers of the two other users do not move while the bench runs),
  * 1,000 other users own 100,000 rooms between them.
Every room has one owner access; creation times of all rooms are interleaved over
~2.3 days, so a user's rooms are scattered among everybody else's, as in real life.
The tables must exist already (`meet-external init-db`).
"""

from __future__ import annotations

import datetime
import random
import string
import sys
import time
import uuid
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import peewee  # noqa: E402

import models  # noqa: E402
from models import Application, Room, RoomAccess, User  # noqa: E402

SMALL_EMAIL = "small@bench.example"
BIG_EMAIL = "big@bench.example"
WRITER_EMAIL = "writer@bench.example"
SMALL_ROOMS = 10
BIG_ROOMS = 100_000
OTHER_ROOMS = 100_000
OTHER_USERS = 1_000
BATCH = 2_000  # rows per INSERT: 5 columns x 2,000 stays far below SQLite's and PostgreSQL's limits


def _slug(n: int) -> str:
    """A unique `xxx-xxxx-xxx` slug for room number n (base 26, fixed width 10)."""
    letters = []
    for _ in range(10):
        n, r = divmod(n, 26)
        letters.append(string.ascii_lowercase[r])
    s = "".join(reversed(letters))
    return f"{s[:3]}-{s[3:7]}-{s[7:]}"


def _insert(db, model, fields, rows: List[tuple]) -> None:
    """Raw multi-row INSERTs in batches; values converted once by the fields themselves.

    Peewee's `insert_many` spends ~100 us per row building SQL; this spends ~5.
    """
    table = model._meta.table_name
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    converters = [f.db_value for f in fields]
    # In primary-key order, the primary-key B-tree only ever appends.
    values = sorted(tuple(c(v) for c, v in zip(converters, row)) for row in rows)
    if isinstance(db, peewee.SqliteDatabase):
        placeholders = ", ".join("?" for _ in fields)
        cursor = db.cursor()
        for start in range(0, len(values), BATCH):
            cursor.executemany(
                f'INSERT INTO "{table}" ({columns}) VALUES ({placeholders})',
                values[start:start + BATCH],
            )
    else:
        from psycopg2.extras import execute_values

        cursor = db.cursor()
        execute_values(
            cursor, f'INSERT INTO "{table}" ({columns}) VALUES %s', values, page_size=BATCH
        )


def seed(database_url: str, rng_seed: int = 5) -> Dict[str, object]:
    """Fill the database; returns the users' ids, the app credentials and a few room ids."""
    rng = random.Random(rng_seed)
    db = models.bind(database_url)
    started = time.perf_counter()
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)

    small_id, big_id, writer_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    other_ids = [uuid.uuid4() for _ in range(OTHER_USERS)]
    users = [(small_id, SMALL_EMAIL, True, now), (big_id, BIG_EMAIL, True, now),
             (writer_id, WRITER_EMAIL, True, now)]
    users += [(uid, f"user{i:04d}@bench.example", True, now) for i, uid in enumerate(other_ids)]

    # Owners of all rooms, in creation order newest first, shuffled so every user's
    # rooms are interleaved with the others'.
    owners = [small_id] * SMALL_ROOMS + [big_id] * BIG_ROOMS
    owners += [other_ids[i % OTHER_USERS] for i in range(OTHER_ROOMS)]
    rng.shuffle(owners)

    rooms: List[tuple] = []
    accesses: List[tuple] = []
    small_rooms: List[str] = []
    big_rooms: List[str] = []
    for n, owner in enumerate(owners):
        room_id = uuid.uuid4()
        created = now - datetime.timedelta(seconds=n + 1, microseconds=rng.randrange(1_000_000))
        rooms.append((room_id, created, _slug(n), "trusted", None))
        accesses.append((uuid.uuid4(), created, room_id, owner, "owner", created))
        if owner == small_id:
            small_rooms.append(str(room_id))
        elif owner == big_id and len(big_rooms) < 100:
            big_rooms.append(str(room_id))

    with db.connection_context():
        if isinstance(db, peewee.SqliteDatabase):
            # Random UUID keys touch pages all over five B-trees: with SQLite's 2 MB default
            # cache every batch spills to the WAL. This connection only gets 256 MB.
            db.execute_sql("PRAGMA cache_size = -262144")
            # The rows are consistent by construction; per-row foreign-key probes cost ~30%.
            db.execute_sql("PRAGMA foreign_keys = OFF")
        with db.atomic():
            _insert(db, User, [User.id, User.email, User.is_active, User.created_at], users)
            _insert(db, Room, [Room.id, Room.created_at, Room.slug, Room.access_level, Room.pin_code], rooms)
            _insert(
                db, RoomAccess,
                [RoomAccess.id, RoomAccess.created_at, RoomAccess.room, RoomAccess.user,
                 RoomAccess.role, RoomAccess.room_created_at],
                accesses,
            )
            application, secret = Application.register("bench")
        if not isinstance(db, peewee.SqliteDatabase):
            # What autovacuum would do shortly after a bulk load; without it the planner
            # sees empty tables. SQLite is left as an application would leave it.
            db.execute_sql("ANALYZE")
    seconds = time.perf_counter() - started
    if hasattr(db, "close_all"):
        db.close_all()
    return {
        "seconds": seconds,
        "client_id": application.client_id,
        "client_secret": secret,
        "users": {"small": str(small_id), "big": str(big_id), "writer": str(writer_id)},
        "emails": {"small": SMALL_EMAIL, "big": BIG_EMAIL, "writer": WRITER_EMAIL},
        "rooms": {"small": small_rooms, "big": big_rooms},
        "counts": {"users": len(users), "rooms": len(rooms), "accesses": len(accesses)},
    }


if __name__ == "__main__":  # manual use: python bench/seed.py sqlite:////tmp/x.sqlite3
    import json

    result = seed(sys.argv[1])
    result["rooms"] = {k: v[:3] for k, v in result["rooms"].items()}
    print(json.dumps(result, indent=2))
