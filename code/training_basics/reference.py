"""Reference math, in float64 NumPy, to check what TensorFlow computes.

For L(w, b) = mean((y − (w·x + b))²):

    ∂L/∂w = −2·mean(x·(y − ŷ)),   ∂L/∂b = −2·mean(y − ŷ)

L is quadratic, with Hessian H = 2·[[mean(x²), mean(x)], [mean(x), 1]], so a
gradient step with learning rate lr multiplies the error (w − w*, b − b*) by
I − lr·H; for x ~ N(0, 1), H ≈ 2·I and the error shrinks by ≈ 1 − 2·lr per step.
"""

import numpy as np

from .checks import _check_learning_rate, _check_number, _check_xy
from .data import TRUE_b, TRUE_w


def _float64(x, y):
    x, y = _check_xy(x, y)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def analytic_gradients(x, y, w, b):
    """(∂L/∂w, ∂L/∂b) at (w, b), as Python floats.

    Taught in: book/gradients.md
    """
    x, y = _float64(x, y)
    residual = y - (_check_number("w", w) * x + _check_number("b", b))
    return float(-2.0 * np.mean(x * residual)), float(-2.0 * np.mean(residual))


def closed_form(x, y):
    """The least-squares optimum (w*, b*) = argmin L, solved with ``np.linalg.lstsq``.

    Taught in: book/evaluation.md
    """
    x, y = _float64(x, y)
    design = np.stack([x.ravel(), np.ones(x.size)], axis=1)
    (w, b), *_ = np.linalg.lstsq(design, y.ravel(), rcond=None)
    return float(w), float(b)


def hessian(x):
    """H = 2·[[mean(x²), mean(x)], [mean(x), 1]], the (constant) Hessian of L over (w, b).

    Taught in: book/training-loop.md
    """
    x = np.asarray(_check_xy(x, x)[0], dtype=np.float64).ravel()
    return 2.0 * np.array([[np.mean(x * x), np.mean(x)], [np.mean(x), 1.0]])


def contraction_factors(x, learning_rate):
    """Eigenvalues of I − lr·H: how much each error direction shrinks per full-batch step.

    Taught in: book/training-loop.md
    """
    lr = _check_learning_rate(learning_rate)
    return np.sort(1.0 - lr * np.linalg.eigvalsh(hessian(x)))


def loss_grid(x, y, ws, bs):
    """L(w, b) on the grid ``ws`` × ``bs``: an array of shape (len(bs), len(ws)).

    Taught in: book/evaluation.md (the loss surface it draws)
    """
    x, y = _float64(x, y)
    W, B = np.meshgrid(np.asarray(ws, dtype=np.float64), np.asarray(bs, dtype=np.float64))
    # mean((y - w x - b)^2) expanded into sums, so the grid costs O(grid + N), not O(grid·N)
    sx, sy, sxx, syy, sxy, n = x.sum(), y.sum(), (x * x).sum(), (y * y).sum(), (x * y).sum(), x.size
    total = syy + W**2 * sxx + n * B**2 - 2 * W * sxy - 2 * B * sy + 2 * W * B * sx
    return total / n


def crossing(w, b, true_w=TRUE_w, true_b=TRUE_b):
    """The x at which the model's line w·x + b meets the true line: x = (b − true_b) / (true_w − w).

    The model's error (true_w − w)·x + (true_b − b) is zero there and changes
    sign across it. Parallel lines (w = true_w) never cross: a ``ValueError``.

    Taught in: book/data.md
    """
    w, b = _check_number("w", w), _check_number("b", b)
    true_w, true_b = _check_number("true_w", true_w), _check_number("true_b", true_b)
    if w == true_w:
        raise ValueError(f"the lines are parallel (w = true_w = {w}): they never cross")
    return (b - true_b) / (true_w - w)
