"""One page of a user's rooms, with their count and the principal check, in one statement.

The rule: a user's rooms are those where the user holds an access; newest first by
the room's creation time (`meet_resource.created_at`), then id. Meet's layout puts the
access (with the user) and the creation time in two tables, so no one index serves
every user: a page is read one of three ways, all giving the same rows.

- `BY_USER`: the user's accesses, each room's time looked up, sorted. Cheap for a user
  with few rooms; a user with 100,000 costs 100,000 lookups (~700 ms on PostgreSQL).
- `NEWEST` / `OLDEST`: the project's index on `meet_resource (created_at, id)` walked
  from one end, each room probed for the user's access, until the page is full. Cheap
  for a user who holds a good share of all rooms, near either end of their list; a
  user with 10 rooms among 200,000 costs ~200,000 probes (~240 ms).

A database planner cannot choose for us: a prepared statement (psycopg prepares what it
runs five times) gets one generic plan for every user, and PostgreSQL's was measured
picking BY_USER (700 ms for the big user) whatever the user; planning each time instead
costs ~1 ms a request. So the statement names the way itself, chosen from the user's
count as this process last saw it (`PageHints`). A hint only decides the speed: the
count, the offsets and the rows always come from the statement itself, so a stale hint
(another worker wrote since) gives the same page, read more slowly. A user this process has
no hint for is counted first, in a statement of its own (once per process and user):
guessing instead read a big user BY_USER, and those 0.7 s first pages were the sporadic
p99s measured under load (docs/performance.md). OLDEST reads the page's rows from the far
end, its offset computed from the count inside the statement.
"""

from __future__ import annotations

import threading
from typing import Dict, List, NamedTuple

from .applications import Application
from .db import database, is_sqlite
from .delegation import Delegation, require_standing
from .rooms import RoomView
from .users import User

BY_USER, NEWEST, OLDEST = "by_user", "newest", "oldest"
# Past this an OFFSET means nothing (no user has 2**62 rooms); SQL integers stop at 2**63.
MAX_OFFSET = 2 ** 62
# A way is worth switching to only when it reads clearly fewer rows.
SWITCH_FACTOR = 2


class RoomPage(NamedTuple):
    count: int
    rooms: List[RoomView]


def choose_reading(count: int | None, total: int | None, offset: int, limit: int) -> str:
    """The cheapest way to read rows [offset, offset + limit) of a user with `count` rooms
    among `total` (both as last seen; None when unknown)."""
    if not count or offset >= count:
        return BY_USER if not count else OLDEST  # past the end: OLDEST reads nothing
    spread = max(total or count, count) / count  # rooms walked per room of the user
    from_newest = (offset + limit) * spread
    from_oldest = (count - offset) * spread
    if min(from_newest, from_oldest) * SWITCH_FACTOR >= count:
        return BY_USER
    return NEWEST if from_newest <= from_oldest else OLDEST


class PageHints:
    """What this process last saw: each user's room count, and how many rooms there are."""

    SIZE = 10_000

    def __init__(self):
        self._counts: Dict[object, int] = {}
        self.total: int | None = None
        self._lock = threading.Lock()

    def count_of(self, user_id) -> int | None:
        return self._counts.get(user_id)

    def saw(self, user_id, count: int, total: int | None) -> None:
        with self._lock:
            if len(self._counts) >= self.SIZE and user_id not in self._counts:
                self._counts.clear()
            self._counts[user_id] = count
            self.total = total if total and total > 0 else None


HINTS = PageHints()

_PAGE = {
    BY_USER: """SELECT s.created_at, r.resource_id, r.slug, r.access_level, r.pin_code, r.configuration
        FROM meet_resource_access x JOIN meet_resource s ON s.id = x.resource_id
        JOIN meet_room r ON r.resource_id = s.id
        WHERE x.user_id = {user} ORDER BY s.created_at DESC, s.id DESC LIMIT {limit} OFFSET {offset}""",
    NEWEST: """SELECT s.created_at, r.resource_id, r.slug, r.access_level, r.pin_code, r.configuration
        FROM meet_resource s JOIN meet_room r ON r.resource_id = s.id
        WHERE (SELECT 1 FROM meet_resource_access x WHERE x.resource_id = s.id AND x.user_id = {user}) = 1
        ORDER BY s.created_at DESC, s.id DESC LIMIT {limit} OFFSET {offset}""",
    OLDEST: """SELECT s.created_at, r.resource_id, r.slug, r.access_level, r.pin_code, r.configuration
        FROM meet_resource s JOIN meet_room r ON r.resource_id = s.id
        WHERE (SELECT 1 FROM meet_resource_access x WHERE x.resource_id = s.id AND x.user_id = {user}) = 1
        ORDER BY s.created_at ASC, s.id ASC
        LIMIT {greatest}({least}({limit}, (SELECT n FROM counted) - {offset}), 0)
        OFFSET {greatest}((SELECT n FROM counted) - {offset} - {limit}, 0)""",
}
# The correlated probe in NEWEST and OLDEST is a scalar subquery, not EXISTS, on purpose:
# planners turn EXISTS into a join and may then sort everything; a scalar subquery stays a
# per-row filter on the index walk.
_STATEMENT = """WITH counted AS (SELECT COUNT(*) AS n FROM meet_resource_access WHERE user_id = {user})
SELECT u.is_active, (SELECT a.{active} FROM meet_application a WHERE a.client_id = {client}),
    (SELECT n FROM counted), {total},
    p.resource_id, p.slug, p.access_level, p.pin_code, p.configuration
FROM meet_user u LEFT JOIN ({page}) p ON 1 = 1
WHERE u.id = {user}
ORDER BY p.created_at DESC, p.resource_id DESC"""
_COUNT = "SELECT (SELECT COUNT(*) FROM meet_resource_access WHERE user_id = {user}), {total}"
_DIALECTS = {
    "postgresql": {"greatest": "GREATEST", "least": "LEAST",
                   "total": "(SELECT reltuples::bigint FROM pg_class WHERE oid = 'meet_resource'::regclass)"},
    "sqlite": {"greatest": "MAX", "least": "MIN", "total": "(SELECT MAX(rowid) FROM meet_resource)"},
}
_rendered: Dict[tuple, str] = {}


def _statement(reading: str) -> str:
    """The page statement of one reading, or (`reading` None) the count alone."""
    key = (database.obj, reading)
    sql = _rendered.get(key)
    if sql is None:
        dialect = _DIALECTS["sqlite" if is_sqlite() else "postgresql"]
        marks = {name: (f":{name}" if is_sqlite() else f"%({name})s")
                 for name in ("user", "client", "limit", "offset")}
        if reading is None:
            sql = _COUNT.format(**marks, **dialect)
        else:
            page = _PAGE[reading].format(**marks, **dialect)
            sql = _STATEMENT.format(page=page, active=Application.is_active.column_name, **marks,
                                    **dialect)
        _rendered[key] = sql
    return sql


def rooms_page(delegation: Delegation, page: int, page_size: int) -> RoomPage:
    """One page of the user's rooms, newest first (room creation time, then id)."""
    offset = min((page - 1) * page_size, MAX_OFFSET)
    user = User.id.db_value(delegation.user_id)
    if HINTS.count_of(delegation.user_id) is None:
        count, total = database.execute_sql(_statement(None), {"user": user}).fetchone()
        HINTS.saw(delegation.user_id, count, total)
    reading = choose_reading(HINTS.count_of(delegation.user_id), HINTS.total, offset, page_size)
    params = {"user": user, "client": delegation.client_lookup, "limit": page_size, "offset": offset}
    rows = database.execute_sql(_statement(reading), params).fetchall()
    require_standing(rows[0] if rows else None, delegation)
    count, total = rows[0][2], rows[0][3]
    HINTS.saw(delegation.user_id, count, total)
    return RoomPage(count, [RoomView.from_row(row[4:]) for row in rows if row[4] is not None])
