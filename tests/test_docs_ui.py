"""The Swagger UI page in a real browser: headless Chromium renders the file's title and operations.

Chromium (Debian packages `chromium` and `chromium-driver`; `.ci/run` installs them) is
driven through its command line, so no Python dependency is needed: `--dump-dom` gives
the DOM once the page's scripts have run, `--screenshot` keeps a picture of it in
tests/artifacts/ (gitignored). Without Chromium the test skips and says why.
MEET_TEST_CHROMIUM may name another Chromium binary.
"""

from __future__ import annotations

import html.parser
import os
import pathlib
import shutil
import signal
import struct
import subprocess
from typing import Dict, List, Set, Tuple

import pytest
import yaml

from .support.constants import API

ROOT = pathlib.Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
SCREENSHOT = ARTIFACTS / "docs-ui.png"
WINDOW = (1280, 2000)
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_TIMEOUT = 120
# Virtual time: the page's scripts and its fetch of openapi.json run to completion
# before the DOM is dumped, however slow the machine is in wall-clock time.
VIRTUAL_TIME_MS = 15000


def chromium_binary() -> str | None:
    override = os.environ.get("MEET_TEST_CHROMIUM")
    if override:
        return shutil.which(override)
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def run_chromium(binary: str, profile: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    """One headless Chromium run with a fresh profile, stopped as a whole process group."""
    command = [
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-quic", "--no-first-run", "--no-default-browser-check", "--no-proxy-server",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-extensions", f"--user-data-dir={profile}",
        f"--virtual-time-budget={VIRTUAL_TIME_MS}", *args,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=CHROMIUM_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        tail = stderr.decode(errors="replace")[-2000:]
        pytest.fail(f"chromium did not finish in {CHROMIUM_TIMEOUT} s: {tail}")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


class SwaggerPage(html.parser.HTMLParser):
    """The API title and, per operation block, its method, path and summary as rendered."""

    def __init__(self):
        super().__init__()
        self.title = ""
        self.operations: List[Dict[str, str]] = []
        self._stack: List[Tuple[str, Set[str]]] = []
        self._reading: str | None = None
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        classes = set((attributes.get("class") or "").split())
        if tag == "div" and "opblock" in classes and (attributes.get("id") or "").startswith("operations-"):
            self.operations.append({"id": attributes["id"], "method": "", "path": "", "summary": ""})
        elif "opblock-summary-path" in classes and self.operations:
            self.operations[-1]["path"] = attributes.get("data-path", "")
        if tag in ("br", "img", "input", "meta", "link", "hr", "use", "path", "source"):
            return
        field = None
        if tag == "h2" and "title" in classes:
            field = "title"
        elif "opblock-summary-method" in classes:
            field = "method"
        elif "opblock-summary-description" in classes:
            field = "summary"
        self._stack.append((tag, classes))
        if field:
            self._reading = field
            self._depth = len(self._stack)

    def handle_endtag(self, tag):
        if self._stack and self._stack[-1][0] == tag:
            if self._reading and len(self._stack) == self._depth:
                self._reading = None
            self._stack.pop()

    def handle_data(self, data):
        if self._reading == "title":
            # Only the heading's own text: the version badges come after it in <span>s.
            if len(self._stack) == self._depth:
                self.title += data
        elif self._reading and self.operations:
            self.operations[-1][self._reading] += data


def expected_operations(document: pathlib.Path) -> Tuple[str, Set[Tuple[str, str, str]]]:
    spec = yaml.safe_load(document.read_bytes())
    operations = {
        (method.upper(), path, operation["summary"])
        for path, item in spec["paths"].items()
        for method, operation in item.items() if isinstance(operation, dict) and "operationId" in operation
    }
    return spec["info"]["title"], operations


def png_size(path: pathlib.Path) -> Tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def chromium():
    binary = chromium_binary()
    if binary is None:
        looked_for = os.environ.get("MEET_TEST_CHROMIUM") or ", ".join(CHROMIUM_NAMES)
        pytest.skip(f"Chromium is not installed (no {looked_for} on PATH; apt-get install chromium"
                    " chromium-driver), so the Swagger UI page cannot be rendered in a browser")
    return binary


def test_swagger_ui_renders_the_title_and_the_four_operations(chromium, server, tmp_path):
    url = f"{server.url}{API}/ui/"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    shot = run_chromium(chromium, tmp_path / "profile-shot", "--hide-scrollbars",
                        f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--screenshot={SCREENSHOT}", url)
    print(f"\nSwagger UI screenshot: {SCREENSHOT}")
    assert shot.returncode == 0, shot.stderr.decode(errors="replace")[-2000:]
    assert SCREENSHOT.is_file(), shot.stderr.decode(errors="replace")[-2000:]
    assert png_size(SCREENSHOT) == WINDOW

    page, dom = rendered_page(chromium, tmp_path / "profile-dom", url)
    title, operations = expected_operations(ROOT / "openapi.yaml")
    assert title == "Meet External API"
    assert len(operations) == 4
    assert page.title.strip() == title, dom[-3000:]
    rendered = {(op["method"].strip(), op["path"], op["summary"].strip()) for op in page.operations}
    assert rendered == operations, f"rendered operations: {page.operations}"
    # The UI read the spec from this server, not from a default URL, and offers both documents.
    assert f"{API}/openapi.json" in dom
    assert "Failed to load API definition" not in dom
    assert ">Meet External API</option>" in dom and ">Extensions</option>" in dom


def test_swagger_ui_switches_to_the_extension_document(chromium, server, tmp_path):
    # The top bar's selector sets `urls.primaryName`; the same query opens that document.
    url = f"{server.url}{API}/ui/?urls.primaryName=Extensions"
    page, dom = rendered_page(chromium, tmp_path / "profile-extension", url)

    title, operations = expected_operations(ROOT / "meet_external" / "openapi-extensions.yaml")
    assert operations == {("GET", "/rooms", "List rooms, or find one by its slug"),
                          ("POST", "/rooms", "Create a room"),
                          ("GET", "/rooms/{id}", "Retrieve a room"),
                          ("PATCH", "/rooms/{id}", "Update a room"),
                          ("DELETE", "/rooms/{id}", "Delete a room"),
                          ("POST", "/rooms/{id}/grant-access", "Give a user a role in a room")}
    assert page.title.strip() == title, dom[-3000:]
    rendered = {(op["method"].strip(), op["path"], op["summary"].strip()) for op in page.operations}
    assert rendered == operations, f"rendered operations: {page.operations}"
    assert "Failed to load API definition" not in dom


def rendered_page(chromium: str, profile: pathlib.Path, url: str) -> Tuple[SwaggerPage, str]:
    dump = run_chromium(chromium, profile, "--dump-dom", url)
    assert dump.returncode == 0, dump.stderr.decode(errors="replace")[-2000:]
    dom = dump.stdout.decode("utf-8", errors="replace")
    page = SwaggerPage()
    page.feed(dom)
    return page, dom
