"""Claims in book/intro.md, one test per claim, named after the chapter and section."""

import re
from pathlib import Path

import numpy as np
import tensorflow as tf
from chapter import Chapter

import training_basics as tb

ROOT = Path(__file__).resolve().parents[2]
CHAPTER = Chapter("intro")


def test_intro__running_the_chapters_yourself__make_lab_opens_the_chapters_as_notebooks():
    # The old sentence promised notebooks to anyone with jupytext installed; only Binder made it true.
    assert "with `jupytext` installed, the chapters' Markdown files open as notebooks" not in CHAPTER.prose
    assert CHAPTER.says("To work on the chapters as notebooks, run `make lab`.")
    assert CHAPTER.says("makes jupytext's notebook view JupyterLab's default for Markdown files in the "
                        "project's `.venv`")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^lab:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe, "the Makefile has no lab target"
    assert "postBuild" in recipe.group(1) and "jupyter lab" in recipe.group(1)
    overrides = (ROOT / "jupyterlab-settings" / "overrides.json").read_text(encoding="utf-8")
    assert '"markdown": "Jupytext Notebook"' in overrides
    assert "overrides.json" in (ROOT / "postBuild").read_text(encoding="utf-8")


def test_intro__what_you_will_build__the_l2_loss_is_the_mean_of_squared_errors():
    assert CHAPTER.says("the L2 loss, the mean of squared errors")
    y, y_hat = tf.constant([1.0, 2.0, 3.0]), tf.constant([1.0, 0.0, 6.0])
    assert float(tb.l2_loss(y, y_hat)) == np.mean(np.square(y.numpy() - y_hat.numpy()))


def test_intro__how_to_read_this_book__building_twice_gives_the_same_numbers():
    assert CHAPTER.says("Building twice gives the same numbers, because all randomness is seeded.")
    tf.random.uniform([5])  # whatever ran before
    a, b = tb.synthesize(), tb.synthesize()
    assert np.array_equal(a.x.numpy(), b.x.numpy()) and np.array_equal(a.y.numpy(), b.y.numpy())
    first, second = tb.Model.random(seed=4), tb.Model.random(seed=4)
    assert (float(first.w), float(first.b)) == (float(second.w), float(second.b))


def test_intro__has_no_exercises_so_no_solution_to_run():
    assert CHAPTER.run_solutions_alone() == []


def test_intro__cross_references_read_as_sentences():
    assert CHAPTER.bare_references() == []


def test_intro__hidden_cells_only_glue_values_computed_in_visible_cells():
    assert CHAPTER.hidden_computations() == []
