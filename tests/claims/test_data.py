"""Claims in book/data.md, one test per claim, named after the chapter and section."""

import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from chapter import Chapter

import training_basics as tb

CHAPTER = Chapter("data")
ROOT = Path(__file__).resolve().parents[2]


def test_data__the_training_set__the_inputs_mean_and_spread_are_close_to_0_and_1():
    assert CHAPTER.says("close to the $0$ and $1$ of the distribution they were drawn from")
    x = tb.synthesize().x.numpy()
    assert abs(x.mean()) < 0.05 and abs(x.std() - 1) < 0.05


def test_data__the_training_set__every_output_lies_on_the_true_line_to_float32_rounding():
    """Review: "every point lies exactly on the line" and a distance of 0.0 came from recomputing the same
    float32 expression; in float64 the stored points lie up to 4.8e-7 off the line, the rounding of
    float32, and their least-squares line is a hair off the true one (the evaluation chapter)."""
    assert "every point lies exactly on the line" not in CHAPTER.prose
    assert CHAPTER.says("every point lies on the line, to float32 rounding")
    assert CHAPTER.says("Every output lies on the true line, to float32 rounding. Computed again in float32, "
                        "the way the data were made, the largest distance")
    assert CHAPTER.says("each stored output was computed in float32, which keeps about seven significant "
                        "digits, and lies off the line by its rounding.")
    assert "the points lie on the line, to float32 rounding" in " ".join(tb.synthesize.__doc__.split())
    x, y = tb.synthesize()
    assert float(tf.reduce_max(tf.abs(y - (tb.TRUE_w * x + tb.TRUE_b)))) == 0.0  # float32, as made
    x32, y32 = x.numpy(), y.numpy()
    off = np.abs(y32.astype(np.float64) - (tb.TRUE_w * x32.astype(np.float64) + tb.TRUE_b))
    assert 1e-7 < off.max() < 1e-6 and np.mean(off > 0) > 0.5  # not exactly: most points are off
    # by the rounding of the two float32 operations, 3·x and + 2: half an ulp of each result at most
    product = x32 * np.float32(tb.TRUE_w)
    assert np.all(off <= (np.spacing(np.abs(product)) + np.spacing(np.abs(y32))) / 2)
    assert np.all(off <= np.finfo(np.float32).eps * (np.abs(product) + np.abs(y32)))
    w_star, b_star = tb.closed_form(x, y)  # the line through the stored points is off too
    assert 0 < max(abs(w_star - tb.TRUE_w), abs(b_star - tb.TRUE_b)) < 1e-8
    assert Chapter("evaluation").says("Look closer, and the optimum is not exactly the true line.")


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


def test_data__the_recipe__the_same_seed_gives_the_same_data_with_the_locked_tensorflow():
    """Review: "the same seed always gives the same data ... on every rebuild" and the summary's "always": the
    locked TensorFlow documents that stateless_normal's numbers may change between versions."""
    assert "the same seed gives the same data, always" not in CHAPTER.prose
    assert "same `seed` always gives the same data" not in CHAPTER.prose
    assert CHAPTER.says("with the locked version of TensorFlow, the same `seed` gives the same data")
    assert CHAPTER.says("Another version may give other numbers: TensorFlow's documentation of "
                        "`stateless_normal` says they may change between versions.")
    assert CHAPTER.says("with the locked TensorFlow, the same seed gives the same data, whatever ran before")
    doc = " ".join(tf.random.stateless_normal.__doc__.split())
    assert "may change between versions of TensorFlow" in doc
    assert "tf.random.stateless_normal(" in tb.show_source(tb.synthesize).data
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")  # the book is built with a pinned version
    assert re.search(rf"^tensorflow-cpu=={re.escape(tf.__version__)} ", lock, re.M), tf.__version__


def test_data__noise_if_you_want_it__part_i_trains_without_noise_and_part_ii_in_two_chapters():
    """The old text said "The rest of the book follows the lab and trains on the data without noise"; the
    noisy-data chapter and part of the minibatches chapter train on noisy data."""
    assert "The rest of the book follows the lab and trains on the data without noise." not in CHAPTER.prose
    assert CHAPTER.says("Part I follows the lab and trains on the data without noise. Part II trains on "
                        "noisy data in {ref}`the noisy-data chapter <chapter-noisy-data>` and in part of "
                        "{ref}`the minibatches chapter <chapter-minibatches>`.")
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    parts = {part["caption"]: [Path(entry["file"]).name for entry in part["chapters"]]
             for part in toc["parts"]}

    def noisy(name):
        """The chapter makes noisy data: noise_std set to something not zero, or the package's NOISE_STD."""
        source = Chapter(name).source
        values = re.findall(r"noise_std=([\w.]+)", source)
        return "tb.NOISE_STD" in source or any(value not in ("0", "0.0") for value in values)

    assert not any(noisy(name) for name in parts["Custom training, step by step"] if name != "data")
    assert [name for name in parts["Beyond the lab"] + parts["Appendix"] if noisy(name)] == ["noisy-data",
                                                                                             "minibatches"]
    minibatches = Chapter("minibatches").source
    assert "noisy = tb.synthesize(noise_std=0.5)" in minibatches  # in part of it:
    assert "tb.synthesize()" in minibatches  # the rest trains on the lab's data
