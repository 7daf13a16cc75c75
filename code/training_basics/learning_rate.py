"""Choosing the learning rate: many learning rates trained at once, and the theory that predicts them.

On the L2 loss the error e = (w − w*, b − b*) of a full-batch step is multiplied by I − η·H, whose
eigenvalues are 1 − η·λ for the eigenvalues λ of the Hessian H (``reference.hessian``). So per step
the error shrinks by at most max|1 − η·λ| and at least min|1 − η·λ|; training diverges once
η > 2/λmax. Inputs far from mean 0 and variance 1 make λmax/λmin large: standardizing them fixes it.
"""

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from .checks import _check_count, _check_learning_rate, _check_number, _check_xy
from .reference import hessian


@dataclass(frozen=True)
class Sweep:
    """Runs of gradient descent, one per learning rate (NumPy arrays, not tensors).

    ``w[k]``, ``b[k]``, ``loss[k]`` hold run k's values at the start and after each step, and the
    loss there: shape (K, epochs + 1) for K learning rates. (Unlike ``History``, the values after
    the last step are included.)

    Taught in: book/learning-rate.md
    """

    learning_rates: np.ndarray
    w: np.ndarray
    b: np.ndarray
    loss: np.ndarray


def sweep(inputs, outputs, learning_rates, epochs=15, w=2.0, b=1.0):
    """Full-batch gradient descent from (w, b) for every learning rate at once; returns a ``Sweep``.

    The K runs are one batch of K models: ``ws`` and ``bs`` are variables of shape (K,), the
    predictions ws[:, None]·x + bs[:, None] have shape (K, N), and the losses, one mean per row,
    shape (K,). The models share nothing, so the gradient of the *sum* of the K losses holds each
    model's own gradient, and one tape and one update give all K steps: ``ws ← ws − ηs·∂L/∂ws``.
    The whole loop is traced once into a graph (``tf.function``); the variables are declared of
    shape [None], so that one graph serves every K: declared of shape (K,), a third K reused the
    graph traced for the second and failed. A diverging run is recorded, not stopped.

    Taught in: book/learning-rate.md
    """
    x, y = _check_xy(inputs, outputs, "inputs", "outputs")
    rates = _rates(learning_rates)
    epochs = _check_count("epochs", epochs)
    start = [_check_number("w", w), _check_number("b", b)]
    lrs = tf.constant(rates, dtype=tf.float32)
    ws = tf.Variable(tf.fill([len(rates)], start[0]), shape=[None])  # shape [None]: one graph for any K
    bs = tf.Variable(tf.fill([len(rates)], start[1]), shape=[None])
    w_path, b_path, loss_path = _descend(x, y, lrs, ws, bs, tf.constant(epochs))
    return Sweep(np.array(rates), w_path.numpy().T, b_path.numpy().T, loss_path.numpy().T)


@tf.function(reduce_retracing=True)
def _descend(x, y, lrs, ws, bs, epochs):
    w_path = tf.TensorArray(tf.float32, size=epochs + 1)
    b_path = tf.TensorArray(tf.float32, size=epochs + 1)
    loss_path = tf.TensorArray(tf.float32, size=epochs + 1)
    for i in tf.range(epochs):
        w_path = w_path.write(i, ws.read_value())
        b_path = b_path.write(i, bs.read_value())
        with tf.GradientTape() as tape:
            losses = _losses(x, y, ws, bs)
            total = tf.reduce_sum(losses)  # run k's loss depends on ws[k], bs[k] alone
        dw, db = tape.gradient(total, [ws, bs])
        loss_path = loss_path.write(i, losses)
        ws.assign_sub(lrs * dw)
        bs.assign_sub(lrs * db)
    w_path = w_path.write(epochs, ws.read_value())
    b_path = b_path.write(epochs, bs.read_value())
    loss_path = loss_path.write(epochs, _losses(x, y, ws, bs))
    return w_path.stack(), b_path.stack(), loss_path.stack()


def _losses(x, y, ws, bs):
    return tf.reduce_mean(tf.square(y - (ws[:, None] * x + bs[:, None])), axis=1)  # (K,): one loss per model


def _rates(learning_rates):
    rates = [_check_learning_rate(lr) for lr in np.atleast_1d(learning_rates)]
    if not rates:
        raise ValueError("learning_rates is empty; expected at least one learning rate")
    return rates


def factor_bounds(x, learning_rates):
    """(min, max) over the eigenvalues λ of H of |1 − η·λ|, for each η: two arrays of shape (K,).

    Per full-batch step, every error shrinks by a factor between the two, and the worst start
    (along the eigenvector of the larger one) by the max exactly.

    Taught in: book/learning-rate.md
    """
    rates = np.array(_rates(learning_rates))
    sizes = np.abs(1.0 - rates[:, None] * np.linalg.eigvalsh(hessian(x))[None, :])
    return sizes.min(axis=1), sizes.max(axis=1)


def measured_factor(w, b, optimum, floor=1e-3):
    """Each run's mean factor per epoch of its error ‖(w − w*, b − b*)‖: shape (K,) for paths (K, T).

    ρ = (‖e_k‖ / ‖e_0‖)^(1/k), taken at the last epoch k whose error is still above ``floor``·‖e_0‖
    (at least k = 1). On the book's data float32 rounding sets the error only from about a
    millionth of ‖e_0‖ on, so the default floor stays well clear of it; what the floor decides is
    the window the factor is averaged over, and where the error's parts along the two eigenvectors
    of H shrink at different rates, a deeper floor gives a mean nearer the slower one.

    Taught in: book/learning-rate.md
    """
    w_star, b_star = (_check_number("optimum", v) for v in optimum)
    w, b = np.atleast_2d(np.asarray(w, dtype=np.float64)), np.atleast_2d(np.asarray(b, dtype=np.float64))
    error = np.hypot(w - w_star, b - b_star)  # (K, T)
    above = error >= floor * error[:, :1]
    last = np.maximum(np.where(above, np.arange(error.shape[1]), 0).max(axis=1), 1)  # (K,)
    rows = np.arange(len(error))
    return (error[rows, last] / error[:, 0]) ** (1.0 / last)


def standardize(x):
    """z = (x − mean) / std, with the mean and standard deviation of x: (z as float32, mean, std).

    A model ŷ = w_z·z + b_z trained on z is the model ŷ = w·x + b of ``unstandardize``.

    Taught in: book/learning-rate.md
    """
    x64 = np.asarray(_check_xy(x, x)[0], dtype=np.float64)
    mean, std = float(x64.mean()), float(x64.std())
    if std == 0:
        raise ValueError(f"x is constant (every value is {mean}): it cannot be standardized")
    return tf.constant((x64 - mean) / std, dtype=tf.float32), mean, std


def unstandardize(w_z, b_z, mean, std):
    """(w, b) on the original x of a model trained on z = (x − mean)/std: w = w_z/std, b = b_z − w·mean.

    Because w_z·(x − mean)/std + b_z = (w_z/std)·x + (b_z − w_z·mean/std).

    Taught in: book/learning-rate.md
    """
    w_z, b_z = _check_number("w_z", w_z), _check_number("b_z", b_z)
    mean, std = _check_number("mean", mean), _check_number("std", std)
    if std <= 0:
        raise ValueError(f"std must be > 0, got {std}")
    w = w_z / std
    return w, b_z - w * mean
