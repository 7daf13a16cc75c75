"""JupyterLab driven as a reader drives it, in headless Chromium: shared by test_binder.py and test_lab.py.

A server is started as a subprocess (in its own process group, always ended), and a chapter is opened
at the URL the launch button opens (`lab/tree/book/NAME.md`), run with the Run menu's "Run All Cells",
and read back from what the page shows: the tab, the cells, their prompts and their outputs.
(Not named jupyterlab.py: that would shadow the jupyterlab package on the tests' import path.)
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import bookbuild
import jupytext
import pytest

CHROMIUM = bookbuild.CHROMIUM
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SERVER_START_S = 120  # a cold JupyterLab start on a busy 2-core machine
OPEN_S = 90  # the page, the extension, the notebook's cells
CHAPTER_S = 600  # every cell of one chapter, TensorFlow's import included

# Where the page stands, read as a reader sees it. `name` is the file's name (the tab's label).
READ_NOTEBOOK = """(name) => {
  const tab = [...document.querySelectorAll('#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current')]
    .find((t) => t.textContent.trim() === name);
  const widget = tab && document.getElementById(tab.dataset.id);
  if (!widget) return null;
  const cells = [...widget.querySelectorAll('.jp-Cell')];
  const indicator = widget.querySelector('.jp-Notebook-ExecutionIndicator');
  const kernelName = widget.querySelector('.jp-Toolbar-kernelName');
  return {
    notebook: widget.classList.contains('jp-NotebookPanel'),
    text_editor: !!widget.querySelector('.jp-FileEditor'),
    cells: cells.length,
    // Idle before a kernel is connected too: "No Kernel" (then initializing, connecting) tells them apart.
    kernel: indicator && kernelName && kernelName.getAttribute('aria-label') !== 'No Kernel'
      ? indicator.dataset.status : null,
    code: cells.filter((c) => c.classList.contains('jp-CodeCell')).map((c) => ({
      prompt: c.querySelector('.jp-InputPrompt').textContent.trim(),
      outputs: [...c.querySelectorAll('.jp-OutputArea-output')].map((o) => ({
        mime: o.dataset.mimeType || '', text: o.textContent.slice(-3000),
        images: [...o.querySelectorAll('img')].map((i) => i.complete && i.naturalWidth > 0),
      })),
    })),
  };
}"""

# Done once the kernel is idle, nothing is queued, and every code cell has run or one failed.
RUN_FINISHED = """([name, count]) => {
  const read = (""" + READ_NOTEBOOK + """)(name);
  if (!read || read.kernel !== 'idle') return false;
  const prompts = read.code.map((c) => c.prompt);
  if (prompts.includes('[*]:')) return false;
  const failed = read.code.some((c) => c.outputs.some((o) => o.mime === 'application/vnd.jupyter.stderr'));
  return failed || prompts.filter((p) => /^\\[\\d+\\]:$/.test(p)).length === count;
}"""


def skip_without_chromium():
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"Chromium not found at {CHROMIUM}: install it with `apt-get install chromium` "
                    "(Debian/Ubuntu), or point $CHROMIUM at a Chromium binary")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("Playwright for Python is missing: "
                    "pip install -r requirements-dev.txt -c constraints.txt")


@contextlib.contextmanager
def chromium(extra_args=()):
    """Headless Chromium, closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args],
                                    timeout=60_000)
        try:
            yield browser
        finally:
            browser.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def isolated_jupyter_dirs(home):
    """Jupyter's per-user folders in ``home``: no kernels, settings or workspaces from this machine's user."""
    return {
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "lab-user-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "lab-workspaces"),
    }


def server_args(port, token):
    """What `jupyter lab` needs to serve on 127.0.0.1:port with a token and no browser of its own."""
    args = ["--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}"]
    if os.geteuid() == 0:
        args.append("--allow-root")  # containers often run tests as root; Binder runs as jovyan
    return args


class Lab:
    """A JupyterLab server started by ``command``: ``with Lab(...)`` waits for it and always ends it."""

    def __init__(self, command, *, port, token, root, cwd, env, log):
        """``root``: the folder the server serves (its /lab/tree/); ``cwd``: where ``command`` runs."""
        self.command, self.root, self.cwd, self.env, self.log = command, Path(root), cwd, env, Path(log)
        self.url, self.token = f"http://127.0.0.1:{port}", token
        self.process = None

    def __enter__(self):
        with open(self.log, "w") as out:
            # Its own process group: `make lab` runs jupyter as a child, and both must end.
            self.process = subprocess.Popen(self.command, cwd=self.cwd, env=self.env, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_until_it_answers()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_until_it_answers(self):
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"{self.command[0]} exited {self.process.returncode}:\n{self.log_tail()}")
            try:
                self.request("GET", "/api/status", timeout=5)
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer within {SERVER_START_S} s:\n{self.log_tail()}")
                time.sleep(0.5)  # polling interval, not a proof: the loop ends on an answer

    def __exit__(self, *exc):
        """SIGTERM to the whole group (the server shuts its kernels down on it), SIGKILL if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def request(self, method, path, body=None, timeout=60):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"token {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as response:
            text = response.read().decode()
        return json.loads(text) if text else None

    def log_tail(self):
        return self.log.read_text(errors="replace")[-6000:]

    def forget_readers(self):
        """Shut every kernel down and drop the saved layout, so that the next chapter opens alone."""
        for session in self.request("GET", "/api/sessions"):
            self.request("DELETE", f"/api/sessions/{session['id']}")
        for workspace in self.request("GET", "/lab/api/workspaces")["workspaces"]["ids"]:
            self.request("DELETE", f"/lab/api/workspaces/{workspace}")


def expected_cells(source):
    """The chapter as jupytext reads it: cell count, code cell count, indices of the figure cells."""
    cells = jupytext.read(source).cells
    code = [c for c in cells if c.cell_type == "code"]
    figures = [i for i, c in enumerate(code) if "figure" in c.metadata.get("mystnb", {})]
    return len(cells), len(code), figures


def open_and_run_all(browser, lab, source, screenshot=None):
    """Open the chapter ``source`` at lab/tree/ as the launch button does, check that it shows as a
    notebook of the chapter's cells, run all cells from the Run menu, and return what the page shows.
    Afterwards the server forgets it (kernels, layout), so that the next chapter opens alone."""
    path = source.relative_to(lab.root).as_posix()
    n_cells, n_code, _ = expected_cells(source)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(OPEN_S * 1000)
    try:
        page.goto(f"{lab.url}/lab/tree/{path}?token={lab.token}")
        name = source.name
        # The tab is open once it shows; its cells arrive once jupytext has parsed the file.
        page.wait_for_function(f"([name, n]) => {{ const r = ({READ_NOTEBOOK})(name); "
                               "return r && (!r.notebook || r.cells === n); }", arg=[name, n_cells])
        opened = page.evaluate(READ_NOTEBOOK, name)
        assert opened["notebook"] and not opened["text_editor"], f"{path} opened as text, not as a notebook"
        shown = len(opened["code"])
        assert shown == n_code, f"{path}: {shown} code cells shown, jupytext reads {n_code}"
        # As a reader waits for "Python 3 (ipykernel) | Idle": cells run before then are dropped.
        page.wait_for_function(f"(name) => ({READ_NOTEBOOK})(name).kernel === 'idle'", arg=name)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        page.wait_for_function(f"(name) => ({READ_NOTEBOOK})(name).code.some((c) => c.prompt !== '[ ]:')",
                               arg=name)  # Run All Cells started something
        page.wait_for_function(RUN_FINISHED, arg=[name, n_code], timeout=CHAPTER_S * 1000)
        return page.evaluate(READ_NOTEBOOK, name)
    finally:
        if screenshot:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(screenshot), full_page=True)
        context.close()
        lab.forget_readers()


def problems(source, ran):
    """What a reader would see go wrong in the notebook ``ran`` (from open_and_run_all) of ``source``."""
    _, n_code, figures = expected_cells(source)
    found = []
    for number, cell in enumerate(ran["code"], 1):
        for output in cell["outputs"]:
            if output["mime"] == "application/vnd.jupyter.stderr":
                found.append(f"code cell {number}: error or stderr output:\n{output['text']}")
    not_run = [n for n, c in enumerate(ran["code"], 1) if not c["prompt"].strip("[]:").isdigit()]
    if not_run:
        found.append(f"code cells not run: {not_run}")
    for index in figures:
        outputs = ran["code"][index]["outputs"]
        images = [ok for o in outputs if o["mime"].startswith("image/") for ok in o["images"]]
        if not (images and all(images)):
            found.append(f"code cell {index + 1} is a figure cell but shows no figure (images: {images})")
    return found
