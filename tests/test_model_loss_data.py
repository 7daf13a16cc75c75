import numpy as np
import pytest
import tensorflow as tf

import training_basics as tb


def test_model_defaults_are_the_labs_fixed_start():
    model = tb.Model()
    assert (float(model.w), float(model.b)) == (2.0, 1.0)
    assert model.w.dtype == tf.float32 and model.b.dtype == tf.float32
    assert {v.name for v in model.trainable_variables} == {"w:0", "b:0"}


def test_model_computes_w_x_plus_b():
    model = tb.Model(w=-1.5, b=0.25)
    x = np.array([-2.0, 0.0, 3.0], dtype=np.float32)
    np.testing.assert_allclose(model(x).numpy(), -1.5 * x + 0.25)


def test_random_model_is_seeded():
    a, b, c = tb.Model.random(1), tb.Model.random(seed=1), tb.Model.random(2)
    assert (float(a.w), float(a.b)) == (float(b.w), float(b.b))
    assert (float(a.w), float(a.b)) != (float(c.w), float(c.b))
    tf.random.uniform([3])  # the global random state does not matter: the draw is stateless
    d = tb.Model.random(seed=1)
    assert (float(a.w), float(a.b)) == (float(d.w), float(d.b))


def test_random_model_is_a_model_with_normal_parameters():
    model = tb.Model.random(seed=0)
    assert isinstance(model, tb.Model) and model.w.dtype == tf.float32
    draws = np.array([[float(m.w), float(m.b)] for m in map(tb.Model.random, range(2000))])
    assert np.abs(draws.mean(axis=0)).max() < 0.1 and np.abs(draws.std(axis=0) - 1).max() < 0.1
    scaled = tb.Model.random(seed=0, scale=0.5)
    assert float(scaled.w) == pytest.approx(0.5 * float(model.w), rel=1e-6)


def test_integers_become_float_variables():
    model = tb.Model(w=3, b=2)
    assert model.w.dtype.is_floating and float(model.w) == 3.0


def test_l2_loss_is_the_mean_not_the_sum():
    y = tf.constant([1.0, 2.0, 3.0, 4.0])
    y_hat = tf.constant([1.0, 0.0, 3.0, 6.0])
    assert float(tb.l2_loss(y, y_hat)) == pytest.approx((0 + 4 + 0 + 4) / 4)


def test_l2_loss_of_a_perfect_prediction_is_zero():
    y = tf.constant([0.5, -1.0])
    assert float(tb.l2_loss(y, y)) == 0.0


def test_synthesize_follows_the_lab():
    data = tb.synthesize()
    assert data.x.shape == (tb.NUM_EXAMPLES,) == (1000,)
    assert (tb.TRUE_w, tb.TRUE_b) == (3.0, 2.0)
    np.testing.assert_allclose(data.y.numpy(), 3.0 * data.x.numpy() + 2.0, rtol=1e-6, atol=1e-6)
    x = data.x.numpy()
    assert abs(x.mean()) < 0.1 and abs(x.std() - 1.0) < 0.1  # x ~ N(0, 1)


def test_synthesize_is_seeded_and_the_test_set_differs():
    a, b = tb.synthesize(), tb.synthesize()
    np.testing.assert_array_equal(a.x.numpy(), b.x.numpy())
    test = tb.synthesize(seed=tb.TEST_SEED)
    assert not np.allclose(a.x.numpy(), test.x.numpy())


def test_noise_has_the_requested_spread():
    data = tb.synthesize(num_examples=20000, noise_std=0.5)
    residual = data.y.numpy() - (3.0 * data.x.numpy() + 2.0)
    assert residual.std() == pytest.approx(0.5, rel=0.05)


def test_l2_loss_is_the_labs_line_after_one_shape_check():
    source = tb.show_source(tb.l2_loss).data
    assert ("    check_same_shape(target_y, predicted_y)\n"
            "    return tf.reduce_mean(tf.square(target_y - predicted_y))") in source
    assert "# code/training_basics/loss.py, lines" in source
    y, column = tf.zeros(3), tf.zeros((3, 1))
    with pytest.raises(ValueError, match="target_y and predicted_y must have the same shape"):
        tb.l2_loss(y, column)
    with pytest.raises(ValueError, match="target_y and predicted_y must have the same shape"):
        tf.function(tb.l2_loss)(y, column)  # in a graph too, when it is traced


def test_model_reads_as_the_labs_class_with_the_check_first():
    import inspect

    body = inspect.getsource(tb.Model.__init__).splitlines()[1:]
    assert [line.strip().split("  #")[0] for line in body] == [
        'w, b = _check_parameter("w", w), _check_parameter("b", b)',
        "super().__init__(**kwargs)",
        'self.w = tf.Variable(w, name="w")',
        'self.b = tf.Variable(b, name="b")',
    ]
    model = tb.Model(w=3, b=np.float64(2.5))
    assert (model.w.dtype, model.b.dtype) == (tf.float32, tf.float32) and model.name == "model"
    assert tb.Model(name="named").name == "named"


class _VariableModel(tf.Module):
    """w·x + b with variables made as asked: the ways a hand-made model can go wrong at the edge."""

    def __init__(self, w, b=None):
        self.w = w
        self.b = tf.Variable(1.0) if b is None else b

    def __call__(self, x):
        return self.w * x + self.b


WRONG_VARIABLES = [
    ("float64", lambda: tf.Variable(2.0, dtype=tf.float64),
     r"model.w is a tf.Variable of dtype float64; it must be float32, the dtype of the data: TensorFlow does "
     r"not multiply a float64 variable by float32 inputs"),
    ("float16", lambda: tf.Variable(2.0, dtype=tf.float16),
     r"model.w is a tf.Variable of dtype float16; it must be float32"),
    ("bfloat16", lambda: tf.Variable(2.0, dtype=tf.bfloat16),
     r"model.w is a tf.Variable of dtype bfloat16; it must be float32"),
    ("complex64", lambda: tf.Variable(2.0 + 0j, dtype=tf.complex64),
     r"model.w is a tf.Variable of dtype complex64; it must be float32"),
    ("int64", lambda: tf.Variable(2, dtype=tf.int64),
     r"model.w is a tf.Variable of dtype int64; it must be a floating-point dtype \(float32, the dtype of "
     r"the data\), or tape.gradient returns None for it"),
    ("bool", lambda: tf.Variable(True),
     r"model.w is a tf.Variable of dtype bool; it must be a floating-point dtype"),
    ("not trainable", lambda: tf.Variable(2.0, trainable=False),
     r"model.w is a tf.Variable with trainable=False; it must be trainable, or the tape does not watch it "
     r"and tape.gradient returns None for it"),
]


@pytest.mark.parametrize("make, message", [case[1:] for case in WRONG_VARIABLES],
                         ids=[case[0] for case in WRONG_VARIABLES])
def test_check_trainable_refuses_what_a_step_cannot_train_and_says_what_it_expected(make, message):
    with pytest.raises(TypeError, match=message):
        tb.checks._check_trainable(_VariableModel(make()))
    with pytest.raises(TypeError, match=message.replace("model.w", "model.b")):
        tb.checks._check_trainable(_VariableModel(tf.Variable(2.0), b=make()))


@pytest.mark.parametrize("entry", ["train", "train_compiled", "train_with_optimizer"])
def test_every_training_entry_refuses_a_float64_or_untrainable_variable_before_its_first_step(entry):
    import keras

    data = tb.synthesize(num_examples=8)
    run = {
        "train": lambda model: tb.train(model, data.x, data.y, epochs=1),
        "train_compiled": lambda model: tb.compiled.train_compiled(model, data.x, data.y, epochs=1),
        "train_with_optimizer": lambda model: tb.train_with_optimizer(
            model, data.x, data.y, keras.optimizers.SGD(learning_rate=0.1), epochs=1),
    }[entry]
    for variable, message in [(tf.Variable(2.0, dtype=tf.float64), "dtype float64; it must be float32"),
                              (tf.Variable(2.0, trainable=False), "trainable=False; it must be trainable")]:
        model = _VariableModel(variable)
        with pytest.raises(TypeError, match=message):
            run(model)
        assert float(model.w.numpy()) == 2.0  # refused before any step


def test_without_the_check_a_float64_or_untrainable_variable_fails_deep_in_tensorflow():
    """What the check saves the reader from: the lab's step, given such a model, fails in TensorFlow's Mul or
    on a gradient of None, with a message that names no variable."""
    data = tb.synthesize(num_examples=8)
    with pytest.raises(tf.errors.InvalidArgumentError, match="cannot compute Mul"):
        tb.train_step(_VariableModel(tf.Variable(2.0, dtype=tf.float64)), data.x, data.y, 0.1)
    with pytest.raises(TypeError, match="NoneType"):
        tb.train_step(_VariableModel(tf.Variable(2.0, trainable=False)), data.x, data.y, 0.1)


def test_check_trainable_accepts_the_models_the_book_trains():
    tb.checks._check_trainable(tb.Model())
    tb.checks._check_trainable(tb.Model.random(seed=3))
    tb.checks._check_trainable(_VariableModel(tf.Variable(2.0), tf.Variable(1.0)))
