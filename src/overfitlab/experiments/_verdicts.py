"""Words computed from numbers: the claims that answers and figure titles make.

Every sentence an experiment prints about a result ("overfits", "optimum", "converged") comes from
one of these functions applied to the measured values, never from fixed text. They also handle
the networks a run lost to divergence: left out of every median and band, counted, and named.
"""
from __future__ import annotations

import numpy as np

from overfitlab.errors import DivergedError

CLOSE = 0.25
"""Two errors within this relative distance of each other are called "close"."""


def alive_or_raise(diverged: np.ndarray, learning_rate: float,
                   what: str = "networks") -> np.ndarray:
    """The mask of networks that did not diverge; DivergedError when none is left."""
    diverged = np.asarray(diverged, bool)
    if diverged.all():
        raise DivergedError(
            f"all {diverged.size} {what} diverged (their training loss exploded or became "
            f"non-finite): there is nothing to report; lower the learning rate (now "
            f"{learning_rate:g}), e.g. --set learning_rate={learning_rate / 10:g}")
    return ~diverged


def diverged_note(n_diverged: int, n_total: int) -> str:
    """A sentence for answers: how many networks diverged and were left out ('' if none)."""
    if not n_diverged:
        return ""
    return (f" {n_diverged} of {n_total} networks diverged (loss exploded) and are left out of "
            "the medians and bands.")


def relation(value: float, reference: float) -> str:
    """How ``value`` compares with ``reference``: 'far below', 'below', 'close to', 'above' or
    'far above' (far: more than a factor 2; close: within :data:`CLOSE`)."""
    if not np.isfinite(value):
        return "not comparable with"
    ratio = value / reference
    if ratio < 0.5:
        return "far below"
    if ratio < 1 - CLOSE:
        return "below"
    if ratio <= 1 + CLOSE:
        return "close to"
    return "above" if ratio <= 2 else "far above"


def fit_regime(train_mse: float, test_mse: float, noise_var: float) -> str:
    """'overfits', 'underfits' or 'fits well', from the training and test errors and the noise.

    With margin = :data:`CLOSE` x the noise variance: the network overfits when its test error
    exceeds its training error by more than the margin (it generalises worse than it fits);
    it underfits when it does not, yet even its training error is above the noise level by more
    than the margin; otherwise it fits well.
    """
    margin = CLOSE * noise_var
    if test_mse - train_mse > margin:
        return "overfits"
    if train_mse > noise_var + margin:
        return "underfits"
    return "fits well"


def training_sentence(train_mse: float, noise_var: float, n_params: int, n_train: int) -> str:
    """What the training error says, measured against the noise variance."""
    where = relation(train_mse, noise_var)
    if where in ("far below", "below"):
        return (f"{where} the noise variance {noise_var:g}: with {n_params} parameters for "
                f"{n_train} points the network memorises part of the noise.")
    if where == "close to":
        return (f"close to the noise variance {noise_var:g}: the network fits the signal, not "
                f"the noise.")
    return (f"{where} the noise variance {noise_var:g}: the network does not fit even the "
            f"training points well.")


def unstable(train_curve_median: np.ndarray, factor: float = 10.0) -> float:
    """How many times the (median) training error rose above its first value, when it rose by
    more than ``factor`` (an unstable optimizer: usually too large a learning rate); else 0."""
    curve = np.asarray(train_curve_median, float)
    growth = float(np.nanmax(curve) / curve[0])
    return growth if growth > factor else 0.0


def minimum_at_edge(index: int, size: int) -> bool:
    """Whether an optimum's grid index is the first or the last of the searched grid."""
    return index in (0, size - 1)


def edge_advice(index: int, size: int, lower: str, upper: str) -> str:
    """' The optimum lies at the ... end of the searched range: widen it with ...' or ''."""
    if index == 0:
        return (f" The optimum lies at the lower end of the searched range, so the true optimum "
                f"may lie below it: widen the search with {lower}.")
    if index == size - 1:
        return (f" The optimum lies at the upper end of the searched range, so the true optimum "
                f"may lie beyond it: widen the search with {upper}.")
    return ""


def curve_story(curve: np.ndarray, steps: np.ndarray) -> tuple[str, int, float]:
    """What a test-error curve over iterations does: (title, index of its minimum, rise after it).

    The rise is (last value - minimum) / minimum. The title says "underfitting, then overfitting"
    only when the curve falls to an interior minimum and ends more than :data:`CLOSE`/5 (5 %)
    above it; otherwise it says that the error is still falling, or rising from the start.
    """
    curve = np.asarray(curve, float)
    i = int(np.nanargmin(curve))
    best, last, first = curve[i], curve[-1], curve[0]
    rise = float((last - best) / best)
    if i == len(curve) - 1 or rise <= CLOSE / 5:
        title = (f"Test error still falling at iteration {int(steps[-1])}"
                 if first > best * (1 + CLOSE / 5) else "Test error flat over training")
    elif i == 0:
        title = "Test error rising from the first iteration"
    else:
        title = (f"Underfitting, then overfitting: test error lowest at iteration "
                 f"{int(steps[i])}, {100 * rise:.0f} % higher at the end")
    return title, i, rise
