"""The L2 loss: the mean squared error."""

import tensorflow as tf

from .checks import check_shapes


@check_shapes
def l2_loss(target_y, predicted_y):
    """L(y, ŷ) = (1/N) Σᵢ (yᵢ − ŷᵢ)²: the mean of squared errors (MSE).

    ``target_y`` and ``predicted_y`` have the same shape (N,); the result is a
    scalar tensor. Mean, not sum: the loss does not grow with N. (Not
    ``tf.nn.l2_loss``, which is Σ t²/2 of one tensor.) Called directly, it first
    checks the shapes (``@check_shapes``); ``l2_loss.unchecked`` is this body alone.

    Taught in: book/loss.md
    """
    return tf.reduce_mean(tf.square(target_y - predicted_y))
