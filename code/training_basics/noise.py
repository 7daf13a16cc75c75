"""Noisy data: y = TRUE_w·x + TRUE_b + ε with ε ~ N(0, σ²), and what training finds on it.

Training converges to the least-squares optimum (w*, b*) of the data it is given, which the
normal equations give in closed form; the noise keeps (w*, b*) off the true line by about σ/√N.
"""

import numpy as np

from .checks import _check_count, _check_number, _show
from .data import TRUE_b, TRUE_w

NOISE_STD = 0.5  # σ, as in book/data.md's noisy data
STUDY_SEED = 11  # the seed study's draws: their own seed, apart from the training and test sets


def _check_noise_std(noise_std):
    """σ, a finite number >= 0.

    Taught in: book/noisy-data.md (its functions check σ with it)
    """
    noise_std = _check_number("noise_std", noise_std)
    if noise_std < 0:
        raise ValueError(f"noise_std must be >= 0, got {noise_std}")
    return noise_std


def normal_equations(x, y):
    """The least-squares optimum from the normal equations: w* = cov(x, y) / var(x), b* = ȳ − w*·x̄.

    ∂L/∂b = 0 gives b* = ȳ − w*·x̄, and then ∂L/∂w = 0 gives w* = cov(x, y) / var(x), in
    float64. ``x`` and ``y`` have shape (N,), and then (w*, b*) are Python floats; or shape
    (S, N), S training sets in rows, and then w* and b* are arrays of shape (S,): every row is
    solved at once.

    Taught in: book/noisy-data.md
    """
    x, y = _training_sets(x, y)
    dx = x - x.mean(axis=-1, keepdims=True)
    dy = y - y.mean(axis=-1, keepdims=True)
    w = np.mean(dx * dy, axis=-1) / np.mean(dx * dx, axis=-1)
    b = y.mean(axis=-1) - w * x.mean(axis=-1)
    if x.ndim == 1:
        return float(w), float(b)
    return w, b


def expected_test_mse(w, b, noise_std=NOISE_STD, true_w=TRUE_w, true_b=TRUE_b):
    """E[(y − (w·x + b))²] on new data, x ~ N(0, 1): σ² + (w − true_w)² + (b − true_b)².

    The error y − ŷ = ε + (true_w − w)·x + (true_b − b) has three independent parts with
    E[ε²] = σ², E[x²] = 1 and E[x] = 0: no line does better than σ², the true line alone
    reaches it. Returns a Python float.

    Taught in: book/noisy-data.md
    """
    w, b = _check_number("w", w), _check_number("b", b)
    noise_std = _check_noise_std(noise_std)
    true_w, true_b = _check_number("true_w", true_w), _check_number("true_b", true_b)
    return noise_std**2 + (w - true_w) ** 2 + (b - true_b) ** 2


def optimum_errors(sizes, num_seeds=500, noise_std=NOISE_STD, seed=STUDY_SEED):
    """|w* − TRUE_w| for ``num_seeds`` noisy training sets of each size N: shape (len(sizes), num_seeds).

    Vectorised: for each N, one NumPy draw of shape (num_seeds, N) holds all the training
    sets, x ~ N(0, 1) and y = TRUE_w·x + TRUE_b + ε, and ``normal_equations`` solves every
    row at once. No training: training converges to w*, so w* is what it finds.

    Taught in: book/noisy-data.md
    """
    sizes = [_check_count("size", n, minimum=2) for n in sizes]
    num_seeds = _check_count("num_seeds", num_seeds, minimum=1)
    noise_std = _check_noise_std(noise_std)
    rng = np.random.default_rng(_check_count("seed", seed))
    errors = []
    for n in sizes:
        x = rng.standard_normal((num_seeds, n))
        y = TRUE_w * x + TRUE_b + noise_std * rng.standard_normal((num_seeds, n))
        w, _ = normal_equations(x, y)
        errors.append(np.abs(w - TRUE_w))
    return np.array(errors)


def _float64(name, value):
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array of numbers, got {_show(value)}") from err


def _training_sets(x, y):
    """x and y as float64 arrays of one shape, (N,) or (S, N), finite, N >= 2, x not constant in a row."""
    x, y = _float64("x", x), _float64("y", y)
    if x.shape != y.shape or x.ndim not in (1, 2) or x.shape[-1] < 2:
        raise ValueError(f"x and y must have one shape, (N,) or (S, N) with N >= 2, "
                         f"got x.shape={x.shape} and y.shape={y.shape}")
    for name, values in (("x", x), ("y", y)):
        if not np.isfinite(values).all():
            index = tuple(int(i) for i in np.argwhere(~np.isfinite(values))[0])
            raise ValueError(f"{name} must hold only finite numbers, "
                             f"but {name}{list(index)} is {values[index]}")
    constant = np.ptp(x, axis=-1) == 0
    if np.any(constant):
        where = "" if x.ndim == 1 else f" (row {int(np.argmax(constant))})"
        raise ValueError(f"x is constant{where}: var(x) = 0, so w* = cov(x, y) / var(x) is undefined")
    return x, y
