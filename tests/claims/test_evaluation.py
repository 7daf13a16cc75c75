"""Claims of book/evaluation.md: every quantitative statement its prose makes, computed from the package.

Each test is named after the chapter, its section and the claim; where a sentence was once wrong, the
test also asserts that the chapter says the sentence it proves.
"""

import re

import numpy as np
import pytest
from chapter import Chapter

import training_basics as tb

CHAPTER = Chapter("evaluation")


@pytest.fixture(scope="module")
def lab():
    x, y = tb.synthesize()
    test = tb.synthesize(seed=tb.TEST_SEED)
    model = tb.Model()
    history = tb.train(model, x, y, epochs=15, learning_rate=0.1)
    return dict(x=x, y=y, test=test, model=model, history=history,
                ev=tb.evaluate(model, test.x, test.y))


# --- Measuring the model ----------------------------------------------------------------------------


def test_evaluation__measuring_the_model__test_mse_close_to_the_training_loss(lab):
    train_mse = float(tb.l2_loss(lab["y"], lab["model"](lab["x"])))
    assert lab["ev"].test_mse == pytest.approx(train_mse, rel=0.1)


# --- Predictions on the test set --------------------------------------------------------------------


def test_evaluation__predictions_on_the_test_set__too_low_right_of_the_crossing_too_high_left(lab):
    assert CHAPTER.says("its predictions are a little too low right of $x =$ {glue:text}`eval-zero-x:.2f` "
                        "and a little too high left of it")
    h = lab["history"]
    assert h.final_w < tb.TRUE_w and h.final_b < tb.TRUE_b
    cross = tb.crossing(h.final_w, h.final_b)
    x, error = lab["test"].x.numpy(), lab["ev"].predictions - lab["test"].y.numpy()
    assert np.all(error[x > cross + 0.01] < 0) and np.all(error[x < cross - 0.01] > 0)


# --- The lab's picture ------------------------------------------------------------------------------


def test_evaluation__the_labs_picture__drawn_on_the_test_set_as_the_lab_does():
    """The lab plots the test inputs, outputs and predictions; the chapter once drew the training data."""
    assert "tb.plots.plot_data(test.x, test.y, ev.predictions" in CHAPTER.source
    assert "plot_data(x, y, model(x)" not in CHAPTER.source
    assert CHAPTER.says("the **true test outputs are the blue dots and the predictions the red crosses**")
    caption = re.search(r"name: fig-eval-data", CHAPTER.source).start()
    assert "The test set, as the lab draws it after training" in CHAPTER.source[caption - 400:caption]
    assert CHAPTER.says("The lab's picture after training is of the test set")


def test_evaluation__the_labs_picture__the_two_lines_hard_to_tell_apart_at_this_scale(lab):
    y = lab["test"].y.numpy()
    assert np.abs(lab["ev"].predictions - y).max() < 0.02 * np.ptp(y)


# --- The loss along the way -------------------------------------------------------------------------


def test_evaluation__the_loss_along_the_way__panels_are_projections_of_the_path_not_slices(lab):
    assert CHAPTER.says("is a projection of that one path, not a slice of the loss")
    assert "is a slice of one curve" not in CHAPTER.prose
    h = lab["history"]
    assert np.all(np.diff(h.w) > 0) and np.all(np.diff(h.b) > 0)  # both move at every step
    ax_w, ax_b = tb.plots.plot_loss_vs_weights(h).axes
    np.testing.assert_array_equal(ax_w.lines[0].get_xdata(), h.w)
    np.testing.assert_array_equal(ax_b.lines[0].get_xdata(), h.b)
    np.testing.assert_array_equal(ax_w.lines[0].get_ydata(), h.loss)


def test_evaluation__the_loss_along_the_way__each_step_smaller_than_the_last(lab):
    h = lab["history"]
    steps = np.hypot(np.diff(np.append(h.w, h.final_w)), np.diff(np.append(h.b, h.final_b)))
    assert np.all(np.diff(steps) < 0)


# --- What training reached --------------------------------------------------------------------------


def test_evaluation__what_training_reached__to_four_decimals_the_optimum_is_the_true_line(lab):
    w, b = tb.closed_form(lab["x"], lab["y"])
    assert abs(w - tb.TRUE_w) < 5e-5 and abs(b - tb.TRUE_b) < 5e-5


def test_evaluation__why_the_optimum_is_a_hair_off__float32_data_not_double_precision_rounding(lab):
    """The gap comes from the outputs stored in float32: float64 outputs give double-precision rounding."""
    assert "rounding in double precision" not in CHAPTER.prose
    assert CHAPTER.says("The gap is not rounding in the least-squares solver, which works in double "
                        "precision: it is in the data.")
    x64 = lab["x"].numpy().astype(np.float64)
    design = np.stack([x64, np.ones_like(x64)], axis=1)
    stored = lab["y"].numpy().astype(np.float64)
    exact = tb.TRUE_w * x64 + tb.TRUE_b

    def gap(outputs):
        w, b = np.linalg.lstsq(design, outputs, rcond=None)[0]
        return max(abs(w - tb.TRUE_w), abs(b - tb.TRUE_b))

    assert 1e-11 < gap(stored) < 1e-7
    assert gap(exact) < 1e-13
    w, b = tb.closed_form(lab["x"], lab["y"])  # what the book's optimum is: the stored data's
    assert gap(stored) == pytest.approx(max(abs(w - tb.TRUE_w), abs(b - tb.TRUE_b)))
    rounding = stored - exact
    assert (rounding > 0).any() and (rounding < 0).any()  # "go either way"
    assert gap(stored) < np.abs(rounding).max() / 10  # "mostly cancel": the much smaller gap
    assert 6.5 < -np.log10(np.finfo(np.float32).eps) < 7.5  # "about seven significant digits"


def test_evaluation__what_more_epochs_would_do__geometric_then_a_couple_of_float32_spacings(lab):
    errors = {}
    for n in [15, 30, 60, 120]:
        model = tb.Model()
        tb.train(model, lab["x"], lab["y"], epochs=n, learning_rate=0.1)
        errors[n] = tb.evaluate(model, lab["test"].x, lab["test"].y).w_error
    slopes = [np.log(errors[30] / errors[15]) / 15, np.log(errors[60] / errors[30]) / 30]
    assert slopes[1] == pytest.approx(slopes[0], rel=0.05)  # a straight line on a log scale
    spacing = float(np.spacing(np.float32(tb.TRUE_w)))
    assert 1 <= errors[120] / spacing <= 3  # "only a couple of times the gap"
    assert errors[120] > 100 * errors[60] * np.exp(60 * slopes[0])  # "then it stops"


# --- Exercises --------------------------------------------------------------------------------------


def test_evaluation__exercises__the_untrained_model__start_test_mse_close_to_start_training_loss(lab):
    before = tb.evaluate(tb.Model(), lab["test"].x, lab["test"].y).test_mse
    assert before == pytest.approx(float(lab["history"].loss[0]), rel=0.1)


def test_evaluation__exercises__far_from_the_training_inputs__mse_grows_many_times(lab):
    far_x = lab["test"].x + 5.0
    far = tb.evaluate(lab["model"], far_x, tb.TRUE_w * far_x + tb.TRUE_b)
    assert far.test_mse > 10 * lab["ev"].test_mse


def test_evaluation__exercises__no_exercise_repeats_the_data_chapters_noise_exercise():
    assert "noise_std" not in CHAPTER.source


def test_evaluation__exercises__no_exercise_repeats_the_data_chapters_training_seed_exercise():
    """The old last exercise drew a "test set" with the training seed, as the data chapter's does."""
    assert "ex-data-test-seed" in Chapter("data").solutions()
    assert "seed=tb.SEED" not in CHAPTER.source and "ex-eval-same-seed" not in CHAPTER.source


def test_evaluation__exercises__the_test_mse_from_the_parameter_errors(lab):
    assert CHAPTER.says("The formula gives the test MSE to a relative {glue:text}`eval-ex-formula-gap:.0e`, "
                        "float32 rounding")
    dw, db = lab["history"].final_w - tb.TRUE_w, lab["history"].final_b - tb.TRUE_b
    x = lab["test"].x.numpy().astype(np.float64)
    formula = dw**2 * np.mean(x**2) + 2 * dw * db * np.mean(x) + db**2
    assert abs(lab["ev"].test_mse / formula - 1) < 1e-5
    rough_gap = abs((dw**2 + db**2) / formula - 1)
    assert 0.005 < rough_gap < 0.02  # "about 1 % off"
    assert abs(np.mean(x)) < 0.02 and abs(np.mean(x**2) - 1) < 0.05  # "close to 0 and 1 but not equal"
    # "The same formula, with the training inputs' means, gives the training loss"
    x_train = lab["x"].numpy().astype(np.float64)
    train_formula = dw**2 * np.mean(x_train**2) + 2 * dw * db * np.mean(x_train) + db**2
    assert float(tb.l2_loss(lab["y"], lab["model"](lab["x"]))) == pytest.approx(train_formula, rel=1e-5)


def test_evaluation__measuring_the_model__about_as_well_on_new_inputs_not_equally(lab):
    """The old text said "equally well": the test MSE is 5.3 % above the training MSE. The gap is the inputs'
    moments (mean of x^2: 1.0344 test, 0.9692 training), which predict the ratio to float32 rounding, and for
    any line the ratio lies between 0.997 and 1.071."""
    assert "the model does equally well on new inputs" not in CHAPTER.prose
    assert CHAPTER.says("the model does about as well on new inputs")
    assert CHAPTER.says("the test inputs spread a little wider than the training inputs")
    assert CHAPTER.says("For any other line the ratio lies between {glue:text}`eval-ratio-low:.3f` and "
                        "{glue:text}`eval-ratio-high:.3f`")
    train_mse = float(tb.l2_loss(lab["y"], lab["model"](lab["x"])))
    ratio = lab["ev"].test_mse / train_mse
    assert ratio == pytest.approx(1.053, abs=0.0005)  # not "equally" (1)
    x_train = lab["x"].numpy().astype(np.float64)
    x_test = lab["test"].x.numpy().astype(np.float64)
    assert np.mean(x_test**2) == pytest.approx(1.0344, abs=1e-4)
    assert np.mean(x_train**2) == pytest.approx(0.9692, abs=1e-4)
    # the moments explain the whole gap: the same errors, weighted by each set's means
    e = np.array([lab["history"].final_w - tb.TRUE_w, lab["history"].final_b - tb.TRUE_b])
    h_train, h_test = tb.hessian(lab["x"]), tb.hessian(lab["test"].x)
    assert ratio == pytest.approx((e @ h_test @ e) / (e @ h_train @ e), rel=1e-5)
    # "chiefly that of x^2" (post-fix review): x^2 alone gives about 70 % of the gap, the mean of x the rest
    assert CHAPTER.says("The means of $x$ and $x^2$ differ between the two sets, chiefly that of $x^2$")
    only_x2 = h_train.copy()
    only_x2[0, 0] = h_test[0, 0]
    share = ((e @ only_x2 @ e) - (e @ h_train @ e)) / ((e @ h_test @ e) - (e @ h_train @ e))
    assert 0.6 < share < 0.8
    # the bound over all lines: the extremes of the ratio over every direction of (w - w*, b - b*)
    angles = np.linspace(0, np.pi, 20_001)
    errors = np.stack([np.cos(angles), np.sin(angles)])
    ratios = np.sum(errors * (h_test @ errors), 0) / np.sum(errors * (h_train @ errors), 0)
    assert ratios.min() == pytest.approx(0.9967, abs=1e-4) and ratios.max() == pytest.approx(1.0714, abs=1e-4)
    assert ratios.min() <= ratio <= ratios.max()
    # and for lines trained from eight random starts, or not trained at all
    for seed in range(1, 9):
        model = tb.Model.random(seed=seed)
        for _ in range(2):
            train = float(tb.l2_loss(lab["y"], model(lab["x"])))
            test = tb.evaluate(model, lab["test"].x, lab["test"].y).test_mse
            assert ratios.min() * (1 - 1e-5) <= test / train <= ratios.max() * (1 + 1e-5)
            tb.train(model, lab["x"], lab["y"], epochs=15, learning_rate=0.1)


def test_evaluation__what_more_epochs_would_do__further_epochs_change_nothing(lab):
    """After 120 epochs the parameters sit on a float32 fixed point of the step (errors 4.77e-7 in w,
    2.38e-7 in b): one more step leaves them unchanged, so every further epoch does. The lab's start and
    eight random ones all reach the same point."""
    assert CHAPTER.says("the parameters are about as close to the optimum as float32 arithmetic can take "
                        "them, and further epochs change nothing")
    model = tb.Model()
    tb.train(model, lab["x"], lab["y"], epochs=120, learning_rate=0.1)
    reached = (float(model.w.numpy()), float(model.b.numpy()))
    spacing = float(np.spacing(np.float32(tb.TRUE_w)))  # 2.38e-7, the same near b* = 2
    assert abs(reached[0] - tb.TRUE_w) == 2 * spacing and abs(reached[1] - tb.TRUE_b) == spacing
    tb.train(model, lab["x"], lab["y"], epochs=2, learning_rate=0.1)  # two more epochs, as tb.train runs them
    assert (float(model.w.numpy()), float(model.b.numpy())) == reached
    for seed in range(1, 9):
        start = tb.Model.random(seed=seed)
        for _ in range(120):  # the step tb.train repeats, on the one full batch
            tb.train_step(start, lab["x"], lab["y"], 0.1)
        assert (float(start.w.numpy()), float(start.b.numpy())) == reached


# --- The page as a whole ----------------------------------------------------------------------------


def test_evaluation__references_have_their_own_words():
    assert re.findall(r"\{ref\}`[^`<]*`", CHAPTER.source) == []
    assert len(re.findall(r"\{ref\}`[^`<]+ <chapter-[a-z-]+>`", CHAPTER.source)) >= 3
