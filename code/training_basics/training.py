"""One training step, and the loop that repeats it."""

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from .checks import _check_finite_parameters, _check_not_diverging, _check_training
from .loss import l2_loss


def train_step(model, inputs, outputs, learning_rate):
    """One step of gradient descent on the L2 loss; returns the loss before the step.

    Under the tape, L = l2_loss(outputs, model(inputs)); then, in place,
    w ← w − learning_rate·∂L/∂w and b ← b − learning_rate·∂L/∂b. ``inputs`` and
    ``outputs`` are float32 tensors of shape (N,). As in the lab, the step checks
    nothing of its own: ``train`` checks its arguments once, before the first step.

    Taught in: book/updates.md
    """
    with tf.GradientTape() as tape:
        current_loss = l2_loss(outputs, model(inputs))
    dw, db = tape.gradient(current_loss, [model.w, model.b])
    model.w.assign_sub(learning_rate * dw)
    model.b.assign_sub(learning_rate * db)
    return current_loss


@dataclass(frozen=True)
class History:
    """What ``train`` recorded, one entry per step (NumPy arrays, not tensors).

    ``w[i]``, ``b[i]`` are the values *before* step i, ``loss[i]`` the loss at
    those values, ``epoch[i]`` the epoch step i belongs to. ``final_w`` and
    ``final_b`` are the values after the last step.

    Taught in: book/training-loop.md
    """

    w: np.ndarray
    b: np.ndarray
    loss: np.ndarray
    epoch: np.ndarray
    final_w: float
    final_b: float
    learning_rate: float

    @classmethod
    def from_steps(cls, w, b, loss, final_w, final_b, learning_rate, epoch=None):
        """A ``History`` from per-step sequences (lists, arrays); ``epoch`` is 0, 1, 2, ... unless given."""
        return cls(
            w=np.asarray(w, dtype=np.float32),
            b=np.asarray(b, dtype=np.float32),
            loss=np.asarray(loss, dtype=np.float32),
            epoch=np.asarray(np.arange(len(loss)) if epoch is None else epoch, dtype=np.int64),
            final_w=float(final_w),
            final_b=float(final_b),
            learning_rate=float(learning_rate),
        )

    def __len__(self):
        return len(self.loss)


def train(model, inputs, outputs, epochs=15, learning_rate=0.1, log=None):
    """Run ``epochs`` epochs of ``train_step`` on all the examples (full batch); returns a ``History``.

    An epoch is one step, as in the lab. ``log(epoch, w, b, loss)``, if given, is
    called once per epoch with the values the lab prints: w and b before the
    epoch's step and the loss at those values. The arguments are checked once,
    before the first step. Raises ``TrainingDivergedError`` if the loss becomes
    inf or NaN or grows a millionfold.

    Taught in: book/training-loop.md
    """
    x, y, epochs, learning_rate = _check_training(model, inputs, outputs, epochs, learning_rate)

    ws, bs, losses = [], [], []
    for epoch in range(epochs):
        ws.append(model.w.numpy())
        bs.append(model.b.numpy())
        losses.append(float(train_step(model, x, y, learning_rate)))
        _check_not_diverging(losses, epoch, learning_rate)
        if log is not None:
            log(epoch, float(ws[-1]), float(bs[-1]), losses[-1])

    _check_finite_parameters(model, epochs - 1, learning_rate)
    return History.from_steps(ws, bs, losses, model.w.numpy(), model.b.numpy(), learning_rate)
