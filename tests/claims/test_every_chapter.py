"""Checks every chapter of _toc.yml gets, a new one included: each exercise's solution runs alone after
the set-up cell, cross-references read as words, and hidden cells only glue.

One file parametrized over _toc.yml instead of three tests copied into each chapter's claims file.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from chapter import Chapter

from conftest import bookbuild

NAMES = [p.stem for p in bookbuild.chapters()]
HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("name", NAMES)
def test_each_solution_runs_alone_after_the_set_up_cell(name):
    chapter = Chapter(name)
    labels = sorted(re.findall(r"^```\{exercise\}[^\n]*\n:label: (\S+)$", chapter.source, re.M))
    assert sorted(chapter.solutions()) == labels, "an exercise without a solution, or a solution without one"
    if labels and "split_cpu(" in chapter.setup_code():
        # Devices are configured before TensorFlow starts: a fresh process, as a reader's kernel.
        code = f"from chapter import Chapter; print(Chapter({name!r}).run_solutions_alone())"
        out = subprocess.run([sys.executable, "-c", code], cwd=HERE, capture_output=True, text=True,
                             timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        assert out.stdout.splitlines()[-1] == str(labels)
    else:
        assert chapter.run_solutions_alone() == labels


@pytest.mark.parametrize("name", NAMES)
def test_cross_references_read_as_words(name):
    assert Chapter(name).bare_references() == []


@pytest.mark.parametrize("name", NAMES)
def test_hidden_cells_only_glue_values_computed_in_visible_cells(name):
    assert Chapter(name).hidden_computations() == []
