"""Binder, as Binder runs it and as a reader uses it: the files repo2docker reads, then each step for real.

repo2docker (mybinder.org) builds the image from the repository root: Python from runtime.txt,
`pip install -r requirements.txt`, then `./postBuild`; it then starts JupyterLab in the repository,
and the launch button opens `lab/tree/book/NAME.md`. Here: a fresh virtual environment made from
requirements.txt alone, resolved by pip (with the Python running the tests, not runtime.txt's), shown to
be exactly the lock; then the lock's environment (make's .venv), postBuild run in it, a JupyterLab
server from it on 127.0.0.1 with a token, and headless Chromium as the reader: two chapters open at the
launch URL as notebooks (not as text), run with "Run All Cells", show no error or stderr output, and show
their figures. The launch links in the built pages are checked
too. tests/test_lab.py drives `make lab` the same way (tests/lab_driver.py).

Every other page runs on Binder by composition, each half tested: JupyterLab reads a page with
jupytext, and jupytext gives the same code cells as myst-nb's reader, whose cells the build executes
in this environment (tests/test_book.py); the environment Binder builds is exactly the lock (here).
"""

import json
import os
import re
import secrets
import subprocess
import sys
import tomllib
import urllib.parse
from pathlib import Path

import lab_driver
import pytest
import yaml
from bs4 import BeautifulSoup
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from conftest import ROOT, bookbuild

pytestmark = pytest.mark.binder

CHAPTERS = bookbuild.pages()  # every page of the book, appendices included
# Run in JupyterLab: the first page (what a reader opens first) and the Part I chapter with most figures.
RUN_IN_LAB = [CHAPTERS[0], ROOT / "book" / "training-loop.md"]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
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


def run(command, timeout=1200, **kwargs):
    """Run ``command`` (bounded: pip installing TensorFlow is the slowest, a few minutes); it must succeed."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} exited {result.returncode}:\n"
        f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    return result


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions():
    """{name: version} of constraints.txt for this Python and platform (the lock is universal: markers)."""
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate():
                pins[normalize(requirement.name)] = str(requirement.specifier).removeprefix("==")
    return pins


def requires_python():
    return SpecifierSet(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"])


# ---------------------------------------------------------------- the files repo2docker reads


def test_runtime_txt_pins_a_python_the_package_and_the_lock_support():
    runtime = (ROOT / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+", runtime), f"runtime.txt says {runtime!r}, not python-3.X"
    assert runtime.removeprefix("python-") in requires_python(), f"{runtime} is outside requires-python"


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
def resolved(tmp_path_factory):
    """What repo2docker's `pip install -r requirements.txt` installs, in pip's own words: pip's resolution
    in a fresh virtual environment, reported with --dry-run (the same resolver; nothing is installed)."""
    root = tmp_path_factory.mktemp("binder")
    venv = root / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    report = root / "pip-report.json"
    run(
        [str(bin_(venv, "python")), "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
         "--dry-run", "--ignore-installed", "--report", str(report), "-r", "requirements.txt"],
        cwd=ROOT, env=binder_environ(venv),
    )
    return json.loads(report.read_text())["install"]


@pytest.fixture(scope="module")
def post_built():
    """postBuild as repo2docker runs it: ./postBuild in the repository root, the environment's bin/ on
    PATH. The environment is the lock's, made by `make` (.venv): the one pip installs on Binder, as the
    test below shows; the chapters then run in it as they would on Binder."""
    venv = bookbuild.VENV
    result = run(["./postBuild"], cwd=ROOT, env=binder_environ(venv))
    return venv, result


def test_pip_installs_exactly_the_lock_with_the_package_editable(resolved):
    pins = locked_versions()
    found = {normalize(item["metadata"]["name"]): item for item in resolved}
    package = found.pop("training-basics")
    assert package["download_info"]["url"] == ROOT.as_uri()
    assert package["download_info"]["dir_info"].get("editable") is True, "the package is not editable"
    unlocked = found.keys() - pins.keys()
    assert not unlocked, f"not in the lock: {unlocked}"
    wrong = {name: (item["metadata"]["version"], pins[name]) for name, item in found.items()
             if item["metadata"]["version"] != pins[name]}
    assert not wrong, f"pip would install (version, locked): {wrong}"
    assert {"tensorflow-cpu", "jupyterlab", "jupytext", "keras"} <= found.keys()


def test_the_locks_environment_imports_the_package_from_the_repository(post_built):
    venv, _ = post_built
    where = run([str(bin_(venv, "python")), "-c", "import training_basics; print(training_basics.__file__)"],
                cwd="/", env=binder_environ(venv)).stdout.strip()
    assert Path(where) == ROOT / "code" / "training_basics" / "__init__.py"


def test_post_build_puts_the_viewer_settings_where_this_jupyterlab_reads_them(post_built):
    venv, _ = post_built
    paths = run([str(bin_(venv, "jupyter")), "lab", "path"], env=binder_environ(venv)).stdout
    app_dir = Path(re.search(r"^Application directory:\s*(.+)$", paths, re.M).group(1).strip())
    # ${NB_PYTHON_PREFIX}/share/jupyter/lab on Binder
    assert app_dir.resolve() == (venv / "share" / "jupyter" / "lab").resolve()
    installed = json.loads((app_dir / "settings" / "overrides.json").read_text())
    assert installed == json.loads((ROOT / "jupyterlab-settings" / "overrides.json").read_text())


# ---------------------------------------------------------------- the server as Binder starts it, a reader


@pytest.fixture(scope="module")
def server(post_built, tmp_path_factory):
    """JupyterLab from the Binder environment, serving the repository root on a free local port."""
    venv, _ = post_built
    home = tmp_path_factory.mktemp("jupyter-home")
    port, token = lab_driver.free_port(), secrets.token_hex(16)
    command = [str(bin_(venv, "jupyter")), "lab", *lab_driver.server_args(port, token),
               f"--ServerApp.root_dir={ROOT}"]
    env = binder_environ(venv, **lab_driver.isolated_jupyter_dirs(home))
    with lab_driver.Lab(command, port=port, token=token, root=ROOT, cwd=ROOT, env=env,
                        log=home / "server.log") as lab:
        yield lab


def test_the_servers_default_viewer_for_markdown_is_jupytext(server):
    settings = server.request("GET", "/lab/api/settings/@jupyterlab/docmanager-extension:plugin")
    # overrides.json changes the schema's defaults, which is what a user without settings gets.
    default = settings["schema"]["properties"]["defaultViewers"]["default"]
    assert default.get("markdown") == default.get("myst") == "Jupytext Notebook", default
    assert "defaultViewers" not in settings["settings"], "a user setting would hide what overrides.json does"


@pytest.mark.parametrize("source", RUN_IN_LAB, ids=[p.stem for p in RUN_IN_LAB])
def test_chapter_opens_as_a_notebook_and_runs_all_cells_cleanly_with_its_figures(
        browser, server, source, tmp_path):
    """As a reader on Binder: the launch URL, a notebook (not text), Run All Cells, no error, the figures."""
    shot = tmp_path / f"{source.stem}.png"
    ran = lab_driver.open_and_run_all(browser, server, source, shot)
    wrong = lab_driver.problems(source, ran)
    assert not wrong, f"{source.name} on Binder (screenshot {shot}):\n" + "\n".join(wrong)[-6000:]


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
