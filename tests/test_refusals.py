"""The data's refusals carry their answers (models/refusals.py), read by the one error path."""

from meet_external import models  # noqa: F401 - every module's refusals defined
from meet_external.errors import as_api_error
from meet_external.models.refusals import FieldRefusal, Refusal
from meet_external.models.rooms.changes import UnknownAttendees


def every_refusal(cls=Refusal):
    for subclass in cls.__subclasses__():
        yield subclass
        yield from every_refusal(subclass)


def test_every_raised_refusal_says_its_own_message():
    """Each refusal with no subclass of its own is raised: it must not answer the base's words."""
    raised = [cls for cls in every_refusal() if not cls.__subclasses__()
              and not issubclass(cls, FieldRefusal) and cls is not UnknownAttendees]
    assert len(raised) > 10
    assert [cls.__name__ for cls in raised if cls.message == Refusal.message] == []


def test_a_refusal_is_answered_as_it_says():
    answered = as_api_error(UnknownAttendees([2, 5]))
    assert (answered.status, answered.message, answered.errors) == (
        400, "attendees: No user has the email address of item 2.",
        {"attendees": ["No user has the email address of item 2.",
                       "No user has the email address of item 5."]})
