"""One-call figures of a fitted estimator's recorded curves.

``plot_learning_curve(est)`` draws what ``fit`` recorded, iteration by iteration:

* ``loss_curve_``: the training objective (for the regressor, squared error / 2 plus the
  penalties, averaged over the members of an ensemble);
* ``eval_loss_curve_``, when ``fit`` got an ``eval_set``: the loss on that set (for the
  regressor, the mean squared error), with its minimum marked;
* ``validation_scores_``, with ``early_stopping=True``: the score on the validation split
  (for the regressor, R²) on a second axis, with its best iteration marked.

Any estimator with these attributes works: ours, and scikit-learn's ``MLPRegressor`` /
``MLPClassifier`` (which record ``loss_curve_`` and ``validation_scores_``).
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from sklearn.utils.validation import check_is_fitted

from overfitlab.plots.style import TEST_COLOR, TRAIN_COLOR, log_ticks_ok, new_figure

VALIDATION_COLOR = "tab:green"


def plot_learning_curve(estimator, title: str | None = None) -> Figure:
    """The recorded training curves of a fitted ``estimator`` against iteration (a new Figure).

    Raises scikit-learn's ``NotFittedError`` when ``estimator`` has no ``loss_curve_`` yet.
    """
    check_is_fitted(estimator, "loss_curve_")
    fig, ax = new_figure()
    loss = np.asarray(estimator.loss_curve_, dtype=float)
    iterations = np.arange(1, len(loss) + 1)
    ax.plot(iterations, loss, color=TRAIN_COLOR, label="training loss (loss_curve_)")
    curves = [loss]
    eval_loss = getattr(estimator, "eval_loss_curve_", None)
    if eval_loss is not None and len(eval_loss):
        eval_loss = np.asarray(eval_loss, dtype=float)
        best = int(np.nanargmin(eval_loss))
        ax.plot(iterations[:len(eval_loss)], eval_loss, color=TEST_COLOR,
                label="evaluation loss (eval_loss_curve_)")
        ax.plot(best + 1, eval_loss[best], "o", color=TEST_COLOR, mfc="none",
                label=f"lowest evaluation loss {eval_loss[best]:.3g} at iteration {best + 1}")
        curves.append(eval_loss)
    if log_ticks_ok(np.concatenate(curves)):
        ax.set_yscale("log")
    ax.set_xscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    handles, labels = ax.get_legend_handles_labels()
    scores = getattr(estimator, "validation_scores_", None)
    if scores is not None and len(scores):
        scores = np.asarray(scores, dtype=float)
        best = int(np.nanargmax(scores))
        right = ax.twinx()
        right.plot(iterations[:len(scores)], scores, color=VALIDATION_COLOR,
                   label="validation score (validation_scores_)")
        right.axvline(best + 1, color=VALIDATION_COLOR, linestyle=":", linewidth=1,
                      label=f"best validation score {scores[best]:.3g} at iteration {best + 1}")
        right.set_ylabel("validation score")
        more_handles, more_labels = right.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    ax.legend(handles, labels, fontsize=8)
    ax.set_title(title or f"{type(estimator).__name__}: {len(loss)} iterations")
    return fig
