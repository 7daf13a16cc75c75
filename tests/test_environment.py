"""The environment `make` creates: a universal, hashed lock that is up to date with the requirements,
the same pins for Binder's pip, installable and working on Python 3.11 to 3.13, and a clear
message for any other Python."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import bookbuild
import pytest

from conftest import ROOT

# The uv of the environment running the tests: .venv's (make test), or the canary's own (make canary).
UV = Path(sys.executable).with_name("uv")
pytestmark = pytest.mark.slow  # resolves the lock against the index, makes virtual environments
PIN = re.compile(r"^([A-Za-z0-9_.-]+==[^\s;\\]+)(?: ; ([^\\]+?))?\s*\\?$", re.M)


def pins(text):
    return sorted((name.lower(), (marker or "").strip()) for name, marker in PIN.findall(text))


def test_the_lock_is_what_the_requirements_resolve_to(tmp_path):
    """`make lock` would change nothing: the lock is not stale after an edit of requirements*.txt."""
    out = tmp_path / "requirements.lock"
    shutil.copy(ROOT / "requirements.lock", out)  # uv keeps the versions it finds there when they still fit
    result = subprocess.run(
        [str(UV), "pip", "compile", "--quiet", "--universal", "--python-version", "3.11", "--generate-hashes",
         "--no-header", "--output-file", str(out), "requirements-dev.txt"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert pins(out.read_text()) == pins((ROOT / "requirements.lock").read_text()), "run `make lock`"


def test_the_canary_passes_from_a_fresh_clone_when_nothing_is_broken(tmp_path):
    """`make canary` as the weekly job runs it (CI=true: a skip fails), on a fresh copy with no .venv:
    the newest releases in the canary's own environment, then `make test` there (lint, axe-core, pytest).
    The suite here is the lock's test (it runs the environment's own uv) and the test below, that no test
    or tool names the project's .venv: every other test then runs in the canary's environment as here."""
    repo = bookbuild.copy_repo(tmp_path / "clone")
    assert not (repo / ".venv").exists()
    selected = ("tests/test_environment.py::test_the_lock_is_what_the_requirements_resolve_to"
                " tests/test_environment.py::test_no_test_or_tool_names_the_projects_venv")
    env = {**os.environ, "CI": "true", "PYTEST_ARGS": selected}
    result = subprocess.run(["make", "--no-print-directory", "canary"], cwd=repo, env=env,
                            capture_output=True, text=True, timeout=1200, check=False)
    report = (repo / "_build" / "canary" / "report.md").read_text()
    log = (repo / "_build" / "canary" / "test.log").read_text()
    assert result.returncode == 0, report + log[-4000:]
    assert "Everything passed." in report and "| tensorflow-cpu |" in report
    assert re.search(r"^=+ 2 passed in ", log, re.M), log[-2000:]  # nothing skipped, nothing deselected


def test_no_test_or_tool_names_the_projects_venv():
    """The other half of the canary's guarantee: every test and tool takes the environment running it
    (bookbuild.VENV, sys.executable), so the whole suite runs in the canary's environment as in .venv."""
    named = re.compile(r"""(ROOT|root)\s*/\s*["']\.venv["']|["']\.venv/""")  # a path into the checkout's
    found = [f"{path.relative_to(ROOT)}:{number}"
             for folder in ("tests", "tools", "benchmarks") for path in sorted((ROOT / folder).rglob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), 1) if named.search(line)]
    assert not found, found
    assert named.search("VENV = ROOT / " + '".venv"') and named.search("'.ve" + "nv/bin/python'")


def test_every_locked_package_is_hashed_and_binders_constraints_are_the_same_pins():
    lock = (ROOT / "requirements.lock").read_text()
    blocks = re.split(r"\n(?=\S)", lock)
    unhashed = [b.split()[0] for b in blocks if "==" in b.split("\n")[0] and "--hash=sha256:" not in b]
    assert not unhashed, unhashed
    assert pins((ROOT / "constraints.txt").read_text()) == pins(lock)
    assert "-c constraints.txt" in (ROOT / "requirements.txt").read_text().splitlines()


def _pythons():
    """{"3.11": path, ...}: the Pythons that run here, on PATH or under pyenv (this machine has several)."""
    names = [f"python3.{minor}" for minor in range(14, 7, -1)] + ["python2.7"]
    pyenv = sorted(map(str, Path.home().glob(".pyenv/versions/*/bin/python")))
    candidates = [shutil.which(n) for n in names] + pyenv
    found = {}
    for python in filter(None, candidates):
        version = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                 capture_output=True, text=True, check=False).stdout.strip()
        if version:
            found.setdefault(version, python)
    return found


PYTHONS = _pythons()


def _other_python():
    return next((p for v, p in PYTHONS.items() if v not in {"3.11", "3.12", "3.13"}), None)


def test_make_names_the_pythons_it_needs_when_given_another(tmp_path):
    other = _other_python()
    if other is None:
        pytest.skip("no Python outside 3.11-3.13 on this machine to try")
    result = subprocess.run(["make", "venv", f"PYTHON={other}", f"VENV={tmp_path / 'venv'}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "Python 3.11, 3.12 or 3.13 is required" in result.stdout + result.stderr
    assert not (tmp_path / "venv").exists()


# `make venv` on 3.11 and on 3.13, the two ends of the range, is what each CI job does first: `make test`
# makes the environment it runs in, on the job's Python (test_workflows.py checks the two jobs).
