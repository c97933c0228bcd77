"""The one scope rule (docs/api-users.md#scopes), for application tokens as for the other kinds."""

import pytest

from meet_external.auth.scopes import granted_scopes, scope_values

from .conftest import ROOMS_URL


@pytest.mark.parametrize("claim, values", [
    ("rooms:list  ROOMS:list rooms:create", ("rooms:list", "rooms:create")),
    (["Rooms:List", "rooms:list", 7, "rooms:create"], ("rooms:list", "rooms:create")),
    (None, ()),
    ({"rooms:list": True}, ()),
])
def test_a_claim_is_a_string_or_a_list_lower_cased_and_de_duplicated(claim, values):
    assert scope_values(claim) == values


def test_the_prefix_and_its_colon_are_removed():
    claim = "lasuite_visio lasuite_visio:rooms:create LASUITE_VISIO:ROOMS:LIST other:rooms:retrieve"
    assert granted_scopes(claim, "lasuite_visio") == {"lasuite_visio", "rooms:create", "rooms:list",
                                                      "other:rooms:retrieve"}
    assert granted_scopes(claim, None) == set(scope_values(claim))


@pytest.mark.parametrize("scope, prefix, status", [
    (["rooms:list"], None, 200),
    ("ROOMS:LIST", None, 200),
    ("meet:rooms:list", "meet", 200),
    ("meet:rooms:list", None, 403),
    ("rooms:create", None, 403),
])
def test_application_tokens_follow_the_same_rule(make_client, mint, user, credentials, scope, prefix, status):
    token = mint(user, credentials.client_id, scope=scope)
    with make_client(scopes_prefix=prefix) as client:
        answer = client.get(ROOMS_URL, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == status
    if status == 403:
        assert answer.json() == {"detail": "Insufficient permissions. Required scope: 'rooms:list'"}
