"""RegularizedMLPClassifier: MLPClassifier's parity, scikit-learn's contract, our additions."""
import warnings

import jax
import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, log_loss
from sklearn.neural_network import MLPClassifier
from sklearn.utils.estimator_checks import check_sample_weight_equivalence_on_dense_data

from _estimator_checks import FLOAT32_REASON, assert_passes_check_estimator, fit_both
from overfitlab import RegularizedMLPClassifier

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
NAMES = np.array(["setosa", "versicolor", "virginica"], dtype=object)


def _fit_both(X, y, **kw):
    return fit_both(MLPClassifier, RegularizedMLPClassifier, X, y, **kw)


@pytest.mark.parametrize("n_classes", [3, 2])
def test_parity_with_mlpclassifier_float64(n_classes):
    """Same random_state, same initial weights: in float64 the loss curve, the stopping
    iteration (scikit-learn's tol rule) and the probabilities equal MLPClassifier's to rounding.
    Labels are strings: classes_ may be of any type. Three classes train a softmax output, two a
    single logistic output."""
    keep = Y_IRIS < n_classes
    X, y = X_IRIS[keep], NAMES[Y_IRIS[keep]]
    sk, ours = _fit_both(X, y, hidden_layer_sizes=(7,), activation="tanh", alpha=0.01,
                         max_iter=150, tol=1e-3, random_state=5)
    assert ours.out_activation_ == sk.out_activation_ == (
        "softmax" if n_classes == 3 else "logistic")
    assert list(ours.classes_) == list(sk.classes_)
    assert ours.n_iter_ == sk.n_iter_
    np.testing.assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(ours.predict_proba(X), sk.predict_proba(X), rtol=1e-9)
    assert list(ours.predict(X)) == list(sk.predict(X))
    assert ours._no_improvement_count == sk._no_improvement_count


def test_early_stopping_split_is_stratified_like_mlpclassifier():
    """The early-stopping split is drawn after the initial weights from the same RandomState and
    stratified on the binarized labels, as scikit-learn's: same validation accuracies, same
    stopping epoch (float64)."""
    keep = Y_IRIS > 0
    sk, ours = _fit_both(X_IRIS[keep], Y_IRIS[keep], hidden_layer_sizes=(5,), activation="tanh",
                         early_stopping=True, validation_fraction=0.2, max_iter=500,
                         learning_rate_init=0.01, random_state=3)
    assert ours.n_iter_ == sk.n_iter_ < 500
    np.testing.assert_allclose(ours.validation_scores_, sk.validation_scores_, atol=1e-12)
    assert ours.best_validation_score_ == pytest.approx(sk.best_validation_score_)


def test_minibatch_early_stopping_retraces_mlpclassifier_float64():
    """Mini-batches in scikit-learn's shuffles (drawn after the initial weights and the
    stratified early-stopping split): on 600 digits in batches of 50, the loss curve, the
    validation accuracies, the stopping epoch and the probabilities equal MLPClassifier's."""
    digits = load_digits()
    X, y = digits.data[:600] / 16.0, digits.target[:600]
    sk, ours = _fit_both(X, y, hidden_layer_sizes=(16,), batch_size=50, early_stopping=True,
                         n_iter_no_change=5, max_iter=200, random_state=7)
    assert ours.n_iter_ == sk.n_iter_ < 200
    np.testing.assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(ours.validation_scores_, sk.validation_scores_, atol=1e-12)
    np.testing.assert_allclose(ours.predict_proba(X), sk.predict_proba(X), rtol=1e-9,
                               atol=1e-15)


@pytest.mark.slow
def test_sklearn_estimator_checks():
    assert_passes_check_estimator(
        RegularizedMLPClassifier(max_iter=100),
        {"check_sample_weight_equivalence_on_dense_data": FLOAT32_REASON})


def test_sample_weight_equivalence_float64():
    """Integer sample weights equal repeated samples (full batch, float64)."""
    with jax.enable_x64(True):
        check_sample_weight_equivalence_on_dense_data(
            "RegularizedMLPClassifier", RegularizedMLPClassifier(max_iter=100, random_state=0))


def test_eval_set_curves_match_a_partial_fit_loop():
    """fit(eval_set) records the log-loss and accuracy a partial_fit loop would compute."""
    X, y = X_IRIS[::2], NAMES[Y_IRIS[::2]]
    Xt, yt = X_IRIS[1::2], NAMES[Y_IRIS[1::2]]
    kw = dict(hidden_layer_sizes=(6,), activation="tanh", learning_rate_init=0.01,
              random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        full = RegularizedMLPClassifier(max_iter=25, **kw).fit(X, y, eval_set=(Xt, yt))
    step = RegularizedMLPClassifier(**kw)
    losses, accuracies = [], []
    for _ in range(25):
        step.partial_fit(X, y, classes=NAMES)
        losses.append(log_loss(yt, step.predict_proba(Xt), labels=step.classes_))
        accuracies.append(accuracy_score(yt, step.predict(Xt)))
    np.testing.assert_allclose(full.eval_loss_curve_, losses, rtol=1e-4)
    np.testing.assert_allclose(full.eval_accuracy_curve_, accuracies)
    np.testing.assert_allclose(full.loss_curve_, step.loss_curve_, rtol=1e-5)


def test_eval_set_with_an_unknown_label_is_refused():
    clf = RegularizedMLPClassifier((3,), max_iter=5)
    with pytest.raises(ValueError, match="not in classes_"):
        clf.fit(X_IRIS, Y_IRIS, eval_set=(X_IRIS[:2], [0, 7]))


def test_multilabel_is_logistic_and_partial_fit_learns_it():
    """Multilabel indicator targets: independent logistic outputs (probabilities need not sum
    to 1), partial_fit with classes, and early stopping without stratification (the parts of
    scikit-learn's test_multilabel_classification that do not need lbfgs)."""
    X, Y = make_multilabel_classification(n_samples=50, random_state=0, return_indicator=True)
    clf = RegularizedMLPClassifier((50,), "logistic", solver="sgd", alpha=1e-5,
                                   learning_rate_init=0.2, random_state=0)
    for _ in range(100):
        clf.partial_fit(X, Y, classes=[0, 1, 2, 3, 4])
    assert clf.out_activation_ == "logistic" and clf.score(X, Y) > 0.9
    proba = clf.predict_proba(X)
    assert proba.shape == Y.shape and np.abs(proba.sum(axis=1) - 1).max() > 1e-3
    np.testing.assert_array_equal(clf.predict(X), (proba > 0.5).astype(int))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        RegularizedMLPClassifier(early_stopping=True, max_iter=20).fit(X, Y).predict(X)


def test_warm_start_refuses_other_classes():
    """scikit-learn's warm-start check (its test_warm_start needs lbfgs)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = RegularizedMLPClassifier((2,), warm_start=True, max_iter=5, random_state=42)
        clf.fit(X_IRIS, Y_IRIS)
        clf.fit(X_IRIS, Y_IRIS)
    with pytest.raises(ValueError, match=r"warm_start can only be used where `y` has the same "
                                         r"classes .* Previously got \[0 1 2\]"):
        clf.fit(X_IRIS, np.where(Y_IRIS == 2, 3, Y_IRIS))


def test_ensemble_averages_member_probabilities():
    kw = dict(hidden_layer_sizes=(4,), activation="tanh", max_iter=40, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        many = RegularizedMLPClassifier(n_networks=3, **kw).fit(X_IRIS, Y_IRIS)
    assert many.coefs_[0].shape == (3, 4, 4)
    members = []
    for i in range(3):
        one = RegularizedMLPClassifier(**kw)
        one.__dict__.update({k: v for k, v in many.__dict__.items() if k.endswith("_")})
        one.coefs_ = [W[i] for W in many.coefs_]
        one.intercepts_ = [b[i] for b in many.intercepts_]
        members.append(one.predict_proba(X_IRIS))
    np.testing.assert_allclose(many.predict_proba(X_IRIS), np.mean(members, axis=0),
                               rtol=1e-6)
    np.testing.assert_array_equal(many.predict(X_IRIS),
                                  many.classes_[np.argmax(many.predict_proba(X_IRIS), axis=1)])


def test_l1_gives_exact_zeros():
    """The proximal step sets weights exactly to 0 (plain training leaves none at 0)."""
    zeros = {}
    for l1 in (0.0, 100.0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf = RegularizedMLPClassifier((10,), l1=l1, max_iter=300, random_state=0).fit(
                X_IRIS, Y_IRIS)
        zeros[l1] = sum(int(np.sum(W == 0)) for W in clf.coefs_)
    assert zeros[0.0] == 0 and zeros[100.0] > 5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_parameters_and_probabilities_follow_the_input_dtype(dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = RegularizedMLPClassifier((3,), max_iter=5, random_state=0).fit(
            X_IRIS.astype(dtype), Y_IRIS)
    assert {W.dtype for W in clf.coefs_ + clf.intercepts_} == {np.dtype(dtype)}
    assert clf.predict_proba(X_IRIS.astype(dtype)).dtype == dtype
