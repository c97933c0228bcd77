"""A real OAuth 2.0 authorization server on 127.0.0.1, for the resource-server token tests.

Built from authlib: its token endpoint issues opaque access tokens (password grant, the
username is the person's `sub`), its RFC 7662 introspection endpoint authenticates the
introspecting client (`meet`, by `client_secret_post` as La Suite's resource server sends
it, or basic). Answers are plain JSON, or with `--jwt` RFC 9701 JWTs made with joserfc: a
JWS signed ES256 with the key published at /jwks, inside a JWE encrypted RSA-OAEP/A256GCM to
the resource server's public key. /control/* lets tests count the introspection calls, make
the endpoint fail (HTTP 500) or hang, and issue tokens with answers a provider could give.

Run: python -m tests.support.authorization_server --port P [--jwt --rs-public-key FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time

import httpx
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, grants
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import Flask, Response, jsonify, request
from joserfc import jwe, jwk, jwt
from joserfc.registry import HeaderParameter

RS_CLIENT_ID = "meet"
RS_CLIENT_SECRET = "rs-secret-for-introspection"
APP_CLIENT_ID = "rdv-service-public"
APP_CLIENT_SECRET = "rdv-secret"
APP_SCOPES = "openid lasuite_visio lasuite_visio:rooms:create lasuite_visio:rooms:list " \
             "lasuite_visio:rooms:retrieve lasuite_visio:rooms:update lasuite_visio:rooms:delete other_app"


JWE_REGISTRY = jwe.JWERegistry(header_registry={"iss": HeaderParameter("Issuer", "str"),
                                                "aud": HeaderParameter("Audience", "str")},
                               algorithms=["RSA-OAEP", "A256GCM"])


class Client(ClientMixin):
    def __init__(self, client_id, secret, scope, grant_types):
        self.client_id, self.secret, self.scope, self.grant_types = client_id, secret, scope, grant_types

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        allowed = self.scope.split()
        return " ".join(value for value in (scope or "").split() if value in allowed)

    def check_redirect_uri(self, redirect_uri):
        return False

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(client_secret, self.secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method in ("client_secret_post", "client_secret_basic")

    def check_response_type(self, response_type):
        return False

    def check_grant_type(self, grant_type):
        return grant_type in self.grant_types


CLIENTS = {
    RS_CLIENT_ID: Client(RS_CLIENT_ID, RS_CLIENT_SECRET, "", ()),
    APP_CLIENT_ID: Client(APP_CLIENT_ID, APP_CLIENT_SECRET, APP_SCOPES, ("password",)),
}


class User:
    def __init__(self, sub):
        self.sub = sub

    def get_user_id(self):
        return self.sub


class Token(TokenMixin):
    def __init__(self, access_token, client_id, scope, expires_in, sub, extra=None):
        self.access_token, self.client_id, self.scope = access_token, client_id, scope
        self.issued_at, self.expires_in, self.sub = int(time.time()), expires_in, sub
        self.revoked = False
        self.extra = extra or {}

    def check_client(self, client):
        return client.get_client_id() == self.client_id

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def is_expired(self):
        return time.time() >= self.issued_at + self.expires_in

    def is_revoked(self):
        return self.revoked


class State:
    """What the tests steer and read: the tokens, the calls, the endpoint's behaviour."""

    def __init__(self):
        self.lock = threading.Lock()
        self.tokens = {}
        self.introspections = 0
        self.behaviour = "answer"  # or "fail" (HTTP 500) or "hang"
        self.release = threading.Event()


STATE = State()


class PasswordGrant(grants.ResourceOwnerPasswordCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def authenticate_user(self, username, password):
        return User(username) if password == "password" else None


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_post", "client_secret_basic"]

    def __init__(self, server, issuer):
        super().__init__(server)
        self.issuer = issuer

    def query_token(self, token_string, token_type_hint):
        return STATE.tokens.get(token_string)

    def check_permission(self, token, client, request):
        return client.get_client_id() == RS_CLIENT_ID

    def introspect_token(self, token):
        payload = {"active": True, "client_id": token.client_id, "scope": token.scope, "sub": token.sub,
                   "iss": self.issuer, "exp": token.issued_at + token.expires_in,
                   "iat": token.issued_at, "token_type": "Bearer"}
        payload.update(token.extra)
        return {name: value for name, value in payload.items() if value is not None}


def create_app(issuer: str, rs_public_key: dict | None) -> Flask:
    app = Flask(__name__)
    server = AuthorizationServer(app, query_client=CLIENTS.get, save_token=_save_token)
    server.register_grant(PasswordGrant)
    introspection = Introspection(server, issuer)
    server.register_endpoint(introspection)
    signing_key = jwk.ECKey.generate_key("P-256", parameters={"kid": "as-signing", "use": "sig"})
    encryption_key = jwk.import_key(rs_public_key) if rs_public_key else None

    @app.post("/token")
    def issue():
        return server.create_token_response()

    @app.post("/introspect")
    def introspect():
        with STATE.lock:
            STATE.introspections += 1
            behaviour = STATE.behaviour
        if behaviour == "fail":
            return Response('{"error": "server_error"}', status=500, content_type="application/json")
        if behaviour == "hang":
            STATE.release.wait(120)
        response = server.create_endpoint_response(Introspection.ENDPOINT_NAME)
        if encryption_key is None or response.status_code != 200:
            return response
        claims = {"iss": issuer, "aud": RS_CLIENT_ID, "iat": int(time.time()),
                  "token_introspection": json.loads(response.get_data())}
        signed = jwt.encode({"alg": "ES256", "kid": "as-signing"}, claims, signing_key)
        # As node-oidc-provider (ProConnect) does, `iss` and `aud` are repeated in the JWE header.
        encrypted = jwe.encrypt_compact({"alg": "RSA-OAEP", "enc": "A256GCM", "iss": issuer,
                                         "aud": RS_CLIENT_ID}, signed, encryption_key,
                                        registry=JWE_REGISTRY)
        return Response(encrypted, content_type="application/token-introspection+jwt")

    @app.get("/jwks")
    def jwks():
        return jsonify({"keys": [signing_key.as_dict(private=False)]})

    @app.post("/control/behaviour")
    def behave():
        with STATE.lock:
            STATE.behaviour = request.json["behaviour"]
            if STATE.behaviour == "hang":
                STATE.release.clear()
            else:
                STATE.release.set()
        return jsonify({})

    @app.get("/control/introspections")
    def count():
        return jsonify({"count": STATE.introspections})

    @app.post("/control/issue")
    def issue_directly():
        """A token with the answer fields given (null removes one), for answers a provider may give."""
        body = request.json
        token = Token(secrets.token_urlsafe(30), body.get("client_id", APP_CLIENT_ID), body.get("scope"),
                      body.get("expires_in", 3600), body.get("sub"), body.get("extra"))
        STATE.tokens[token.access_token] = token
        return jsonify({"access_token": token.access_token})

    @app.post("/control/revoke")
    def revoke():
        STATE.tokens[request.json["token"]].revoked = True
        return jsonify({})

    return app


def _save_token(token, request):
    STATE.tokens[token["access_token"]] = Token(
        token["access_token"], request.client.get_client_id(), token.get("scope", ""),
        token["expires_in"], request.user.get_user_id())


class AuthorizationServerProcess:
    """The server above in a process of its own, stopped by PID; `rs_private_key` set in JWT mode."""

    def __init__(self, port: int, log_path: str, jwt_answers: bool = False):
        self.port, self.log_path = port, log_path
        self.url = f"http://127.0.0.1:{port}"
        self.rs_private_key = None
        self.command = [sys.executable, "-m", "tests.support.authorization_server", "--port", str(port)]
        if jwt_answers:
            self.rs_private_key = jwk.RSAKey.generate_key(2048)
            public_path = f"{log_path}.rs-public.json"
            with open(public_path, "w", encoding="utf-8") as key_file:
                json.dump(self.rs_private_key.as_dict(private=False), key_file)
            self.command += ["--rs-public-key", public_path]
        self.process: subprocess.Popen | None = None

    def start(self) -> AuthorizationServerProcess:
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = {**os.environ, "AUTHLIB_INSECURE_TRANSPORT": "1", "PYTHONPATH": root}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command, env=env, cwd=root, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"authorization server exited: {open(self.log_path).read()}")
            try:
                httpx.get(f"{self.url}/jwks", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("authorization server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)

    def settings(self) -> dict:
        """The environment of a meet-external that takes this server's tokens, as operators set it."""
        env = {"OIDC_OP_URL": self.url, "OIDC_OP_INTROSPECTION_ENDPOINT": f"{self.url}/introspect",
               "OIDC_RS_CLIENT_ID": RS_CLIENT_ID, "OIDC_RS_CLIENT_SECRET": RS_CLIENT_SECRET,
               "OIDC_RS_SCOPES": "lasuite_visio", "OIDC_RS_SCOPES_PREFIX": "lasuite_visio"}
        if self.rs_private_key is not None:
            env.update(OIDC_OP_JWKS_ENDPOINT=f"{self.url}/jwks",
                       OIDC_RS_BACKEND_CLASS="lasuite.oidc_resource_server.backend.JWTResourceServerBackend",
                       OIDC_RS_PRIVATE_KEY_STR=self.rs_private_key.as_pem(private=True).decode())
        return env

    def token(self, sub: str, scope: str = "lasuite_visio lasuite_visio:rooms:create") -> str:
        """An access token from the token endpoint, as RDV Service Public gets one."""
        response = httpx.post(f"{self.url}/token", auth=(APP_CLIENT_ID, APP_CLIENT_SECRET),
                              data={"grant_type": "password", "username": sub, "password": "password",
                                    "scope": scope})
        response.raise_for_status()
        return response.json()["access_token"]

    def issue(self, **answer) -> str:
        return httpx.post(f"{self.url}/control/issue", json=answer).json()["access_token"]

    def revoke(self, token: str) -> None:
        httpx.post(f"{self.url}/control/revoke", json={"token": token}).raise_for_status()

    def behave(self, behaviour: str) -> None:
        httpx.post(f"{self.url}/control/behaviour", json={"behaviour": behaviour}).raise_for_status()

    @property
    def introspections(self) -> int:
        return httpx.get(f"{self.url}/control/introspections").json()["count"]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rs-public-key", help="a JWK file: answer RFC 9701 JWTs encrypted to it")
    args = parser.parse_args()
    issuer = f"http://127.0.0.1:{args.port}"
    key = None
    if args.rs_public_key:
        with open(args.rs_public_key, encoding="utf-8") as key_file:
            key = json.load(key_file)
    create_app(issuer, key).run(host="127.0.0.1", port=args.port, threaded=True)


if __name__ == "__main__":
    main()
