"""The course's synthetic regression data: a noisy function of x on a regular grid.

Training and test inputs are regular grids of [-1, 1] (``n_train`` and ``n_test`` points);
targets are y = f(x) + eps with eps ~ N(0, noise^2) drawn independently for both sets. With the
defaults (f(x) = x^2, noise 0.2, 10 and 100 points) the best possible expected test MSE is the
noise variance 0.04: no model can predict the noise.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

TARGETS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "x^2": lambda x: x**2,
    "sin": lambda x: np.sin(np.pi * x),
    "abs": np.abs,
    "step": lambda x: (x > 0).astype(float),
    "cubic": lambda x: x**3 - 0.5 * x,
}


@dataclass(frozen=True)
class RegressionData:
    """Training and test sets as (n, 1) inputs and (n,) targets, plus the noise-free truth."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    target: str
    noise: float

    @property
    def bayes_mse(self) -> float:
        """Irreducible expected squared error: the noise variance."""
        return self.noise**2

    def truth(self, X: np.ndarray) -> np.ndarray:
        """Noise-free f(x) at inputs ``X`` of shape (n, 1) or (n,)."""
        return TARGETS[self.target](np.asarray(X).reshape(-1))


def check_target(name: str) -> None:
    """Raise ValueError listing the known targets if ``name`` is not one of them."""
    if name not in TARGETS:
        raise ValueError(f"unknown target {name!r}; choose one of {', '.join(TARGETS)}")


def noisy_function(n_train: int = 10, n_test: int = 100, noise: float = 0.2,
                   target: str = "x^2", seed: int = 0,
                   dtype=np.float32) -> RegressionData:
    """The course data set, reproducible from ``seed``.

    Raises ValueError for n_train < 1, n_test < 1, noise < 0 or an unknown target.
    """
    check_target(target)
    if n_train < 1 or n_test < 1:
        raise ValueError(f"n_train and n_test must be >= 1, got {n_train} and {n_test}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    f = TARGETS[target]
    x_train = np.linspace(-1.0, 1.0, n_train)
    x_test = np.linspace(-1.0, 1.0, n_test)
    y_train = f(x_train) + rng.normal(0.0, noise, n_train)
    y_test = f(x_test) + rng.normal(0.0, noise, n_test)
    return RegressionData(x_train[:, None].astype(dtype), y_train.astype(dtype),
                          x_test[:, None].astype(dtype), y_test.astype(dtype), target,
                          float(noise))
