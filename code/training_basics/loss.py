"""The L2 loss: the mean squared error."""

import tensorflow as tf

from .checks import check_same_shape


def l2_loss(target_y, predicted_y):
    """L(y, ŷ) = (1/N) Σᵢ (yᵢ − ŷᵢ)²: the mean of squared errors (MSE).

    ``target_y`` and ``predicted_y`` have the same shape (N,); the result is a
    scalar tensor. Mean, not sum: the loss does not grow with N. (Not
    ``tf.nn.l2_loss``, which is Σ t²/2 of one tensor.) Shapes that differ would
    broadcast into a wrong number, so they are refused first.

    Taught in: book/loss.md
    """
    check_same_shape(target_y, predicted_y)
    return tf.reduce_mean(tf.square(target_y - predicted_y))
