"""The book as a reader meets it: the checkout's strict build (`make book`), page by page.

That a cold build executes every page itself, in parallel, is checked on a fresh copy by
tests/test_rebuild.py's two-builds comparison."""

import json
import platform
import re

import jupytext
import pytest
from bs4 import BeautifulSoup

from conftest import ROOT, bookbuild

CHAPTERS = bookbuild.chapters()
PAGES = bookbuild.pages()  # the chapters and the appendices (the build status page)
GLUE_ROLE = re.compile(r"\{glue(?::text)?\}`([^`]+)`")
TF_LOG = re.compile(
    r"tensorflow/core|oneDNN|cuda|absl::|I0000 |W0000 |E0000 |computation placer|WARNING:tensorflow|"
    r"This TensorFlow binary is optimized",
)
LOCAL_PATH = re.compile(r"(?<![\w.])/(?:home|root|tmp|Users|work|private/var)/[\w.-]")


def page(built_book, source):
    rel = source.relative_to(ROOT).with_suffix(".html")
    return BeautifulSoup((built_book / "html" / rel).read_text(), "html.parser")


def article(soup):
    return soup.find("article")


def figure_cells(source):
    nb = jupytext.read(source)
    return [
        c for c in nb.cells
        if c.cell_type == "code" and "figure" in c.metadata.get("mystnb", {})
    ]


@pytest.mark.parametrize("source", PAGES, ids=[p.stem for p in PAGES])
def test_jupytext_and_myst_nb_read_the_same_code_cells(source):
    """JupyterLab (Binder, `make lab`) opens a page with jupytext; the build executes what myst-nb's reader
    reads. The same cells, in the same order: a page the build ran runs in JupyterLab too."""
    from myst_nb.core.read import read_myst_markdown_notebook

    text = source.read_text()
    by_jupytext = [c.source for c in jupytext.reads(text, fmt="md:myst").cells if c.cell_type == "code"]
    by_myst_nb = [c.source for c in read_myst_markdown_notebook(text).cells if c.cell_type == "code"]
    assert by_jupytext == by_myst_nb and by_myst_nb


def test_every_chapter_file_is_in_the_toc_once_and_the_status_page_comes_last():
    assert sorted(PAGES) == sorted((ROOT / "book").glob("*.md")), "a chapter file missing from _toc.yml"
    assert len(set(PAGES)) == len(PAGES)
    assert PAGES[-1] == ROOT / "book" / "status.md" and PAGES[-1] not in CHAPTERS


@pytest.mark.book
@pytest.mark.parametrize("source", PAGES, ids=[p.stem for p in PAGES])
def test_chapter_page(built_book, source):
    soup = page(built_book, source)
    body = article(soup)
    assert body is not None, f"{source.name}: no article in the page"
    text = body.get_text()

    # Its figures, each with alt text and a caption, as the source declares them.
    cells = figure_cells(source)
    figures = body.select("figure")
    assert len(figures) == len(cells), f"{source.name}: {len(figures)} figures, {len(cells)} declared"
    for cell, fig in zip(cells, figures, strict=True):
        img = fig.find("img")
        assert img is not None and img.get("alt", "").strip(), f"{source.name}: figure without alt text"
        assert img["alt"].strip() == cell.metadata["mystnb"]["image"]["alt"].strip()
        assert fig.find("figcaption").get_text().strip()
        assert (built_book / "html" / source.relative_to(ROOT).parent / img["src"]).is_file()

    # Every glue role in the source was pasted with a value.
    roles = GLUE_ROLE.findall(source.read_text())
    pasted = body.select(".pasted-text, .pasted-inline")
    assert len(pasted) == len(roles), f"{source.name}: {len(pasted)} values pasted, {len(roles)} glue roles"
    assert all(p.get_text().strip() for p in pasted)
    assert "{glue" not in text

    # No errors, tracebacks, stderr or TensorFlow log text.
    assert not body.select(".output.error, .output.traceback, .output.stderr")
    assert "Traceback (most recent call last)" not in text
    assert not TF_LOG.search(text), TF_LOG.search(text)

    # Headings in order: one h1, and no level skipped.
    levels = [int(h.name[1]) for h in body.find_all(re.compile(r"^h[1-6]$"))]
    assert levels[0] == 1 and levels.count(1) == 1, levels
    assert all(b - a <= 1 for a, b in zip(levels, levels[1:], strict=False)), levels


@pytest.mark.book
@pytest.mark.parametrize("source", CHAPTERS[1:], ids=[p.stem for p in CHAPTERS[1:]])
def test_chapters_show_the_package_source_and_end_with_summary_and_exercises(built_book, source):
    body = article(page(built_book, source))
    text = body.get_text()
    assert "# code/training_basics/" in text, f"{source.name} shows no source from the package"
    headings = [h.get_text().strip("#¶ \n") for h in body.find_all("h2")]
    assert headings[-2:] == ["Summary", "Exercises"], headings
    assert 2 <= len(body.select(".exercise")) <= 3
    assert len(body.select(".solution")) == len(body.select(".exercise"))


@pytest.mark.book
def test_no_absolute_local_path_anywhere_in_the_site(built_book):
    site = built_book / "html"
    offenders = []
    for path in site.rglob("*"):
        if path.suffix in {".html", ".js", ".ipynb", ".md", ".txt", ".json", ".css", ".inv"}:
            text = path.read_text(errors="replace")
            for needle in (str(ROOT), str(built_book.parent)):
                if needle in text:
                    offenders.append(f"{path.relative_to(site)}: {needle}")
            match = LOCAL_PATH.search(text)
            if match and path.suffix != ".js":
                around = text[max(0, match.start() - 40):match.end() + 40]
                offenders.append(f"{path.relative_to(site)}: {around!r}")
    assert not offenders, offenders


@pytest.mark.book
def test_executed_notebooks_are_downloadable_and_carry_outputs(built_book):
    for source in PAGES:
        rel = source.relative_to(ROOT)
        nb = json.loads((built_book / "html" / "_sources" / rel.with_suffix(".ipynb")).read_text())
        outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
        assert outputs, f"{rel}: the downloadable notebook has no outputs"
        assert not [o for o in outputs if o["output_type"] == "error" or o.get("name") == "stderr"]


@pytest.mark.book
def test_the_status_page_lists_every_page_executed_and_the_versions(built_book):
    from importlib.metadata import version

    body = article(page(built_book, ROOT / "book" / "status.md"))
    rows = body.select("table tbody tr")
    documents = {row.find("td").get_text().strip(): row.get_text() for row in rows}
    for source in PAGES:
        name = bookbuild.docname(source)
        assert name in documents, f"{name} is not in the execution table {sorted(documents)}"
        assert "✅" in documents[name] and "cache" in documents[name]
    text = body.get_text()
    for package in ("tensorflow-cpu", "numpy", "matplotlib", "jupyter-book", "myst-nb"):
        assert re.search(rf"{package}\s+{re.escape(version(package))}", text), package
    assert re.search(rf"Python\s+{re.escape(platform.python_version())}", text)


@pytest.mark.book
@pytest.mark.parametrize("source", PAGES, ids=[p.stem for p in PAGES])
def test_the_set_up_cell_runs_first_in_live_code_and_a_print_view_is_offered(built_book, source):
    nb = jupytext.read(source)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert "thebe-init" in first.metadata.get("tags", []), f"{source.name}: set-up cell not tagged thebe-init"
    assert "import training_basics" in first.source
    soup = page(built_book, source)
    assert soup.select_one(".cell.tag_thebe-init"), f"{source.name}: no thebe-init cell in the page"
    assert soup.select_one("button.btn-download-pdf-button"), f"{source.name}: no print/PDF button"


@pytest.mark.book
def test_glued_numbers_are_the_packages_results(built_book):
    """The final w, b and test MSE quoted in the prose are what the package computes for the lab's run."""
    import training_basics as tb

    data = tb.synthesize()
    model = tb.Model()
    history = tb.train(model, data.x, data.y, epochs=15, learning_rate=0.1)
    test = tb.synthesize(seed=tb.TEST_SEED)
    ev = tb.evaluate(model, test.x, test.y)
    def values(chapter):
        body = article(page(built_book, ROOT / "book" / chapter))
        return [p.get_text() for p in body.select(".pasted-text")]

    loop, evaluation = values("training-loop.md"), values("evaluation.md")
    for value in (history.final_w, history.final_b):
        assert f"{value:.4f}" in loop, (value, loop)
    assert f"{ev.test_mse:.4f}" in evaluation, (ev.test_mse, evaluation)


@pytest.mark.book
def test_no_page_writes_a_script_twice(built_book):
    """Sphinx 7.4 wrote sphinx-thebe's inline script twice (a SyntaxError in every page's console):
    tools/sphinx_ext/single_inline_scripts.py drops the repeat."""
    repeated = {}
    for source in PAGES:
        scripts = [s.get("src") or s.get_text() for s in page(built_book, source).find_all("script")]
        if twice := sorted({s[:80] for s in scripts if scripts.count(s) > 1}):
            repeated[source.name] = twice
    assert not repeated, repeated


def test_equation_references_are_not_wrapped_in_a_second_pair_of_parentheses(built_book):
    """{eq} writes "(1)" itself: "({eq}`x`)" shows "((1))" on the page."""
    doubled = {}
    for source in PAGES:
        page = (built_book / "html" / f"{bookbuild.docname(source)}.html").read_text()
        text = BeautifulSoup(page, "html.parser").select_one("main").get_text(" ")
        if found := re.findall(r"\(\s*\(\d+\)\s*\)", text):
            doubled[source.name] = found
    assert not doubled, doubled
