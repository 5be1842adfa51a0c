"""RegularizedMLPRegressorCV / RegularizedMLPClassifierCV: GridSearchCV's answer and layout, in
one engine call, from held-out rows only."""
import warnings

import jax
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import overfitlab.estimators.base as estimator_base
from _estimator_checks import assert_passes_check_estimator
from overfitlab import (RegularizedMLPClassifierCV, RegularizedMLPRegressor,
                        RegularizedMLPRegressorCV)
from overfitlab.data.synthetic import noisy_function

ALPHAS = [1e-4, 1e-2, 0.3, 3.0, 30.0]
REG = dict(hidden_layer_sizes=(8,), activation="tanh", max_iter=1000, learning_rate_init=0.01,
           n_iter_no_change=1000, random_state=0)
X_IRIS, Y_IRIS = load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def sorted_data():
    """40 noisy points of x^2 on a sorted grid of [-1, 1] (the course's layout), float64."""
    data = noisy_function(n_train=40, seed=1, dtype=np.float64)
    return data.X_train, data.y_train


@pytest.fixture
def engine_calls(monkeypatch):
    """The number of networks of every engine call the estimators make."""
    calls = []
    train = estimator_base.train

    def counting(spec, params, *args, **kwargs):
        calls.append(len(jax.tree_util.tree_leaves(params)[0]))
        return train(spec, params, *args, **kwargs)

    monkeypatch.setattr(estimator_base, "train", counting)
    return calls


def _quiet(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit()


def test_regressor_choice_equals_gridsearchcv(sorted_data, engine_calls):
    """Same folds (an int cv is KFold(shuffle=True, random_state)), n_seeds=1 and the same
    random_state, so every fold's network starts from MLPRegressor's own initial weights and,
    trained full batch on its fold's rows (the engine's rows), is the network GridSearchCV fits
    on that fold: in float64 every split score agrees to rounding, so does the choice. All
    4 folds x 5 alphas train in one engine call; the refit is a second."""
    X, y = sorted_data
    grid = _quiet(lambda: GridSearchCV(MLPRegressor(**REG), {"alpha": ALPHAS},
                                       cv=KFold(4, shuffle=True, random_state=0)).fit(X, y))
    with jax.enable_x64(True):
        ours = _quiet(lambda: RegularizedMLPRegressorCV(alphas=ALPHAS, cv=4, **REG).fit(X, y))
    assert engine_calls == [4 * len(ALPHAS), 1]
    for k in range(4):
        np.testing.assert_allclose(ours.cv_results_[f"split{k}_test_score"],
                                   grid.cv_results_[f"split{k}_test_score"], rtol=1e-8)
    assert ours.best_params_ == grid.best_params_ and ours.alpha_ == grid.best_params_["alpha"]
    assert 0 < ours.best_index_ < len(ALPHAS) - 1  # an interior optimum: the test can fail
    assert ours.best_score_ == pytest.approx(grid.best_score_, rel=1e-8)
    np.testing.assert_allclose(ours.predict(X), grid.predict(X), rtol=1e-8)


def test_unequal_folds_are_padded_with_weightless_rows(sorted_data):
    """3 folds of 40 points train on 27, 27 and 26 rows: the last fold's networks get one
    padding row of sample weight 0, and every split score still equals GridSearchCV's
    (float64)."""
    X, y = sorted_data
    folds = KFold(3, shuffle=True, random_state=0)
    assert sorted(len(train) for train, _ in folds.split(X)) == [26, 27, 27]
    _three_fold_searches(X, y, REG, ALPHAS[:2])


def _three_fold_searches(X, y, kw: dict, alphas: list) -> tuple:
    """GridSearchCV(MLPRegressor) on shuffled 3-fold KFold and ours with cv=3 (the same folds,
    float64), after checking that every split score agrees to 1e-8."""
    grid = _quiet(lambda: GridSearchCV(MLPRegressor(**kw), {"alpha": alphas},
                                       cv=KFold(3, shuffle=True, random_state=0)).fit(X, y))
    with jax.enable_x64(True):
        ours = _quiet(lambda: RegularizedMLPRegressorCV(alphas=alphas, cv=3, **kw).fit(X, y))
    for k in range(3):
        np.testing.assert_allclose(ours.cv_results_[f"split{k}_test_score"],
                                   grid.cv_results_[f"split{k}_test_score"], rtol=1e-8)
    return grid, ours


def test_early_stopping_folds_equal_gridsearchcv(sorted_data):
    """With early_stopping each fold's validation split is drawn as that fold's own fit draws
    it (from random_state, after the initial weights), and the validation rows are a second
    weight mask: the split scores still equal GridSearchCV's (float64)."""
    X, y = sorted_data
    kw = dict(REG, max_iter=300, early_stopping=True, validation_fraction=0.25, tol=1e-3,
              n_iter_no_change=20)
    grid, ours = _three_fold_searches(X, y, kw, ALPHAS[:3])
    assert ours.best_estimator_.n_iter_ == grid.best_estimator_.n_iter_ < 300


@pytest.mark.parametrize("early_stopping", [False, True])
def test_minibatch_folds_equal_gridsearchcv(sorted_data, early_stopping):
    """In mini-batches (8 rows; folds of 27, 27 and 26 rows, the last one padded) every fold's
    network shuffles its own rows as that fold's MLPRegressor does (after its validation split
    with early stopping) and the padding row comes last: the split scores still equal
    GridSearchCV's (float64)."""
    X, y = sorted_data
    kw = dict(REG, batch_size=8, max_iter=40, n_iter_no_change=40)
    if early_stopping:
        kw.update(early_stopping=True, validation_fraction=0.25, max_iter=300, tol=1e-3,
                  n_iter_no_change=10)
    grid, ours = _three_fold_searches(X, y, kw, ALPHAS[:2])
    if early_stopping:
        assert ours.best_estimator_.n_iter_ == grid.best_estimator_.n_iter_ < 300


def test_classifier_choice_equals_gridsearchcv(engine_calls):
    """The same on iris with stratified shuffled folds and a scorer given by name."""
    kw = dict(hidden_layer_sizes=(5,), activation="tanh", max_iter=100, learning_rate_init=0.01,
              random_state=0)
    grid = _quiet(lambda: GridSearchCV(
        MLPClassifier(**kw), {"alpha": ALPHAS[:4]}, scoring="neg_log_loss",
        cv=StratifiedKFold(3, shuffle=True, random_state=0)).fit(X_IRIS, Y_IRIS))
    with jax.enable_x64(True):
        ours = _quiet(lambda: RegularizedMLPClassifierCV(
            alphas=ALPHAS[:4], cv=3, scoring="neg_log_loss", **kw).fit(X_IRIS, Y_IRIS))
    assert engine_calls == [3 * 4, 1]
    for k in range(3):
        np.testing.assert_allclose(ours.cv_results_[f"split{k}_test_score"],
                                   grid.cv_results_[f"split{k}_test_score"], rtol=1e-8)
    assert ours.best_params_ == grid.best_params_
    assert list(ours.classes_) == [0, 1, 2]
    np.testing.assert_allclose(ours.predict_proba(X_IRIS), grid.predict_proba(X_IRIS),
                               rtol=1e-8)


def test_cv_results_layout_equals_gridsearchcv(sorted_data, engine_calls):
    """Same keys in the same order, same params in the same order (ParameterGrid's: sorted
    names, the last varying fastest) and the same param_* columns as GridSearchCV over our base
    estimator on the same 2 x 2 x 2 grid; still one engine call (3 folds x 8 points x 2 seeds)."""
    X, y = sorted_data
    grid_values = {"alpha": [1e-3, 1.0], "l1": [1e-4, 1e-3], "dropout": [0.1, 0.2]}
    kw = dict(hidden_layer_sizes=(3,), max_iter=20, random_state=0)
    grid = _quiet(lambda: GridSearchCV(RegularizedMLPRegressor(**kw), grid_values,
                                       cv=3).fit(X, y))
    del engine_calls[:]
    ours = _quiet(lambda: RegularizedMLPRegressorCV(
        alphas=grid_values["alpha"], l1s=grid_values["l1"], dropouts=grid_values["dropout"],
        cv=3, n_seeds=2, **kw).fit(X, y))
    assert engine_calls == [3 * 8 * 2, 1]
    assert list(ours.cv_results_) == list(grid.cv_results_)
    assert ours.cv_results_["params"] == grid.cv_results_["params"]
    for key, column in grid.cv_results_.items():
        if key.startswith("param_"):
            assert type(ours.cv_results_[key]) is type(column)
            assert ours.cv_results_[key].dtype == column.dtype
            assert list(ours.cv_results_[key]) == list(column)
        elif key != "params":
            assert ours.cv_results_[key].shape == column.shape
            assert ours.cv_results_[key].dtype == column.dtype
    assert (ours.alpha_, ours.l1_, ours.dropout_) == tuple(
        ours.best_params_[k] for k in ("alpha", "l1", "dropout"))


def test_scores_come_from_held_out_rows_only(sorted_data):
    """The scorer sees each fold's held-out rows and nothing else, and a network's training
    never weighs them: rewriting the targets of fold 0's held-out rows leaves fold 0's networks
    (their predictions on those rows) bit for bit unchanged."""
    X, y = sorted_data
    folds = list(KFold(4, shuffle=True, random_state=3).split(X))
    seen, predictions = [], []

    def scorer(model, X_test, y_test):
        seen.append((X_test.copy(), y_test.copy()))
        predictions.append(model.predict(X_test))
        return -float(np.mean((model.predict(X_test) - y_test) ** 2))

    def fit(targets):
        seen.clear(), predictions.clear()
        _quiet(lambda: RegularizedMLPRegressorCV(alphas=ALPHAS[:3], cv=folds, scoring=scorer,
                                                 **REG).fit(X, targets))
        return list(predictions[:3])  # fold 0 comes first: its 3 alphas

    before = fit(y)
    assert len(seen) == 4 * 3
    for i, (X_test, y_test) in enumerate(seen):
        test = folds[i // 3][1]
        np.testing.assert_array_equal(X_test, X[test])
        np.testing.assert_array_equal(y_test, y[test])
    tampered = y.copy()
    tampered[folds[0][1]] += 100.0
    after = fit(tampered)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)


def test_int_cv_is_shuffled_kfold_and_plain_kfold_extrapolates(sorted_data):
    """cv=5 means KFold(5, shuffle=True, random_state): the same results as passing that
    splitter. Plain KFold on the sorted grid holds out contiguous stretches of the interval
    (both ends of the parabola among them): its folds extrapolate and its best cross-validated
    MSE is far worse (measured 0.074 against 0.041 here)."""
    X, y = sorted_data
    kw = dict(alphas=ALPHAS[:3], scoring="neg_mean_squared_error", **REG)
    by_int = _quiet(lambda: RegularizedMLPRegressorCV(cv=5, **kw).fit(X, y))
    explicit = _quiet(lambda: RegularizedMLPRegressorCV(
        cv=KFold(5, shuffle=True, random_state=0), **kw).fit(X, y))
    plain = _quiet(lambda: RegularizedMLPRegressorCV(cv=KFold(5), **kw).fit(X, y))
    np.testing.assert_array_equal(by_int.cv_results_["mean_test_score"],
                                  explicit.cv_results_["mean_test_score"])
    assert plain.best_score_ < 1.5 * by_int.best_score_  # scores are minus the MSE


def test_seeds_are_averaged_per_grid_point(sorted_data):
    """With n_seeds=2 a split score is the mean of the two initialisations' scores."""
    X, y = sorted_data
    scores = []

    def scorer(model, X_test, y_test):
        scores.append(model.score(X_test, y_test))
        return scores[-1]

    cv = _quiet(lambda: RegularizedMLPRegressorCV(alphas=ALPHAS[:2], cv=3, n_seeds=2,
                                                  scoring=scorer, **REG).fit(X, y))
    by_seed = np.array(scores[:12]).reshape(3, 2, 2)  # fold, alpha, seed
    assert not np.allclose(by_seed[..., 0], by_seed[..., 1])  # two different initialisations
    for k in range(3):
        np.testing.assert_allclose(cv.cv_results_[f"split{k}_test_score"],
                                   by_seed[k].mean(axis=1))


@pytest.mark.parametrize("task", ["multi-output regression", "multiclass", "multilabel"])
def test_default_score_equals_the_scorer_of_the_same_metric(sorted_data, task, monkeypatch):
    """The default scoring (a fold's networks predict together in one batched forward pass)
    gives every split score that scikit-learn's scorer of the same metric gives when handed one
    fitted estimator per grid point and seed, as GridSearchCV hands it (n_seeds=2 and
    n_networks=2, so seeds and members are grouped right): R^2 averaged over outputs, accuracy,
    subset accuracy. Only the predictions' summation order may differ (float64). Every network
    goes through the forward pass alone here (FORWARD_ELEMENTS=1), so members of one group are
    summed across passes (the other CV tests predict a fold's networks in one pass)."""
    monkeypatch.setattr(estimator_base, "FORWARD_ELEMENTS", 1)
    X, y = sorted_data
    if task == "multi-output regression":
        estimator, metric, y = RegularizedMLPRegressorCV, "r2", np.column_stack([y, X[:, 0]])
    else:
        X, y = X_IRIS, Y_IRIS
        estimator, metric = RegularizedMLPClassifierCV, "accuracy"
        if task == "multilabel":
            y = np.column_stack([y == 0, y == 1, X[:, 0] > 5.8]).astype(int)
    kw = dict(REG, max_iter=60, alphas=ALPHAS[:3], cv=3, n_seeds=2, n_networks=2)
    with jax.enable_x64(True):
        own, named = (_quiet(lambda: estimator(scoring=scoring, **kw).fit(X, y))
                      for scoring in (None, metric))
    for k in range(3):
        np.testing.assert_allclose(own.cv_results_[f"split{k}_test_score"],
                                   named.cv_results_[f"split{k}_test_score"], rtol=1e-12)
    scores = own.cv_results_["mean_test_score"]
    assert np.ptp(scores) > 0  # the grid points differ, so a mix-up of groups would show


def test_pipeline_and_clone():
    search = RegularizedMLPClassifierCV((5,), alphas=[1e-3, 1.0], cv=3, max_iter=200,
                                        learning_rate_init=0.01, random_state=0)
    copy = clone(search)
    assert copy.get_params() == search.get_params()
    pipe = _quiet(lambda: make_pipeline(StandardScaler(), search).fit(X_IRIS, Y_IRIS))
    assert pipe.score(X_IRIS, Y_IRIS) > 0.8
    assert pipe.predict_proba(X_IRIS[:4]).shape == (4, 3)
    assert not hasattr(copy, "best_estimator_")


def test_diverging_networks_score_nan_and_rank_last(sorted_data):
    """A grid point whose networks blow up (SGD with lr * alpha / n far above 2: the weight
    decay overshoots; the engine marks them diverged) is scored NaN, with a warning, and ranked
    last, as GridSearchCV treats failed fits; the search still answers with the other point."""
    X, y = sorted_data
    search = RegularizedMLPRegressorCV((8,), "tanh", alphas=[1e-4, 1e5], cv=3, max_iter=100,
                                       solver="sgd", learning_rate_init=0.05, random_state=0)
    with pytest.warns(UserWarning, match="diverged"):
        _quiet(lambda: search.fit(X, y))
    assert np.isnan(search.cv_results_["mean_test_score"][1])
    assert list(search.cv_results_["rank_test_score"]) == [1, 2]
    assert search.alpha_ == 1e-4 and np.isfinite(search.best_score_)


FOLDS_REASON = ("folds are drawn over rows: repeating a row changes which rows each fold holds "
                "out, so weighted and repeated data search differently (GridSearchCV likewise)")


@pytest.mark.slow
@pytest.mark.parametrize("estimator", [
    RegularizedMLPRegressorCV((20,), alphas=[1e-4, 1.0], cv=3, max_iter=100),
    RegularizedMLPClassifierCV((20,), alphas=[1e-4, 1.0], cv=3, max_iter=100)],
    ids=lambda e: type(e).__name__)
def test_sklearn_estimator_checks(estimator):
    assert_passes_check_estimator(
        estimator, {"check_sample_weight_equivalence_on_dense_data": FOLDS_REASON})
