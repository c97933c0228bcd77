"""Schemathesis hooks for the conformance run (loaded with SCHEMATHESIS_HOOKS).

The file sets no maximum on `page`, but CONTRACT §5 answers 400 past
2147483647; schema-valid generation stays inside that server limit, and the
400 itself is asserted in test_hostile.py and test_rooms.py.
"""

import schemathesis

MAX_PAGE = 2147483647


@schemathesis.hook("filter_query")
def page_within_the_server_limit(context, query):
    if context.operation is None or context.operation.definition.raw.get("operationId") != "listRooms":
        return True
    page = (query or {}).get("page")
    return not isinstance(page, int) or page <= MAX_PAGE
