"""Runs inside La Suite Meet's own Django shell, never under pytest: `manage.py shell < this file`.

tests/test_meet_peer.py sends a list of requests in the environment variable
MEET_PEER_REQUESTS (JSON: `[{"op": ..., ...}, ...]`); each is answered through Meet's models and
code (its ORM, Django's validators and password hashers, its OIDC login backend), and the answers
are printed as one line `MEET-PEER-RESULT <json list>`. See docs/meet-compatibility.md.
"""

import datetime
import json
import os
import uuid

from core import models
from core.authentication.backends import OIDCAuthenticationBackend
from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.test import Client


def jsonable(value):
    if isinstance(value, (uuid.UUID, datetime.tzinfo)):
        return str(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return value


def columns(obj, leave_out=()):
    """Every column of the model's own table as Meet reads it, by column name."""
    return {field.column: jsonable(getattr(obj, field.attname))
            for field in obj._meta.local_concrete_fields if field.column not in leave_out}


def validation_errors(obj):
    """Django's validators on the row (`full_clean`, as Meet's BaseModel.save runs it): {} if none."""
    try:
        obj.full_clean()
    except ValidationError as exc:
        return exc.message_dict
    return {}


def hash_shape(encoded):
    algorithm, iterations, salt, digest = encoded.split("$")
    return {"algorithm": algorithm, "iterations": int(iterations), "salt_length": len(salt),
            "digest_length": len(digest)}


def application(request):
    app = models.Application.objects.get(client_id=request["client_id"])
    return {
        "columns": columns(app, leave_out=("client_secret",)),
        "active": app.is_active if hasattr(app, "is_active") else app.active,
        "secret_hash": hash_shape(app.client_secret),
        "check_password": check_password(request["secret"], app.client_secret),
        "check_wrong_password": check_password(request["secret"] + "x", app.client_secret),
        "domains": [{"domain": domain.domain, "errors": validation_errors(domain)}
                    for domain in app.allowed_domains.all()],
        "errors": validation_errors(app),
    }


def user(request):
    """The user by email, or by OIDC `sub` (a user created from a provider's token)."""
    person = (models.User.objects.get(sub=request["sub"]) if "sub" in request
              else models.User.objects.get(email=request["email"]))
    return {
        "columns": columns(person, leave_out=("password",)),
        "password_starts": person.password[:1],
        "password_length": len(person.password),
        "has_usable_password": person.has_usable_password(),
        "errors": validation_errors(person),
    }


def room(request):
    found = models.Room.objects.get(slug=request["slug"])
    owner = models.User.objects.get(email=request["email"])
    return {
        "by_id": str(models.Room.objects.get(pk=request["id"]).pk) if request.get("id") else None,
        "columns": columns(found),
        "resource_columns": columns(models.Resource.objects.get(pk=found.pk)),
        "role": found.get_role(owner),
        "is_owner": found.is_owner(owner),
        "accesses": [{"user_id": str(access.user_id), "role": access.role,
                      "errors": validation_errors(access)} for access in found.accesses.all()],
        "errors": validation_errors(found),
    }


def session(request):
    """A signed-in session of the user, as Meet's login would leave it (its cache-backed store)."""
    client = Client()
    client.force_login(models.User.objects.get(email=request["email"]),
                       backend="django.contrib.auth.backends.ModelBackend")
    return {"cookie_name": settings.SESSION_COOKIE_NAME,
            "cookie": client.cookies[settings.SESSION_COOKIE_NAME].value}


def oidc_login(request):
    """The person's first OIDC login, through Meet's backend, with the identity provider's claims."""
    backend = OIDCAuthenticationBackend()
    claims = {"sub": request["sub"], "email": request["email"]}
    backend.get_userinfo = lambda *args: claims
    person = backend.get_or_create_user("access-token", "id-token", {})
    return {"id": str(person.id), "sub": person.sub, "email": person.email}


def rotate_secret(request):
    """A new secret, set as Meet's admin sets it (SecretField hashes it on save)."""
    app = models.Application.objects.get(client_id=request["client_id"])
    app.client_secret = request["secret"]
    app.save()
    return {"algorithm": app.client_secret.split("$", 1)[0]}


def set_active(request):
    app = models.Application.objects.get(client_id=request["client_id"])
    setattr(app, "is_active" if hasattr(app, "is_active") else "active", request["active"])
    app.save()
    return {}


def delete_room(request):
    models.Room.objects.get(slug=request["slug"]).delete()  # Meet cascades the accesses in Python
    return {"left": models.Room.objects.filter(slug=request["slug"]).count()}


OPERATIONS = {function.__name__: function for function in (
    application, user, room, session, oidc_login, rotate_secret, set_active, delete_room)}
answers = [OPERATIONS[request["op"]](request) for request in json.loads(os.environ["MEET_PEER_REQUESTS"])]
print("MEET-PEER-RESULT " + json.dumps(answers))
