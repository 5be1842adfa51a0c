"""RegularizedMLPClassifier: scikit-learn's MLPClassifier on the JAX engine, with L1, dropout and
ensembles (see :mod:`overfitlab.estimators.base` for what all the estimators share).

Targets are encoded as scikit-learn does, with a ``LabelBinarizer`` (``classes_`` may be of any
label type): several classes train a softmax output with the cross-entropy
-sum_i sum_k y_ik log p_ik / n; two classes, and multilabel indicator targets, train logistic
outputs with -sum_i sum_k [y_ik log p_ik + (1 - y_ik) log(1 - p_ik)] / n (one output for two
classes). The L2 penalty alpha / (2n) sum ||W||^2 and the initialisation are MLPClassifier's, so
the same ``random_state`` draws its initial weights (member 0) and its early-stopping split
(stratified for single-output targets, as scikit-learn's).

``fit(X, y, eval_set=(X_eval, y_eval))`` records ``eval_loss_curve_`` (log-loss, probabilities
clipped as scikit-learn's loss is) and ``eval_accuracy_curve_`` after every iteration.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import column_or_1d
from sklearn.utils._available_if import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import validate_data

from overfitlab.estimators.base import RegularizedMLPBase, stochastic_solver


class RegularizedMLPClassifier(ClassifierMixin, RegularizedMLPBase):
    """Multi-layer perceptron classifier with L2, L1, dropout and ensembling.

    Parameters are those of ``sklearn.neural_network.MLPClassifier`` (same defaults; the
    ``lbfgs`` solver is not offered), plus ``l1`` (float >= 0), ``dropout`` (rate in [0, 1))
    and ``n_networks`` (int >= 1; the members' probabilities are averaged).

    Attributes
    ----------
    classes_ : the class labels (for multilabel targets, the label indices).
    coefs_, intercepts_ : lists of arrays in the input's dtype; with ``n_networks > 1`` each has
        a leading member axis.
    out_activation_ : "softmax" (several classes) or "logistic" (binary, multilabel).
    loss_curve_ : list of float, the training log-loss plus penalties at each iteration.
    eval_loss_curve_, eval_accuracy_curve_ : log-loss and accuracy on ``eval_set`` after each
        iteration (if given; mean over members).
    validation_scores_, best_validation_score_ : with ``early_stopping``, the accuracy on the
        validation split at each iteration, and its best value (whose weights are kept).
    n_iter_ : int, iterations run; ``t_``: samples seen; ``n_features_in_``, ``n_outputs_``.
    """

    _loss = "log_loss"

    def _validate_input(self, X, y, incremental, reset):
        """scikit-learn's: classes defined on a first fit, checked when continuing."""
        X, y = validate_data(self, X, y, reset=reset, multi_output=True,
                             dtype=(np.float64, np.float32))
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has "
                        f"{classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {classes}.")
        return X, self._label_binarizer.transform(y).astype(bool)

    def _out_activation(self) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _encode_targets(self, y) -> np.ndarray:
        y = np.asarray(y)
        unseen = np.setdiff1d(unique_labels(y), self.classes_)
        if len(unseen):
            raise ValueError(f"eval_set has labels {unseen} that are not in classes_ "
                             f"{self.classes_}")
        return self._label_binarizer.transform(y).astype(bool)

    def _stratify(self, Y: np.ndarray):
        return Y if self.n_outputs_ == 1 else None

    @available_if(stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One iteration (epoch) over (X, y), continuing the optimizer's state. ``classes`` (all
        the labels the calls will see) is required on the first call."""
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y if type_of_target(y).startswith("multilabel")
                                      else classes)
        return self._partial_fit(X, y, sample_weight)

    def predict_proba(self, X):
        """Class probabilities (mean over members), columns in the order of ``classes_``."""
        proba = self._output(X)
        if self.n_outputs_ == 1:
            proba = proba.ravel()
            return np.vstack([1 - proba, proba]).T
        return proba

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        proba = self.predict_proba(X)
        return np.log(proba, out=proba)

    def predict(self, X):
        """The most probable class (softmax), or each label with probability > 0.5 (logistic)."""
        return self._predictions(self._output(X))

    def _predictions(self, output):
        """``predict``'s answer for mean probabilities (n_samples, n_outputs): the labels."""
        return self._label_binarizer.inverse_transform(
            output.ravel() if self.n_outputs_ == 1 else output)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
