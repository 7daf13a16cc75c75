"""Every bad input raises a clear error that names the value and says what was expected."""

import re

import numpy as np
import pytest
import tensorflow as tf

import training_basics as tb

X = np.linspace(-1, 1, 8, dtype=np.float32)
Y = 3 * X + 2


class IntModel(tf.Module):
    def __init__(self):
        self.w = tf.Variable(2)
        self.b = tf.Variable(1)

    def __call__(self, x):
        return self.w * x + self.b


class TensorModel(tf.Module):
    def __init__(self):
        self.w = tf.constant(2.0)
        self.b = tf.constant(1.0)

    def __call__(self, x):
        return self.w * x + self.b


CASES = [
    ("shape mismatch", lambda: tb.train(tb.Model(), X, Y[:5]), ValueError,
     r"inputs and outputs must have the same shape, got inputs.shape=\(8,\) and outputs.shape=\(5,\)"),
    ("empty", lambda: tb.train(tb.Model(), [], []), ValueError, r"inputs is empty"),
    ("nan in x", lambda: tb.train(tb.Model(), np.r_[X[:3], np.nan], Y[:4]), ValueError,
     r"inputs must hold only finite numbers, but inputs\[3\] is nan"),
    ("inf in y", lambda: tb.train(tb.Model(), X, np.r_[Y[:7], np.inf]), ValueError,
     r"outputs\[7\] is inf"),
    ("strings", lambda: tb.train(tb.Model(), ["a", "b"], [1, 2]), TypeError,
     r"inputs must be an array of numbers, got \['a', 'b'\]"),
    ("lr zero", lambda: tb.train(tb.Model(), X, Y, learning_rate=0), ValueError,
     r"learning_rate must be > 0, got 0.0"),
    ("lr negative", lambda: tb.train(tb.Model(), X, Y, learning_rate=-0.1), ValueError,
     r"learning_rate must be > 0, got -0.1"),
    ("lr nan", lambda: tb.train(tb.Model(), X, Y, learning_rate=float("nan")), ValueError,
     r"learning_rate must be finite, got nan"),
    ("lr inf", lambda: tb.train(tb.Model(), X, Y, learning_rate=float("inf")), ValueError,
     r"learning_rate must be finite, got inf"),
    ("lr string", lambda: tb.train(tb.Model(), X, Y, learning_rate="0.1"), TypeError,
     r"learning_rate must be a real number, got '0.1' \(str\)"),
    ("negative epochs", lambda: tb.train(tb.Model(), X, Y, epochs=-1), ValueError,
     r"epochs must be >= 0, got -1"),
    ("float epochs", lambda: tb.train(tb.Model(), X, Y, epochs=2.5), TypeError,
     r"epochs must be an integer, got 2.5 \(float\)"),
    ("zero batch", lambda: tb.train_minibatches(tb.Model(), X, Y, batch_size=0), ValueError,
     r"batch_size must be >= 1, got 0"),
    ("minibatch shape mismatch", lambda: tb.train_minibatches(tb.Model(), X, Y[:5], 4), ValueError,
     r"inputs and outputs must have the same shape, got inputs.shape=\(8,\) and outputs.shape=\(5,\)"),
    ("minibatch lr zero", lambda: tb.train_minibatches(tb.Model(), X, Y, 4, learning_rate=0), ValueError,
     r"learning_rate must be > 0, got 0.0"),
    ("minibatch float epochs", lambda: tb.train_minibatches(tb.Model(), X, Y, 4, epochs=2.5), TypeError,
     r"epochs must be an integer, got 2.5 \(float\)"),
    ("minibatch seed negative", lambda: tb.train_minibatches(tb.Model(), X, Y, 4, seed=-1), ValueError,
     r"seed must be >= 0, got -1"),
    ("minibatch int variables", lambda: tb.train_minibatches(IntModel(), X, Y, 4), TypeError,
     r"model.w is a tf.Variable of dtype int32"),
    ("compiled lr nan", lambda: tb.compiled.train_compiled(tb.Model(), X, Y, learning_rate=float("nan")),
     ValueError, r"learning_rate must be finite, got nan"),
    ("compiled shape mismatch", lambda: tb.compiled.train_compiled(tb.Model(), X, Y[:5]), ValueError,
     r"inputs and outputs must have the same shape, got inputs.shape=\(8,\) and outputs.shape=\(5,\)"),
    ("compiled loop shape mismatch",
     lambda: tb.compiled.compile_loop(tb.Model(), 0.1)(tf.constant(X), tf.constant(Y[:1]), tf.constant(1)),
     ValueError, r"target_y and predicted_y must have the same shape, "
                 r"got target_y.shape=\(1,\) and predicted_y.shape=\(8,\)"),
    ("int variables", lambda: tb.train(IntModel(), X, Y), TypeError,
     r"model.w is a tf.Variable of dtype int32; it must be a floating-point dtype .* returns None"),
    ("int variables, one epoch", lambda: tb.train(IntModel(), X, Y, epochs=1), TypeError,
     r"model.w is a tf.Variable of dtype int32"),
    ("tensors, not variables", lambda: tb.train(TensorModel(), X, Y), TypeError,
     r"model.w must be a tf.Variable, got <tf.Tensor"),
    ("nan weight", lambda: tb.Model(w=float("nan")), ValueError, r"w must be finite, got nan"),
    ("bool weight", lambda: tb.Model(b=True), TypeError, r"b must be a real number, got True \(bool\)"),
    ("weight beyond float32", lambda: tb.Model(w=1e39), ValueError,
     r"w must lie within float32's range, from -3.4028234663852886e\+38 to 3.4028234663852886e\+38, "
     r"since the parameters are float32 variables; got 1e\+39"),
    ("bias beyond float32", lambda: tb.Model(b=np.float64(-3.5e38)), ValueError,
     r"b must lie within float32's range, .*; got -3.5e\+38"),
    ("keras weight beyond float32", lambda: tb.KerasModel(w=1e39), ValueError,
     r"w must lie within float32's range, .*; got 1e\+39"),
    ("raw-variable keras weight beyond float32", lambda: tb.RawVariableModel(b=-1e300), ValueError,
     r"b must lie within float32's range, .*; got -1e\+300"),
    ("random seed negative", lambda: tb.Model.random(seed=-1), ValueError, r"seed must be >= 0, got -1"),
    ("random scale beyond float32", lambda: tb.Model.random(seed=0, scale=1e39), ValueError,
     r"scale must lie within float32's range.*got 1e\+39"),
    ("random seed float", lambda: tb.Model.random(seed=1.5), TypeError, r"seed must be an integer, got 1.5"),
    ("random scale zero", lambda: tb.Model.random(seed=0, scale=0), ValueError,
     r"scale must be > 0, got 0.0"),
    ("loss shapes", lambda: tb.l2_loss(tf.zeros(3), tf.zeros((3, 1))), ValueError,
     r"target_y and predicted_y must have the same shape, "
     r"got target_y.shape=\(3,\) and predicted_y.shape=\(3, 1\)"),
    ("loss empty", lambda: tb.l2_loss(tf.zeros(0), tf.zeros(0)), ValueError, r"target_y is empty"),
    ("negative noise", lambda: tb.synthesize(noise_std=-1), ValueError, r"noise_std must be >= 0, got -1.0"),
    ("no examples", lambda: tb.synthesize(num_examples=0), ValueError, r"num_examples must be >= 1, got 0"),
    ("evaluate mismatch", lambda: tb.evaluate(tb.Model(), X, Y[:2]), ValueError,
     r"x_test and y_test must have the same shape"),
    ("gradients at nan", lambda: tb.analytic_gradients(X, Y, float("nan"), 0.0), ValueError,
     r"w must be finite, got nan"),
    # run_workers checks every argument before it starts a worker (python -m training_basics.distributed)
    ("workers, every 0", lambda: tb.run_workers(2, every=0), ValueError, r"every must be >= 1, got 0"),
    ("workers, epochs 0", lambda: tb.run_workers(2, epochs=0), ValueError, r"epochs must be >= 1, got 0"),
    ("workers, timeout 0", lambda: tb.run_workers(2, timeout=0), ValueError,
     r"timeout must be > 0 seconds, got 0"),
    ("workers, rate string", lambda: tb.run_workers(2, learning_rate="0.1"), TypeError,
     r"learning_rate must be a real number, got '0.1'"),
    ("workers, resume nothing", lambda: tb.run_workers(2, resume=True), ValueError,
     r"resume=True \(--resume\) needs a checkpoint_dir \(--checkpoint-dir\)"),
    ("minibatches, repeats 0", lambda: tb.seconds_per_epoch(tb.minibatches(X, Y, 4), repeats=0), ValueError,
     r"repeats must be >= 1, got 0"),
    ("step times, repeats 0",
     lambda: tb.distributed.step_times(tf.distribute.get_strategy(), X, Y, repeats=0),
     ValueError, r"repeats must be >= 1, got 0"),
    ("step times, steps 2.5",
     lambda: tb.distributed.step_times(tf.distribute.get_strategy(), X, Y, steps=2.5),
     TypeError, r"steps must be an integer, got 2.5"),
]


@pytest.mark.parametrize("make, error, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_a_clear_error(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_divergence_names_the_epoch_and_suggests_a_smaller_learning_rate():
    data = tb.synthesize()
    with pytest.raises(tb.TrainingDivergedError) as info:
        tb.train(tb.Model(), data.x, data.y, epochs=200, learning_rate=10.0)
    message = str(info.value)
    assert re.match(r"the loss grew from 1.92 to \S+ at epoch \d+ with learning_rate=10.0: "
                    r"training diverged; "
                    r"try a smaller learning rate, such as 1$", message), message
    epoch = int(message.split("at epoch ")[1].split()[0])
    assert 1 <= epoch < 10


def test_a_loss_that_overflows_to_inf_is_divergence_too():
    from training_basics.checks import _check_not_diverging

    message = r"the loss became inf at epoch 3 with learning_rate=0.5"
    with pytest.raises(tb.TrainingDivergedError, match=message):
        _check_not_diverging([1.0, 2.0, float("inf")], 3, 0.5)
    with pytest.raises(tb.TrainingDivergedError, match=r"the loss became nan at epoch 0"):
        _check_not_diverging([float("nan")], 0, 0.5)
    _check_not_diverging([1.0, 1e5], 3, 0.5)  # large, but not a millionfold: no error


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")  # 1e39 in float32: inf
def test_parameters_that_overflow_in_the_last_step_are_divergence_too():
    for train in (tb.train, lambda *args, **kwargs: tb.train_minibatches(*args, 8, **kwargs),
                  tb.compiled.train_compiled):  # one step, which takes w and b past float32's largest
        with pytest.raises(tb.TrainingDivergedError, match=r"w=-?inf, b=-?inf after epoch 0 with "
                                                           r"learning_rate=1e\+39"):
            train(tb.Model(), X, Y, epochs=1, learning_rate=1e39)


def test_the_labs_loop_at_too_large_a_learning_rate_stops_within_its_15_epochs():
    data = tb.synthesize()
    with pytest.raises(tb.TrainingDivergedError, match=r"learning_rate=1.5"):
        tb.train(tb.Model(), data.x, data.y, epochs=15, learning_rate=1.5)
    with pytest.raises(tb.TrainingDivergedError, match=r"learning_rate=1.5"):
        tb.train_minibatches(tb.Model(), data.x, data.y, batch_size=500, epochs=15, learning_rate=1.5)


def test_errors_are_raised_before_any_update():
    model = tb.Model()
    with pytest.raises(ValueError):
        tb.train(model, X, Y, learning_rate=-1)
    with pytest.raises(ValueError):
        tb.train_minibatches(model, X, Y, batch_size=0)

    class Column(tb.Model):
        def __call__(self, x):
            return tf.reshape(self.w * x + self.b, (-1, 1))

    column = Column()
    for train in (tb.train, lambda *a: tb.train_minibatches(*a, 4), tb.compiled.train_compiled):
        with pytest.raises(ValueError, match=r"target_y and predicted_y must have the same shape"):
            train(column, X, Y)
    for trained in (model, column):
        assert (float(trained.w), float(trained.b)) == (2.0, 1.0)


def test_the_compiled_loop_refuses_mismatched_shapes_on_every_call_even_after_a_relaxed_trace():
    """Review of issue 17: the loop traces with reduce_retracing=True, so after calls on 5 and 7 examples its
    graph takes inputs of any length, (None,), and the check inside train_step, run only when tracing, let
    5 inputs with 1 target through (they broadcast). The loop now checks every call's shapes first."""
    model = tb.Model()
    loop = tb.compiled.compile_loop(model, 0.1)
    x, y = tf.constant(X), tf.constant(Y)
    loop(x[:5], y[:5], tf.constant(1))
    loop(x[:7], y[:7], tf.constant(1))
    before = (float(model.w), float(model.b))
    for bad_x, bad_y in ((x[:5], y[:1]), (x[:5], y[:7]), (x[:5], tf.reshape(y[:5], (5, 1)))):
        with pytest.raises(ValueError, match=r"target_y and predicted_y must have the same shape, got "
                                             rf"target_y.shape={re.escape(str(tuple(bad_y.shape)))} and "
                                             r"predicted_y.shape=\(5,\)"):
            loop(bad_x, bad_y, tf.constant(1))
    assert (float(model.w), float(model.b)) == before  # refused before the graph ran a step


def test_scalar_tensors_and_variables_are_numbers():
    import tensorflow as tf

    model = tb.Model(w=tf.constant(2.5), b=np.float32(0.5))
    assert (float(model.w), float(model.b)) == (2.5, 0.5)
    assert tb.analytic_gradients(X, Y, model.w, model.b) == tb.analytic_gradients(X, Y, 2.5, 0.5)
    with pytest.raises(TypeError, match=r"w must be a real number, got <tf.Tensor: shape=\(2,\)"):
        tb.Model(w=tf.constant([1.0, 2.0]))
