"""tools/sphinx_ext/wait_for_execution.py in a real Sphinx build of a small project.

tools/build.py starts Sphinx while it is still executing the pages; this extension makes Sphinx
read each page only once the build says the page is executed, in the order the build executes
them. Here the build's side (the ready folder and its markers) is played by the test, so each
behaviour can be shown on its own: the reading order, the wait, the refusal of a page the build
never executed, and no effect at all without the build.
"""

import json
import os
import re
import subprocess
import sys
import time

import pytest

from conftest import ROOT, build

EXTENSION_DIR = ROOT / "tools" / "sphinx_ext"
READY_DIR_ENV = build.READY_DIR_ENV
PAGES = ["alpha", "beta", "gamma"]  # Sphinx's own order would be alphabetical


@pytest.fixture
def project(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["wait_for_execution"]\n')
    toctree = "\n".join(f"   {name}" for name in PAGES)
    (src / "index.rst").write_text(f"Book\n====\n\n.. toctree::\n\n{toctree}\n")
    for name in PAGES:
        (src / f"{name}.rst").write_text(f"{name.title()}\n{'=' * len(name)}\n\nA page.\n")
    ready = tmp_path / "ready"
    ready.mkdir()
    return src, ready


def sphinx_command(src, ready=None):
    """sphinx-build on ``src``, and its environment: the extension importable (as jupyter-book's
    local_extensions makes it), the ready folder named if given."""
    env = {k: v for k, v in os.environ.items() if k != READY_DIR_ENV}
    env["PYTHONPATH"] = str(EXTENSION_DIR)
    if ready is not None:
        env[READY_DIR_ENV] = str(ready)
    return [sys.executable, "-m", "sphinx", "-b", "html", "-E", str(src), str(src.parent / "html")], env


def sphinx(src, ready=None):
    """Start sphinx-build on ``src``; its output is read from the process."""
    command, env = sphinx_command(src, ready)
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def mark(ready, docname):
    (ready / f"{docname}.ready").touch()


def reading_order(output):
    return re.findall(r"reading sources\.\.\. \[\s*\d+%\] (\w+)", output)


def test_pages_are_read_in_the_builds_order_once_marked(project):
    src, ready = project
    order = ["gamma", "index", "alpha", "beta"]
    (ready / "order.json").write_text(json.dumps(order))
    for name in order:
        mark(ready, name)
    (ready / "all.ready").touch()
    out, _ = sphinx(src, ready).communicate(timeout=120)
    assert "build succeeded" in out, out
    assert reading_order(out) == order, out
    assert (ready / "sphinx.started").exists()


def test_a_page_is_read_only_after_its_marker_appears(project):
    src, ready = project
    (ready / "order.json").write_text(json.dumps(["index", "alpha", "beta", "gamma"]))
    for name in ("index", "alpha", "gamma"):
        mark(ready, name)
    process = sphinx(src, ready)
    doctrees = src.parent / "html" / ".doctrees"
    deadline = time.monotonic() + 120
    while not (doctrees / "alpha.doctree").exists():  # Sphinx writes each page's doctree as it reads it
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[0]
        time.sleep(0.1)
    time.sleep(1.0)  # time enough to read beta, were it not held back
    assert process.poll() is None, process.communicate()[0]
    assert not (doctrees / "beta.doctree").exists()
    marked_at = time.time()
    mark(ready, "beta")
    (ready / "all.ready").touch()
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 0 and "build succeeded" in out, out
    assert (doctrees / "beta.doctree").stat().st_mtime >= marked_at
    assert reading_order(out) == ["index", "alpha", "beta", "gamma"]


def test_a_page_the_build_did_not_execute_stops_sphinx_with_its_name(project):
    src, ready = project
    (ready / "order.json").write_text(json.dumps(["index", "alpha", "beta", "gamma"]))
    for name in ("index", "alpha", "gamma"):
        mark(ready, name)
    (ready / "all.ready").touch()  # the build is done, and beta never got a marker
    out, _ = sphinx(src, ready).communicate(timeout=120)
    assert "beta was not executed by tools/build.py" in out, out
    assert "build succeeded" not in out


def test_sphinx_stops_waiting_when_the_build_that_started_it_has_gone(project, tmp_path):
    src, ready = project
    (ready / "order.json").write_text(json.dumps(["index", "alpha", "beta", "gamma"]))
    # A stand-in for the build starts Sphinx, and exits once Sphinx has started: Sphinx is then
    # left waiting on pages that no build will ever mark.
    log = tmp_path / "sphinx.log"
    command, env = sphinx_command(src, ready)
    launcher = (
        "import pathlib, subprocess, time\n"
        f"subprocess.Popen({command!r}, env={env!r}, stdout=open({str(log)!r}, 'w'), stderr=subprocess.STDOUT)\n"
        f"while not pathlib.Path({str(ready / 'sphinx.started')!r}).exists(): time.sleep(0.05)\n"
    )
    subprocess.run([sys.executable, "-c", launcher], check=True, timeout=120)
    deadline = time.monotonic() + 120
    while "has gone" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "the build that started Sphinx has gone; index was never executed" in log.read_text()


def test_without_the_build_the_extension_does_nothing(project):
    src, ready = project
    out, _ = sphinx(src).communicate(timeout=120)
    assert "build succeeded" in out, out
    assert reading_order(out) == sorted(["index", *PAGES])
    assert not (ready / "sphinx.started").exists()
