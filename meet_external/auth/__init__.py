"""Who is calling: the kinds of bearer token a La Suite Meet accepts, and the scope rule.

- application.py: application tokens (minted by the token endpoint);
- addons.py: add-on tokens (minted by Meet's add-on session flow);
- resource_server.py, introspection.py: resource-server tokens (the identity provider's);
- scopes.py: the one scope rule; bearer.py: the order in which the kinds are tried;
- settings.py: the ADDONS_* and OIDC_* settings.
"""
