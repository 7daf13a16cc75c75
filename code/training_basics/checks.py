"""Input checks at the package's public edge.

Every check raises with a message that names the bad value and says what was
expected, so a mistake never surfaces as a traceback from deep inside
TensorFlow, nor as a silently wrong number.
"""

import math
import numbers

import numpy as np
import tensorflow as tf


class TrainingDivergedError(FloatingPointError):
    """The loss became inf or NaN, or grew a millionfold, during training.

    Taught in: book/training-loop.md
    """


DIVERGENCE_GROWTH = 1e6  # a loss this many times the first one means training is diverging


def _check_not_diverging(losses, epoch, learning_rate):
    """Raise ``TrainingDivergedError`` if the last loss is inf/NaN or DIVERGENCE_GROWTH × the first."""
    loss, first_loss = float(losses[-1]), float(losses[0])
    if math.isfinite(loss) and not (first_loss > 0 and loss > DIVERGENCE_GROWTH * first_loss):
        return
    what = f"the loss became {loss}" if not math.isfinite(loss) else (
        f"the loss grew from {first_loss:.4g} to {loss:.4g}"
    )
    raise TrainingDivergedError(
        f"{what} at epoch {epoch} with learning_rate={learning_rate}: training diverged; "
        f"try a smaller learning rate, such as {learning_rate / 10:g}"
    )


def _check_finite_parameters(model, epoch, learning_rate):
    """Raise ``TrainingDivergedError`` if w or b overflowed to inf or NaN."""
    w, b = float(model.w.numpy()), float(model.b.numpy())
    if not (math.isfinite(w) and math.isfinite(b)):
        raise TrainingDivergedError(
            f"w={w}, b={b} after epoch {epoch} with learning_rate={learning_rate}: training diverged; "
            f"try a smaller learning rate, such as {learning_rate / 10:g}"
        )


def _check_training(model, inputs, outputs, epochs, learning_rate):
    """The arguments of a training loop, checked: (x, y, epochs, learning_rate), x and y float32 tensors."""
    x, y = _check_xy(inputs, outputs, "inputs", "outputs")
    return (x, y, *_check_loop(model, epochs, learning_rate))


def _check_loop(model, epochs, learning_rate):
    """A training loop's arguments other than the data, checked: (epochs, learning_rate)."""
    epochs, learning_rate = _check_count("epochs", epochs), _check_learning_rate(learning_rate)
    _check_trainable(model)
    return epochs, learning_rate


def _as_float_array(name, value):
    """``value`` as a float32 tensor, after checking it is a non-empty finite array."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array of numbers, got {_show(value)}") from err
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}); expected at least one example")
    bad = ~np.isfinite(array)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} must hold only finite numbers, but {name}{list(index)} is {array[index]}"
        )
    return tf.constant(array, dtype=tf.float32)


def _check_xy(x, y, x_name="x", y_name="y"):
    """Both arrays checked, and of the same shape: (x, y) as float32 tensors."""
    x = _as_float_array(x_name, x)
    y = _as_float_array(y_name, y)
    if x.shape != y.shape:
        raise ValueError(
            f"{x_name} and {y_name} must have the same shape, "
            f"got {x_name}.shape={tuple(x.shape)} and {y_name}.shape={tuple(y.shape)}"
        )
    return x, y


def check_same_shape(target_y, predicted_y):
    """Shapes of target and prediction agree and are not empty (no broadcasting).

    Taught in: book/loss.md
    """
    t_shape, p_shape = tuple(target_y.shape), tuple(predicted_y.shape)
    if t_shape != p_shape:
        raise ValueError(
            "target_y and predicted_y must have the same shape, "
            f"got target_y.shape={t_shape} and predicted_y.shape={p_shape}"
        )
    if 0 in t_shape:
        raise ValueError(f"target_y is empty (shape {t_shape}); expected at least one example")


def _check_number(name, value):
    """A real, finite number as a Python float: a Python or NumPy number, or a scalar tensor or variable."""
    if isinstance(value, (tf.Tensor, tf.Variable, np.ndarray)) and value.shape == ():
        if value.dtype in (tf.bool, np.bool_):
            raise TypeError(f"{name} must be a real number, got {_show(value)}")
        value = value.numpy() if hasattr(value, "numpy") else value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {_show(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


FLOAT32_MAX = float(np.finfo(np.float32).max)  # the largest magnitude a float32 holds, about 3.4e38


def _check_parameter(name, value):
    """A finite number that a float32 variable can hold, as a Python float: what ``tf.Variable`` gets."""
    value = _check_number(name, value)
    if abs(value) > FLOAT32_MAX:
        raise ValueError(
            f"{name} must lie within float32's range, from -{FLOAT32_MAX} to {FLOAT32_MAX}, "
            f"since the parameters are float32 variables; got {value}"
        )
    return value


def _check_learning_rate(learning_rate):
    """A finite learning rate > 0."""
    lr = _check_number("learning_rate", learning_rate)
    if lr <= 0:
        raise ValueError(f"learning_rate must be > 0, got {lr}")
    return lr


def _check_count(name, value, minimum=0):
    """An integer >= ``minimum`` (epochs may be 0: training then changes nothing)."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer, got {_show(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_trainable(model):
    """The model's ``w`` and ``b`` are trainable float32 variables, what a training step needs.

    Anything else fails later, deep in TensorFlow or on a gradient of None: a
    tensor cannot be updated in place, an integer variable gets no gradient, a
    float64 or float16 one cannot be multiplied by the float32 data, and the
    tape does not watch a variable made with ``trainable=False``.
    """
    for name in ("w", "b"):
        var = getattr(model, name, None)
        if not isinstance(var, tf.Variable):
            raise TypeError(
                f"model.{name} must be a tf.Variable, got {_show(var)}; "
                "a plain tensor or number cannot be updated in place"
            )
        dtype = var.dtype.name
        if not (var.dtype.is_floating or var.dtype.is_complex):
            raise TypeError(
                f"model.{name} is a tf.Variable of dtype {dtype}; it must be a floating-point dtype "
                f"(float32, the dtype of the data), or tape.gradient returns None for it"
            )
        if var.dtype != tf.float32:
            raise TypeError(
                f"model.{name} is a tf.Variable of dtype {dtype}; it must be float32, the dtype of the "
                f"data: TensorFlow does not multiply a {dtype} variable by float32 inputs"
            )
        if not var.trainable:
            raise TypeError(
                f"model.{name} is a tf.Variable with trainable=False; it must be trainable, or the tape "
                f"does not watch it and tape.gradient returns None for it"
            )


def _show(value):
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"
