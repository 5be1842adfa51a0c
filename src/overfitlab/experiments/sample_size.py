"""sample-size: keep 20 hidden units, train on 10 to 10 000 noisy points of the target.

For each training-set size n (log-spaced), ``seeds`` initialisations are trained at once (the
same initial weights for every n) on n points of a regular grid of [-1, 1] with fresh noise, and
scored on one common test set of ``n_test`` points (1000 by default rather than the course's
100, so that its own noise, relative sd sqrt(2 / n_test), does not hide the answer).

Training follows MLPRegressor's ``batch_size='auto'``: full batch for n <= ``batch_size``
(``max_iter`` iterations), mini-batches of ``batch_size`` otherwise, for about
``minibatch_steps`` Adam steps whatever n. To compile the training loop only twice (once per
regime) rather than once per n, every training set of a regime is *tiled* to the same number
of rows N (the regime's largest n): row r holds point r mod n, weighted 1 / (its number of
copies), so every point has total weight 1. With full batches the weighted loss
sum_r w_r e_r^2 / sum_r w_r is then exactly the mean over the n points (and the L2 term is
divided by sum_r w_r = n, as scikit-learn does); with mini-batches, shuffled batches of the N
rows give unbiased estimates of the same loss, each point being visited N / n times per pass.

The expected test MSE of a fit f_hat on new data at the test inputs is

    E[(y - f_hat(x))^2] = sigma^2 + mean_x (f(x) - f_hat(x))^2,

which is computed on a fine grid without test noise; the measured test MSE on ``n_test`` noisy
points scatters around it with standard deviation about sigma^2 sqrt(2 / n_test).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import jax
import numpy as np

from overfitlab.data.synthetic import RegressionData, noisy_function
from overfitlab.engine import threefry
from overfitlab.engine.mlp import n_parameters
from overfitlab.engine.train import train_grid
from overfitlab.experiments.configs.sample_size import SampleSizeConfig
from overfitlab.experiments._course import course_spec, mse, predict
from overfitlab.experiments._verdicts import CLOSE, alive_or_raise, diverged_note
from overfitlab.experiments.base import Answer, Experiment, Progress, Result, no_progress
from overfitlab.progress import scaled
from overfitlab.stats import float_band, without_diverged
from overfitlab.experiments.ensemble import FIT_GRID, network_hypers

OVERFIT_THRESHOLD = 0.1
"""Still overfitting when expected test MSE - train MSE exceeds this fraction of sigma^2."""


def _data_seed(config: SampleSizeConfig, stream: int) -> int:
    """Independent data seed per training-set size (stream = n) and for the test set (0)."""
    return int(np.random.SeedSequence([config.seed, stream]).generate_state(1)[0])


def training_set(config: SampleSizeConfig, n: int) -> RegressionData:
    """n training points of the target with fresh noise (its test split is unused)."""
    return noisy_function(n, 1, config.noise, config.target, _data_seed(config, n))


def common_test_set(config: SampleSizeConfig) -> RegressionData:
    """The common test set (its single training point is unused)."""
    return noisy_function(1, config.n_test, config.noise, config.target, _data_seed(config, 0))


def tile(data: RegressionData, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The training set repeated to ``rows`` rows, and weights 1/copies (each point sums to 1)."""
    n = data.y_train.size
    if rows < n:
        raise ValueError(f"cannot tile {n} points into {rows} rows")
    index = np.arange(rows) % n
    copies = np.bincount(index, minlength=n)
    return data.X_train[index], data.y_train[index], 1.0 / copies[index]


@dataclass(frozen=True)
class Regime:
    """How training sets of one regime are run: rows after tiling, batch size, epochs."""

    rows: int
    batch_size: int | None  # None: full batch
    epochs: int


def regime_of(config: SampleSizeConfig, n: int) -> Regime:
    """Full batch (``max_iter`` iterations) up to ``batch_size`` points, else mini-batches for
    ceil(``minibatch_steps`` / batches per pass) passes over the tiled rows."""
    if n <= config.batch_size:
        rows = max(v for v in config.n_values if v <= config.batch_size)
        return Regime(rows, None, config.max_iter)
    rows = max(config.n_values)
    return Regime(rows, config.batch_size,
                  math.ceil(config.minibatch_steps / math.ceil(rows / config.batch_size)))


def run(config: SampleSizeConfig, progress: Progress = no_progress) -> Result:
    """Train for every n; record train, test and expected test MSE, and some fits."""
    start = time.perf_counter()
    S, n_values = config.seeds, np.asarray(config.n_values)
    test = common_test_set(config)
    grid = np.linspace(-1, 1, FIT_GRID, dtype=np.float32)[:, None]
    truth = test.truth(grid)
    key = threefry.prng_key(config.seed)
    train_mse, test_mse, excess, fits, datasets, diverged = [], [], [], [], [], []
    for i, n in enumerate(config.n_values):
        regime = regime_of(config, n)
        progress(0.02 + 0.9 * i / len(n_values), f"n = {n}: {S} networks x {regime.epochs} "
                 f"passes over {regime.rows} rows")
        data = training_set(config, n)
        X, y, w = tile(data, regime.rows)
        hyper = network_hypers(config, 1, w[None])  # one configuration
        spec = course_spec(config, regime.epochs, batch_size=regime.batch_size)
        out = train_grid(spec, key, S, hyper, X, y,
                         progress=scaled(progress, 0.02 + 0.9 * i / len(n_values),
                                         0.02 + 0.9 * (i + 1) / len(n_values)))
        params = jax.tree_util.tree_map(lambda a: a[:, 0], out.params)
        lost = out.diverged[:, 0]
        diverged.append(lost)
        train_mse.append(without_diverged(mse(predict(params, data.X_train, config.activation),
                                              data.y_train), lost))
        test_mse.append(without_diverged(mse(predict(params, test.X_test, config.activation),
                                             test.y_test), lost))
        fit = without_diverged(predict(params, grid, config.activation), lost)
        excess.append(mse(fit, truth))
        fits.append(fit)
        datasets.append(data)
    train_mse, test_mse, excess, diverged = (np.stack(a, axis=1) for a in
                                             (train_mse, test_mse, excess, diverged))
    alive_or_raise(diverged, config.learning_rate)
    n_div = int(diverged.sum())
    expected = test.bayes_mse + excess  # (S, N)
    gap = expected - train_mse
    final_gap = float(np.nanmedian(gap[:, -1]))
    meet = final_gap <= OVERFIT_THRESHOLD * test.bayes_mse and abs(
        float(np.nanmedian(expected[:, -1])) - test.bayes_mse) <= CLOSE * test.bayes_mse
    curve_title = (f"More data: train and test error meet at the noise level by n = "
                   f"{n_values[-1]}" if meet else
                   f"Train and expected test error at n = {n_values[-1]}: gap {final_gap:.2g}, "
                   f"noise {test.bayes_mse:g}")

    from overfitlab.plots.lab import sample_size_figure, sample_size_fits_figure

    shown = sorted({0, len(n_values) // 2, len(n_values) - 1})
    figures = {
        "sample_size.png": sample_size_figure(n_values, train_mse, test_mse, expected,
                                              test.bayes_mse, curve_title),
        "fits.png": sample_size_fits_figure([datasets[i] for i in shown], grid[:, 0],
                                            [fits[i] for i in shown]),
    }
    captions = {
        "sample_size.png": f"Train, test and expected test MSE against the number of training "
                           f"points n (log axes, {S} initialisations): look at the gap between "
                           f"training and expected test error, "
                           f"{float(np.median(gap[:, 0])):.2g} at n = {n_values[0]} and "
                           f"{float(np.median(gap[:, -1])):.2g} at n = {n_values[-1]}, against "
                           f"the noise variance {test.bayes_mse:g}.",
        "fits.png": "Fits (median and band over seeds) with n = "
                    f"{', '.join(str(n_values[i]) for i in shown)} training points: compare "
                    f"how closely the curve follows individual points at each n.",
    }

    sigma2 = test.bayes_mse
    t_m, t_lo, t_hi = float_band(test_mse[:, -1])
    e_m = float(np.nanmedian(expected[:, -1]))
    tr_m = float(np.nanmedian(train_mse[:, -1]))
    g_m, g_lo, g_hi = float_band(gap[:, -1])
    g_first = float(np.nanmedian(gap[:, 0]))
    overfit_first = g_first > OVERFIT_THRESHOLD * sigma2
    n_max, n_min = int(n_values[-1]), int(n_values[0])
    overfits = bool(g_m > OVERFIT_THRESHOLD * sigma2)
    test_sd = sigma2 * math.sqrt(2 / config.n_test)
    n_params = n_parameters((1, config.hidden_units, 1))
    excess_max = float(np.nanmedian(excess[:, -1]))
    noise_share = ("so the test error is almost all noise" if excess_max < 0.1 * sigma2 else
                   f"{100 * excess_max / sigma2:.0f} % of the noise variance on top of it")
    if overfit_first and not overfits:
        memorise = f"{n_params} parameters can memorise {n_min} points but not {n_max}."
    elif overfits:
        memorise = f"{n_params} parameters still fit part of the noise of {n_max} points."
    else:
        memorise = f"The network did not overfit even at n = {n_min}."
    answers = [
        Answer("test_mse_at_max_n", f"Test MSE with n = {n_max} training points?", float(t_m),
               f"Median over {S} initialisations {t_m:.4f} (10-90 % {t_lo:.4f}-{t_hi:.4f}) on "
               f"the {config.n_test} test points, against the noise variance {sigma2:g}: with "
               f"{n_max} points the {n_params}-parameter network's squared error to the truth "
               f"is {excess_max:.5f}, {noise_share}. Without test "
               f"noise the expected test MSE sigma^2 + mean (f - f_hat)^2 is {e_m:.4f}; a "
               f"{config.n_test}-point test set scatters around it by about "
               f"sigma^2 sqrt(2/{config.n_test}) = {test_sd:.4f}, and the measured value is "
               f"{abs(t_m - e_m) / test_sd:.2f} such standard deviations away. At n = {n_min} "
               f"the test MSE was {np.nanmedian(test_mse[:, 0]):.4f}."
               + diverged_note(n_div, diverged.size), t_lo, t_hi),
        Answer("still_overfits", f"With n = {n_max} points, does the network still overfit?",
               "yes" if overfits else "no",
               f"{'Yes' if overfits else 'No'}: at n = {n_max} the training MSE is {tr_m:.4f} "
               f"and the expected test MSE {e_m:.4f}, a gap of {g_m:.5f} (10-90 % "
               f"{g_lo:.5f}-{g_hi:.5f}), i.e. {100 * g_m / sigma2:.1f} % of the noise variance "
               f"(threshold for 'overfits': {100 * OVERFIT_THRESHOLD:g} %). At n = {n_min} the "
               f"gap was {g_first:.4f}, {g_first / sigma2:.1f} times the noise variance: "
               f"{memorise} For least "
               f"squares with p parameters the expected gap is 2 p sigma^2 / n "
               f"(= {2 * n_params * sigma2 / n_max:.5f} for p = {n_params} at n = {n_max})."),
    ]
    med = lambda a: np.nanmedian(a, axis=0)  # noqa: E731
    metrics = {"bayes_mse": sigma2, "test_mse_at_max_n": float(t_m),
               "excess_error_at_max_n": excess_max,
               "expected_test_mse_at_max_n": e_m, "train_mse_at_max_n": tr_m,
               "gap_at_max_n": float(g_m), "gap_at_min_n": g_first,
               "still_overfits": int(overfits), "diverged": n_div}
    for n, tr, te, ex in zip(n_values, med(train_mse), med(test_mse), med(expected)):
        metrics.update({f"train_mse_n{n}": float(tr), f"test_mse_n{n}": float(te),
                        f"expected_test_mse_n{n}": float(ex)})
    arrays = {"n_values": n_values, "train_mse": train_mse.astype(np.float32),
              "test_mse": test_mse.astype(np.float32),
              "expected_test_mse": expected.astype(np.float32), "grid": grid[:, 0],
              "fits": np.stack(fits, axis=1).astype(np.float32)}
    large = [n for n in config.n_values if n > config.batch_size]
    notes = [f"{S} initialisations, shared by every n (fewer than the course's 20, to keep the "
             f"run short)."]
    if len(large) < len(config.n_values):
        notes.append(f"n <= {config.batch_size}: full batch, {config.max_iter} iterations.")
    if large:
        r = regime_of(config, large[0])
        notes.append(
            f"n > {config.batch_size}: mini-batches of {config.batch_size} (MLPRegressor's "
            f"batch_size='auto') over the data tiled to {r.rows} rows, {r.epochs} passes = "
            f"{r.epochs * math.ceil(r.rows / config.batch_size)} Adam steps for every n "
            f"(not the course's 20000 epochs, which would mean 1e6 steps at n = {r.rows}).")
    progress(1.0, "done")
    return Result("sample-size", config, metrics, answers, figures, arrays, notes,
                  elapsed_s=time.perf_counter() - start, captions=captions)


EXPERIMENT = Experiment(
    name="sample-size",
    description="20 tanh units trained on 10 to 10000 noisy points: train and test MSE "
                "against n meet at the noise variance.",
    config_class=SampleSizeConfig, run=run, order=60)
