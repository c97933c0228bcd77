"""Table creation on an existing database: missing columns are added and filled (models/__init__.py)."""

import models
from models import Room, User
from models.rooms import RoomPolicy


def test_create_tables_adds_room_count_and_recounts(make_user):
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")
    with models.database.connection_context():
        for _ in range(2):
            Room.create_for(alice.id, "c", RoomPolicy())
        models.database.execute_sql('ALTER TABLE "meet_users" DROP COLUMN room_count')
    models.create_tables()
    with models.database.connection_context():
        counts = {user.email: user.room_count for user in User.select()}
        accesses = models.RoomAccess.select().count()
    assert counts == {alice.email: 2, bob.email: 0}
    assert accesses == 2


def test_create_tables_twice_changes_nothing(make_user):
    make_user("alice@example.com")
    models.create_tables()
    models.create_tables()
    with models.database.connection_context():
        assert User.select().count() == 1
