"""Fast bulk seeding of a fresh benchmark database, in La Suite Meet's tables.

Layout (deterministic for a given seed):
  * `small@bench.example`  has 10 rooms,
  * `big@bench.example`    has 100,000 rooms,
  * `writer@bench.example` has none (the create benchmark writes its rooms, so the list
    numbers of the two other users do not move while the bench runs),
  * 1,000 other users have 100,000 rooms between them,
  * 30 users `attendee-00@bench.example` ... `attendee-29@bench.example` have none: the
    PATCH benchmark sets rooms' member lists to 20 of them.
Every room is a `meet_resource` row, a `meet_room` row and one owner access
(`meet_resource_access`), as Meet writes them; creation times of all rooms are interleaved
over ~2.3 days, so a user's rooms are scattered among everybody else's. The application
comes from `Application.register`, with every scope (rooms:update and rooms:delete too: the
PATCH and DELETE benchmarks).

The tables must exist (`meet-external init-db`, on its own database or attached to a Meet
database). Speed: values are generated directly in their stored form (UUIDs as 32 hex
digits, which both Peewee-on-SQLite and PostgreSQL's uuid type read), inserted in batches
of raw SQL on SQLite and with COPY on PostgreSQL (Peewee's `insert_many` spends ~100 us a
row building SQL), and the secondary indexes of the big tables are dropped during the load
and rebuilt from their own definitions afterwards (one sort instead of 200,000 random
B-tree inserts each). Columns not given here get the model's default.
"""

from __future__ import annotations

import datetime
import io
import json
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

from meet_external import models  # noqa: E402
from meet_external.models import Application, Resource, ResourceAccess, Room, User  # noqa: E402
from meet_external.models.tables.applications import KNOWN_SCOPES  # noqa: E402
from meet_external.models.tables.fields import JSONField  # noqa: E402

SMALL_EMAIL = "small@bench.example"
BIG_EMAIL = "big@bench.example"
WRITER_EMAIL = "writer@bench.example"
SMALL_ROOMS = 10
BIG_ROOMS = 100_000
OTHER_ROOMS = 100_000
OTHER_USERS = 1_000
ATTENDEES = 30  # attendee-00 ... attendee-29: PATCH sets 20 of them, two lists overlapping by 10
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
    """A UTC timestamp as the models store it (models/tables/fields.py): the same text on SQLite, and
    `timestamp with time zone` input on PostgreSQL once "+00:00" is added."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


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
    values = tuple(_stored(f, f.default() if callable(f.default) else f.default) for f in extra)
    return (_columns(model, names) + [f.column_name for f in extra],
            [row + values for row in rows])


def _stored(field, value):
    return json.dumps(value) if isinstance(field, JSONField) else field.db_value(value)


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
            if isinstance(value, datetime.datetime):
                return value.isoformat(" ")
            return str(value)

        buffer = io.StringIO()
        for row in values:
            buffer.write("\t".join(map(text, row)))
            buffer.write("\n")
        with cursor.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
            copy.write(buffer.getvalue())


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


def seed(database_url: str, rng_seed: int = 5, extra: Dict[str, int] | None = None,
         burst: Dict[str, int] | None = None, statistics: bool = True) -> Dict[str, object]:
    """Fill the database; returns the users' ids, the app credentials and some room ids.

    `extra` (email -> rooms): more users whose rooms are interleaved with everybody's, like the
    big user's; `burst` (email -> rooms): users whose rooms were all made at once, one after
    the other, the newest of the database (as a user's rooms made through the API in one go).
    `statistics=False` leaves the tables as a restore does, without planner statistics or a
    visibility map, and turns autovacuum off for the four tables of this throwaway database so
    that they stay so while the benchmark measures (PostgreSQL).
    """
    extra, burst = dict(extra or {}), dict(burst or {})
    rng = random.Random(rng_seed)
    models.open_database(database_url)
    db = models.database.obj
    sqlite = isinstance(db, peewee.SqliteDatabase)
    started = time.perf_counter()
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=500_000)

    def stamp(moment: datetime.datetime) -> str:
        return _stamp(moment) if sqlite else _stamp(moment) + "+00:00"

    now_stamp = stamp(now)
    small_id, big_id, writer_id = (_uuid_hex(rng) for _ in range(3))
    other_ids = [_uuid_hex(rng) for _ in range(OTHER_USERS)]
    emails = [(small_id, SMALL_EMAIL), (big_id, BIG_EMAIL), (writer_id, WRITER_EMAIL)]
    emails += [(uid, f"user{i:04d}@bench.example") for i, uid in enumerate(other_ids)]
    more_ids = {email: _uuid_hex(rng) for email in [*extra, *burst]}
    emails += [(uid, email) for email, uid in more_ids.items()]
    users = [(uid, now_stamp, now_stamp, email) for uid, email in emails]

    # Owners of all rooms in creation order, newest first, shuffled so that every user's
    # rooms are interleaved with the others'.
    owners = [small_id] * SMALL_ROOMS + [big_id] * BIG_ROOMS
    owners += [other_ids[i % OTHER_USERS] for i in range(OTHER_ROOMS)]
    for email, count in extra.items():
        owners += [more_ids[email]] * count
    rng.shuffle(owners)
    for email, count in burst.items():  # newest first: n = 0 is the newest room
        owners[:0] = [more_ids[email]] * count

    resources: List[tuple] = []
    rooms: List[tuple] = []
    accesses: List[tuple] = []
    small_rooms: List[str] = []
    big_rooms: List[str] = []
    for n, owner in enumerate(owners):
        room_id = _uuid_hex(rng)
        created = stamp(now - datetime.timedelta(seconds=n + 1, microseconds=rng.randrange(1, 999_999)))
        resources.append((room_id, created, created))
        rooms.append((_slug(n), room_id, _slug(n), "{}", "trusted", None))
        accesses.append((_uuid_hex(rng), created, created, "owner", room_id, owner))
        if owner == small_id:
            small_rooms.append(str(uuid.UUID(room_id)))
        elif owner == big_id and len(big_rooms) < 100:
            big_rooms.append(str(uuid.UUID(room_id)))
    # In primary-key order the primary-key B-tree only ever appends.
    resources.sort()
    rooms.sort(key=lambda row: row[1])
    accesses.sort()
    # Drawn after the rooms, so that the rooms' ids and owners stay what they were.
    attendees = [f"attendee-{i:02d}@bench.example" for i in range(ATTENDEES)]
    users += [(_uuid_hex(rng), now_stamp, now_stamp, email) for email in attendees]

    loads = [
        (User, ["id", "created_at", "updated_at", "email"], users),
        (Resource, ["id", "created_at", "updated_at"], resources),
        (Room, ["name", "resource", "slug", "configuration", "access_level", "pin_code"], rooms),
        (ResourceAccess, ["id", "created_at", "updated_at", "role", "resource", "user"], accesses),
    ]
    tables = [model._meta.table_name for model, _, _ in loads]
    with db.connection_context():
        if sqlite:
            # This connection only: a big page cache, and no per-row foreign-key probes
            # (the rows are consistent by construction).
            db.execute_sql("PRAGMA cache_size = -262144")
            db.execute_sql("PRAGMA foreign_keys = OFF")
        with db.atomic():
            if not sqlite:
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
            for model, names, values in loads:
                _insert(db, model._meta.table_name, *_with_defaults(model, names, values))
            for _, create_sql in indexes:
                db.execute_sql(create_sql)
            if not sqlite:
                db.execute_sql("SET LOCAL session_replication_role = DEFAULT")
            application, secret = Application.register("bench", scopes=KNOWN_SCOPES)
        if sqlite:
            db.execute_sql("PRAGMA foreign_keys = ON")
            db.execute_sql("PRAGMA cache_size = -2000")
        else:
            # What autovacuum would do shortly after a bulk load; without it the planner
            # believes the tables are empty. SQLite is left as an application leaves it.
            if statistics:
                db.execute_sql("VACUUM ANALYZE")
            else:
                for table in tables:
                    db.execute_sql(f'ALTER TABLE "{table}" SET (autovacuum_enabled = false)')
            # The load's dirty pages written out now, not by the checkpointer while the first
            # runs measure (it was behind p99s of 70-430 ms in the token, list and retrieve
            # runs that follow a seed; docs/performance.md).
            db.execute_sql("CHECKPOINT")
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "client_id": application.client_id,
        "client_secret": secret,
        "users": {k: str(uuid.UUID(v)) for k, v in
                  (("small", small_id), ("big", big_id), ("writer", writer_id))},
        "more_users": {email: str(uuid.UUID(uid)) for email, uid in more_ids.items()},
        "emails": {"small": SMALL_EMAIL, "big": BIG_EMAIL, "writer": WRITER_EMAIL},
        "attendees": attendees,
        "scopes": list(application.scopes),
        "rooms": {"small": small_rooms, "big": big_rooms},
        "counts": {"users": len(users), "rooms": len(rooms), "accesses": len(accesses),
                   "rebuilt_indexes": [name for name, _ in indexes]},
    }


if __name__ == "__main__":  # manual use: python bench/seed.py sqlite:////tmp/x.sqlite3
    import json

    result = seed(sys.argv[1])
    result["rooms"] = {k: v[:3] for k, v in result["rooms"].items()}
    print(json.dumps(result, indent=2))
