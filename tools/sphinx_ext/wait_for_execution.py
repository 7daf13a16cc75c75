"""Sphinx extension: read each page as soon as tools/build.py has executed it, not before.

tools/build.py starts Sphinx at the same time as it starts executing the pages, so that
Sphinx's own start-up and its reading of the first pages overlap the execution of the
last ones. It tells this extension, through the environment variable ``READY_DIR_ENV``, a
folder holding

* ``order.json``: the pages in the order they are executed (Sphinx reads them in that
  order, instead of alphabetically, so it does not wait on a page executed last while
  pages executed first are ready);
* ``<docname>.ready`` (``book/intro.ready``, say): written once that page's outputs are in
  the execution cache;
* ``all.ready``: written once every page the build executes is done.

Before a page is read (``source-read``, which comes before myst-nb looks the page up in
the cache), the extension waits for its marker, so myst-nb always finds the page cached
and never executes it itself. A page that has no marker once ``all.ready`` exists was not
executed by the build, and Sphinx would execute it on its own: that stops the build with
an error instead. If the build that started Sphinx goes away, Sphinx stops instead of
waiting for ever. ``sphinx.started``, written when the builder starts, tells the build
that this extension was loaded.

Without the environment variable (a plain ``jupyter-book build``) the extension does
nothing.
"""

import json
import os
import time
from pathlib import Path

from sphinx.errors import ExtensionError

READY_DIR_ENV = "BOOK_READY_DIR"  # set by tools/build.py
POLL_SECONDS = 0.05
BUILD_PID = os.getppid()  # the process that started Sphinx: tools/build.py


def _ready_dir():
    return os.environ.get(READY_DIR_ENV)


def read_in_execution_order(app, env, docnames):
    ready_dir = _ready_dir()
    if not ready_dir:
        return
    order = {name: i for i, name in enumerate(json.loads((Path(ready_dir) / "order.json").read_text()))}
    docnames.sort(key=lambda name: order.get(name, len(order)))


def wait_until_executed(app, docname, source):
    ready_dir = _ready_dir()
    if not ready_dir:
        return
    page, everything = Path(ready_dir) / f"{docname}.ready", Path(ready_dir) / "all.ready"
    while not page.exists():
        if everything.exists():
            raise ExtensionError(f"{docname} was not executed by tools/build.py; Sphinx would execute it itself")
        if os.getppid() != BUILD_PID:
            raise ExtensionError(f"the build that started Sphinx has gone; {docname} was never executed")
        time.sleep(POLL_SECONDS)


def announce(app):
    ready_dir = _ready_dir()
    if ready_dir:
        (Path(ready_dir) / "sphinx.started").touch()


def setup(app):
    app.connect("builder-inited", announce)
    app.connect("env-before-read-docs", read_in_execution_order)
    app.connect("source-read", wait_until_executed)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
