"""Rebuilds are correct: a package edit re-executes the chapters, a prose edit executes none.

Each test works on a temporary copy of the repository, built by the copy's own
tools/build.py. The copy's ``code/`` is put first on PYTHONPATH so that its
kernels import the copy's package rather than the editable install of this checkout.
"""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from bs4 import BeautifulSoup

from conftest import ROOT
from conftest import build as book_build


PAGES = len(book_build.pages())

pytestmark = pytest.mark.book


def _files(root):
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    return [f for f in listed if f and (root / f).is_file()]


def build(repo):
    result = _run_build(repo)
    assert result.returncode == 0, f"build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return json.loads((repo / "_build" / "build-report.json").read_text())


def pasted(repo, chapter):
    soup = BeautifulSoup((repo / "_build" / "html" / "book" / f"{chapter}.html").read_text(), "html.parser")
    return [p.get_text() for p in soup.select("article .pasted-text")]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    copy = tmp_path_factory.mktemp("repo")
    for rel in _files(ROOT):
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, copy / rel)
    report = build(copy)
    assert report["cache_invalidated"] and len(report["executed"]) == PAGES
    first_build = {
        p.stem: outputs_of(p) for p in (copy / "_build" / "html" / "_sources" / "book").glob("*.ipynb")
    }
    return copy, first_build


def outputs_of(notebook):
    """Every code cell's outputs, in order: stream text joined per stream (how the kernel
    splits a print into messages varies from run to run), then each other output's data."""
    cells = json.loads(notebook.read_text())["cells"]
    result = []
    for cell in (c for c in cells if c["cell_type"] == "code"):
        outputs = []
        for o in cell.get("outputs", []):
            text = "".join(o["text"]) if o["output_type"] == "stream" else None
            if text is not None and outputs and outputs[-1][:2] == ("stream", o["name"]):
                outputs[-1] = ("stream", o["name"], outputs[-1][2] + text)
            elif text is not None:
                outputs.append(("stream", o["name"], text))
            else:
                outputs.append((o["output_type"], json.dumps(o.get("data"), sort_keys=True)))
        result.append(outputs)
    return result


def test_a_rebuild_with_nothing_changed_executes_nothing(repo):
    repo, _ = repo
    report = build(repo)
    assert report["cache_invalidated"] is False and report["up_to_date"] is True
    assert report["executed"] == [] and report["executed_by_sphinx"] == 0


def test_a_prose_edit_executes_no_chapter_and_shows_the_new_prose(repo):
    repo, _ = repo
    chapter = repo / "book" / "loss.md"
    text = chapter.read_text()
    marker = "A sentence added by the prose-edit test."
    chapter.write_text(text.replace("\n## Summary", f"\n{marker}\n\n## Summary", 1))
    report = build(repo)
    assert report["up_to_date"] is False and report["cache_invalidated"] is False
    assert report["executed"] == [] and report["executed_by_sphinx"] == 0
    assert marker in (repo / "_build" / "html" / "book" / "loss.html").read_text()


def test_a_package_edit_reexecutes_and_the_page_shows_the_new_output(repo):
    repo, _ = repo
    data_py = repo / "code" / "training_basics" / "data.py"
    assert "2.0" in pasted(repo, "intro")
    data_py.write_text(re.sub(r"^TRUE_b = 2\.0$", "TRUE_b = 2.5", data_py.read_text(), flags=re.M))
    report = build(repo)
    assert report["cache_invalidated"] is True
    assert len(report["executed"]) == PAGES and report["executed_by_sphinx"] == 0
    values = pasted(repo, "intro")
    assert "2.5" in values and "2.0" not in values, values


def test_two_builds_show_the_same_outputs(repo, built_book):
    """Two cold builds, each executing every chapter afresh, give identical outputs, figures included."""
    _, first_build = repo
    for stem, outputs in first_build.items():
        again = outputs_of(built_book / "html" / "_sources" / "book" / f"{stem}.ipynb")
        assert again == outputs, f"{stem}: outputs differ between two builds"


def _run_build(repo):
    env = dict(os.environ, PYTHONPATH=str(repo / "code"))
    return subprocess.run(
        [sys.executable, str(repo / "tools" / "build.py")], cwd=repo, env=env, capture_output=True, text=True
    )


@pytest.mark.parametrize(
    "cell, expected",
    [
        ("1 / 0", "ZeroDivisionError"),
        ("import sys\nprint('a stray line on stderr', file=sys.stderr)", "stderr"),
    ],
    ids=["failing-cell", "stderr-output"],
)
def test_a_failing_cell_or_stderr_output_fails_the_build(repo, cell, expected):
    repo, _ = repo
    chapter = repo / "book" / "model.md"
    original = chapter.read_text()
    chapter.write_text(original.replace("\n## Summary", f"\n```{{code-cell}} ipython3\n{cell}\n```\n\n## Summary", 1))
    try:
        result = _run_build(repo)
        assert result.returncode != 0, "the build passed with a bad cell"
        assert expected in result.stdout + result.stderr
        if expected == "ZeroDivisionError":
            assert "ZeroDivisionError" in (repo / "_build" / "reports" / "model.log").read_text()
    finally:
        chapter.write_text(original)
