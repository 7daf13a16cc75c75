"""Synthesized data: points on the line y = TRUE_w·x + TRUE_b."""

from typing import NamedTuple

import tensorflow as tf

from .checks import _check_count, _check_number

TRUE_w = 3.0
TRUE_b = 2.0
NUM_EXAMPLES = 1000
SEED = 2024  # the training set
TEST_SEED = 7  # the test set: its own seed, so it never repeats the training x


class Dataset(NamedTuple):
    """x and y, float32 tensors of shape (N,).

    Taught in: book/data.md
    """

    x: tf.Tensor
    y: tf.Tensor


def synthesize(num_examples=NUM_EXAMPLES, true_w=TRUE_w, true_b=TRUE_b, noise_std=0.0, seed=SEED):
    """x ~ N(0, 1) and y = true_w·x + true_b + ε with ε ~ N(0, noise_std²).

    The lab adds no noise (``noise_std=0``): the points lie on the line, to
    float32 rounding. With one version of TensorFlow, the same ``seed`` always
    gives the same data, whatever ran before. Every argument is checked here,
    once per call.

    Taught in: book/data.md
    """
    n = _check_count("num_examples", num_examples, minimum=1)
    true_w = _check_number("true_w", true_w)
    true_b = _check_number("true_b", true_b)
    noise_std = _check_number("noise_std", noise_std)
    if noise_std < 0:
        raise ValueError(f"noise_std must be >= 0, got {noise_std}")
    seed = _check_count("seed", seed)
    x = tf.random.stateless_normal([n], seed=[seed, 1])
    noise = tf.random.stateless_normal([n], seed=[seed, 2], stddev=noise_std)
    y = x * true_w + true_b + noise
    return Dataset(x, y)
