"""Fast bulk seeding of a fresh benchmark database: raw SQL in batches, COPY on PostgreSQL.

Layout (deterministic for a given seed):
  * `small@bench.example`  has 10 rooms,
  * `big@bench.example`    has 100,000 rooms,
  * `writer@bench.example` has none (the create benchmark writes its rooms, so the list
    numbers of the two other users do not move while the bench runs),
  * 1,000 other users have 100,000 rooms between them.
Every room has one owner access whose `room_created_at` equals the room's `created_at`,
and each user's `room_count` (when the model has it) is the number of its accesses;
creation times of all rooms are interleaved over ~2.3 days, so a user's rooms are
scattered among everybody else's. The application comes from `Application.register`.

The tables must exist (`meet-external init-db`). Speed: values are generated directly
in their stored form (UUIDs as 32 hex digits, which both Peewee-on-SQLite and
PostgreSQL's uuid type read; timestamps as Peewee writes them), inserted in batches of
raw SQL on SQLite and with COPY on PostgreSQL (Peewee's `insert_many` spends ~100 us a
row building SQL), and the secondary indexes of the two big tables are dropped during
the load and rebuilt from their own definitions afterwards (one sort instead of 200,000
random B-tree inserts each). Columns the models add later with a default get it.
"""

from __future__ import annotations

import collections
import datetime
import io
import random
import string
import sys
import time
import uuid
from pathlib import Path
from typing import Dict, List, Tuple

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
BATCH = 2_000  # rows per INSERT: 6 columns x 2,000 stays far below SQLite's and PostgreSQL's limits

_PAIRS = [a + b for a in string.ascii_lowercase for b in string.ascii_lowercase]
_TRIPLES = [a + b for a in string.ascii_lowercase for b in _PAIRS]


def _slug(n: int) -> str:
    """A unique `xxx-xxxx-xxx` slug for room number n < 26**7."""
    high, low = divmod(n, 676 * 676)
    return f"{_TRIPLES[high]}-{_PAIRS[low // 676]}{_PAIRS[low % 676]}-bch"


def _uuid_hex(rng: random.Random) -> str:
    """A random version-4 UUID as 32 hex digits (Peewee's stored form on SQLite)."""
    value = rng.getrandbits(128)
    value = (value & ~(0xF000 << 64)) | (4 << 76)  # version 4
    value = (value & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
    return f"{value:032x}"


def _stamp(moment: datetime.datetime) -> str:
    """A timestamp as Peewee stores it (str(datetime)); microseconds are never 0 here."""
    return moment.isoformat(" ")


def _columns(model, names) -> List[str]:
    return [model._meta.fields[name].column_name for name in names]


def _with_defaults(model, names: List[str], rows: List[tuple]) -> Tuple[List[str], List[tuple]]:
    """Columns and rows completed with the model's defaults for fields not given here.

    The models keep changing; a NOT NULL column added with a Peewee default would
    otherwise fail this raw load (Peewee applies defaults in Python, not in the table).
    """
    extra = [f for f in model._meta.sorted_fields
             if f.name not in names and f.default is not None]
    if not extra:
        return _columns(model, names), rows
    values = tuple(f.db_value(f.default() if callable(f.default) else f.default) for f in extra)
    return (_columns(model, names) + [f.column_name for f in extra],
            [row + values for row in rows])


def _insert(db, table: str, columns: List[str], values: List[tuple]) -> None:
    cols = ", ".join(f'"{c}"' for c in columns)
    cursor = db.cursor()
    if isinstance(db, peewee.SqliteDatabase):
        marks = ", ".join("?" for _ in columns)
        for start in range(0, len(values), BATCH):
            cursor.executemany(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})',
                               values[start:start + BATCH])
    else:
        # COPY: one stream, parsed by the server; ~10x execute_values. No value here holds
        # a tab, a newline or a backslash.
        def text(value) -> str:
            if value is None:
                return "\\N"
            if value is True or value is False:
                return "t" if value else "f"
            return str(value)

        buffer = io.StringIO()
        for row in values:
            buffer.write("\t".join(map(text, row)))
            buffer.write("\n")
        buffer.seek(0)
        cursor.copy_expert(f'COPY "{table}" ({cols}) FROM STDIN', buffer)


def _secondary_indexes(db, tables) -> List[Tuple[str, str]]:
    """(name, CREATE statement) of the tables' non-primary-key indexes."""
    if isinstance(db, peewee.SqliteDatabase):
        marks = ", ".join("?" for _ in tables)
        rows = db.execute_sql(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            f" AND tbl_name IN ({marks})", tables).fetchall()
    else:
        marks = ", ".join("%s" for _ in tables)
        rows = db.execute_sql(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i"
            " WHERE i.schemaname = current_schema() AND i.tablename IN (" + marks + ")"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            tables).fetchall()
    return [(name, sql) for name, sql in rows]


def seed(database_url: str, rng_seed: int = 5) -> Dict[str, object]:
    """Fill the database; returns the users' ids, the app credentials and some room ids."""
    rng = random.Random(rng_seed)
    db = models.bind(database_url)
    started = time.perf_counter()
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=500_000)
    now_stamp = _stamp(now)

    small_id, big_id, writer_id = (_uuid_hex(rng) for _ in range(3))
    other_ids = [_uuid_hex(rng) for _ in range(OTHER_USERS)]
    users = [(small_id, now_stamp, SMALL_EMAIL, True), (big_id, now_stamp, BIG_EMAIL, True),
             (writer_id, now_stamp, WRITER_EMAIL, True)]
    users += [(uid, now_stamp, f"user{i:04d}@bench.example", True)
              for i, uid in enumerate(other_ids)]
    user_fields = ["id", "created_at", "email", "is_active"]

    # Owners of all rooms in creation order, newest first, shuffled so that every user's
    # rooms are interleaved with the others'.
    owners = [small_id] * SMALL_ROOMS + [big_id] * BIG_ROOMS
    owners += [other_ids[i % OTHER_USERS] for i in range(OTHER_ROOMS)]
    rng.shuffle(owners)

    rooms: List[tuple] = []
    accesses: List[tuple] = []
    small_rooms: List[str] = []
    big_rooms: List[str] = []
    for n, owner in enumerate(owners):
        room_id = _uuid_hex(rng)
        created = _stamp(now - datetime.timedelta(seconds=n + 1, microseconds=rng.randrange(1, 999_999)))
        rooms.append((room_id, created, _slug(n), "trusted", None))
        accesses.append((_uuid_hex(rng), created, room_id, owner, "owner", created))
        if owner == small_id:
            small_rooms.append(str(uuid.UUID(room_id)))
        elif owner == big_id and len(big_rooms) < 100:
            big_rooms.append(str(uuid.UUID(room_id)))
    if "room_count" in User._meta.fields:
        # The per-user counter RoomAccess.grant keeps (the list's `count`).
        per_user = collections.Counter(owners)
        users = [row + (per_user.get(row[0], 0),) for row in users]
        user_fields.append("room_count")
    # In primary-key order the primary-key B-tree only ever appends.
    rooms.sort()
    accesses.sort()

    tables = [Room._meta.table_name, RoomAccess._meta.table_name]
    with db.connection_context():
        if isinstance(db, peewee.SqliteDatabase):
            # This connection only: a big page cache, and no per-row foreign-key probes
            # (the rows are consistent by construction).
            db.execute_sql("PRAGMA cache_size = -262144")
            db.execute_sql("PRAGMA foreign_keys = OFF")
        with db.atomic():
            if not isinstance(db, peewee.SqliteDatabase):
                # This transaction only: no per-row foreign-key trigger (~70% of the load
                # time). Needs a superuser, as `postgres` is; without one, just slower.
                db.execute_sql("SAVEPOINT replica")
                try:
                    db.execute_sql("SET LOCAL session_replication_role = replica")
                    db.execute_sql("RELEASE SAVEPOINT replica")
                except peewee.DatabaseError:
                    db.execute_sql("ROLLBACK TO SAVEPOINT replica")
            indexes = _secondary_indexes(db, tables)
            for name, _ in indexes:
                db.execute_sql(f'DROP INDEX "{name}"')
            _insert(db, User._meta.table_name, *_with_defaults(User, user_fields, users))
            _insert(db, tables[0], *_with_defaults(
                Room, ["id", "created_at", "slug", "access_level", "pin_code"], rooms))
            _insert(db, tables[1], *_with_defaults(
                RoomAccess, ["id", "created_at", "room", "user", "role", "room_created_at"], accesses))
            for _, create_sql in indexes:
                db.execute_sql(create_sql)
            if not isinstance(db, peewee.SqliteDatabase):
                db.execute_sql("SET LOCAL session_replication_role = DEFAULT")
            application, secret = Application.register("bench")
        if isinstance(db, peewee.SqliteDatabase):
            db.execute_sql("PRAGMA foreign_keys = ON")
            db.execute_sql("PRAGMA cache_size = -2000")
        else:
            # What autovacuum would do shortly after a bulk load; without it the planner
            # believes the tables are empty. SQLite is left as an application leaves it.
            db.execute_sql("ANALYZE")
    seconds = time.perf_counter() - started
    if hasattr(db, "close_all"):
        db.close_all()
    return {
        "seconds": round(seconds, 2),
        "client_id": application.client_id,
        "client_secret": secret,
        "users": {k: str(uuid.UUID(v)) for k, v in
                  (("small", small_id), ("big", big_id), ("writer", writer_id))},
        "emails": {"small": SMALL_EMAIL, "big": BIG_EMAIL, "writer": WRITER_EMAIL},
        "rooms": {"small": small_rooms, "big": big_rooms},
        "counts": {"users": len(users), "rooms": len(rooms), "accesses": len(accesses),
                   "rebuilt_indexes": [name for name, _ in indexes]},
    }


if __name__ == "__main__":  # manual use: python bench/seed.py sqlite:////tmp/x.sqlite3
    import json

    result = seed(sys.argv[1])
    result["rooms"] = {k: v[:3] for k, v in result["rooms"].items()}
    print(json.dumps(result, indent=2))
