"""plot_learning_curve draws exactly the curves a fit recorded."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from matplotlib.figure import Figure
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.neural_network import MLPRegressor

from _figure_checks import assert_nothing_cut_off
from overfitlab import RegularizedMLPRegressor
from overfitlab.plots.estimator import plot_learning_curve


def _fit(estimator, data, **fit_params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(data.X_train, data.y_train, **fit_params)


def _lines(ax):
    return {line.get_label(): line.get_ydata() for line in ax.get_lines()}


def test_training_and_evaluation_curves(course_data):
    reg = _fit(RegularizedMLPRegressor((20,), "tanh", max_iter=300, random_state=0),
               course_data, eval_set=(course_data.X_test, course_data.y_test))
    fig = plot_learning_curve(reg)
    assert isinstance(fig, Figure) and len(fig.axes) == 1  # no validation axis without scores
    lines = _lines(fig.axes[0])
    np.testing.assert_array_equal(lines["training loss (loss_curve_)"], reg.loss_curve_)
    np.testing.assert_array_equal(lines["evaluation loss (eval_loss_curve_)"],
                                  reg.eval_loss_curve_)
    best = int(np.argmin(reg.eval_loss_curve_))
    marker = [k for k in lines if k.startswith("lowest evaluation loss")]
    assert marker == [f"lowest evaluation loss {reg.eval_loss_curve_[best]:.3g} at iteration "
                      f"{best + 1}"]
    assert fig.axes[0].get_title() == f"RegularizedMLPRegressor: {reg.n_iter_} iterations"


def test_validation_scores_on_a_second_axis(course_data):
    reg = _fit(RegularizedMLPRegressor((20,), "tanh", max_iter=300, early_stopping=True,
                                       validation_fraction=0.2, random_state=0), course_data)
    fig = plot_learning_curve(reg, title="with early stopping")
    assert len(fig.axes) == 2
    np.testing.assert_array_equal(
        _lines(fig.axes[1])["validation score (validation_scores_)"], reg.validation_scores_)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(t.startswith("best validation score") for t in legend)
    assert fig.axes[0].get_title() == "with early stopping"
    assert_nothing_cut_off({"learning curve": fig})


def test_scikit_learn_estimators_work_too(course_data):
    mlp = _fit(MLPRegressor(hidden_layer_sizes=(5,), max_iter=50, random_state=0), course_data)
    lines = _lines(plot_learning_curve(mlp).axes[0])
    np.testing.assert_array_equal(lines["training loss (loss_curve_)"], mlp.loss_curve_)


def test_unfitted_estimator_is_refused():
    with pytest.raises(NotFittedError):
        plot_learning_curve(RegularizedMLPRegressor())
