"""Claims in book/data.md, one test per claim, named after the chapter and section."""

import numpy as np
import pytest
import tensorflow as tf
from chapter import Chapter

import training_basics as tb

CHAPTER = Chapter("data")


def test_data__the_training_set__the_inputs_mean_and_spread_are_close_to_0_and_1():
    assert CHAPTER.says("close to the $0$ and $1$ of the distribution they were drawn from")
    x = tb.synthesize().x.numpy()
    assert abs(x.mean()) < 0.05 and abs(x.std() - 1) < 0.05


def test_data__the_training_set__every_output_lies_on_the_true_line():
    assert CHAPTER.says("Every output lies on the true line")
    x, y = tb.synthesize()
    assert float(tf.reduce_max(tf.abs(y - (tb.TRUE_w * x + tb.TRUE_b)))) == 0.0


def test_data__the_training_set__the_same_seed_gives_the_same_data_value_for_value():
    assert CHAPTER.says("Drawing again with the same seed gives the same data, value for value")
    tf.random.uniform([3])
    a, b = tb.synthesize(), tb.synthesize()
    assert np.array_equal(a.x.numpy(), b.x.numpy()) and np.array_equal(a.y.numpy(), b.y.numpy())


def test_data__a_separate_test_set__shares_no_input_with_the_training_set():
    assert CHAPTER.says("The test set is drawn with its own seed, `tb.TEST_SEED`, and shares no inputs "
                        "with the training set.")
    shared = np.intersect1d(tb.synthesize().x.numpy(), tb.synthesize(seed=tb.TEST_SEED).x.numpy())
    assert shared.size == 0


def test_data__noise_if_you_want_it__the_inputs_stay_and_the_noise_has_the_requested_spread():
    assert CHAPTER.says("drawn from a stream of its own, so the inputs stay the same as without noise")
    clean, noisy = tb.synthesize(), tb.synthesize(noise_std=0.5)
    assert np.array_equal(clean.x.numpy(), noisy.x.numpy())
    noise = noisy.y.numpy() - (tb.TRUE_w * noisy.x.numpy() + tb.TRUE_b)
    assert noise.std() == pytest.approx(0.5, rel=0.05)


def legend_of(figure_name):
    """The legend labels of the chapter's figure ``figure_name``, from running its cell after the set-up
    and the cells before it, and the figure's caption."""
    namespace = {}
    exec(compile(CHAPTER.setup_code(), "data:setup", "exec"), namespace)  # noqa: S102
    for options, code in CHAPTER.code_cells():
        if "thebe-init" in options or "remove-cell" in options or "show_source" in code:
            continue
        exec(compile(code, "data", "exec"), namespace)  # noqa: S102
        if f"name: {figure_name}" in options:
            texts = namespace["fig"].axes[0].get_legend().get_texts()
            return [t.get_text() for t in texts], " ".join(options.split())
    raise AssertionError(f"no figure {figure_name}")


def test_data__noise_if_you_want_it__legend_and_caption_both_call_the_red_crosses_the_true_line():
    """The old legend called the red crosses "prediction (ŷ = w·x + b)"; the caption, the true line."""
    labels, options = legend_of("fig-data-noisy")
    assert labels == ["data (y)", "true line (y = 3·x + 2)"]
    assert "whose values at the same inputs are drawn as red crosses" in options
    assert "the line itself is traced by red crosses" in options


def test_data__the_untrained_model__too_flat_with_too_small_an_intercept_not_too_low():
    # The old text called the line "too flat and too low"; left of the crossing it is too high.
    for chapter in (CHAPTER, Chapter("gradients")):
        assert "too flat and too low" not in chapter.prose
        assert chapter.says("too flat, with too small an intercept")
    model, (x, y) = tb.Model(), tb.synthesize()
    assert float(model.w) < tb.TRUE_w and float(model.b) < tb.TRUE_b
    cross = tb.crossing(model.w.numpy(), model.b.numpy())
    assert cross == -1.0
    error = (y - model(x)).numpy()  # > 0: the model predicts too little
    left = x.numpy() < cross
    assert (error[left] < 0).all() and (error[~left] > 0).all()
    assert 0.1 < left.mean() < 0.25  # about 16 % of N(0, 1) lies below -1


def test_data__the_untrained_model__the_error_grows_on_either_side_of_the_crossing():
    assert CHAPTER.says("the error grows on either side")
    model = tb.Model()
    cross = tb.crossing(model.w.numpy(), model.b.numpy())
    xs = tf.constant([cross - 2, cross - 1, cross, cross + 1, cross + 2], dtype=tf.float32)
    error = np.abs((tb.TRUE_w * xs + tb.TRUE_b - model(xs)).numpy())
    assert error[2] == 0 and error[1] < error[0] and error[3] < error[4]


def test_data__the_untrained_model__the_loss_is_close_to_theory_and_the_gap_is_the_samples_own():
    assert CHAPTER.says("That is close to what theory predicts.")
    assert CHAPTER.says("The gap is the sample's own: its inputs' mean and spread are not exactly "
                        "$0$ and $1$.")
    model, (x, y) = tb.Model(), tb.synthesize()
    dw, db = tb.TRUE_w - float(model.w), tb.TRUE_b - float(model.b)
    loss = float(tb.l2_loss(y, model(x)))
    assert loss == pytest.approx(dw**2 + db**2, rel=0.05)
    x64 = x.numpy().astype(np.float64)  # with the sample's own moments the expectation is exact
    assert loss == pytest.approx(dw**2 * np.mean(x64**2) + 2 * dw * db * x64.mean() + db**2, rel=1e-6)


def test_data__exercises__the_true_line_on_noisy_data_costs_about_sigma_squared():
    assert CHAPTER.says("close to $\\sigma^2 = 0.5^2$")
    x, y = tb.synthesize(noise_std=0.5)
    assert float(tb.l2_loss(y, tb.Model(w=tb.TRUE_w, b=tb.TRUE_b)(x))) == pytest.approx(0.25, rel=0.1)


def test_data__exercises__a_test_set_with_the_training_seed_is_the_training_set():
    assert CHAPTER.says("It would be the training set again, example for example")
    assert np.array_equal(tb.synthesize(seed=tb.SEED).x.numpy(), tb.synthesize().x.numpy())


def test_data__exercises__each_solution_runs_alone_after_the_set_up_cell():
    assert CHAPTER.run_solutions_alone() == ["ex-data-noise-loss", "ex-data-seed", "ex-data-test-seed"]


def test_data__cross_references_read_as_sentences():
    assert CHAPTER.bare_references() == []


def test_data__hidden_cells_only_glue_values_computed_in_visible_cells():
    assert CHAPTER.hidden_computations() == []
