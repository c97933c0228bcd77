"""The framework floor: the least a list endpoint can do on this stack.

Plain Flask (no Connexion, no validation, no database): decode the bearer JWT with
PyJWT exactly as the server does (key, algorithm, issuer, required `exp`), then return
a canned page of 20 rooms shaped like the real answer. Served by gunicorn with 2 sync
workers; `bench/run.py` drives the same list load at it and prints list / floor.

    APPLICATION_JWT_SECRET_KEY=... gunicorn -w 2 -b 127.0.0.1:8001 --chdir bench floor_app:app
"""

import json
import os
import string
import uuid

import flask
import jwt

SECRET = os.environ["APPLICATION_JWT_SECRET_KEY"]
ALGORITHM = os.environ.get("APPLICATION_JWT_ALG", "HS256")
ISSUER = os.environ.get("APPLICATION_JWT_ISSUER", "lasuite-meet")
BASE = "/external-api/v1.0"

app = flask.Flask(__name__)

_ROOMS = [
    {"id": str(uuid.UUID(int=n + 1, version=4)), "slug": f"abc-defg-{string.ascii_lowercase[n]}xy",
     "access_level": "trusted"}
    for n in range(20)
]


@app.get(f"{BASE}/rooms")
@app.get(f"{BASE}/rooms/")
def list_rooms():
    header = flask.request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return {"detail": "Authentication credentials were not provided."}, 401
    try:
        jwt.decode(token, SECRET, algorithms=[ALGORITHM], issuer=ISSUER,
                   options={"require": ["exp"]})
    except jwt.InvalidTokenError:
        return {"detail": "Invalid token."}, 401
    page = flask.request.args.get("page", "1")
    page_size = flask.request.args.get("page_size", "20")
    base = flask.request.base_url
    body = {
        "count": 100_000,
        "next": f"{base}?page={int(page) + 1}&page_size={page_size}",
        "previous": None,
        "results": _ROOMS,
    }
    return flask.Response(json.dumps(body), mimetype="application/json")


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
