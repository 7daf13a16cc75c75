"""Claims in book/intro.md, one test per claim, named after the chapter and section."""

import re
from pathlib import Path

import numpy as np
import tensorflow as tf

import training_basics as tb

ROOT = Path(__file__).resolve().parents[2]
BOOK = Path(__file__).resolve().parents[2] / "book"


def prose(chapter):
    """The chapter's source with every run of whitespace made one space, so a wrapped sentence matches."""
    return " ".join((BOOK / f"{chapter}.md").read_text(encoding="utf-8").split())


def says(chapter, sentence):
    """The chapter states ``sentence`` (whitespace-insensitive)."""
    assert " ".join(sentence.split()) in prose(chapter), f"book/{chapter}.md no longer says: {sentence}"


def code_cells(markdown):
    """(options, code) of each ``{code-cell}`` in ``markdown``: its ``:tags:`` or YAML header, its code."""
    cells = []
    for body in re.findall(r"^```\{code-cell\}[^\n]*\n(.*?)^```", markdown, re.S | re.M):
        header, _, code = body.partition("\n---\n") if body.startswith("---\n") else ("", "", body)
        options = [line for line in code.splitlines() if re.match(r"^:\w+:", line)]
        code = "\n".join(line for line in code.splitlines() if line not in options)
        cells.append((header + "\n".join(options), code))
    return cells


def run_each_solution_alone(chapter):
    """Run every solution's cells after only the set-up cell, in a fresh namespace each; return the labels."""
    text = (BOOK / f"{chapter}.md").read_text(encoding="utf-8")
    setup = next(code for options, code in code_cells(text) if "thebe-init" in options)
    solutions = re.findall(r"^```\{solution-start\} (\S+)\n(.*?)^```\{solution-end\}", text, re.S | re.M)
    for _, block in solutions:
        namespace = {}
        exec(setup, namespace)  # noqa: S102 - the chapter's own code, as a reader runs it
        for _, code in code_cells(block):
            exec(code, namespace)  # noqa: S102
    return [label for label, _ in solutions]


def bare_references(chapter):
    """Each ``{ref}`chapter-…``` with no words of its own that is not inside parentheses."""
    text = prose(chapter)
    return [m.group(0) for m in re.finditer(r"(.)\{ref\}`chapter-[a-z-]+`(.)", text)
            if not (m.group(1) == "(" and m.group(2) == ")")]


def test_intro__running_the_chapters_yourself__make_lab_opens_the_chapters_as_notebooks():
    # The old sentence promised notebooks to anyone with jupytext installed; only Binder made it true.
    assert "with `jupytext` installed, the chapters' Markdown files open as notebooks" not in prose("intro")
    says("intro", "To work on the chapters as notebooks, run `make lab`.")
    says("intro", "makes jupytext's notebook view JupyterLab's default for Markdown files in the project's "
                  "`.venv`")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^lab:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe, "the Makefile has no lab target"
    assert "postBuild" in recipe.group(1) and "jupyter lab" in recipe.group(1)
    overrides = (ROOT / "jupyterlab-settings" / "overrides.json").read_text(encoding="utf-8")
    assert '"markdown": "Jupytext Notebook"' in overrides
    assert "overrides.json" in (ROOT / "postBuild").read_text(encoding="utf-8")


def test_intro__what_you_will_build__the_l2_loss_is_the_mean_of_squared_errors():
    says("intro", "the L2 loss, the mean of squared errors")
    y, y_hat = tf.constant([1.0, 2.0, 3.0]), tf.constant([1.0, 0.0, 6.0])
    assert float(tb.l2_loss(y, y_hat)) == np.mean(np.square(y.numpy() - y_hat.numpy()))


def test_intro__how_to_read_this_book__building_twice_gives_the_same_numbers():
    says("intro", "Building twice gives the same numbers, because all randomness is seeded.")
    tf.random.uniform([5])  # whatever ran before
    a, b = tb.synthesize(), tb.synthesize()
    assert np.array_equal(a.x.numpy(), b.x.numpy()) and np.array_equal(a.y.numpy(), b.y.numpy())
    first, second = tb.Model.random(seed=4), tb.Model.random(seed=4)
    assert (float(first.w), float(first.b)) == (float(second.w), float(second.b))


def test_intro__cross_references_read_as_sentences():
    assert bare_references("intro") == []
