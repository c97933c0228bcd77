"""La Suite Meet's own Django backend, set up from the operator's clone, for bench/vs_meet.py.

Nothing of Meet is kept in this repository: `setup()` extracts `src/backend` at a commit from
the operator's clone (a work tree or a bare mirror of suitenumerique/meet) into a work folder
outside the repository, makes a virtualenv there with the backend's pinned dependencies (a pin
that does not install on this Python is relaxed to its name, and listed in `relaxed.txt`), and
writes a settings module: Meet's `Production` class served over plain HTTP. `migrate()` makes a
database with Meet's own migrations; `provision()` creates an application, users and rooms
through Meet's ORM; `start()` serves it with gunicorn, 2 sync workers, as Meet's image does.

    python bench/meet_backend.py GIT_DIR [--commit e5f0b1c2]    # set up once (minutes, cold)

Meet needs no LiveKit or identity provider for the external API; its cache is Redis
(`REDIS_URL`, default redis://127.0.0.1:6379/1).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List

DEFAULT_COMMIT = "e5f0b1c2"  # Meet v1.27: core 0022, the layout bench/run.py attaches to
PYTHON = os.environ.get("MEET_PYTHON", "python3.11")

SETTINGS = '''\
"""Meet's Production settings over plain HTTP on 127.0.0.1 (written by meet-external's bench)."""
from meet.settings import Production


class Bench(Production):
    SECURE_SSL_REDIRECT = False
    LOGGING = {"version": 1, "disable_existing_loggers": False,
               "handlers": {"stderr": {"class": "logging.StreamHandler"}},
               "loggers": {"django.request": {"handlers": ["stderr"], "level": "ERROR"}}}
'''

# Run by `manage.py shell`: an application with the three scopes, users, and rooms made the way
# Meet's external API makes them (the room, then the owner's access). Prints one JSON line.
PROVISION = '''\
import json, os, uuid
from django.db import transaction
from core import models, utils

spec = json.loads(os.environ["BENCH_PROVISION"])
secret = utils.generate_client_secret()
app = models.Application(name="bench-" + uuid.uuid4().hex[:8],
                         scopes=["rooms:list", "rooms:retrieve", "rooms:create"], client_secret=secret)
app.save()
models.ApplicationDomain(application=app, domain="bench.example").save()
users = {}
for email, rooms in spec["users"].items():
    user = models.User(sub=None, email=email, full_name="Bench")
    user.set_unusable_password()
    user.save()
    ids = []
    with transaction.atomic():
        for _ in range(rooms):
            room = models.Room(name=utils.generate_room_slug(), access_level=models.RoomAccessLevel.TRUSTED)
            room.save()
            models.ResourceAccess.objects.create(resource=room, user=user, role=models.RoleChoices.OWNER)
            ids.append(str(room.id))
    users[email] = {"id": str(user.id), "rooms": ids[:5]}
print("BENCH-JSON " + json.dumps({"client_id": app.client_id, "client_secret": secret, "users": users}))
'''


class NotSetUp(Exception):
    """Meet's backend is not available here; the message says why and what to run."""


def work_dir(commit: str) -> Path:
    return Path(os.environ.get("MEET_BENCH_WORK")
                or Path(tempfile.gettempdir()) / f"meet-external-bench-meet-{commit[:8]}")


def resolve(git_dir: str, commit: str) -> str:
    done = subprocess.run(["git", "-C", git_dir, "rev-parse", "--verify", f"{commit}^{{commit}}"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise NotSetUp(f"{git_dir} is not a clone of suitenumerique/meet holding {commit}:"
                       f" {done.stderr.strip()[:200]}")
    return done.stdout.strip()


def setup(git_dir: str, commit: str = DEFAULT_COMMIT, log=print) -> Path:
    """Extract Meet's backend at `commit`, install its dependencies; returns the work folder."""
    full = resolve(git_dir, commit)
    work = work_dir(full)
    tree = work / "tree"
    if (tree / ".commit").is_file() and (tree / ".commit").read_text().strip() == full:
        pass
    else:
        log(f"meet: extracting src/backend at {full[:8]} into {tree}")
        subprocess.run(["rm", "-rf", str(tree)], check=True)
        tree.mkdir(parents=True)
        archive = subprocess.Popen(["git", "-C", git_dir, "archive", full, "src/backend"],
                                   stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", str(tree)], stdin=archive.stdout, check=True)
        if archive.wait() != 0:
            raise NotSetUp("git archive failed")
        (tree / ".commit").write_text(full + "\n")
    (work / "settings").mkdir(exist_ok=True)
    (work / "settings" / "bench_settings.py").write_text(SETTINGS)
    (work / "data" / "static").mkdir(parents=True, exist_ok=True)
    venv = work / "venv"
    stamp = venv / ".installed"
    if not stamp.exists():
        import tomllib

        pins = tomllib.loads((tree / "src/backend/pyproject.toml").read_text())["project"]["dependencies"]
        if not (venv / "bin/python").exists():
            subprocess.run([PYTHON, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin/pip"), "install", "-q"]
        log(f"meet: installing {len(pins)} pinned dependencies into {venv} (minutes, cold)")
        if subprocess.run([*pip, *pins], capture_output=True).returncode != 0:
            relaxed = []
            for pin in pins:
                dry = subprocess.run([*pip, "--dry-run", "--no-deps", pin], capture_output=True)
                if dry.returncode != 0:
                    relaxed.append(pin)
            (work / "relaxed.txt").write_text("\n".join(relaxed) + "\n")
            names = [pin.split("=")[0].split(">")[0].split("<")[0].strip() if pin in relaxed else pin
                     for pin in pins]
            log(f"meet: relaxed pins: {relaxed}")
            done = subprocess.run([*pip, *names], capture_output=True, text=True)
            if done.returncode != 0:
                raise NotSetUp(f"Meet's dependencies do not install: {done.stderr.strip()[-500:]}")
        stamp.write_text(full + "\n")
    return work


def ready(commit_or_full: str) -> Path | None:
    """The work folder of a finished setup for this commit (short or full), else None."""
    root = Path(os.environ.get("MEET_BENCH_WORK", "")) if os.environ.get("MEET_BENCH_WORK") else None
    candidates = [root] if root else sorted(Path(tempfile.gettempdir()).glob(
        f"meet-external-bench-meet-{commit_or_full[:8]}*"))
    for work in candidates:
        if work and (work / "venv/.installed").is_file():
            return work
    return None


def environment(work: Path, db_url: str, jwt_key: str) -> Dict[str, str]:
    """What Meet's settings need to boot, pointing at `db_url`."""
    from urllib.parse import urlsplit

    url = urlsplit(db_url)
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update(
        PYTHONPATH=f"{work / 'tree/src/backend'}:{work / 'settings'}",
        DJANGO_SETTINGS_MODULE="bench_settings", DJANGO_CONFIGURATION="Bench",
        DJANGO_SECRET_KEY=jwt_key[::-1], DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_DATA_DIR=str(work / "data"),
        DJANGO_STORAGES_STATICFILES_BACKEND="django.contrib.staticfiles.storage.StaticFilesStorage",
        DB_NAME=url.path.lstrip("/"), DB_HOST=url.hostname or "127.0.0.1", DB_PORT=str(url.port or 5432),
        DB_USER=url.username or "postgres", DB_PASSWORD=url.password or "",
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1"),
        DJANGO_CELERY_BROKER_URL=os.environ.get("DJANGO_CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"),
        # DRF builds the OIDC login backend on the token view; with RS256 it needs a JWKS
        # endpoint to be configured (never contacted).
        OIDC_OP_JWKS_ENDPOINT="http://127.0.0.1:9/jwks",
        EXTERNAL_API_ENABLED="True", APPLICATION_ENABLED="True", APPLICATION_JWT_SECRET_KEY=jwt_key,
    )
    return env


def manage(work: Path, env: Dict[str, str], *args, stdin: str | None = None) -> str:
    done = subprocess.run([str(work / "venv/bin/python"), "manage.py", *args], env=env, input=stdin,
                          cwd=work / "tree/src/backend", capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise NotSetUp(f"Meet's manage.py {' '.join(args)} failed: {done.stderr.strip()[-800:]}")
    return done.stdout


def migrate(work: Path, env: Dict[str, str]) -> None:
    manage(work, env, "migrate", "--noinput")


def provision(work: Path, env: Dict[str, str], users: Dict[str, int]) -> dict:
    out = manage(work, {**env, "BENCH_PROVISION": json.dumps({"users": users})}, "shell",
                 stdin=PROVISION)
    for line in out.splitlines():
        if line.startswith("BENCH-JSON "):
            return json.loads(line[len("BENCH-JSON "):])
    raise NotSetUp(f"provisioning printed nothing: {out[-300:]}")


def start(processes, work: Path, env: Dict[str, str], port: int, workers: int, log: Path):
    """gunicorn serving Meet (sync workers), as Meet's image does; returns the process."""
    argv = [str(work / "venv/bin/gunicorn"), "meet.wsgi:application", "--workers", str(workers),
            "--worker-class", "sync", "--bind", f"127.0.0.1:{port}", "--timeout", "90"]
    proc = processes.start(argv, env=env, log=log, cwd=work / "tree/src/backend")
    deadline = time.monotonic() + 60
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise NotSetUp(f"Meet's gunicorn exited: {log.read_text()[-800:]}")
        try:
            opener.open(f"http://127.0.0.1:{port}/__lbheartbeat__", timeout=2)
            return proc
        except urllib.error.HTTPError:
            return proc
        except OSError:
            time.sleep(0.3)
    raise NotSetUp(f"Meet's gunicorn did not answer within 60 s: {log.read_text()[-800:]}")


def main(argv: List[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=textwrap.dedent(__doc__).split("\n\n")[0])
    parser.add_argument("git_dir", help="a clone (or bare mirror) of suitenumerique/meet")
    parser.add_argument("--commit", default=DEFAULT_COMMIT)
    args = parser.parse_args(argv)
    try:
        print(setup(args.git_dir, args.commit))
    except NotSetUp as exc:
        print(f"meet_backend: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
