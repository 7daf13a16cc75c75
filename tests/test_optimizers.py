"""training_basics.optimizers: Keras's SGD is the assign_sub loop bit for bit; momentum's theory holds."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import training_basics as tb


@pytest.fixture(scope="module")
def data():
    return tb.synthesize()


@pytest.mark.parametrize("compiled", [False, True])
def test_sgd_gives_the_assign_sub_history_bit_for_bit(data, compiled):
    lab = tb.train(tb.Model(), *data, epochs=15, learning_rate=0.1)
    sgd = keras.optimizers.SGD(0.1)
    run = tb.train_with_optimizer(tb.Model(), *data, sgd, epochs=15, compiled=compiled)
    for name in ["w", "b", "loss"]:
        np.testing.assert_array_equal(getattr(run, name), getattr(lab, name))
    assert (run.final_w, run.final_b) == (lab.final_w, lab.final_b)


def test_momentum_factor_is_sqrt_beta_when_the_roots_are_complex(data):
    assert tb.momentum_factor(data.x, 0.1, 0.9) == pytest.approx(np.sqrt(0.9))
    plain = np.abs(tb.contraction_factors(data.x, 0.1)).max()
    assert tb.momentum_factor(data.x, 0.1, 0.0) == pytest.approx(plain)


def test_momentum_run_shrinks_at_about_its_factor(data):
    x = data.x + 5.0
    y = tb.TRUE_w * x + tb.TRUE_b
    lam = np.linalg.eigvalsh(tb.hessian(x))
    eta = 2 / lam.sum()
    run = tb.train_with_optimizer(tb.Model(), x, y, keras.optimizers.SGD(eta, momentum=0.9), epochs=200,
                                  compiled=True)
    error = np.hypot(run.w - 3.0, run.b - 2.0)
    # over a long stretch, the mean factor per step approaches sqrt(0.9) (the spiral's wobble averages out)
    assert (error[190] / error[40]) ** (1 / 150) == pytest.approx(np.sqrt(0.9), abs=0.02)


@pytest.mark.parametrize("make", [lambda: keras.optimizers.SGD(0.1), lambda: keras.optimizers.Adam(0.1)])
@pytest.mark.parametrize("keras_first", [True, False])
def test_one_apply_gradients_call_may_mix_tf_and_keras_variables(make, keras_first):
    """What the module docstring says: keras-team/keras#20517 is fixed in the installed Keras."""
    kv, tv = keras.Variable(1.0), tf.Variable(2.0)
    pairs = [(tf.constant(1.0), kv), (tf.constant(1.0), tv)]
    make().apply_gradients(pairs if keras_first else pairs[::-1])
    assert float(kv.numpy()) == pytest.approx(0.9, abs=1e-5)
    assert float(tv.numpy()) == pytest.approx(1.9, abs=1e-5)


@pytest.mark.parametrize("make", [lambda: keras.optimizers.SGD(0.1),
                                  lambda: keras.optimizers.SGD(0.05, momentum=0.9),
                                  lambda: keras.optimizers.Adam(0.1)])
def test_runs_from_starts_are_the_separate_runs_to_the_last_bit(data, make):
    starts = [(2.0, 1.0), (4.0, 0.5), (-1.0, 3.0)]
    runs = tb.optimizers.train_from_starts(data.x, data.y, make(), starts, epochs=20)
    assert runs.w.shape == runs.b.shape == runs.loss.shape == (3, 21)
    np.testing.assert_array_equal(runs.starts, np.array(starts))
    for k, (w, b) in enumerate(starts):
        model = tb.Model(w=w, b=b)
        one = tb.train_with_optimizer(model, data.x, data.y, make(), epochs=20, compiled=True)
        np.testing.assert_array_equal(runs.w[k, :-1], one.w)
        np.testing.assert_array_equal(runs.b[k, :-1], one.b)
        np.testing.assert_array_equal(runs.loss[k, :-1], one.loss)
        assert (runs.w[k, -1], runs.b[k, -1]) == (one.final_w, one.final_b)
        assert runs.loss[k, -1] == pytest.approx(float(tb.l2_loss(data.y, model(data.x))), rel=1e-6)


def test_a_diverging_optimizer_run_raises(data):
    with pytest.raises(tb.TrainingDivergedError):
        tb.train_with_optimizer(tb.Model(), *data, keras.optimizers.SGD(1.5), epochs=100)


@pytest.mark.parametrize("call, error, message", [
    (lambda d: tb.train_with_optimizer(tb.Model(), *d, "sgd"), TypeError,
     "optimizer must be a Keras optimizer"),
    (lambda d: tb.momentum_factor(d.x, 0.1, 1.0), ValueError, r"momentum must be in \[0, 1\), got 1.0"),
    (lambda d: tb.momentum_factor(d.x, 0.0, 0.5), ValueError, "learning_rate must be > 0, got 0.0"),
    (lambda d: tb.optimizers.train_from_starts(*d, "adam", [(2.0, 1.0)]), TypeError,
     "optimizer must be a Keras optimizer"),
    (lambda d: tb.optimizers.train_from_starts(*d, keras.optimizers.SGD(0.1), []), ValueError,
     "starts is empty"),
    (lambda d: tb.optimizers.train_from_starts(*d, keras.optimizers.SGD(0.1), [(2.0,)]), ValueError,
     r"each start must be a pair \(w, b\), got \(2.0,\)"),
    (lambda d: tb.optimizers.train_from_starts(*d, keras.optimizers.SGD(0.1), [(2.0, float("nan"))]),
     ValueError, "b must be finite"),
    (lambda d: tb.optimizers.train_from_starts(*d, keras.optimizers.SGD(0.1), [(2.0, 1.0)], epochs=-1),
     ValueError, "epochs must be >= 0, got -1"),
])
def test_bad_input_is_named(data, call, error, message):
    with pytest.raises(error, match=message):
        call(data)
