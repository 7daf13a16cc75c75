"""The ways to read the book besides the site: Colab, notebooks to fill in, one PDF, Codespaces.

Each is used as a reader uses it: the Colab notebooks run in a fresh Python 3.13 with Colab's
TensorFlow 2.20 and their own install cell (the exercises notebooks top to bottom, each solution alone,
and the full notebook shown to be exactly those); the PDF is made by `make pdf` and read back with
poppler; the dev container validates against its published schema.
"""

import json
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
import yaml
from bs4 import BeautifulSoup
from chapter import Chapter
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from conftest import ROOT, bookbuild

pytestmark = pytest.mark.book
CHAPTERS = [bookbuild.docname(p) for p in bookbuild.chapters()]
IDS = [c.rsplit("/", 1)[-1] for c in CHAPTERS]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
ORG_REPO = CONFIG["repository"]["url"].removeprefix("https://github.com/").strip("/")
REQUIREMENT = f"training-basics @ git+https://github.com/{ORG_REPO}@colab"
MYST = re.compile(r"\{[a-z:-]+\}`|```\{|^\(.+\)=$|^:::", re.M)
# Run by the Colab-like Python: each solution alone, after its chapter's set-up cell.
SOLUTIONS_ALONE = """import json, sys
for chapter, job in json.load(open(sys.argv[1])).items():
    for cells in job["solutions"]:
        namespace = {}
        exec(compile(job["setup"], chapter + ":setup", "exec"), namespace)
        for cell in cells:
            exec(compile(cell, chapter + ":solution", "exec"), namespace)
    print("solved", chapter)
"""
# What Colab runs (googlecolab/backend-info, Aug 2026): Python 3.13, TensorFlow 2.20, Keras 3.13.
COLAB_PYTHON, COLAB_TENSORFLOW, COLAB_KERAS = "3.13", "tensorflow==2.20.0", "keras==3.13.*"


def notebook(built_book, chapter, suffix=""):
    return nbformat.read(str(built_book / "html" / "_notebooks" / f"{chapter}{suffix}.ipynb"), as_version=4)


def text(nb, kind="markdown"):
    return "\n".join(c.source for c in nb.cells if c.cell_type == kind)


def run(nb, cwd, kernel_dirs=None, timeout=600):
    """Every cell, top to bottom, in a real kernel (this environment's, or the one in ``kernel_dirs``)."""
    if kernel_dirs:
        km = KernelManager(
            kernel_name="colab", kernel_spec_manager=KernelSpecManager(kernel_dirs=kernel_dirs)
        )
    else:
        km = KernelManager(kernel_name="python3")
    try:
        NotebookClient(nb, km=km, timeout=timeout, resources={"metadata": {"path": str(cwd)}}).execute()
    finally:  # nbclient leaves a kernel it was given running: no process may outlive its test
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    return [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error" or o.get("name") == "stderr"
    ]


@pytest.fixture(scope="module")
def repo_with_site(built_book, tmp_path_factory):
    """A copy of the repository with a copy of the session's built book: make's targets run there."""
    repo = bookbuild.copy_repo(tmp_path_factory.mktemp("repo"))
    shutil.copytree(built_book, repo / "_build", ignore=shutil.ignore_patterns("singlehtml", "colab"))
    return repo


def make(repo, target):
    """``make target`` in ``repo``, its site taken as built (-o)."""
    command = bookbuild.make_command("-o", "_build/html/index.html", target)
    result = subprocess.run(command, cwd=repo, capture_output=True, text=True)
    assert result.returncode == 0, f"make {target} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


# --- The notebooks: one to run (and open in Colab), one without solutions -------------------------


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_each_chapter_has_both_notebooks_in_markdown_that_colab_renders(built_book, chapter):
    page = BeautifulSoup((built_book / "html" / f"{chapter}.html").read_text(), "html.parser")
    full, exercises = notebook(built_book, chapter), notebook(built_book, chapter, "-exercises")
    for nb in (full, exercises):
        nbformat.validate(nb)
        assert not [c for c in nb.cells if c.cell_type == "code" and c.outputs], (
            "a notebook to run has outputs"
        )
        assert not MYST.findall(text(nb)), f"MyST left: {MYST.findall(text(nb))[:5]}"
        assert not re.search(r'<a href="(?!https?:)', text(nb)), "a link into the site, which Colab lacks"
        assert "myst_nb" not in text(nb, "code") and "glue(" not in text(nb, "code")
        first = nb.cells[0]
        assert first.cell_type == "code" and REQUIREMENT in first.source, first.source
        assert 'find_spec("training_basics")' in first.source
        # Each figure's number and caption, under the cell that draws it, as on the page.
        numbers = [
            re.match(r"Fig\. (\d+)", c.get_text(" ", strip=True))[1] for c in page.select("figcaption")
        ]
        assert re.findall(r"^\*Fig\. (\d+): ", text(nb), re.M) == numbers
    # Numbers as the page shows them: every exercise's number and title, every equation's tag.
    shown = [
        " ".join(p.get_text(" ", strip=True).replace("\u2019", "'").split())
        for p in page.select(".exercise .admonition-title")
    ]
    written = re.findall(r"^\*\*(Exercise \d+ \(.*?\))\*\*$", text(full), re.M)
    assert [re.sub(r"\s+\(", " (", s) for s in shown] == written
    assert written == re.findall(r"^\*\*(Exercise \d+ \(.*?\))\*\*$", text(exercises), re.M)
    tags = [re.match(r"\((\d+)\)", e.get_text())[1] for e in page.select(".math .eqno")]
    assert re.findall(r"\\tag\{(\d+)\}", text(full)) == tags
    # The full notebook has every solution, the exercises notebook none.
    assert re.findall(r"\*\*Solution to (Exercise \d+ \(.*?\))\*\*", text(full)) == written
    assert "Solution to" not in text(exercises)
    answers = [c for c in exercises.cells if c.cell_type == "code" and c.source == "# Your answer"]
    assert len(answers) == len(written), "one cell to answer each exercise in"
    code = [len([c for c in nb.cells if c.cell_type == "code"]) for nb in (full, exercises)]
    solution_cells = len(page.select(".solution .cell"))
    assert code[0] - (code[1] - len(answers)) == solution_cells, "solution code cells left in, or lost"


def test_glued_numbers_are_written_in_as_the_page_shows_them(built_book):
    nb, page = notebook(built_book, "book/model"), (built_book / "html" / "book/model.html").read_text()
    shown = (
        BeautifulSoup(page, "html.parser")
        .find(lambda t: t.name == "p" and t.get_text().startswith("With") and "gives" in t.get_text())
        .get_text(" ", strip=True)
    )
    sentence = re.search(
        r"With \$w =\$ (\S+) and \$b =\$ (\S+), the\s+input \$x = 2\$ gives \$\\hat\{y\} =\$ (\S+)\.",
        text(nb),
    )
    assert sentence, "the model chapter's sentence with w, b and y-hat is not in its notebook"
    assert all(value in shown for value in sentence.groups()), (sentence.groups(), shown)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_every_chapter_links_colab_to_its_notebook_on_the_colab_branch(built_book, chapter):
    page = BeautifulSoup((built_book / "html" / f"{chapter}.html").read_text(), "html.parser")
    colab = [a["href"] for a in page.select("a[href*='colab.research.google.com']")]
    assert colab == [f"https://colab.research.google.com/github/{ORG_REPO}/blob/colab/{chapter}.ipynb"]
    menu = {a.get_text(" ", strip=True): a["href"] for a in page.select(".dropdown-download-buttons a[href]")}
    assert menu[".ipynb, no outputs"].endswith(f"_notebooks/{chapter}.ipynb"), menu
    assert menu[".ipynb, exercises"].endswith(f"_notebooks/{chapter}-exercises.ipynb"), menu


def test_pages_that_are_not_chapters_offer_no_colab_button(built_book):
    others = [bookbuild.docname(p) for p in bookbuild.pages() if p not in bookbuild.chapters()]
    assert others, "the book has an About page"
    for doc in others:
        assert "colab.research.google.com" not in (built_book / "html" / f"{doc}.html").read_text(), doc
        assert not (built_book / "html" / "_notebooks" / f"{doc}.ipynb").exists(), doc


def code(nb):
    return [c.source for c in nb.cells if c.cell_type == "code"]


def test_the_exercises_notebook_is_the_full_one_without_its_solutions(built_book):
    """Half of why every full notebook runs on Colab (the other half: the exercises notebooks, and each
    solution after the set-up cell, run there, below): the full notebook's code is the exercises
    notebook's with the solutions' shown cells in, in order, and nothing else."""
    for chapter in CHAPTERS:
        full = code(notebook(built_book, chapter))
        exercises = code(notebook(built_book, chapter, "-exercises"))
        solutions = [c for cells in Chapter(chapter.rsplit("/", 1)[-1]).solutions(shown=True).values()
                     for c in cells]
        rest, pending = [], iter(solutions)
        wanted = next(pending, None)
        for cell in full:
            if cell == wanted:
                wanted = next(pending, None)
            else:
                rest.append(cell)
        assert wanted is None, f"{chapter}: a solution's cell is not in the full notebook: {wanted[:200]!r}"
        assert rest == [c for c in exercises if c != "# Your answer"], f"{chapter}: they differ in more"


# --- Colab: a fresh Python 3.13 with TensorFlow 2.20, the install cell pointed at this checkout ----


def python313():
    """Python 3.13 from PATH or pyenv's versions (a pyenv shim on PATH may not run: tried first)."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [shutil.which(f"python{COLAB_PYTHON}")]
    candidates += sorted(str(p) for p in pyenv.glob(f"versions/{COLAB_PYTHON}*/bin/python{COLAB_PYTHON}"))
    for candidate in filter(None, candidates):
        version = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
        )
        if version.returncode == 0 and version.stdout.strip() == COLAB_PYTHON:
            return candidate
    pytest.skip(f"no Python {COLAB_PYTHON} on PATH or in pyenv: install it to test the Colab path")


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """A Colab-like kernel: Python 3.13 with pip, tensorflow==2.20.0 and ipykernel, nothing of ours."""
    root = tmp_path_factory.mktemp("colab")
    subprocess.run([python313(), "-m", "venv", str(root / "env")], check=True)
    python = root / "env" / "bin" / "python"
    subprocess.run(
        [
            str(bookbuild.VENV / "bin" / "uv"),
            "pip",
            "install",
            "--quiet",
            "--compile-bytecode",  # as Colab's image has them: each kernel's TensorFlow import 4 s, not 12
            "--python",
            str(python),
            COLAB_TENSORFLOW,
            COLAB_KERAS,
            "ipykernel",
        ],
        check=True,
    )
    spec = root / "kernels" / "colab"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Colab-like",
                "language": "python",
            }
        )
    )
    return root


@pytest.mark.colab
def test_colab_notebooks_install_the_package_and_run_top_to_bottom(repo_with_site, colab):
    """The exercises notebooks (which hold every cell of the full ones but the solutions) run top to bottom
    in the Colab-like kernel, the first installing the package from the colab branch; then each solution
    runs alone after its chapter's set-up cell there too. With the test above, every full notebook runs
    on Colab; and the notebooks a teacher hands out run."""
    make(repo_with_site, "colab")
    branch = repo_with_site / "_build" / "colab"
    assert sorted(p.relative_to(branch).as_posix() for p in branch.rglob("*.ipynb")) == sorted(
        f"{c}{s}.ipynb" for c in CHAPTERS for s in ("", "-exercises")
    )
    python = colab / "env" / "bin" / "python"
    assert subprocess.run([str(python), "-c", "import training_basics"], capture_output=True).returncode != 0

    def one(chapter):
        nb = nbformat.read(str(branch / f"{chapter}-exercises.ipynb"), as_version=4)
        install = nb.cells[0]  # the install cell (checked above for every chapter)
        install.source = install.source.replace(REQUIREMENT, f"training-basics @ {branch.as_uri()}")
        errors = run(nb, cwd=colab, kernel_dirs=[str(colab / "kernels")])
        return chapter, errors

    first, *rest = CHAPTERS
    failed = dict([one(first)])  # the first installs the package; the others find it
    with ThreadPoolExecutor(2) as pool:
        failed.update(pool.map(one, rest))
    failed = {
        c: [o.get("ename", o.get("text", ""))[:500] for o in errs] for c, errs in failed.items() if errs
    }
    assert not failed, failed

    # Each solution alone after the notebook's set-up cell, on Colab's TensorFlow: in one process, each in
    # a fresh namespace; a chapter whose set-up configures devices (split_cpu, before TensorFlow starts)
    # in a process of its own.
    jobs = {}
    for chapter in CHAPTERS:
        setup = code(nbformat.read(str(branch / f"{chapter}.ipynb"), as_version=4))[1]
        assert "import training_basics" in setup, setup
        solutions = list(Chapter(chapter.rsplit("/", 1)[-1]).solutions(shown=True).values())
        jobs[chapter] = {"setup": setup, "solutions": solutions}
    alone = [c for c in CHAPTERS if "split_cpu(" in jobs[c]["setup"]]
    script = colab / "solutions.py"
    script.write_text(SOLUTIONS_ALONE)
    ran = []
    for group in [[c for c in CHAPTERS if c not in alone]] + [[c] for c in alone]:
        job = colab / "job.json"
        job.write_text(json.dumps({c: jobs[c] for c in group}))
        out = subprocess.run([str(python), str(script), str(job)], cwd=colab, capture_output=True, text=True,
                             timeout=600)
        assert out.returncode == 0, out.stderr[-3000:]
        ran += [line.split()[1] for line in out.stdout.splitlines() if line.startswith("solved ")]
    assert sorted(ran) == sorted(CHAPTERS)

    tensorflow = subprocess.run(
        [str(python), "-c", "import tensorflow, training_basics; print(tensorflow.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert tensorflow == COLAB_TENSORFLOW.split("==")[1], "the install cell replaced Colab's TensorFlow"
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json"], capture_output=True, text=True, check=True
    ).stdout
    assert "tensorflow-cpu" not in {p["name"] for p in json.loads(listed)}, "tensorflow-cpu beside tensorflow"


# --- The whole book as one PDF -----------------------------------------------------------------


@pytest.fixture(scope="module")
def pdf(repo_with_site):
    if not (os.environ.get("CHROMIUM") or shutil.which("chromium")) or not shutil.which("pdftotext"):
        pytest.skip("make pdf needs Chromium and poppler-utils: apt-get install chromium poppler-utils")
    make(repo_with_site, "pdf")
    path = repo_with_site / "_build" / "html" / "custom-training-basics.pdf"
    text_ = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    structure = subprocess.run(
        ["pdfinfo", "-struct", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return path, " ".join(text_.split()), structure


def test_the_pdf_has_every_chapter_figure_and_solution_and_no_broken_reference(pdf, built_book):
    path, words, structure = pdf
    unspaced = "".join(words.split())
    missing = []
    for chapter in (bookbuild.docname(p) for p in bookbuild.pages()):
        page = BeautifulSoup((built_book / "html" / f"{chapter}.html").read_text(), "html.parser")
        for anchor in page.select("a.headerlink"):  # the "#" after titles and captions
            anchor.decompose()
        title = page.select_one("main h1").get_text(" ", strip=True)
        for math in page.select("figcaption .math"):  # typeset by MathJax: its glyphs are not the TeX
            math.replace_with("\x00")
        captions = [
            " ".join(part.split())
            for c in page.select("figcaption p")
            for part in c.get_text(" ", strip=True).split("\x00")
            if part.strip(" ,.;:()")
        ]
        solutions = [
            " ".join(s.get_text(" ", strip=True).split()) for s in page.select(".solution .admonition-title")
        ]
        missing += [
            f"{chapter}: {kind} {s[:60]!r}"
            for kind, found in (("title", [title]), ("caption", captions), ("solution", solutions))
            for s in found
            if "".join(s.split()) not in unspaced  # pdftotext spaces sub- and superscripts its own way
        ]
    assert not missing, missing
    assert "??" not in words, "an unresolved reference"
    urls = subprocess.run(["pdfinfo", "-url", str(path)], capture_output=True, text=True, check=True).stdout
    assert "127.0.0.1" not in urls, "a link to the local server that printed the PDF"
    # Each captioned figure is an image in the PDF's structure (Chromium tags it), next to its caption.
    figures = len(re.findall(r"^\s*Figure\n\s*Figure\n\s*Caption$", structure, re.M))
    captioned = sum(
        len(
            BeautifulSoup(
                (built_book / "html" / f"{bookbuild.docname(doc)}.html").read_text(), "html.parser"
            ).select("figure:has(figcaption) img")
        )
        for doc in bookbuild.pages()
    )
    assert figures == captioned > 0, (
        f"{figures} tagged figures in the PDF, {captioned} captioned figures on the site"
    )


def test_the_intro_and_the_status_page_link_the_pdf(built_book):
    for doc in ("book/intro", "book/status"):
        page = BeautifulSoup((built_book / "html" / f"{doc}.html").read_text(), "html.parser")
        assert page.select("a[href='../custom-training-basics.pdf']"), f"{doc} does not link the PDF"
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^PDF := _build/html/custom-training-basics\.pdf$", makefile, re.M)


# --- Codespaces ---------------------------------------------------------------------------------


def test_the_dev_container_is_valid_runs_our_make_targets_and_leaves_binder_alone():
    config = ROOT / ".devcontainer" / "devcontainer.json"
    schema = ROOT / "tests" / "schemas" / "devContainer.base.schema.json"
    checked = subprocess.run(
        [str(bookbuild.VENV / "bin" / "check-jsonschema"), "--schemafile", str(schema), str(config)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    settings = json.loads(config.read_text())
    python = re.search(r"python:(\d+\.\d+)", settings["image"])[1]
    assert python in {"3.11", "3.12", "3.13"}, f"the image's Python {python} is not one the book supports"
    for key in ("onCreateCommand", "updateContentCommand"):
        target = settings[key].removeprefix("make ")
        dry = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True)
        assert dry.returncode == 0, f"{key}: make {target}: {dry.stderr}"
    assert not (ROOT / "Dockerfile").exists(), "a root Dockerfile would replace Binder's environment"
