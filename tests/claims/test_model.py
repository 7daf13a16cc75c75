"""Claims in book/model.md, one test per claim, named after the chapter and section."""

import re
from pathlib import Path

import numpy as np
import tensorflow as tf

import training_basics as tb

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


def test_model__parameters_are_variables__the_labs_start_is_fixed_though_its_text_says_random():
    says("model", "The lab's text calls these initial values random; they are not: its code sets exactly "
                  "these two numbers, the same on every run.")
    starts = {(float(m.w), float(m.b)) for m in (tb.Model(), tb.Model(), tb.Model())}
    assert starts == {(2.0, 1.0)}


def test_model__parameters_are_variables__an_integer_variable_gets_no_gradient():
    says("model", "an integer variable would get a gradient of `None`")
    w = tf.Variable(2)
    with tf.GradientTape() as tape:
        loss = tf.cast(w, tf.float32) * 3.0
    assert tape.gradient(loss, w) is None
    assert tb.Model(w=3, b=2).w.dtype == tf.float32


def test_model__a_random_start__normal_with_mean_0_and_standard_deviation_scale():
    says("model", "draws $w$ and $b$ independently from a normal distribution with mean 0 and standard "
                  "deviation `scale` (1 unless told otherwise)")
    for scale in (1.0, 3.0):
        draws = np.array([[float(m.w), float(m.b)] for m in (tb.Model.random(s, scale) for s in range(2000))])
        assert np.abs(draws.mean(axis=0)).max() < 0.1 * scale
        assert np.abs(draws.std(axis=0) / scale - 1).max() < 0.05
        assert abs(np.corrcoef(draws.T)[0, 1]) < 0.1  # independent
    assert tb.Model.random(0).w.numpy() == tb.Model.random(0, scale=1.0).w.numpy()


def test_model__a_random_start__the_same_seed_gives_the_same_model_whatever_ran_before():
    says("model", "The same seed gives the same model, whatever ran before; another seed gives another one")
    first = tb.Model.random(seed=0)
    tf.random.normal([10])
    again, other = tb.Model.random(seed=0), tb.Model.random(seed=1)
    assert (float(first.w), float(first.b)) == (float(again.w), float(again.b))
    assert (float(first.w), float(first.b)) != (float(other.w), float(other.b))


def test_model__a_random_start__the_training_loop_trains_from_one_as_well():
    says("model", "{ref}`The training loop <chapter-training-loop>` trains from such a start as well as from "
                  "the lab's.")
    assert "tb.Model.random(" in (BOOK / "training-loop.md").read_text(encoding="utf-8")
    x, y = tb.synthesize()
    for seed in range(3):
        model = tb.Model.random(seed=seed)
        history = tb.train(model, x, y, epochs=50, learning_rate=0.1)
        assert float(tb.l2_loss(y, model(x))) < 1e-3 * history.loss[0]


def test_model__exercises__the_model_has_two_scalar_parameters():
    says("model", "One scalar each for $b$ and $w$: two in all.")
    assert sum(int(tf.size(v)) for v in tb.Model().trainable_variables) == 2


def test_model__exercises__each_solution_runs_alone_after_the_set_up_cell():
    assert run_each_solution_alone("model") == ["ex-model-integers", "ex-model-count"]


def test_model__cross_references_read_as_sentences():
    assert bare_references("model") == []
