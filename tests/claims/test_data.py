"""Claims in book/data.md, one test per claim, named after the chapter and section."""

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


def test_data__the_training_set__the_inputs_mean_and_spread_are_close_to_0_and_1():
    says("data", "close to the $0$ and $1$ of the distribution they were drawn from")
    x = tb.synthesize().x.numpy()
    assert abs(x.mean()) < 0.05 and abs(x.std() - 1) < 0.05


def test_data__the_training_set__every_output_lies_on_the_true_line():
    says("data", "Every output lies on the true line")
    x, y = tb.synthesize()
    assert float(tf.reduce_max(tf.abs(y - (tb.TRUE_w * x + tb.TRUE_b)))) == 0.0


def test_data__the_training_set__the_same_seed_gives_the_same_data_value_for_value():
    says("data", "Drawing again with the same seed gives the same data, value for value")
    tf.random.uniform([3])
    a, b = tb.synthesize(), tb.synthesize()
    assert np.array_equal(a.x.numpy(), b.x.numpy()) and np.array_equal(a.y.numpy(), b.y.numpy())


def test_data__a_separate_test_set__shares_no_input_with_the_training_set():
    says("data", "The test set is drawn with its own seed, `tb.TEST_SEED`, and shares no inputs with the "
                 "training set.")
    shared = np.intersect1d(tb.synthesize().x.numpy(), tb.synthesize(seed=tb.TEST_SEED).x.numpy())
    assert shared.size == 0


def test_data__noise_if_you_want_it__the_inputs_stay_and_the_noise_has_the_requested_spread():
    says("data", "drawn from a stream of its own, so the inputs stay the same as without noise")
    clean, noisy = tb.synthesize(), tb.synthesize(noise_std=0.5)
    assert np.array_equal(clean.x.numpy(), noisy.x.numpy())
    noise = noisy.y.numpy() - (tb.TRUE_w * noisy.x.numpy() + tb.TRUE_b)
    assert noise.std() == pytest.approx(0.5, rel=0.05)


def test_data__the_untrained_model__too_flat_with_too_small_an_intercept_not_too_low():
    # The old text called the line "too flat and too low"; left of the crossing it is too high.
    for chapter in ("data", "gradients"):
        assert "too flat and too low" not in prose(chapter)
        says(chapter, "too flat, with too small an intercept")
    model, (x, y) = tb.Model(), tb.synthesize()
    assert float(model.w) < tb.TRUE_w and float(model.b) < tb.TRUE_b
    cross = tb.crossing(model.w.numpy(), model.b.numpy())
    assert cross == -1.0
    error = (y - model(x)).numpy()  # > 0: the model predicts too little
    left = x.numpy() < cross
    assert (error[left] < 0).all() and (error[~left] > 0).all()
    assert 0.1 < left.mean() < 0.25  # about 16 % of N(0, 1) lies below -1


def test_data__the_untrained_model__the_error_grows_on_either_side_of_the_crossing():
    says("data", "the error grows on either side")
    model = tb.Model()
    cross = tb.crossing(model.w.numpy(), model.b.numpy())
    xs = tf.constant([cross - 2, cross - 1, cross, cross + 1, cross + 2], dtype=tf.float32)
    error = np.abs((tb.TRUE_w * xs + tb.TRUE_b - model(xs)).numpy())
    assert error[2] == 0 and error[1] < error[0] and error[3] < error[4]


def test_data__the_untrained_model__the_loss_is_close_to_theory_and_the_gap_is_the_samples_own():
    says("data", "That is close to what theory predicts.")
    says("data", "The gap is the sample's own: its inputs' mean and spread are not exactly $0$ and $1$.")
    model, (x, y) = tb.Model(), tb.synthesize()
    dw, db = tb.TRUE_w - float(model.w), tb.TRUE_b - float(model.b)
    loss = float(tb.l2_loss(y, model(x)))
    assert loss == pytest.approx(dw**2 + db**2, rel=0.05)
    x64 = x.numpy().astype(np.float64)  # with the sample's own moments the expectation is exact
    assert loss == pytest.approx(dw**2 * np.mean(x64**2) + 2 * dw * db * x64.mean() + db**2, rel=1e-6)


def test_data__exercises__the_true_line_on_noisy_data_costs_about_sigma_squared():
    says("data", "close to $\\sigma^2 = 0.5^2$")
    x, y = tb.synthesize(noise_std=0.5)
    assert float(tb.l2_loss(y, tb.Model(w=tb.TRUE_w, b=tb.TRUE_b)(x))) == pytest.approx(0.25, rel=0.1)


def test_data__exercises__a_test_set_with_the_training_seed_is_the_training_set():
    says("data", "It would be the training set again, example for example")
    assert np.array_equal(tb.synthesize(seed=tb.SEED).x.numpy(), tb.synthesize().x.numpy())


def test_data__exercises__each_solution_runs_alone_after_the_set_up_cell():
    assert run_each_solution_alone("data") == ["ex-data-seed", "ex-data-noise-loss", "ex-data-test-seed"]


def test_data__cross_references_read_as_sentences():
    assert bare_references("data") == []
