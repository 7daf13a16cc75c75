"""Rebuilds are fresh and cheap: a package edit re-executes every page (with `make book` and with a
plain `jupyter-book build`), a prose edit executes none, nothing changed does nothing, a failing cell or
stderr output fails the build, only _toc.yml's pages are read, and two builds give the same site.

The build machinery is tested on a one-page book laid over a copy of the repository: the same Makefile,
_config.yml, extensions and package, with a _toc.yml of one page that imports the package and glues a
value from it (a cold build of it takes about 14 s, the real book's 80 s or more). The two-builds
comparison is the real book: two separate trees, two caches.
"""

import json
import re

import bookbuild
import pytest
from bs4 import BeautifulSoup

pytestmark = pytest.mark.book
REAL_PAGES = sorted(bookbuild.docname(p) for p in bookbuild.pages())

# The fixture book: one page, executed, gluing a value of the package (data.TRUE_b), and a summary.
PAGE = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3 (ipykernel)
  language: python
  name: python3
---

# One page

```{code-cell} ipython3
from myst_nb import glue

import training_basics as tb

glue("true-b", tb.TRUE_b, display=False)
print(tb.TRUE_b)
```

The line's intercept is {glue:text}`true-b`.

## Summary

One page that runs the package.
"""


def one_page_book(dest):
    """A copy of the repository whose book is one page (book/page.md)."""
    repo = bookbuild.copy_repo(dest)
    (repo / "_toc.yml").write_text("format: jb-book\nroot: book/page\n")
    (repo / "book" / "page.md").write_text(PAGE)
    return repo


def built(repo, command="make"):
    process, report, _ = bookbuild.build(repo, command)
    assert process.returncode == 0, f"build failed:\n{process.stdout[-4000:]}\n{process.stderr[-4000:]}"
    return report


def pasted(repo):
    soup = BeautifulSoup((repo / "_build" / "html" / "book" / "page.html").read_text(), "html.parser")
    return [p.get_text() for p in soup.select("article .pasted-text")]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    copy = one_page_book(tmp_path_factory.mktemp("repo"))
    report = built(copy)
    assert report["cache_emptied"] and sorted(report["executed"]) == ["book/page"]
    assert report["executed_by_myst_nb"] == 0
    assert not (copy / "_build" / "html" / "book" / "model.html").exists(), "a page not in _toc.yml was read"
    return copy


def test_make_book_with_nothing_changed_does_nothing(repo):
    site = repo / "_build" / "html" / "index.html"
    before = site.stat().st_mtime_ns
    assert built(repo) is None, "Sphinx ran although no input changed"
    assert site.stat().st_mtime_ns == before


def test_a_prose_edit_executes_no_page_and_shows_the_new_prose(repo):
    chapter = repo / "book" / "page.md"
    marker = "A sentence added by the prose-edit test."
    chapter.write_text(chapter.read_text().replace("\n## Summary", f"\n{marker}\n\n## Summary", 1))
    report = built(repo)
    assert report["cache_emptied"] is False
    assert report["executed"] == {} and report["executed_by_myst_nb"] == 0
    assert marker in (repo / "_build" / "html" / "book" / "page.html").read_text()


@pytest.mark.parametrize("command", ["make", "plain"])
def test_a_package_edit_reexecutes_every_page_and_shows_the_new_output(repo, command):
    data_py = repo / "code" / "training_basics" / "data.py"
    old, new = ("2.0", "2.5") if command == "make" else ("2.5", "2.0")
    assert old in pasted(repo)
    data_py.write_text(re.sub(rf"^TRUE_b = {old}$", f"TRUE_b = {new}", data_py.read_text(), flags=re.M))
    report = built(repo, command)
    assert report["cache_emptied"] is True
    assert sorted(report["executed"]) == ["book/page"] and report["executed_by_myst_nb"] == 0
    values = pasted(repo)
    assert new in values and old not in values, values


def test_a_virtual_environment_in_a_hidden_folder_is_not_read(repo):
    stray = repo / ".venv-3.13" / "lib" / "python3.13" / "site-packages" / "somepackage"
    stray.mkdir(parents=True)
    (stray / "README.md").write_text("# Not a chapter\n\nA broken {ref}`no-such-label`.\n")
    (repo / "book" / "page.md").touch()
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


def cold_build_of_the_real_book(dest):
    """A fresh copy of the repository built from scratch; asserts it executed every page itself."""
    copy = bookbuild.copy_repo(dest)
    report = built(copy)
    assert report["cache_emptied"] and sorted(report["executed"]) == REAL_PAGES, "a page came from a cache"
    assert report["executor"] == "local-parallel" and report["executed_by_myst_nb"] == 0
    return copy / "_build"


def test_two_builds_of_one_commit_give_the_same_site(built_book, tmp_path):
    """Two builds of the real book, byte for byte: a fresh copy built from scratch, and the session's
    build of the checkout (or, if that was not a cold build of every page, a second fresh copy).

    Two separate trees, each with its own execution cache, and each executes every page: a page whose
    output depends on a race (a worker killed while a checkpoint may be half written) shows it whenever
    the race goes two ways, which a build that reused the other's cache could never show."""
    first = cold_build_of_the_real_book(tmp_path / "first")
    session = json.loads((built_book / "execution.json").read_text())
    cold = session["cache_emptied"] and sorted(session["executed"]) == REAL_PAGES
    second = built_book if cold else cold_build_of_the_real_book(tmp_path / "second")
    assert first.resolve() not in second.resolve().parents and first.parent != second.parent  # two trees
    first, second = _site(first), _site(second)
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
    chapter = repo / "book" / "page.md"
    original = chapter.read_text()
    bad = f"\n```{{code-cell}} ipython3\n{cell}\n```\n\n## Summary"
    chapter.write_text(original.replace("\n## Summary", bad, 1))
    try:
        process, _, _ = bookbuild.build(repo)
        assert process.returncode != 0, "the build passed with a bad cell"
        assert expected in process.stdout + process.stderr
        if expected == "ZeroDivisionError":
            assert "ZeroDivisionError" in (repo / "_build" / "reports" / "page.log").read_text()
    finally:
        chapter.write_text(original)


def test_a_print_split_by_the_kernel_renders_as_one_unsplit_print():
    """The kernel may flush a print between its text and its newline; the build merges the pieces
    before myst-nb's own merge (which would add a blank line there), so the page does not depend on it."""
    from myst_nb.core.utils import coalesce_streams
    from nbformat.v4 import new_output
    from sphinx_ext import execution

    whole = [new_output("stream", name="stdout", text="a = 1\nb = 2\n")]
    split = [new_output("stream", name="stdout", text=t) for t in ("a = 1", "\nb = 2", "\n")]
    assert coalesce_streams(execution.merge_streams(split)) == coalesce_streams(whole)
    assert coalesce_streams(split) != coalesce_streams(whole)  # what the merge is for
