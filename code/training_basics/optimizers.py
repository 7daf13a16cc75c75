"""From ``assign_sub`` to an optimizer object: the same step, then momentum and Adam.

A Keras optimizer updates the ``tf.Variable``s of the book's ``tf.Module`` model as it updates Keras's
own variables; one ``apply_gradients`` call may mix the two (a bug that broke the mix,
keras-team/keras#20517, was fixed in November 2024; tests/test_optimizers.py checks it on the
installed Keras).
"""

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from .checks import (
    _check_count,
    _check_learning_rate,
    _check_not_diverging,
    _check_number,
    _check_training,
    _check_xy,
)
from .learning_rate import _losses
from .loss import l2_loss
from .reference import hessian
from .training import History


def optimizer_step(model, inputs, outputs, optimizer):
    """One step on the L2 loss with ``optimizer``; returns the loss before the step.

    The tape and the gradient are ``train_step``'s; the two ``assign_sub`` lines become one call,
    ``optimizer.apply_gradients``, which for ``keras.optimizers.SGD(η)`` computes the same
    w ← w − η·∂L/∂w and b ← b − η·∂L/∂b, and for others keeps state between steps.

    Taught in: book/learning-rate.md
    """
    with tf.GradientTape() as tape:
        current_loss = l2_loss(outputs, model(inputs))
    dw, db = tape.gradient(current_loss, [model.w, model.b])
    optimizer.apply_gradients([(dw, model.w), (db, model.b)])
    return current_loss


def train_with_optimizer(model, inputs, outputs, optimizer, epochs=15, compiled=False):
    """``train`` (full batch) with ``optimizer_step``: returns the same ``History``.

    ``compiled=True`` runs each step as one graph (``tf.function``): the same arithmetic, less
    Python per step. Raises ``TrainingDivergedError`` as ``train`` does.

    Taught in: book/learning-rate.md
    """
    if not hasattr(optimizer, "apply_gradients"):
        raise TypeError(f"optimizer must be a Keras optimizer, got {optimizer!r} "
                        f"({type(optimizer).__name__})")
    learning_rate = float(np.asarray(optimizer.learning_rate))
    x, y, epochs, learning_rate = _check_training(model, inputs, outputs, epochs, learning_rate)
    optimizer.build([model.w, model.b])  # its state is created here, outside any graph
    step = tf.function(optimizer_step) if compiled else optimizer_step

    ws, bs, losses = [], [], []
    for epoch in range(epochs):
        ws.append(model.w.numpy())
        bs.append(model.b.numpy())
        losses.append(float(step(model, x, y, optimizer)))
        _check_not_diverging(losses, epoch, learning_rate)
    return History.from_steps(ws, bs, losses, model.w.numpy(), model.b.numpy(), learning_rate)


@dataclass(frozen=True)
class StartRuns:
    """Runs of one optimizer from K starts (NumPy arrays, not tensors).

    ``starts`` has shape (K, 2), one (w, b) per row; ``w[k]``, ``b[k]``, ``loss[k]`` hold run k's
    values at its start and after each step, and the loss there: shape (K, epochs + 1), as in ``Sweep``.

    Taught in: book/learning-rate.md
    """

    starts: np.ndarray
    w: np.ndarray
    b: np.ndarray
    loss: np.ndarray


def train_from_starts(inputs, outputs, optimizer, starts, epochs=100):
    """Full-batch runs of ``optimizer`` from each start (w, b) in ``starts``, all at once: a ``StartRuns``.

    Keras's SGD, with or without momentum, and Adam update each element of a variable from that
    element's gradient and state alone. So K models whose w and b are the K elements of two
    variables, trained on the sum of their K losses as ``sweep`` trains its K learning rates, are K
    independent runs of the optimizer, and one compiled step trains them all.

    Taught in: book/learning-rate.md
    """
    x, y = _check_xy(inputs, outputs, "inputs", "outputs")
    epochs = _check_count("epochs", epochs)
    if not hasattr(optimizer, "apply_gradients"):
        raise TypeError(f"optimizer must be a Keras optimizer, got {optimizer!r} "
                        f"({type(optimizer).__name__})")
    for start in starts:
        if np.ndim(start) != 1 or len(start) != 2:
            raise ValueError(f"each start must be a pair (w, b), got {start!r}")
    points = np.array([[_check_number("w", w), _check_number("b", b)] for w, b in starts], dtype=np.float64)
    if len(points) == 0:
        raise ValueError("starts is empty; expected at least one start (w, b)")
    ws = tf.Variable(points[:, 0], dtype=tf.float32)
    bs = tf.Variable(points[:, 1], dtype=tf.float32)
    optimizer.build([ws, bs])  # its state is created here, outside the graph
    step = tf.function(_step_from_starts)
    w_path, b_path, losses = [], [], []
    for _ in range(epochs):
        w_path.append(ws.numpy())
        b_path.append(bs.numpy())
        losses.append(step(x, y, ws, bs, optimizer).numpy())
    w_path.append(ws.numpy())
    b_path.append(bs.numpy())
    losses.append(_losses(x, y, ws, bs).numpy())
    return StartRuns(points, np.array(w_path).T, np.array(b_path).T, np.array(losses).T)


def _step_from_starts(x, y, ws, bs, optimizer):
    with tf.GradientTape() as tape:
        losses = _losses(x, y, ws, bs)
        total = tf.reduce_sum(losses)  # run k's loss depends on ws[k], bs[k] alone
    dw, db = tape.gradient(total, [ws, bs])
    optimizer.apply_gradients([(dw, ws), (db, bs)])
    return losses


def momentum_factor(x, learning_rate, momentum):
    """The per-step factor of the error under SGD with momentum β (heavy ball), from the Hessian.

    Along an eigendirection of H with eigenvalue λ the error follows
    e_{k+1} = (1 + β − η·λ)·e_k − β·e_{k−1}, so it shrinks like the larger root in size of
    z² − (1 + β − η·λ)·z + β = 0; this returns the largest over both λ. When the roots are
    complex, both have size √β, whatever λ is: momentum evens out the directions' rates.

    Taught in: book/learning-rate.md
    """
    lr, beta = _check_learning_rate(learning_rate), _check_number("momentum", momentum)
    if not 0 <= beta < 1:
        raise ValueError(f"momentum must be in [0, 1), got {beta}")
    roots = [np.roots([1.0, -(1.0 + beta - lr * lam), beta]) for lam in np.linalg.eigvalsh(hessian(x))]
    return float(max(np.abs(r).max() for r in roots))
