"""The one scope rule, for every kind of token, as Meet reads scopes (docs/operators.md#tokens)."""

from __future__ import annotations

from typing import FrozenSet, Tuple

from ..errors import ApiError


def scope_values(claim) -> Tuple[str, ...]:
    """A `scope` claim as its values: a space-separated string or a list, lower-cased, de-duplicated."""
    if isinstance(claim, str):
        values = claim.split()
    elif isinstance(claim, (list, tuple)):
        values = [value for value in claim if isinstance(value, str)]
    else:
        values = []
    return tuple(dict.fromkeys(value.lower() for value in values))


def granted_scopes(claim, prefix: str | None) -> FrozenSet[str]:
    """The operations' scopes a claim grants: `<prefix>:` is removed (`lasuite_visio:rooms:create`
    grants `rooms:create` when the prefix is `lasuite_visio`)."""
    values = scope_values(claim)
    if prefix:
        values = tuple(value.removeprefix(f"{prefix.lower()}:") for value in values)
    return frozenset(values)


def require_scope(granted: FrozenSet[str], scope: str) -> None:
    """The operation's scope must be granted, else the 403 of docs/api-users.md."""
    if scope not in granted:
        raise ApiError(
            403,
            f"Insufficient permissions. Required scope: '{scope}'",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
        )
