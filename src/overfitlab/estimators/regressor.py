"""RegularizedMLPRegressor: scikit-learn's MLPRegressor on the JAX engine, with L1, dropout and
ensembles (see :mod:`overfitlab.estimators.base` for what all the estimators share).

The loss is squared error / 2 averaged over samples with an identity output;
``fit(X, y, eval_set=(X_eval, y_eval))`` also records ``eval_loss_curve_``, the mean squared
error on the evaluation set after every iteration (what the course builds with ``partial_fit``).
"""
from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils import column_or_1d
from sklearn.utils._available_if import available_if
from sklearn.utils.validation import validate_data

from overfitlab.estimators.base import RegularizedMLPBase, stochastic_solver


class RegularizedMLPRegressor(RegressorMixin, RegularizedMLPBase):
    """Multi-layer perceptron regressor with L2, L1, dropout and ensembling.

    Parameters are those of ``sklearn.neural_network.MLPRegressor`` (same defaults; the
    ``lbfgs`` solver and the Poisson loss are not offered), plus ``l1`` (float >= 0), ``dropout``
    (rate in [0, 1)) and ``n_networks`` (int >= 1).

    Attributes
    ----------
    coefs_, intercepts_ : lists of arrays in the input's dtype; with ``n_networks > 1`` each has
        a leading member axis.
    loss_curve_ : list of float, the training objective at each iteration (mean over members).
    eval_loss_curve_ : list of float, MSE on ``eval_set`` after each iteration (if given).
    validation_scores_, best_validation_score_ : with ``early_stopping``, R^2 on the validation
        split at each iteration, and its best value (whose weights are kept).
    n_iter_ : int, iterations run; ``t_``: samples seen; ``n_features_in_``, ``n_outputs_``.
    """

    _loss = "squared_error"

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, reset=reset, multi_output=True, y_numeric=True,
                             dtype=(np.float64, np.float32))
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y.reshape(len(y), -1)

    def _out_activation(self) -> str:
        return "identity"

    def _encode_targets(self, y) -> np.ndarray:
        return np.asarray(y, dtype=np.float64).reshape(len(y), -1)

    @available_if(stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None):
        """One iteration (epoch) over (X, y), continuing the optimizer's state."""
        return self._partial_fit(X, y, sample_weight)

    def predict(self, X):
        """Mean prediction of the member networks (dropout off)."""
        return self._predictions(self._output(X))

    def _predictions(self, output):
        """``predict``'s answer for a mean output (n_samples, n_outputs): the output itself."""
        return output.ravel() if output.shape[1] == 1 else output

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
