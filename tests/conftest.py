"""Shared fixtures, and the CI rule: in CI (CI=true) a skipped test is a failure."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def load_tool(path):
    """A module of the repository's tools (``tools/bookbuild.py``), loaded from its file: not a package."""
    path = ROOT / path
    spec = importlib.util.spec_from_file_location(f"tools_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bookbuild = load_tool("tools/bookbuild.py")


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
def built_book(tmp_path_factory):
    """The book built once per session into a temporary folder, by the strict plain build (as `make book`)."""
    out = tmp_path_factory.mktemp("book")
    result = subprocess.run(
        [str(bookbuild.VENV / "bin" / "jupyter-book"), "build", ".", "-W", "-n", "--keep-going",
         "--path-output", str(out)],
        cwd=ROOT, capture_output=True, text=True,
    )
    if result.returncode != 0:
        pytest.fail(f"the book build failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}")
    return out / "_build"
