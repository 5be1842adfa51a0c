"""Engine against scikit-learn on the course data, measured in one process.

(a) a learning curve: scikit-learn's ``partial_fit`` loop computing train and test MSE after every
    iteration, against ``RegularizedMLPRegressor.fit(..., eval_set=...)``, which records the
    training loss (``loss_curve_``) and the test MSE (``eval_loss_curve_``) at every iteration;
(b) ``MLPRegressor.fit`` against ``RegularizedMLPRegressor.fit`` for the same iterations;
(c) ``networks`` networks (alphas x 20 seeds) trained in one vectorized call, against
    ``networks`` times scikit-learn's time for one network.

Every timing is the median of ``repeats`` runs; ours include compilation on the first run
(reported separately as "cold").

Model selection (:func:`run_cv_benchmarks`), each timed once per side in the same process:

(d) alpha among 30 log-spaced values in [1e-5, 10] by 5-fold shuffled cross-validation for the
    course network (1-20-1 tanh, Adam, 5000 iterations, tol=0) on 200 noisy points of x^2:
    ``GridSearchCV(MLPRegressor, cv=KFold(5, shuffle=True, random_state=0), n_jobs=-1)``
    against ``RegularizedMLPRegressorCV`` on the same folds (one engine call, then the refit);
(e) the same for a classifier on the 8x8 digits (10 alphas, 5-fold stratified, shuffled):
    ``GridSearchCV(MLPClassifier)`` against ``RegularizedMLPClassifierCV``.

Both report the chosen alphas with their mean CV scores and standard errors (fold standard
deviation / sqrt(folds)), whether the choices agree (same grid point, or adjacent ones whose scores
differ by less than a standard error), and where our time goes (engine call, scoring, refit).
"""
from __future__ import annotations

import statistics
import time
import warnings

import numpy as np
from rich.table import Table

from overfitlab.data.synthetic import noisy_function

COURSE = dict(hidden_layer_sizes=(20,), activation="tanh", tol=1e-7)
DIGITS = dict(hidden_layer_sizes=(32,), max_iter=100, n_iter_no_change=100)
DIGITS_LABEL = "1 hidden layer of 32 ReLU, Adam, batches of 200, 100 epochs"


def _time(fn, repeats: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def sklearn_curve(data, iterations: int, seed: int = 0) -> tuple[list, list]:
    """The course's loop: one partial_fit per iteration, MSE on train and test after each."""
    from sklearn.neural_network import MLPRegressor

    reg = MLPRegressor(**COURSE, max_iter=iterations, random_state=seed)
    train, test = [], []
    for _ in range(iterations):
        reg.partial_fit(data.X_train, data.y_train)
        train.append(np.mean((reg.predict(data.X_train) - data.y_train) ** 2))
        test.append(np.mean((reg.predict(data.X_test) - data.y_test) ** 2))
    return train, test


def _choice(search) -> tuple[float, float, float]:
    """(chosen alpha, its mean CV score, its standard error) of a fitted search."""
    results, best = search.cv_results_, search.best_index_
    se = results["std_test_score"][best] / np.sqrt(search.n_splits_)
    return float(search.best_params_["alpha"]), float(results["mean_test_score"][best]), se


def _agreement(alphas, theirs, ours) -> str:
    """Same grid point, adjacent within a standard error, or different (computed)."""
    gap = abs(int(np.argmin(np.abs(alphas - theirs[0]))) - int(np.argmin(np.abs(alphas - ours[0]))))
    if gap == 0:
        return "same alpha"
    within = abs(theirs[1] - ours[1]) < max(theirs[2], ours[2])
    if gap == 1 and within:
        return "adjacent alphas, scores within one SE"
    return f"different ({gap} grid steps apart, scores {'within' if within else 'beyond'} one SE)"


def _cv_case(label: str, target: str, sk_search, ours, X, y, alphas) -> list[str]:
    """Fit both searches once on (X, y); one table row."""
    start = time.perf_counter()
    sk_search.fit(X, y)
    sk_t = time.perf_counter() - start
    start = time.perf_counter()
    ours.fit(X, y)
    ours_t = time.perf_counter() - start
    n_fits = len(alphas) * ours.n_splits_
    engine_t = float(ours.cv_results_["mean_fit_time"].sum() * ours.n_splits_)
    score_t = float(ours.cv_results_["mean_score_time"].sum() * ours.n_splits_)
    theirs, mine = _choice(sk_search), _choice(ours)
    fmt = lambda c: f"alpha {c[0]:.3g}: {c[1]:.4f} +- {c[2]:.4f}"  # noqa: E731
    return [label, f"{sk_t:.1f}", f"{ours_t:.2f} (engine call {engine_t:.2f}, {n_fits} fits; "
            f"scoring {score_t:.2f}; refit {ours_t - engine_t - score_t:.2f})",
            f"{sk_t / ours_t:.1f}x", f"{fmt(theirs)} | {fmt(mine)}: "
            f"{_agreement(alphas, theirs, mine)}", target]


def run_cv_benchmarks() -> Table:
    """Run (d) and (e) once each and return a Rich table (see the module docstring)."""
    import os

    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    from overfitlab.estimators import RegularizedMLPClassifierCV, RegularizedMLPRegressorCV

    warnings.simplefilter("ignore", ConvergenceWarning)
    load = os.getloadavg()[0]
    rows = []
    data = noisy_function(n_train=200, seed=0)
    alphas = np.logspace(-5, 1, 30)
    kw = dict(COURSE, tol=0.0, max_iter=5000, random_state=0)
    folds = KFold(5, shuffle=True, random_state=0)
    rows.append(_cv_case(
        "(d) alpha by 5-fold CV, 30 alphas: 1-20-1 tanh, 5000 iterations, 200 points of x^2",
        ">= 30x (>= 50x after engine work)",
        GridSearchCV(MLPRegressor(**kw), {"alpha": alphas}, cv=folds, n_jobs=-1),
        RegularizedMLPRegressorCV(alphas=alphas, cv=folds, **kw),
        data.X_train, data.y_train, alphas))
    digits = load_digits()
    X, y = (digits.data / 16.0).astype(np.float32), digits.target
    alphas = np.logspace(-4, 1, 10)
    kw = dict(DIGITS, random_state=0)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    rows.append(_cv_case(
        f"(e) alpha by 5-fold stratified CV, 10 alphas: digits 8x8, {DIGITS_LABEL}", ">= 20x",
        GridSearchCV(MLPClassifier(**kw), {"alpha": alphas}, cv=folds, n_jobs=-1),
        RegularizedMLPClassifierCV(alphas=alphas, cv=folds, **kw), X, y, alphas))
    import jax

    table = Table(title=f"Model selection: GridSearchCV against our CV estimators, once each "
                        f"({jax.default_backend()}; load average {load:.2f} at start, "
                        f"{os.getloadavg()[0]:.2f} at end)")
    for col in ("task", "GridSearchCV (s)", "overfitlab (s)", "speed-up",
                "chosen (scikit-learn | overfitlab): mean CV score +- SE", "target"):
        table.add_column(col, justify="right" if col.endswith("(s)") or col == "speed-up"
                         else "left")
    for row in rows:
        table.add_row(*row)
    return table


def run_benchmarks(repeats: int = 3, networks: int = 1000, iterations: int = 20000) -> Table:
    """Run (a), (b), (c) and return a Rich table of times and ratios."""
    import jax
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    from overfitlab.engine.train import TrainSpec, make_hyper, stack_networks, train_grid
    from overfitlab.estimators import RegularizedMLPRegressor

    warnings.simplefilter("ignore", ConvergenceWarning)
    data = noisy_function()
    never_stop = dict(n_iter_no_change=iterations + 1)

    # (a) learning curve: partial_fit loop vs fit(eval_set=...); scikit-learn's loop is slow,
    # so it is timed once.
    sk_curve, _ = _time(lambda: sklearn_curve(data, iterations), 1)

    def ours_curve():
        RegularizedMLPRegressor(**COURSE, max_iter=iterations, random_state=0, **never_stop) \
            .fit(data.X_train, data.y_train, eval_set=(data.X_test, data.y_test))

    cold_curve, _ = _time(ours_curve, 1)
    warm_curve, _ = _time(ours_curve, repeats)

    # (b) plain fit for the same number of iterations.
    def sk_fit():
        MLPRegressor(**COURSE, max_iter=iterations, random_state=0, **never_stop) \
            .fit(data.X_train, data.y_train)

    def ours_fit():
        RegularizedMLPRegressor(**COURSE, max_iter=iterations, random_state=0, **never_stop) \
            .fit(data.X_train, data.y_train)

    sk_fit_t, _ = _time(sk_fit, max(1, repeats // 2))
    ours_fit()  # compile once, so the median below is warm
    ours_fit_t, _ = _time(ours_fit, repeats)

    # (c) a sweep: alphas x 20 seeds in one call.
    n_seeds = 20
    n_alphas = max(1, networks // n_seeds)
    alphas = np.logspace(-5, 1, n_alphas)
    hyper = stack_networks([make_hyper(a) for a in alphas])
    spec = TrainSpec((1, 20, 1), "tanh", "adam", iterations, tol=None, chunk=1000)

    def sweep():
        out = train_grid(spec, jax.random.PRNGKey(0), n_seeds, hyper, data.X_train,
                         data.y_train)
        jax.block_until_ready(out.params)

    cold_sweep, _ = _time(sweep, 1)
    warm_sweep, _ = _time(sweep, max(1, repeats // 2))
    n_total = n_alphas * n_seeds
    sk_sweep = sk_fit_t * n_total

    table = Table(title=f"overfitlab vs scikit-learn, course data, {iterations} iterations "
                        f"(median of {repeats}; {jax.default_backend()})")
    for col in ("task", "scikit-learn (s)", "overfitlab (s)", "speed-up", "target"):
        table.add_column(col, justify="right" if col != "task" else "left")
    table.add_row("(a) learning curve: partial_fit loop (train+test MSE each iteration) vs "
                  "fit(eval_set) (training loss + test MSE each iteration)",
                  f"{sk_curve:.2f}", f"{warm_curve:.3f} (cold {cold_curve:.2f})",
                  f"{sk_curve / warm_curve:.0f}x", ">= 100x; <= 1 s cold")
    table.add_row("(b) fit, same iterations", f"{sk_fit_t:.2f}", f"{ours_fit_t:.3f}",
                  f"{sk_fit_t / ours_fit_t:.0f}x", ">= 10x")
    table.add_row(f"(c) {n_total} networks ({n_alphas} alphas x {n_seeds} seeds)",
                  f"{sk_sweep:.0f} (= {n_total} x b)",
                  f"{warm_sweep:.2f} (cold {cold_sweep:.2f})",
                  f"{sk_sweep / warm_sweep:.0f}x", "<= 30 s")
    return table
