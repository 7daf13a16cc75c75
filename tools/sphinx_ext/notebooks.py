"""Sphinx extension: notebooks to run elsewhere (Colab, a plain Jupyter), made from each chapter's
executed notebook when the site is built, and the page's buttons that offer them.

* ``_notebooks/<page>.ipynb``: no outputs; the MyST turned into Markdown that Colab and Jupyter
  render (glued numbers written in as the page shows them, equation, figure and exercise numbers
  and figure captions as on the page); the cells that only glue left out (tests/claims check that
  they only glue); and first, a cell that installs the book's package where it is missing.
* ``_notebooks/<page>-exercises.ipynb``: the same without the solutions, a cell to answer each
  exercise in, for teaching.

Both are added to the page's download menu. Colab opens only .ipynb files from GitHub: the Colab
button opens ``<page>.ipynb`` on the ``colab`` branch, which the workflow fills with _notebooks/
and the package (``make colab``); the install cell installs the package from that branch.
A MyST construct with no Markdown form here stops the build, so no page reaches Colab half-converted.
"""

import json
import re
from pathlib import Path

import nbformat
from docutils.nodes import make_id
from myst_nb.core.variables import format_plain_text
from sphinx.errors import ExtensionError
from sphinx_book_theme.header_buttons import get_repo_parts

BRANCH = "colab"
FOLDER = "_notebooks"
ABOUT = "About this site"  # the _toc.yml part whose pages are not chapters (tools/bookbuild.py)
INSTALL = """\
# Where the book's package is missing (in Colab, say), install it; TensorFlow stays as it is.
import importlib.util

if importlib.util.find_spec("training_basics") is None:
    %pip install --quiet "{requirement}"
"""
ANSWER = "<answer>"  # where an exercise ends: the exercises notebook gets a cell to answer in
LOCAL_LINK = re.compile(r'<a href="(?!https?:)[^"]*">(.*?)</a>', re.S)
ROLE = re.compile(r"\{(glue:text|eq|numref|ref)\}`([^`]*)`")
MYST = re.compile(r"\{[a-z:-]+\}`|^```\{|^\(.+\)=$|^:::", re.M)


def chapters(app):
    site_map = app.config.external_site_map
    about = {
        doc
        for tree in site_map[site_map.root.docname].subtrees
        if tree.caption == ABOUT
        for doc in tree.files()
    }
    return [doc for doc in site_map if doc not in about]


def requirement(app):
    _, org, repo, _ = get_repo_parts(app.config.html_context)  # set from _config.yml's repository.url
    return f"training-basics @ git+https://github.com/{org}/{repo}@{BRANCH}"


class Page:
    """A chapter's numbers as the site shows them, and its MyST written as Markdown."""

    def __init__(self, app, docname, notebook):
        self.doc, self.env = docname, app.env
        self.glued = {}
        for cell in notebook.cells:
            for output in cell.get("outputs", []):
                name = output.get("metadata", {}).get("scrapbook", {}).get("name")
                if name:
                    data = output["data"]
                    self.glued[name] = data.get(
                        "text/plain", data.get("application/papermill.record/text/plain")
                    )
        self.exercises = {}

    def number(self, kind, node_id, doc=None):
        try:
            return ".".join(map(str, self.env.toc_fignumbers[doc or self.doc][kind][node_id]))
        except KeyError:
            raise ExtensionError(f"{self.doc}: no {kind} number for {node_id!r}") from None

    def role(self, match):
        name, text = match.groups()
        if name == "glue:text":
            key, _, spec = text.partition(":")
            return format_plain_text(self.glued[key], spec)
        if name == "eq":
            doc, _ = self.env.domaindata["math"]["objects"][text]
            number = f"({self.number('displaymath', make_id('equation-' + text), doc)})"
            # The page links another chapter's equation; the notebook names the chapter.
            return number if doc == self.doc else f"{number} of *{self.env.titles[doc].astext()}*"
        title, label = re.fullmatch(r"(?:(.*?)\s*<)?([^<>]+)>?", " ".join(text.split()), re.S).groups()
        doc, node_id, section = self.env.domaindata["std"]["labels"][label]
        if name == "numref":
            return (title or "Fig. %s").replace("%s", self.number("figure", node_id, doc))
        return title or section

    def directive(self, name, argument, body):
        """The Markdown for a fenced directive, and whether it opens (True) or closes (False) a solution."""
        if name == "exercise":
            label = next(line.split(":", 2)[2].strip() for line in body if line.startswith(":label:"))
            self.exercises[label] = f"Exercise {self.number('exercise', label)} ({argument})"
            return [f"**{self.exercises[label]}**", ""] + self.content(body) + [ANSWER], None
        if name == "solution-start":
            return [f"**Solution to {self.exercises[argument]}**", ""], True
        if name == "solution-end":
            return [], False
        if name == "note":
            return ["> **Note**", ">"] + [f"> {line}".rstrip() for line in self.content(body)], None
        raise ExtensionError(
            f"{self.doc}: no Markdown form for the {{{name}}} directive (tools/sphinx_ext/notebooks.py)"
        )

    @staticmethod
    def content(body):
        lines = [line for line in body if not re.match(r":[\w-]+:", line)]
        while lines and not lines[0].strip():
            lines.pop(0)
        return lines

    def markdown(self, text, in_solution, solutions):
        """``text`` as Markdown, and whether a solution is still open at its end."""
        out, lines = [], iter(text.splitlines())
        for line in lines:
            if fence := re.match(r"```\{([\w-]+)\}\s*(.*)$", line):
                body = []
                for inner in lines:
                    if inner == "```":
                        break
                    body.append(inner)
                written, opens = self.directive(fence[1], fence[2].strip(), body)
                if opens is not None:
                    in_solution = opens
                if solutions or not (in_solution or opens is False):
                    out += written
            elif in_solution and not solutions or re.fullmatch(r"\(.+\)=", line):
                continue
            elif math_label := re.fullmatch(r"\$\$ \((.+)\)", line):
                out += [f"\\tag{{{self.number('displaymath', make_id('equation-' + math_label[1]))}}}", "$$"]
            else:
                out.append(line)
        markdown = ROLE.sub(self.role, "\n".join(out)).strip()  # a role may run over two lines
        markdown = LOCAL_LINK.sub(r"\1", markdown)  # a link into the site: its text (no site in Colab)
        if leftover := MYST.search(markdown):
            raise ExtensionError(
                f"{self.doc}: MyST left in its notebook: {leftover[0]!r} (tools/sphinx_ext/notebooks.py)"
            )
        return markdown, in_solution


def reader_notebook(app, docname, executed, solutions):
    """The notebook to run elsewhere, made from the page's executed notebook: first, the install cell."""
    page, in_solution = Page(app, docname, executed), False
    cells = [nbformat.v4.new_code_cell(INSTALL.format(requirement=requirement(app)).strip())]
    for cell in executed.cells:
        if cell.cell_type == "markdown":
            text, in_solution = page.markdown(cell.source, in_solution, solutions)
            for i, part in enumerate(text.split(ANSWER)):
                if i and not solutions:
                    cells.append(nbformat.v4.new_code_cell("# Your answer"))
                if part.strip():
                    cells.append(nbformat.v4.new_markdown_cell(part.strip()))
        elif "remove-cell" not in cell.metadata.get("tags", []) and (solutions or not in_solution):
            source = "\n".join(
                line for line in cell.source.splitlines() if line != "from myst_nb import glue"
            )
            cells.append(nbformat.v4.new_code_cell(source))
            if figure := cell.metadata.get("mystnb", {}).get("figure"):  # on the page, under the figure
                number = page.number("figure", figure["name"])
                caption, _ = page.markdown(" ".join(figure["caption"].split()), False, True)
                cells.append(nbformat.v4.new_markdown_cell(f"*Fig. {number}: {caption}*"))
    for i, cell in enumerate(cells):
        cell.id = f"cell-{i}"  # from the position: two builds, one file
    metadata = {k: executed.metadata[k] for k in ("kernelspec", "language_info") if k in executed.metadata}
    return nbformat.v4.new_notebook(cells=cells, metadata=metadata)


def write_notebooks(app, exception):
    if exception is not None or app.builder.name != "html":  # not for the PDF's single page
        return
    out = Path(app.outdir)
    for docname in chapters(app):
        executed = out / "_sources" / f"{docname}.ipynb"
        if not executed.exists():
            continue
        notebook = nbformat.read(str(executed), as_version=4)
        for suffix, solutions in (("", True), ("-exercises", False)):
            target = out / FOLDER / f"{docname}{suffix}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            written = reader_notebook(app, docname, notebook, solutions)
            target.write_text(json.dumps(written, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def add_buttons(app, pagename, templatename, context, doctree):
    """The download menu offers both notebooks; the Colab button opens the first on the colab branch."""
    groups = {g.get("label"): g for g in context.get("header_buttons", [])}
    launch = groups.get("launch-buttons", {"buttons": []})["buttons"]
    if pagename not in chapters(app) or not context.get("ipynb_source"):
        launch[:] = [b for b in launch if b.get("text") != "Colab"]  # nothing for Colab to open
        return
    pathto = context["pathto"]
    base = f"{pathto(FOLDER, 1)}/{pagename}"
    groups["download-buttons"]["buttons"][1:1] = [
        {
            "type": "link",
            "url": f"{base}.ipynb",
            "text": ".ipynb, no outputs",
            "icon": "fas fa-code",
            "tooltip": "Download the notebook without outputs",
            "label": "download-blank-notebook-button",
        },
        {
            "type": "link",
            "url": f"{base}-exercises.ipynb",
            "text": ".ipynb, exercises",
            "icon": "fas fa-code",
            "tooltip": "Download the notebook without solutions",
            "label": "download-exercises-notebook-button",
        },
    ]
    _, org, repo, _ = get_repo_parts(context)
    for button in launch:
        if button.get("text") == "Colab":
            colab = app.config.html_theme_options["launch_buttons"]["colab_url"].rstrip("/")
            button["url"] = f"{colab}/github/{org}/{repo}/blob/{BRANCH}/{pagename}.ipynb"


def setup(app):
    app.connect("html-page-context", add_buttons, priority=502)  # after sphinx-book-theme's (501)
    app.connect("build-finished", write_notebooks, priority=600)  # after execution.py's export (500)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
