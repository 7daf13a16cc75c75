"""Rebuilds are fresh and cheap: a package edit re-executes every page (with `make book` and with a
plain `jupyter-book build`), a prose edit executes none, nothing changed does nothing, two builds give
the same site, a failing cell or stderr output fails the build, and only _toc.yml's pages are read.

Each test works on one temporary copy of the repository, built with the copy's own package
(tools/bookbuild.py puts the copy's code/ first on PYTHONPATH).
"""

import json
import re

import pytest
from bs4 import BeautifulSoup

from conftest import bookbuild

PAGES = sorted(bookbuild.docname(p) for p in bookbuild.pages())

pytestmark = pytest.mark.book


def built(repo, command="make"):
    process, report, _ = bookbuild.build(repo, command)
    assert process.returncode == 0, f"build failed:\n{process.stdout[-4000:]}\n{process.stderr[-4000:]}"
    return report


def pasted(repo, chapter):
    soup = BeautifulSoup((repo / "_build" / "html" / "book" / f"{chapter}.html").read_text(), "html.parser")
    return [p.get_text() for p in soup.select("article .pasted-text")]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    copy = bookbuild.copy_repo(tmp_path_factory.mktemp("repo"))
    report = built(copy)
    assert report["cache_emptied"] and sorted(report["executed"]) == PAGES
    assert report["executed_by_myst_nb"] == 0
    return copy


def test_make_book_with_nothing_changed_does_nothing(repo):
    site = repo / "_build" / "html" / "index.html"
    before = site.stat().st_mtime_ns
    assert built(repo) is None, "Sphinx ran although no input changed"
    assert site.stat().st_mtime_ns == before


def test_a_prose_edit_executes_no_page_and_shows_the_new_prose(repo):
    chapter = repo / "book" / "loss.md"
    marker = "A sentence added by the prose-edit test."
    chapter.write_text(chapter.read_text().replace("\n## Summary", f"\n{marker}\n\n## Summary", 1))
    report = built(repo)
    assert report["cache_emptied"] is False
    assert report["executed"] == {} and report["executed_by_myst_nb"] == 0
    assert marker in (repo / "_build" / "html" / "book" / "loss.html").read_text()


@pytest.mark.parametrize("command", ["make", "plain"])
def test_a_package_edit_reexecutes_every_page_and_shows_the_new_output(repo, command):
    data_py = repo / "code" / "training_basics" / "data.py"
    old, new = ("2.0", "2.5") if command == "make" else ("2.5", "2.0")
    assert old in pasted(repo, "intro")
    data_py.write_text(re.sub(rf"^TRUE_b = {old}$", f"TRUE_b = {new}", data_py.read_text(), flags=re.M))
    report = built(repo, command)
    assert report["cache_emptied"] is True
    assert sorted(report["executed"]) == PAGES and report["executed_by_myst_nb"] == 0
    values = pasted(repo, "intro")
    assert new in values and old not in values, values


def test_a_virtual_environment_in_a_hidden_folder_is_not_read(repo):
    stray = repo / ".venv-3.13" / "lib" / "python3.13" / "site-packages" / "somepackage"
    stray.mkdir(parents=True)
    (stray / "README.md").write_text("# Not a chapter\n\nA broken {ref}`no-such-label`.\n")
    (repo / "book" / "intro.md").touch()
    built(repo)
    assert not list((repo / "_build" / "html").rglob("README.html"))


def _site(build_dir):
    """Every file of the site by path, with what is measured afresh in each build blanked: the status
    page's run times, the outputs of cells tagged `measured` (timings), and, in the search index, the
    numbers those hold (numeric terms; every other number is compared in the pages themselves)."""
    files = {}
    for path in sorted((build_dir / "html").rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.name == "status.html":
            data = re.sub(rb"<td><p>\d+(\.\d+)?</p></td>", b"<td><p>T</p></td>", data)
        elif path.suffix == ".html" and b"tag_measured" in data:
            soup = BeautifulSoup(data, "html.parser")
            for output in soup.select(".tag_measured .cell_output"):
                output.clear()
            data = str(soup).encode()
        elif path.suffix == ".ipynb":
            notebook = json.loads(data)
            for cell in notebook["cells"]:
                if "measured" in cell.get("metadata", {}).get("tags", []):
                    cell["outputs"] = []
            data = json.dumps(notebook, sort_keys=True).encode()
        elif path.name == "searchindex.js":
            text = data.decode()
            index = json.loads(text[text.index("(") + 1:text.rindex(")")])
            for key in ("terms", "titleterms"):
                index[key] = {t: d for t, d in index[key].items() if not t.replace(".", "").isdigit()}
            data = json.dumps(index, sort_keys=True).encode()
        files[path.relative_to(build_dir / "html").as_posix()] = data
    return files


def test_two_builds_of_one_commit_give_the_same_site(repo, built_book, tmp_path):
    """A fresh copy built from scratch, and the session's build of the checkout: byte for byte.

    Two separate trees, each with its own execution cache, and each executes every page: a page whose
    output depends on a race (a worker killed while a checkpoint may be half written) shows it whenever
    the race goes two ways, which a build that reused the other's cache could never show."""
    again = bookbuild.copy_repo(tmp_path / "again")
    report = built(again)
    session = json.loads((built_book / "execution.json").read_text())
    for executed in (report, session):
        assert executed["cache_emptied"] and sorted(executed["executed"]) == PAGES  # nothing from a cache
    assert again.resolve() not in built_book.resolve().parents  # not one tree
    first, second = _site(again / "_build"), _site(built_book)
    assert sorted(first) == sorted(second)
    differ = [name for name in first if first[name] != second[name]]
    assert not differ, f"{len(differ)} file(s) differ between two builds: {differ[:10]}"


@pytest.mark.parametrize(
    "cell, expected",
    [("1 / 0", "ZeroDivisionError"),
     ("import sys\nprint('a stray line on stderr', file=sys.stderr)", "stderr")],
    ids=["failing-cell", "stderr-output"],
)
def test_a_failing_cell_or_stderr_output_fails_the_build(repo, cell, expected):
    chapter = repo / "book" / "model.md"
    original = chapter.read_text()
    bad = f"\n```{{code-cell}} ipython3\n{cell}\n```\n\n## Summary"
    chapter.write_text(original.replace("\n## Summary", bad, 1))
    try:
        process, _, _ = bookbuild.build(repo)
        assert process.returncode != 0, "the build passed with a bad cell"
        assert expected in process.stdout + process.stderr
        if expected == "ZeroDivisionError":
            assert "ZeroDivisionError" in (repo / "_build" / "reports" / "model.log").read_text()
    finally:
        chapter.write_text(original)


def test_a_print_split_by_the_kernel_renders_as_one_unsplit_print():
    """The kernel may flush a print between its text and its newline; the build merges the pieces
    before myst-nb's own merge (which would add a blank line there), so the page does not depend on it."""
    from myst_nb.core.utils import coalesce_streams
    from nbformat.v4 import new_output

    from conftest import load_tool

    execution = load_tool("tools/sphinx_ext/execution.py")
    whole = [new_output("stream", name="stdout", text="a = 1\nb = 2\n")]
    split = [new_output("stream", name="stdout", text=t) for t in ("a = 1", "\nb = 2", "\n")]
    assert coalesce_streams(execution.merge_streams(split)) == coalesce_streams(whole)
    assert coalesce_streams(split) != coalesce_streams(whole)  # what the merge is for
