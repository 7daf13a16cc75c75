"""What the tests and the benchmarks share: the book's pages in _toc.yml order, and builds of a copy.

Imported by the tests (pyproject.toml puts tools/ on their path) and the benchmarks; not part of the package.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(sys.executable).parent.parent  # the environment running the tests: .venv
# Chromium for the browser tests and `make pdf`: $CHROMIUM, else Debian's `chromium`.
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def _entries(node):
    for key in ("chapters", "parts", "sections"):
        for entry in node.get(key, []):
            if "file" in entry:
                yield entry
            yield from _entries(entry)


def pages(root=ROOT):
    """Every page's source, in _toc.yml order, appendices included."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    return [root / f"{toc['root']}.md"] + [root / f"{e['file']}.md" for e in _entries(toc)]


def chapters(root=ROOT):
    """The teaching pages: every page but those of the part captioned "About this site"."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    parts = [part for part in toc.get("parts", []) if part.get("caption") == "About this site"]
    about = [entry for part in parts for entry in _entries(part)]
    return [p for p in pages(root) if p not in {root / f"{e['file']}.md" for e in about}]


def docname(source, root=ROOT):
    return source.relative_to(root).with_suffix("").as_posix()


def copy_repo(dest, root=ROOT):
    """The repository's files (tracked, and untracked but not ignored) copied to ``dest``, times kept."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=root,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    for rel in listed:
        if (root / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / rel, dest / rel)
    return dest


def make_command(*args):
    """``make ARGS`` in a copy, with this environment taken as it is (-o): the copy's newer lock must
    not make make reinstall it."""
    return ["make", "--no-print-directory", "-o", f"{VENV}/.installed", *args, f"VENV={VENV}"]


def build(repo, command="make", executor=None):
    """Build a copy of the repository with its own package; returns (process, report, seconds).

    ``command`` is "make" (``make book``, as a reader runs it, with this environment) or "plain"
    (``jupyter-book build .``, as the README promises it works too). ``report`` is the build's
    _build/execution.json, or None if this build wrote none (nothing to do, or a failure).
    """
    env = dict(os.environ, PYTHONPATH=str(repo / "code"))  # the copy's package, not this checkout's
    if executor:
        env["BOOK_EXECUTOR"] = executor
    report = repo / "_build" / "execution.json"
    report.unlink(missing_ok=True)
    plain = [str(VENV / "bin" / "jupyter-book"), "build", "."]
    args = {"make": make_command("book"), "plain": plain}[command]
    started = time.perf_counter()
    process = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    return process, json.loads(report.read_text()) if report.exists() else None, seconds
