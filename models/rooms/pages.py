"""One page of a user's rooms, with their count and the principal check, in one statement.

The rule: a user's rooms are those the user sees (an access of any role,
models/rooms/visibility.py); newest first by the room's creation time
(`meet_resource.created_at`), then id. Meet's layout puts the access (with the user)
and the creation time in two tables, so no one index serves every user: the statement
reads a page one of three ways, all giving the same rows.

- by the user: each of the user's accesses, its room's time looked up, the page sorted
  out from the end of the list nearer to it (the last page sorts 20 rooms, not them all).
  Costs a lookup per room of the user.
- a walk from the newest (or the oldest) end of the project's index on
  `meet_resource (created_at, id)`, each room probed for the user's access, until the rows
  up to the page are found. Cheap for a user who holds a good share of the rooms near
  that end; a user with few rooms among many makes it walk far.

The way is chosen inside the statement, from the user's exact count (counted there anyway)
and the page's position, never from a hint kept by a process or from the planner's
statistics of Meet's tables, which may be stale or absent (docs/performance.md): a user
with at most `WALK_FROM` rooms is read by the user; else the walk starts from the end
nearer the page, and gives up after `count / GIVE_UP` rooms, when the page is read by the
user after all. So no page costs more than 1.25 times the by-the-user reading, and the users
who own a good share of the rooms get their first and last pages in a few dozen probes.

Each part is written so that its plan does not depend on estimates: the room's time and
the room's row are fetched by correlated subqueries on primary keys (one index probe each;
a generic plan built without statistics joined them by hashing all of `meet_resource`, even
for a 10-room user: docs/performance.md), and the ways not taken read nothing (their LIMIT
is 0).
"""

from __future__ import annotations

from typing import Dict, List, NamedTuple

from ..access.delegation import Delegation, require_standing
from ..storage.db import database, dialect
from ..storage.dialect import Dialect
from ..tables.applications import Application
from ..tables.users import User
from .views import RoomView
from .visibility import access_sql, accesses_sql

# Past this an OFFSET means nothing (no user has 2**62 rooms); SQL integers stop at 2**63.
MAX_OFFSET = 2 ** 62
# Up to this many rooms a user is read by the user: at most this many lookups (~1 ms), and
# a walk would have to find the user's rooms among many more others.
WALK_FROM = 1_000
# A walk gives up after count / GIVE_UP rooms: a page then costs at most 1 + 1 / GIVE_UP times
# the reading by the user, whose accesses are enough for the rows.
GIVE_UP = 4
# The ways, as the statement names them.
NOTHING, BY_USER, NEWEST, OLDEST = 0, 1, 2, 3


class RoomPage(NamedTuple):
    count: int
    rooms: List[RoomView]
    reading: int = BY_USER  # the way the rows were read (for tests and EXPLAIN)


_STATEMENT = """WITH counted AS {materialized} (
    SELECT COUNT(*) AS n FROM {accesses}),
span AS {materialized} (
    SELECT n, o, l, top, way,
        CASE WHEN way = {newest} THEN n / {give_up} ELSE 0 END AS newest_walk,
        CASE WHEN way = {oldest} THEN n / {give_up} ELSE 0 END AS oldest_walk
    FROM (SELECT n, o, l, o + l <= n - o AS top, CASE WHEN l = 0 THEN {nothing}
              WHEN n <= {walk_from} THEN {by_user} WHEN o + l <= n - o THEN {newest} ELSE {oldest} END AS way
          FROM (SELECT n, {least}({offset}, n) AS o, {greatest}({least}({limit}, n - {offset}), 0) AS l
                FROM counted) c) w),
newest AS {materialized} (
    SELECT w.id, w.created_at FROM (
        SELECT s.id, s.created_at FROM meet_resource s
        ORDER BY s.created_at DESC, s.id DESC LIMIT (SELECT newest_walk FROM span)) w
    WHERE {owned} LIMIT (SELECT o + l FROM span)),
oldest AS {materialized} (
    SELECT w.id, w.created_at FROM (
        SELECT s.id, s.created_at FROM meet_resource s
        ORDER BY s.created_at ASC, s.id ASC LIMIT (SELECT oldest_walk FROM span)) w
    WHERE {owned} LIMIT (SELECT n - o FROM span)),
walked AS {materialized} (SELECT id, created_at FROM newest UNION ALL SELECT id, created_at FROM oldest),
found AS {materialized} (
    SELECT way, CASE WHEN way IN ({newest}, {oldest}) THEN l ELSE 0 END AS from_walk,
        CASE WHEN way = {by_user} AND top THEN l ELSE 0 END AS by_user_from_newest,
        CASE WHEN way = {by_user} AND NOT top THEN l ELSE 0 END AS by_user_from_oldest
    FROM (SELECT CASE WHEN (SELECT COUNT(*) FROM walked)
              = CASE way WHEN {newest} THEN o + l WHEN {oldest} THEN n - o ELSE -1 END
              THEN way WHEN way = {nothing} THEN {nothing} ELSE {by_user} END AS way, l, top
          FROM span) f),
page AS (
    SELECT id, created_at FROM (
        SELECT id, created_at FROM walked ORDER BY created_at DESC, id DESC
        LIMIT (SELECT from_walk FROM found)
        OFFSET (SELECT CASE way WHEN {newest} THEN o ELSE 0 END FROM span)
    ) from_walk
    UNION ALL
    SELECT id, created_at FROM (
        SELECT x.resource_id AS id, {room_time} AS created_at
        FROM {accesses_x}
        ORDER BY 2 DESC, 1 DESC LIMIT (SELECT by_user_from_newest FROM found) OFFSET (SELECT o FROM span)
    ) by_user_from_newest
    UNION ALL
    SELECT id, created_at FROM (
        SELECT x.resource_id AS id, {room_time} AS created_at
        FROM {accesses_x}
        ORDER BY 2 ASC, 1 ASC LIMIT (SELECT by_user_from_oldest FROM found)
        OFFSET (SELECT n - o - l FROM span)
    ) by_user_from_oldest)
SELECT u.is_active, (SELECT a.{active} FROM meet_application a WHERE a.client_id = {client}),
    (SELECT n FROM span), (SELECT way FROM found),
    r.resource_id, r.slug, r.access_level, r.pin_code, r.configuration
FROM meet_user u LEFT JOIN page p ON 1 = 1
{room_join}
WHERE u.id = {user}
ORDER BY p.created_at DESC, p.id DESC"""
# The ways not taken are behind LIMITs of 0, at which PostgreSQL and SQLite stop before reading
# a row. Not behind WHERE conditions: SQLite tests a condition holding a subquery on every row
# (a 10-room user's list walked all of meet_resource).
# The room's creation time, one probe of the project's index on meet_resource (id, created_at),
# read from the index alone (on PostgreSQL where the visibility map allows). SQLite is told the
# index: without statistics it prefers the primary key's, then reads the table's row as well
# (`serve` and `init-db` make the index, models/storage/schema.py).
_ROOM_TIME = "(SELECT s.created_at FROM meet_resource s {time_index} WHERE s.id = x.resource_id)"
# A scalar subquery, not EXISTS: planners turn EXISTS into a join and may then sort
# everything; a scalar subquery stays a per-row probe of the (user_id, resource_id) index.
_OWNED = "(SELECT 1 FROM {access}) = 1"
_WAYS = {"nothing": NOTHING, "by_user": BY_USER, "newest": NEWEST, "oldest": OLDEST}
_rendered: Dict[tuple, str] = {}


def page_statement() -> str:
    """The page statement for the bound database (rendered once per database and WALK_FROM)."""
    key = (database.obj, WALK_FROM)
    sql = _rendered.get(key)
    if sql is None:
        sql = _render(dialect())
        _rendered[key] = sql
    return sql


def _render(spoken: Dialect) -> str:
    marks = {name: spoken.param(name) for name in ("user", "client", "limit", "offset")}
    spelling = {
        "greatest": spoken.greatest, "least": spoken.least, "materialized": spoken.materialized,
        # The room's row: a probe of its primary key per page row.
        "room_join": spoken.row_by_key_join("meet_room", "r", "resource_id", "p.id"),
    }
    room_time = _ROOM_TIME.format(time_index=spoken.use_index("meet_external_resource_id_created"))
    # Who sees which room (models/rooms/visibility.py): the rooms counted, walked and read.
    visible = {"accesses": accesses_sql(marks["user"]), "accesses_x": accesses_sql(marks["user"], "x"),
               "owned": _OWNED.format(access=access_sql(marks["user"], "w.id", "x"))}
    return _STATEMENT.format(room_time=room_time, **visible,
                             active=Application.is_active.column_name, walk_from=WALK_FROM,
                             give_up=GIVE_UP, **_WAYS, **marks, **spelling)


def rooms_page(delegation: Delegation, page: int, page_size: int) -> RoomPage:
    """One page of the user's rooms, newest first (room creation time, then id)."""
    params = {"user": User.id.db_value(delegation.user_id), "client": delegation.client_lookup,
              "limit": page_size, "offset": min((page - 1) * page_size, MAX_OFFSET)}
    rows = database.execute_sql(page_statement(), params).fetchall()
    require_standing(rows[0] if rows else None, delegation)
    return RoomPage(rows[0][2], [RoomView.from_row(row[4:]) for row in rows if row[4] is not None],
                    rows[0][3])
