"""The linear model y = w·x + b."""

import tensorflow as tf

from .checks import check_number


class Model(tf.Module):
    """y = w·x + b, with ``w`` and ``b`` scalar float32 ``tf.Variable``s.

    ``tf.Module`` tracks the variables, so ``model.trainable_variables`` is
    ``(b, w)`` (sorted by attribute name). The defaults are the lab's fixed
    start, w = 2.0 and b = 1.0; ``Model.random(seed)`` gives a seeded random one.
    """

    def __init__(self, w=2.0, b=1.0, name=None):
        super().__init__(name=name)
        self.w = tf.Variable(check_number("w", w), dtype=tf.float32, name="w")
        self.b = tf.Variable(check_number("b", b), dtype=tf.float32, name="b")

    @classmethod
    def random(cls, seed, scale=1.0):
        """w, b ~ N(0, scale²), reproducible for a given integer ``seed``."""
        w, b = tf.random.stateless_normal([2], seed=[int(seed), 0], stddev=scale).numpy()
        return cls(w=float(w), b=float(b))

    def __call__(self, x):
        """ŷ = w·x + b, elementwise: ŷ has the shape of ``x``."""
        return self.w * x + self.b
