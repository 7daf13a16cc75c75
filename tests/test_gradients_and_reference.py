import numpy as np
import pytest
import tensorflow as tf

import training_basics as tb

POINTS = [(2.0, 1.0), (3.0, 2.0), (-1.5, 0.5), (10.0, -4.0), (0.0, 0.0)]


@pytest.mark.parametrize("w, b", POINTS)
def test_tape_gradients_equal_the_analytic_ones(w, b):
    data = tb.synthesize(noise_std=0.3)
    model = tb.Model(w=w, b=b)
    with tf.GradientTape() as tape:
        loss = tb.l2_loss(data.y, model(data.x))
    dw, db = tape.gradient(loss, [model.w, model.b])
    ref_dw, ref_db = tb.analytic_gradients(data.x, data.y, w, b)
    assert float(dw) == pytest.approx(ref_dw, abs=1e-5, rel=1e-5)
    assert float(db) == pytest.approx(ref_db, abs=1e-5, rel=1e-5)


def test_gradients_vanish_at_the_optimum():
    data = tb.synthesize()
    dw, db = tb.analytic_gradients(data.x, data.y, tb.TRUE_w, tb.TRUE_b)
    assert abs(dw) < 1e-5 and abs(db) < 1e-5


def test_closed_form_recovers_the_true_line_without_noise():
    data = tb.synthesize()
    w, b = tb.closed_form(data.x, data.y)
    assert w == pytest.approx(3.0, abs=1e-5) and b == pytest.approx(2.0, abs=1e-5)


def test_closed_form_agrees_with_the_normal_equations_on_noisy_data():
    data = tb.synthesize(noise_std=1.0, seed=11)
    x, y = data.x.numpy().astype(np.float64), data.y.numpy().astype(np.float64)
    w = np.cov(x, y, bias=True)[0, 1] / x.var()
    b = y.mean() - w * x.mean()
    assert tb.closed_form(x, y) == pytest.approx((w, b), abs=1e-9)


def test_loss_grid_matches_the_direct_loss():
    data = tb.synthesize(noise_std=0.2)
    ws, bs = np.array([1.0, 3.0, 4.5]), np.array([-1.0, 2.0])
    grid = tb.loss_grid(data.x, data.y, ws, bs)
    assert grid.shape == (2, 3)
    for i, b in enumerate(bs):
        for j, w in enumerate(ws):
            direct = float(tb.l2_loss(data.y, tb.Model(w=w, b=b)(data.x)))
            assert grid[i, j] == pytest.approx(direct, rel=1e-5)


def test_contraction_factors_are_about_one_minus_two_lr_for_standard_normal_x():
    data = tb.synthesize()
    factors = tb.contraction_factors(data.x, 0.1)
    assert factors == pytest.approx([0.8, 0.8], abs=0.02)


def test_crossing_is_where_the_two_lines_meet():
    x = tb.crossing(2.0, 1.0)
    assert x == -1.0 and 2.0 * x + 1.0 == tb.TRUE_w * x + tb.TRUE_b
    assert tb.crossing(0.5, 4.0, true_w=1.0, true_b=0.0) == pytest.approx(8.0)
    with pytest.raises(ValueError, match="the lines are parallel"):
        tb.crossing(tb.TRUE_w, 0.0)
