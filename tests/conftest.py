"""Shared fixtures, and the CI rule: in CI (CI=true) a skipped test is a failure."""

import fcntl
import functools
import http.server
import os
import subprocess
import sys
import threading
from types import SimpleNamespace

import bookbuild  # tools/, on the tests' path by pyproject.toml's pythonpath
import lab_driver
import pytest

ROOT = bookbuild.ROOT
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# No host name resolves but the local server's address: whatever a page asks of the network fails.
OFFLINE = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--disable-quic"]


@pytest.fixture(autouse=True)
def no_global_tensorflow_seed():
    """Each test ends as it began, with no global TensorFlow seed, as a fresh kernel has: a test that
    sets one (keras.utils.set_random_seed, say) would change every later tf.data shuffle order."""
    yield
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(None)


def pytest_collection_modifyitems(items):
    """Markers follow fixtures: a test that uses the built book is a `book` test however it is written,
    so `-m "not book"` (make check) never starts the build."""
    for item in items:
        if "built_book" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.book)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where nothing may skip: {reason}"


@pytest.fixture(scope="session")
def built_book():
    """The checkout's own site, as `make book` leaves it in _build: built now if anything it is made from
    is newer, else reused (a rerun after `make book` builds nothing, and CI's artifact is the real site)."""
    (ROOT / "_build").mkdir(exist_ok=True)
    with open(ROOT / "_build" / ".make-book.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two pytest-xdist workers: one builds, the other finds it built
        result = subprocess.run(bookbuild.make_command("book"), cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"make book failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}")
    return ROOT / "_build"


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files as a common static host serves them (.ipynb as JSON); every error answer is kept."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".ipynb": "application/json", ".md": "text/markdown"}

    def log_request(self, code="-", size="-"):
        if str(code).isdigit() and int(code) >= 400:
            self.server.errors.append(f"HTTP {int(code)}: /{self.path.lstrip('/')}")

    def log_message(self, *args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A browser context closed mid-request drops its connection: no error of the site's.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture(scope="session")
def served(built_book):
    """The built site served over HTTP on a free port of 127.0.0.1: its base URL, and every error it sent."""
    handler = functools.partial(_Handler, directory=str(built_book / "html"))
    server = _Server(("127.0.0.1", 0), handler)
    server.errors = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_address[1]}/", errors=server.errors)
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="session")
def site(served):
    return served.url


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium that reaches only 127.0.0.1 (the served site, a local JupyterLab): whatever
    else a page asks of the network fails. Module scope: one Playwright at a time."""
    lab_driver.skip_without_chromium()
    with lab_driver.chromium(OFFLINE) as browser:
        yield browser
