"""Claims in book/gradients.md, one test per claim, named after the chapter and section."""

import re
from pathlib import Path

import numpy as np
import pytest
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


def tape_gradients(model, x, y):
    with tf.GradientTape() as tape:
        loss = tb.l2_loss(y, model(x))
    return [float(g) for g in tape.gradient(loss, [model.w, model.b])]


def test_gradients__recording_the_loss__both_derivatives_are_negative_and_a_step_against_them_helps():
    says("gradients", "Both derivatives are negative")
    says("gradients", "increasing $w$ or $b$ a little would lower the loss")
    x, y = tb.synthesize()
    dw, db = tape_gradients(tb.Model(), x, y)
    assert dw < 0 and db < 0
    before = float(tb.l2_loss(y, tb.Model()(x)))
    for w, b in ((2.01, 1.0), (2.0, 1.01), (2.0 - 0.01 * dw, 1.0 - 0.01 * db)):
        assert float(tb.l2_loss(y, tb.Model(w=w, b=b)(x))) < before


def test_gradients__by_hand__the_tape_agrees_to_float32_rounding():
    says("gradients", "the rounding of float32 arithmetic, which keeps about seven significant digits")
    assert np.finfo(np.float32).precision == 6 and 1e-7 < np.finfo(np.float32).eps < 1.2e-7
    x, y = tb.synthesize()
    for model in [tb.Model()] + [tb.Model.random(seed, scale=3.0) for seed in range(5)]:
        by_hand = tb.analytic_gradients(x, y, model.w.numpy(), model.b.numpy())
        assert tape_gradients(model, x, y) == pytest.approx(by_hand, rel=1e-5, abs=1e-5)


def test_gradients__when_the_gradient_is_none__leaving_tensorflow_inside_the_tape():
    # Missing from the old chapter, which listed three mistakes as if they were all.
    says("gradients", "### Leaving TensorFlow inside the tape")
    says("gradients", "These are the mistakes that produce it most often, the commonest first.")
    x, y = tb.synthesize()
    model = tb.Model()
    with tf.GradientTape() as tape:
        loss = tb.l2_loss(y, model(x).numpy())
    assert tape.gradient(loss, [model.w, model.b]) == [None, None]
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(np.square(y - model(x)))
    assert tape.gradient(loss, [model.w, model.b]) == [None, None]


def test_gradients__when_the_gradient_is_none__the_loss_computed_outside_the_tape():
    says("gradients", "### The loss computed outside the tape")
    x, y = tb.synthesize()
    model = tb.Model()
    with tf.GradientTape() as tape:
        predictions = model(x)
    assert tape.gradient(tb.l2_loss(y, predictions), [model.w, model.b]) == [None, None]


def test_gradients__when_the_gradient_is_none__a_tensor_is_not_watched_unless_asked():
    says("gradients", "`tape.watch` asks the tape to record operations on a tensor as well")
    x, y = tb.synthesize()
    w, b = tf.constant(2.0), tf.constant(1.0)
    with tf.GradientTape() as tape:
        loss = tb.l2_loss(y, w * x + b)
    assert tape.gradient(loss, [w, b]) == [None, None]
    with tf.GradientTape() as tape:
        tape.watch([w, b])
        loss = tb.l2_loss(y, w * x + b)
    assert [float(g) for g in tape.gradient(loss, [w, b])] == tape_gradients(tb.Model(), x, y)


def test_gradients__when_the_gradient_is_none__an_integer_variable_and_train_refuses_it():
    says("gradients", "The float variable `b_float` gets its gradient; `w_int` gets `None`.")
    says("gradients", "is refused by `tb.train`, which checks the model once, before its first step")
    x, y = tb.synthesize()
    w_int, b_float = tf.Variable(2), tf.Variable(1.0)
    with tf.GradientTape() as tape:
        loss = tb.l2_loss(y, tf.cast(w_int, tf.float32) * x + b_float)
    dw, db = tape.gradient(loss, [w_int, b_float])
    assert dw is None and db is not None
    broken = tb.Model()
    broken.w = tf.Variable(2)
    with pytest.raises(TypeError, match="model.w is a tf.Variable of dtype int32"):
        tb.train(broken, x, y, epochs=1)


def test_gradients__a_tape_can_be_used_only_once__unless_it_is_persistent():
    # Missing from the old chapter.
    says("gradients", "## A tape can be used only once")
    x, y = tb.synthesize()
    model = tb.Model()
    with tf.GradientTape() as tape:
        loss = tb.l2_loss(y, model(x))
    tape.gradient(loss, model.w)
    with pytest.raises(RuntimeError, match="non-persistent GradientTape can only be used to compute one set"):
        tape.gradient(loss, model.b)
    with tf.GradientTape(persistent=True) as tape:
        loss = tb.l2_loss(y, model(x))
    assert [float(tape.gradient(loss, v)) for v in (model.w, model.b)] == tape_gradients(model, x, y)


def test_gradients__exercises__the_gradient_is_zero_at_the_true_line():
    says("gradients", "Both derivatives are zero.")
    x, y = tb.synthesize()
    assert tape_gradients(tb.Model(w=tb.TRUE_w, b=tb.TRUE_b), x, y) == [0.0, 0.0]


def test_gradients__exercises__trainable_variables_are_b_then_w():
    says("gradients", "`trainable_variables` is `(b, w)`")
    assert [v.name for v in tb.Model().trainable_variables] == ["b:0", "w:0"]


def test_gradients__exercises__the_central_difference_is_exact_for_a_quadratic():
    says("gradients", "$L$ is quadratic in $w$, so the central difference would be exact in exact arithmetic")
    x, y = (t.numpy().astype(np.float64) for t in tb.synthesize())

    def loss(w, b=1.0):
        return np.mean((y - w * x - b) ** 2)

    h = 0.01
    by_hand = tb.analytic_gradients(x, y, 2.0, 1.0)[0]
    assert (loss(2.0 + h) - loss(2.0 - h)) / (2 * h) == pytest.approx(by_hand, rel=1e-12)


def test_gradients__exercises__each_solution_runs_alone_after_the_set_up_cell():
    assert run_each_solution_alone("gradients") == ["ex-gradients-optimum", "ex-gradients-order",
                                                    "ex-gradients-finite"]


def test_gradients__cross_references_read_as_sentences():
    assert bare_references("gradients") == []
