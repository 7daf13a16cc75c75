"""`make lab` opens the chapters as notebooks on a reader's own machine, as Binder does.

The intro chapter says that, with jupytext installed, the chapters open as notebooks: true on
Binder (postBuild) and, through `make lab`, locally too. Here `make lab` runs from the repository
root with the project's environment, as a reader types it (plus server arguments: no browser of its
own, 127.0.0.1, a free port, a token), and headless Chromium opens the first chapter at the URL the
launch button uses: it must show as a notebook, not as text, and run cleanly with "Run All Cells".
Driven as tests/test_binder.py drives Binder's JupyterLab (tests/lab_driver.py).
"""

import os
import secrets
import shlex

import lab_driver
import pytest

from conftest import ROOT, bookbuild

pytestmark = pytest.mark.browser

FIRST = bookbuild.pages()[0]


@pytest.fixture(scope="module")
def make_lab(tmp_path_factory):
    home = tmp_path_factory.mktemp("make-lab-home")
    port, token = lab_driver.free_port(), secrets.token_hex(16)
    # The environment running these tests (.venv, or the canary's), taken as up to date: never reinstalled.
    command = bookbuild.make_command("lab", f"LAB_ARGS={shlex.join(lab_driver.server_args(port, token))}")
    env = {**os.environ, **lab_driver.isolated_jupyter_dirs(home)}
    # `jupyter lab book/intro.md` serves the file's folder, book/, and opens lab/tree/intro.md.
    served = ROOT / "book"
    with lab_driver.Lab(command, port=port, token=token, root=served, cwd=ROOT, env=env,
                        log=home / "make-lab.log") as lab:
        yield lab


def test_make_lab_opens_a_chapter_as_a_notebook_that_runs(browser, make_lab, tmp_path):
    shot = tmp_path / f"{FIRST.stem}.png"
    ran = lab_driver.open_and_run_all(browser, make_lab, FIRST, shot)
    wrong = lab_driver.problems(FIRST, ran)
    assert not wrong, f"{FIRST.name} in make lab (screenshot {shot}):\n" + "\n".join(wrong)[-6000:]
