"""Binder, as Binder runs it: the files repo2docker reads, then the same steps with real components.

repo2docker (mybinder.org) builds the image from the repository root: Python from runtime.txt,
`pip install -r requirements.txt`, then `./postBuild`; it then starts JupyterLab in the repository
and the launch button opens `lab/tree/book/NAME.md`. Here each step runs for real: a fresh virtual
environment made from requirements.txt alone, postBuild run in it, a JupyterLab server from that
environment, every chapter opened through the server's contents API (jupytext) and executed cell by
cell in a kernel the server started, and the launch links read from the built pages.
"""

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import jupytext
import pytest
import websocket
import yaml
from bs4 import BeautifulSoup

from conftest import ROOT, build


pytestmark = pytest.mark.binder

CHAPTERS = build.pages()  # every page of the book, appendices included
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
# Per cell, as the build allows (execute.timeout in _config.yml).
CELL_TIMEOUT = CONFIG.get("execute", {}).get("timeout", 300)
# Variables the build or an earlier test may have set in this process; Binder's kernels start without them.
NOT_ON_BINDER = ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
# Files that make repo2docker pick another buildpack, or (binder/, .binder/) ignore the root's files.
OTHER_BUILDPACKS = (
    "binder", ".binder", "Dockerfile", "environment.yml", "Pipfile", "Pipfile.lock", "poetry.lock",
    "Project.toml", "REQUIRE", "install.R", "DESCRIPTION", "default.nix", "setup.py",
)


def bin_(venv, name):
    return venv / "bin" / name


def binder_environ(venv, **extra):
    """This process's environment as a Binder image has it: the environment's bin/ first, no TF settings."""
    env = {k: v for k, v in os.environ.items() if k not in NOT_ON_BINDER}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["NB_PYTHON_PREFIX"] = str(venv)  # what repo2docker sets; postBuild may use it
    env.update(extra)
    return env


def run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} exited {result.returncode}:\n"
        f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    return result


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[normalize(name)] = version
    return pins


# ---------------------------------------------------------------- the files repo2docker reads


def test_runtime_txt_pins_the_python_the_book_is_built_with():
    runtime = (ROOT / "runtime.txt").read_text().strip()
    assert runtime == f"python-{sys.version_info.major}.{sys.version_info.minor}" == "python-3.11"
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11,<3.12"


def test_repo2docker_reads_the_root_files_and_nothing_else():
    present = [name for name in OTHER_BUILDPACKS if (ROOT / name).exists()]
    assert not present, f"repo2docker would not use requirements.txt, runtime.txt, postBuild: {present}"
    for name in ("requirements.txt", "runtime.txt", "postBuild"):
        assert (ROOT / name).is_file(), name
    assert os.access(ROOT / "postBuild", os.X_OK), "repo2docker runs ./postBuild: it must be executable"
    post_build = (ROOT / "postBuild").read_text()
    assert post_build.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in post_build


def test_requirements_txt_installs_the_locked_set_and_the_package_editable():
    lines = [line.split("#", 1)[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    lines = [line for line in lines if line]
    # repo2docker runs `pip install -r requirements.txt` only; the lock must come from inside the file.
    assert "-c constraints.txt" in lines
    assert "-e ." in lines
    pins = locked_versions()
    for line in lines:
        if "==" in line:
            name, version = line.split("==")
            locked = pins[normalize(name)]
            assert locked == version, f"requirements.txt pins {line}, constraints.txt {locked}"


# ---------------------------------------------------------------- the environment, as Binder builds it


@pytest.fixture(scope="module")
def binder_venv(tmp_path_factory):
    """A fresh virtual environment with requirements.txt installed the way repo2docker installs it."""
    venv = tmp_path_factory.mktemp("binder") / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    # repo2docker: `${KERNEL_PYTHON_PREFIX}/bin/pip install --no-cache-dir -r requirements.txt` in the
    # repository root (here with pip's cache, for speed; what gets installed is the same).
    run(
        [str(bin_(venv, "python")), "-m", "pip", "install", "--disable-pip-version-check",
         "-r", "requirements.txt"],
        cwd=ROOT, env=binder_environ(venv),
    )
    return venv


@pytest.fixture(scope="module")
def post_built(binder_venv):
    """postBuild as repo2docker runs it: ./postBuild in the repository root, the venv's bin/ on PATH."""
    result = run(["./postBuild"], cwd=ROOT, env=binder_environ(binder_venv))
    return binder_venv, result


def test_the_environment_is_exactly_the_lock_with_the_package_editable(binder_venv):
    python = str(bin_(binder_venv, "python"))
    version = run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).stdout.strip()
    assert f"python-{version}" == (ROOT / "runtime.txt").read_text().strip()

    pip_list = [python, "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"]
    installed = json.loads(run(pip_list).stdout)
    pins = locked_versions()
    unlocked = {normalize(p["name"]): p["version"] for p in installed}.keys() - pins.keys()
    # pip freeze (make lock) leaves out pip, setuptools and wheel; the package itself is the repository.
    assert unlocked <= {"pip", "setuptools", "wheel", "training-basics"}, f"not in the lock: {unlocked}"
    wrong = {
        p["name"]: (p["version"], pins[normalize(p["name"])])
        for p in installed if normalize(p["name"]) in pins and pins[normalize(p["name"])] != p["version"]
    }
    assert not wrong, f"installed (version, locked): {wrong}"

    editable = json.loads(run(pip_list + ["--editable"]).stdout)
    editable = [(p["name"], Path(p["editable_project_location"])) for p in editable]
    assert editable == [("training-basics", ROOT)]
    where = run([python, "-c", "import training_basics; print(training_basics.__file__)"], cwd="/")
    where = where.stdout.strip()
    assert Path(where) == ROOT / "code" / "training_basics" / "__init__.py"


def jupytext_factory(venv):
    """The document-widget factory name and file types in the installed jupytext JupyterLab extension."""
    static = venv / "share" / "jupyter" / "labextensions" / "jupyterlab-jupytext" / "static"
    source = "\n".join(p.read_text() for p in static.glob("*.js"))
    factory = re.search(r'\.FACTORY="([^"]+)"', source)
    file_types = re.search(r"\.FILE_TYPES=\[([^\]]*)\]", source)
    assert factory and file_types, f"no FACTORY/FILE_TYPES in {static}"
    return factory.group(1), re.findall(r'"([^"]+)"', file_types.group(1))


def test_post_build_makes_jupytext_the_default_viewer_where_jupyterlab_reads_it(post_built):
    venv, _ = post_built
    paths = run([str(bin_(venv, "jupyter")), "lab", "path"], env=binder_environ(venv)).stdout
    app_dir = Path(re.search(r"^Application directory:\s*(.+)$", paths, re.M).group(1).strip())
    assert app_dir == venv / "share" / "jupyter" / "lab"  # ${NB_PYTHON_PREFIX}/share/jupyter/lab on Binder
    overrides = json.loads((app_dir / "settings" / "overrides.json").read_text())
    viewers = overrides["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]

    factory, file_types = jupytext_factory(venv)
    assert factory == "Jupytext Notebook"
    assert viewers == {"markdown": factory, "myst": factory}
    assert set(viewers) <= set(file_types)


# ---------------------------------------------------------------- the server, as Binder starts it


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, url, token, process, log):
        self.url, self.token, self.process, self.log = url, token, process, log

    def request(self, method, path, body=None, timeout=60):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as response:
            text = response.read().decode()
        return json.loads(text) if text else None

    def log_tail(self):
        return self.log.read_text(errors="replace")[-6000:]


@pytest.fixture(scope="module")
def server(post_built, tmp_path_factory):
    """JupyterLab from the Binder environment, serving the repository root on a free local port."""
    venv, _ = post_built
    home = tmp_path_factory.mktemp("jupyter-home")
    env = binder_environ(
        venv,
        # Only the environment's own Jupyter files: no user-level kernels or settings from this machine.
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "lab-user-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "lab-workspaces"),
    )
    port, token = free_port(), secrets.token_hex(16)
    command = [
        str(bin_(venv, "jupyter")), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")  # containers often run tests as root; Binder runs as jovyan
    log = home / "server.log"
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    srv = Server(f"http://127.0.0.1:{port}", token, process, log)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"jupyter lab exited {process.returncode}:\n{srv.log_tail()}")
            try:
                srv.request("GET", "/api/status", timeout=5)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not answer within 120 s:\n{srv.log_tail()}")
                time.sleep(0.5)
        yield srv
    finally:
        process.send_signal(signal.SIGTERM)  # the server shuts its kernels down on SIGTERM
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_server_is_binders_jupyterlab_with_jupytext(server):
    extensions = server.log.read_text()
    assert "jupyterlab_jupytext | extension was successfully loaded" in extensions, server.log_tail()
    settings = server.request("GET", "/lab/api/settings/@jupyterlab/docmanager-extension:plugin")
    # overrides.json changes the schema's defaults, which is what a user without settings gets.
    default = settings["schema"]["properties"]["defaultViewers"]["default"]
    assert default.get("markdown") == "Jupytext Notebook", default
    assert default.get("myst") == "Jupytext Notebook", default
    assert "defaultViewers" not in settings["settings"], "a user setting would hide what overrides.json does"


def decode(frame):
    """A kernel message from a websocket frame: JSON text, or jupyter_server's binary form (with buffers)."""
    if isinstance(frame, str):
        return json.loads(frame)
    count = int.from_bytes(frame[:4], "big")
    offsets = [int.from_bytes(frame[4 * i:4 * i + 4], "big") for i in range(1, count + 1)] + [len(frame)]
    return json.loads(frame[offsets[0]:offsets[1]])


class Kernel:
    """A kernel started by the server for a notebook path, driven over the server's websocket."""

    def __init__(self, server, path, kernel_name):
        self.server = server
        session = server.request("POST", "/api/sessions", {
            "path": path, "name": Path(path).name, "type": "notebook", "kernel": {"name": kernel_name},
        })
        self.session_id, self.kernel_id = session["id"], session["kernel"]["id"]
        self.client_session = uuid.uuid4().hex
        ws_url = server.url.replace("http://", "ws://") + (
            f"/api/kernels/{self.kernel_id}/channels?session_id={self.client_session}"
        )
        self.ws = websocket.create_connection(
            ws_url, header=[f"Authorization: token {server.token}"], timeout=CELL_TIMEOUT,
        )

    def execute(self, code):
        """Run code; return (reply status, iopub messages for it, stderr text seen on any channel)."""
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {
                "msg_id": msg_id, "msg_type": "execute_request", "username": "binder-test",
                "session": self.client_session, "version": "5.3",
            },
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {
                "code": code, "silent": False, "store_history": True, "user_expressions": {},
                "allow_stdin": False, "stop_on_error": True,
            },
        }))
        outputs, stderr, reply, idle = [], [], None, False
        deadline = time.monotonic() + CELL_TIMEOUT
        while reply is None or not idle:
            self.ws.settimeout(max(1.0, deadline - time.monotonic()))
            msg = decode(self.ws.recv())
            msg_type = msg["header"]["msg_type"]
            if msg_type == "stream" and msg["content"]["name"] == "stderr":
                stderr.append(msg["content"]["text"])  # from this cell or not: Binder's reader would see it
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["channel"] == "shell" and msg_type == "execute_reply":
                reply = msg["content"]
            elif msg["channel"] == "iopub":
                if msg_type == "status" and msg["content"]["execution_state"] == "idle":
                    idle = True
                elif msg_type in {"stream", "display_data", "execute_result", "error", "update_display_data"}:
                    outputs.append({"type": msg_type, **msg["content"]})
        return reply["status"], outputs, "".join(stderr)

    def close(self):
        self.ws.close()
        self.server.request("DELETE", f"/api/sessions/{self.session_id}")  # shuts the kernel down


def text_of(output):
    if output["type"] == "stream":
        return output["text"]
    if output["type"] == "error":
        return "\n".join(output.get("traceback", [])) or f"{output['ename']}: {output['evalue']}"
    return output.get("data", {}).get("text/plain", "")


def test_a_kernel_runs_in_book_with_the_binder_environment_and_package(server, binder_venv):
    kernel = Kernel(server, "book/intro.md", "python3")
    try:
        status, outputs, stderr = kernel.execute(
            "import os, sys\n"
            "print(os.getcwd()); print(sys.prefix); print('TF_CPP_MIN_LOG_LEVEL' in os.environ)\n"
            "import training_basics\n"
            "print(training_basics.__file__); print(os.environ['TF_CPP_MIN_LOG_LEVEL'])"
        )
    finally:
        kernel.close()
    assert status == "ok" and not stderr, (outputs, stderr)
    printed = "".join(text_of(o) for o in outputs).split("\n")
    # Working directory book/, as the build (run_in_temp: false); no TF setting until the package sets it.
    assert printed[:5] == [
        str(ROOT / "book"), str(binder_venv), "False",
        str(ROOT / "code" / "training_basics" / "__init__.py"), "3",
    ], printed


@pytest.mark.parametrize("source", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_opens_as_a_notebook_and_runs_cleanly(server, source):
    path = source.relative_to(ROOT).as_posix()
    model = server.request("GET", f"/api/contents/{urllib.parse.quote(path)}?type=notebook&content=1")
    assert model["type"] == "notebook" and model["format"] == "json", (model["type"], model["format"])
    notebook = model["content"]
    assert notebook["metadata"]["jupytext"]["text_representation"]["format_name"] == "myst"
    code = [c["source"] for c in notebook["cells"] if c["cell_type"] == "code"]
    assert code, f"{path}: the server found no code cells (opened as text, not through jupytext?)"
    assert code == [c.source for c in jupytext.read(source).cells if c.cell_type == "code"]

    kernel = Kernel(server, path, notebook["metadata"]["kernelspec"]["name"])
    failures = []
    try:
        for number, cell in enumerate(code, 1):
            status, outputs, stderr = kernel.execute(cell)
            errors = [text_of(o) for o in outputs if o["type"] == "error"]
            if status != "ok" or errors or stderr:
                failures.append(
                    f"cell {number} ({status}):\n{cell}\n--- error:\n{''.join(errors)}\n--- stderr:\n{stderr}"
                )
                break  # as a reader's "Run all" stops at the first error
    finally:
        kernel.close()
    assert not failures, f"{path} on Binder:\n" + "\n".join(failures)[-6000:]


# ---------------------------------------------------------------- the launch buttons in the built site


def binder_links(built_book, source):
    html = (built_book / "html" / source.relative_to(ROOT).with_suffix(".html")).read_text()
    hub = CONFIG["launch_buttons"]["binderhub_url"].rstrip("/")
    return [a["href"] for a in BeautifulSoup(html, "html.parser").find_all("a", href=True)
            if a["href"].startswith(hub + "/v2/")]


@pytest.mark.book
@pytest.mark.parametrize("source", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_the_binder_button_launches_this_chapter_from_this_repository(built_book, source):
    links = binder_links(built_book, source)
    assert len(links) == 1, f"{source.name}: Binder links {links}"
    url = urllib.parse.urlsplit(links[0])
    repo = urllib.parse.urlsplit(CONFIG["repository"]["url"])
    assert repo.netloc == "github.com"
    owner_repo = repo.path.strip("/").removesuffix(".git")
    assert CONFIG["repository"]["branch"] == "main"
    assert url.path == f"/v2/gh/{owner_repo}/main"
    path = source.relative_to(ROOT).as_posix()
    assert urllib.parse.parse_qs(url.query) == {"urlpath": [f"lab/tree/{path}"]}
    assert CONFIG["launch_buttons"]["notebook_interface"] == "jupyterlab"
