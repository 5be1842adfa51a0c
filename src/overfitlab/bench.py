"""Engine against scikit-learn on the course data, measured in one process.

(a) a learning curve: scikit-learn's ``partial_fit`` loop computing train and test MSE after every
    iteration, against ``RegularizedMLPRegressor.fit(..., eval_set=...)``, which records the
    training loss (``loss_curve_``) and the test MSE (``eval_loss_curve_``) at every iteration;
(b) ``MLPRegressor.fit`` against ``RegularizedMLPRegressor.fit`` for the same iterations;
(c) ``networks`` networks (alphas x 20 seeds) trained in one vectorized call, against
    ``networks`` times scikit-learn's time for one network.

Every timing is the median of ``repeats`` runs; ours include compilation on the first run
(reported separately as "cold").
"""
from __future__ import annotations

import statistics
import time
import warnings

import numpy as np
from rich.table import Table

from overfitlab.data.synthetic import noisy_function

COURSE = dict(hidden_layer_sizes=(20,), activation="tanh", tol=1e-7)


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
