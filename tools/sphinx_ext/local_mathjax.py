"""Sphinx extension: MathJax served by the site itself, so the math renders with no network.

Loaded from _config.yml (``sphinx: local_extensions: {local_mathjax: tools/sphinx_ext}``). It takes
MathJax 3 from the pinned PyPI package ``django-static-mathjax`` (a plain copy of MathJax's
files in a module named ``mathjax``; nothing of Django is imported or needed), copies into the
site's ``_static/mathjax/`` only what a page can ask for, and points Sphinx's ``mathjax_path``
at it:

* ``tex-chtml.js``: TeX input, CommonHTML output, the context menu and assistive MathML in one
  file (the pages hold TeX only: MyST writes ``\\(..\\)`` and ``\\[..\\]``, never MathML);
* the CommonHTML fonts (``output/chtml/fonts/woff-v2``), fetched by the browser as glyphs are
  needed;
* the TeX extensions that ``autoload`` fetches on the first use of their macros
  (``\\boldsymbol``, ``\\cancel``, ...);
* the accessibility components that the menu loads when a reader switches them on (explorer,
  semantic enrichment and the MathML input it runs on, speech rule engine with its English and
  Nemeth maps).

tests/test_browser.py checks, with every request off 127.0.0.1 blocked, that all of it loads.

MathJax's own license goes with it. Every path written into the site is relative.
"""

import shutil
from pathlib import Path

import mathjax  # the module installed by django-static-mathjax

TARGET = "mathjax"  # under the site's _static/
ENTRY = "tex-chtml.js"
FILES = [
    ENTRY,
    "output/chtml/fonts/woff-v2/*.woff",
    "input/tex/extensions/*.js",
    "a11y/*.js",
    "input/mml.js",  # semantic enrichment (explorer, speech) reads the MathML
    "sre/mathmaps/base.json",
    "sre/mathmaps/en.json",
    "sre/mathmaps/nemeth.json",
]


def source_dir():
    """MathJax's es5 folder (the browser components) inside the installed package."""
    root = Path(mathjax.__file__).parent / "static" / "mathjax"
    es5 = root / "es5"
    if not (es5 / ENTRY).is_file():
        raise RuntimeError(f"no MathJax at {es5}: is django-static-mathjax installed?")
    return es5


def files(es5=None):
    """The files to copy, relative to the es5 folder, sorted."""
    es5 = es5 or source_dir()
    found = set()
    for pattern in FILES:
        matches = [p for p in es5.glob(pattern) if p.is_file()]
        if not matches:
            raise RuntimeError(f"MathJax file(s) {pattern!r} not found in {es5}")
        found.update(p.relative_to(es5).as_posix() for p in matches)
    return sorted(found)


def set_mathjax_path(app, config):
    # Relative to _static/: Sphinx writes it relative to each page, with a checksum.
    config.mathjax_path = f"{TARGET}/{ENTRY}"


def copy_mathjax(app):
    if app.builder.format != "html":
        return
    es5 = source_dir()
    target = Path(app.outdir) / "_static" / TARGET
    if target.exists():
        shutil.rmtree(target)
    for rel in files(es5):
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(es5 / rel, dest)
    shutil.copyfile(es5.parent / "LICENSE", target / "LICENSE")


def setup(app):
    app.setup_extension("sphinx.ext.mathjax")
    app.connect("config-inited", set_mathjax_path)
    # Before any page is written, so Sphinx finds the file and adds its checksum (?v=...).
    app.connect("builder-inited", copy_mathjax)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
