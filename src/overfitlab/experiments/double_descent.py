"""double-descent: test error against model size, through the interpolation threshold.

**Random features.** The course's noisy target on ``n_train`` points of a regular grid of
[-1, 1]; a hidden layer of p random units frozen (:mod:`overfitlab.theory.random_features`:
smooth steps centred uniformly in [-1, 1], slopes N(0, (sharpness (n - 1) / 2)^2), i.e.
transitions about as wide as ``1 / sharpness`` times the spacing of the training inputs); the output
layer is the minimum-norm least-squares fit (p >= n: the interpolating fit of least norm), or the
ridge fit for each of ``alphas``. p runs over a log-spaced grid from 1 to ``max_ratio`` * n plus
every integer in [0.8 n, 1.25 n]. Each seed draws its own features and its own training noise; the
test MSE is the expected error on new data, noise^2 + mean over a fine grid of (f_hat - f)^2.
With p < n the fit is least squares with fewer parameters than points (classical U curve); at
p = n, Phi is square and its smallest singular value is tiny, so the interpolating coefficients
(and the test error) explode; beyond, the minimum-norm interpolant gets smoother as p grows
(the second descent). The same for every size in ``n_values`` shows the peak move with n.

**Trained network.** The 1-p-1 network with *all* layers trained (full-batch Adam,
``learning_rate``, ``max_iter`` iterations, no penalty) from Glorot initial weights multiplied
by ``init_scale`` (small weights: training starts near the zero function, the analogue of the
minimum-norm start), on the first ``trained_seeds`` noise draws, for ``trained_widths``. Widths
are padded with masked-off units into a few buckets (each bucket one compiled call; masked
units get zero gradients, so each network trains exactly as its own width), chosen to spend the
least estimated time on compiling and padding. The network has 3p + 1
parameters, so it can interpolate from p = (n - 1) / 3 on, and whether it shows a peak is
measured, not assumed.

A curve *shows a peak* when some interior point exceeds both the lowest value before it and the
lowest value after it by the factor ``PEAK_FACTOR``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import jax
import numpy as np

from overfitlab.data.synthetic import TARGETS
from overfitlab.engine import threefry
from overfitlab.engine.train import TrainSpec, make_hyper, seed_keys, train
from overfitlab.errors import DivergedError
from overfitlab.experiments.configs.double_descent import DoubleDescentConfig
from overfitlab.experiments._course import predict
from overfitlab.experiments.base import Answer, Experiment, Progress, Result, no_progress
from overfitlab.experiments.small_network import masked_small_networks
from overfitlab.progress import scaled
from overfitlab.stats import float_band, integer_band
from overfitlab.theory.random_features import (draw_features, features, fit_output,
                                               one_blas_thread)

PEAK_FACTOR = 1.5
"""A peak rises above the best error before it and the best after it by at least this factor."""

COMPILE_S = 1.0
UNIT_STEP_S = 1e-8
"""Cost model of one training call: about COMPILE_S to compile, plus UNIT_STEP_S per hidden unit,
training point and iteration of every network (orders of magnitude measured on a 2-core CPU)."""


@dataclass(frozen=True)
class Curves:
    """Errors against size p for one training-set size; arrays (seed, alpha, p) with alpha 0
    (minimum norm) first."""

    n: int
    sizes: np.ndarray
    alphas: np.ndarray
    test: np.ndarray
    train: np.ndarray
    coef_norm: np.ndarray


def _rng(config: DoubleDescentConfig, *stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([config.seed, *stream]))


def training_sets(config: DoubleDescentConfig, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (n,) and one noisy target draw per seed (seeds, n)."""
    x = np.linspace(-1.0, 1.0, n)
    eps = _rng(config, 1, n).normal(0.0, config.noise, (config.seeds, n))
    return x, TARGETS[config.target](x) + eps


def _slope_sd(config: DoubleDescentConfig, n: int) -> float:
    return config.sharpness * (n - 1) / 2


def _apply(Phi: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Outputs (S, A, n) of output weights a (S, A, p) on features Phi (S, n, p)."""
    with one_blas_thread():
        return a @ np.swapaxes(Phi, -1, -2)


def random_features_curves(config: DoubleDescentConfig, n: int, grid: np.ndarray,
                           keep_fits: tuple[int, ...] = ()) -> tuple[Curves, dict]:
    """Minimum-norm and ridge fits of every size p, every seed; also the fits on the grid for
    the sizes in ``keep_fits`` ({p: (seed, alpha, n_grid)})."""
    x, y = training_sets(config, n)
    truth = TARGETS[config.target](grid)
    alphas = np.array((0.0, *config.alphas))
    sizes = config.sizes(n)
    test, train_err, norms, fits = [], [], [], {}
    for p in sizes:
        w, b = draw_features(_rng(config, 2, n, int(p)), config.seeds, int(p),
                             _slope_sd(config, n))
        a = fit_output(features(x, w, b, config.activation), y, alphas)  # (S, A, p)
        on_grid = _apply(features(grid, w, b, config.activation), a)
        on_train = _apply(features(x, w, b, config.activation), a)
        test.append(config.noise ** 2 + np.mean((on_grid - truth) ** 2, axis=-1))
        train_err.append(np.mean((on_train - y[:, None]) ** 2, axis=-1))
        norms.append(np.linalg.norm(a, axis=-1))
        if p in keep_fits:
            fits[int(p)] = on_grid
    stack = lambda arrays: np.stack(arrays, axis=-1)  # noqa: E731  (S, A, P)
    return Curves(n, sizes, alphas, stack(test), stack(train_err), stack(norms)), fits


def buckets(widths, unit_cost: float) -> list[list[int]]:
    """Sorted widths split into runs that each train in one compiled call, padded to the run's
    widest: the split of least estimated time, sum over runs of COMPILE_S + unit_cost * (number
    of widths) * (widest), by dynamic programming over the sorted widths. ``unit_cost`` is the
    seconds one hidden unit of one width costs (UNIT_STEP_S x seeds x points x iterations)."""
    w = sorted(set(widths))
    best = [0.0] + [np.inf] * len(w)  # best[j]: least cost of the first j widths
    cut = [0] * (len(w) + 1)
    for j in range(1, len(w) + 1):
        for i in range(j):
            cost = best[i] + COMPILE_S + unit_cost * (j - i) * w[j - 1]
            if cost < best[j]:
                best[j], cut[j] = cost, i
    groups, j = [], len(w)
    while j:
        groups.insert(0, w[cut[j]:j])
        j = cut[j]
    return groups


def trained_curves(config: DoubleDescentConfig, grid: np.ndarray,
                   progress: Progress) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Train and test MSE (trained_seeds, W) of the fully trained 1-p-1 networks for every
    trained width (sorted), NaN for diverged networks; and the number diverged."""
    x, y = training_sets(config, config.n_train)
    S = config.trained_seeds
    X = x[:, None].astype(np.float32)
    Y = np.repeat(y[:S], 1, axis=0)
    truth = TARGETS[config.target](grid)
    test, train_err, n_div = {}, {}, 0
    unit_cost = UNIT_STEP_S * S * config.n_train * config.max_iter
    done = 0
    for j, widths in enumerate(buckets(config.trained_widths, unit_cost)):
        H = widths[-1]
        key = threefry.fold_in(threefry.prng_key(config.seed), 10 + j)
        params, masks = masked_small_networks(key, S, widths, H, config.activation)
        params = jax.tree_util.tree_map(lambda a: a * np.float32(config.init_scale), params)
        B = masks.shape[0]
        one = make_hyper(0.0, learning_rate=config.learning_rate)
        hyper = jax.tree_util.tree_map(lambda a: np.broadcast_to(a, (B,)).copy(), one)
        hyper = hyper._replace(unit_masks=(masks,))
        spec = TrainSpec((1, H, 1), config.activation, "adam", config.max_iter, tol=None,
                         chunk=min(config.max_iter, 1000), record_loss_curve=False)
        targets = np.tile(Y, (len(widths), 1))[..., None].astype(np.float32)  # width-major
        cost = sum(widths) / sum(config.trained_widths)
        out = train(spec, params, seed_keys(config.seed + j, B), hyper, X, targets,
                    progress=scaled(progress, done, done + cost))
        done += cost
        on_grid = predict(out.params, grid[:, None], config.activation, [masks])
        on_train = predict(out.params, X, config.activation, [masks])
        bad = np.asarray(out.diverged)
        n_div += int(bad.sum())
        te = np.where(bad, np.nan, config.noise ** 2 + np.mean((on_grid - truth) ** 2, -1))
        tr = np.where(bad, np.nan, np.mean((on_train - np.tile(Y, (len(widths), 1))) ** 2, -1))
        for i, w in enumerate(widths):
            test[w], train_err[w] = te[i * S:(i + 1) * S], tr[i * S:(i + 1) * S]
    widths = np.array(sorted(test))
    return (widths, np.stack([train_err[w] for w in widths], axis=1),
            np.stack([test[w] for w in widths], axis=1), n_div)


def heights(curve: np.ndarray) -> np.ndarray:
    """How far each point stands above the curve on both sides:
    min(c_i / min(c before i), c_i / min(c after i)), > 1 on a bump; 0 at the ends (and where
    c_i is NaN; other NaN are ignored)."""
    c = np.asarray(curve, float)
    out = np.zeros(len(c))
    for i in range(1, len(c) - 1):
        if np.isfinite(c[i]):
            out[i] = min(c[i] / np.nanmin(c[:i]), c[i] / np.nanmin(c[i + 1:]))
    return out


def peak(curve: np.ndarray) -> tuple[int, float]:
    """The interior point that stands highest above the curve on both sides (see
    :func:`heights`): its index and its height."""
    h = heights(curve)
    return int(np.argmax(h)), float(np.max(h))


def run(config: DoubleDescentConfig, progress: Progress = no_progress) -> Result:
    """Random-features curves for every n, the trained networks, answers and figures."""
    start = time.perf_counter()
    n = config.n_train
    grid = np.linspace(-1.0, 1.0, config.grid_points)
    below, far = max(1, round(0.8 * n)), int(config.sizes(n)[-1])
    curves, fits = {}, {}
    sizes_n = config.sizes_n()
    for i, m in enumerate(sizes_n):
        progress(0.3 * i / len(sizes_n), f"random features, n = {m}")
        curves[m], f = random_features_curves(config, m, grid,
                                              (below, n, far) if m == n else ())
        fits.update(f)
    progress(0.3, "training the networks")
    widths, t_train, t_test, n_div = trained_curves(config, grid, scaled(progress, 0.3, 0.95))
    if n_div == t_test.size:
        raise DivergedError(f"all {n_div} trained networks diverged; lower --set "
                            f"learning_rate (now {config.learning_rate:g})")
    main = curves[n]
    answers = _answers(config, curves, widths, t_train, t_test, n_div)

    from overfitlab.plots.double_descent import curves_figure, fits_figure, shift_figure

    x, y = training_sets(config, n)
    typical = int(np.argsort(main.test[:, 0, _at(main, n)])[config.seeds // 2])
    figures = {
        "double_descent.png": curves_figure(main, widths, t_train, t_test, config.noise ** 2),
        "shift.png": shift_figure([curves[m] for m in sizes_n], config.noise ** 2),
        "fits.png": fits_figure(grid, TARGETS[config.target](grid), x, y[typical],
                                {p: fits[p][typical] for p in (below, n, far)}, n, typical),
    }
    i_peak, height = peak(np.nanmedian(main.test[:, 0], axis=0))  # the minimum-norm curve
    captions = {
        "double_descent.png": (
            f"Test and train MSE against p/n for n = {n} (median and 10-90 % band over "
            f"{config.seeds} seeds): the minimum-norm test error is highest at p = "
            f"{int(main.sizes[i_peak])} ({height:.3g} times its lowest value on either side), "
            f"the ridge curves and the fully trained network beside it."),
        "shift.png": (
            f"The same minimum-norm curve for n = {', '.join(map(str, sizes_n))}: look where "
            f"each one peaks ("
            + ", ".join(f"p = {_peak_size(curves[m])} for n = {m}" for m in sizes_n) + ")."),
        "fits.png": (
            f"One seed's minimum-norm fits with p = {below}, {n} and {far} features on the "
            f"{n} training points: compare how the fit at p = n swings between the points."),
    }
    arrays = {"grid": grid, "trained_widths": widths, "trained_train_mse": t_train,
              "trained_test_mse": t_test, "alphas": main.alphas}
    for m, c in curves.items():
        arrays.update({f"n{m}_sizes": c.sizes, f"n{m}_test_mse": c.test,
                       f"n{m}_train_mse": c.train, f"n{m}_coef_norm": c.coef_norm})
    metrics = _metrics(config, curves, widths, t_train, t_test, n_div)
    notes = [f"Random features: {config.seeds} seeds (features and training noise) per size; "
             f"trained networks: {config.trained_seeds} seeds, {config.max_iter} Adam "
             f"iterations at learning rate {config.learning_rate:g}, initial weights x "
             f"{config.init_scale:g}."]
    if n_div:
        notes.append(f"{n_div} trained networks diverged and were left out.")
    progress(1.0, "done")
    return Result("double-descent", config, metrics, answers, figures, arrays, notes,
                  elapsed_s=time.perf_counter() - start, captions=captions)


def _interpolation_start(c: Curves, y_scale: float) -> int | None:
    """Smallest p from which the median minimum-norm train MSE stays at zero to float precision
    (below 1e-12 times the mean squared target)."""
    zero = np.median(c.train[:, 0], axis=0) <= 1e-12 * y_scale
    after = [i for i in range(len(zero)) if zero[i:].all()]
    return int(c.sizes[after[0]]) if after else None


def _peak_size(c: Curves) -> int:
    """The feature count at the peak of the median minimum-norm test curve."""
    return int(c.sizes[peak(np.nanmedian(c.test[:, 0], axis=0))[0]])


def _at(c: Curves, p: int) -> int:
    """Index of size p (or the nearest) in ``c.sizes``."""
    return int(np.argmin(np.abs(c.sizes - p)))


def _answers(config, curves: dict, widths, t_train, t_test, n_div) -> list[Answer]:
    n = config.n_train
    main = curves[n]
    mn = main.test[:, 0]  # (S, P) minimum norm
    med = np.median(mn, axis=0)
    i_peak, height = peak(med)
    p_peak = int(main.sizes[i_peak])
    per_seed = [int(main.sizes[peak(row)[0]]) for row in mn]
    _, ps_lo, ps_hi = integer_band(per_seed)
    y_scale = float(np.mean(TARGETS[config.target](np.linspace(-1, 1, n)) ** 2)
                    + config.noise ** 2)
    start = _interpolation_start(main, y_scale)
    others = [f"n = {m}: p = {int(c.sizes[peak(np.median(c.test[:, 0], 0))[0]])} "
              f"(p/n = {c.sizes[peak(np.median(c.test[:, 0], 0))[0]] / m:.2f})"
              for m, c in curves.items()]
    s2 = config.noise ** 2

    under = main.sizes < n
    i_under = int(np.argmin(np.where(under, med, np.inf)))
    i_far = len(main.sizes) - 1
    pk_m, pk_lo, pk_hi = float_band(mn[:, i_peak])
    far_m, far_lo, far_hi = float_band(mn[:, i_far])
    norm = np.median(main.coef_norm[:, 0], axis=0)
    i_best = int(np.nanargmin(med))

    heights = [peak(np.median(main.test[:, k], axis=0))[1] for k in range(len(main.alphas))]
    removed = [float(a) for a, h in zip(main.alphas[1:], heights[1:]) if h < PEAK_FACTOR]
    smallest = min(removed) if removed else None
    at_n = np.median(main.test[:, :, _at(main, n)], axis=0)
    per_alpha = "; ".join(f"alpha = {a:g}: {at_n[k]:.3g} (peak height {heights[k]:.2g})"
                          for k, a in enumerate(main.alphas) if k > 0)
    l2_text = (f"With alpha = 0 the median test MSE at p = n = {n} is {at_n[0]:.3g} and the curve "
               f"peaks {heights[0]:.3g}x above its neighbours; with ridge, {per_alpha} (a peak "
               f"needs a height >= {PEAK_FACTOR:g}). The penalty adds alpha to every s^2 in "
               f"s / (s^2 + alpha), so the nearly zero singular values of Phi at p = n no longer "
               f"blow the output weights up.")
    if smallest is None:
        l2_text += " None of these alphas removes the peak: try larger ones with --set alphas=..."
    elif smallest == min(config.alphas):
        l2_text += (f" Already the smallest alpha tried ({smallest:g}) removes it: smaller ones "
                    f"may too (--set alphas=...).")

    trained_text = _trained_story(config, main, widths, t_train, t_test)
    div = f" {n_div} diverged networks were left out." if n_div else ""

    return [
        Answer("interpolation_threshold",
               f"At which number of random features p does the test error peak (n = {n})?",
               p_peak,
               f"The median minimum-norm test MSE peaks at p = {p_peak} (p/n = {p_peak / n:.2f}; "
               f"each seed's own peak: {ps_lo}-{ps_hi}, 10-90 %); the median train MSE is zero to "
               f"float precision from p = {start} on. The peak follows the number of training "
               f"points: {', '.join(others)}. At p = n the square feature matrix can just "
               f"interpolate, and only with huge output weights.", ps_lo, ps_hi),
        Answer("peak_test_mse", "How large is the test error at the threshold?", pk_m,
               f"At p = {p_peak} the minimum-norm fit's test MSE is {pk_m:.3g} (median over "
               f"{config.seeds} seeds; 10-90 % {pk_lo:.3g}-{pk_hi:.3g}), "
               f"{pk_m / med[i_under]:.3g}x the best below the threshold ({med[i_under]:.4f} "
               f"at p = {int(main.sizes[i_under])}) and {pk_m / far_m:.3g}x the value at p = "
               f"{int(main.sizes[i_far])}. The median norm of its output weights is "
               f"{norm[i_peak]:.3g}, against {norm[i_under]:.3g} at p = "
               f"{int(main.sizes[i_under])} and {norm[i_far]:.3g} at p = "
               f"{int(main.sizes[i_far])}: the exact fit of the noise swings wildly between the "
               f"points.", pk_lo, pk_hi),
        Answer("test_mse_far_overparameterized",
               f"Test error far beyond the threshold (p = {int(main.sizes[i_far])} = "
               f"{main.sizes[i_far] / n:.0f} n)?", far_m,
               f"{far_m:.4f} (10-90 % {far_lo:.4f}-{far_hi:.4f}), against {med[i_under]:.4f} for "
               f"the best under-parameterized size (p = {int(main.sizes[i_under])}) and the noise "
               f"floor {s2:g}: the second descent "
               + ("goes below the classical optimum" if far_m < med[i_under] else
                  f"does not reach the classical optimum here ({far_m / med[i_under]:.2f}x)")
               + f". The lowest median over all sizes is {med[i_best]:.4f} at p = "
               f"{int(main.sizes[i_best])}. Among all interpolating fits, the minimum-norm one "
               f"gets smoother as p grows (its output weights' norm falls from {norm[i_peak]:.3g} "
               f"to {norm[i_far]:.3g}).", far_lo, far_hi),
        Answer("l2_removes_peak",
               "Which L2 (ridge) penalty on the output weights removes the peak?", smallest,
               l2_text, at_edge=smallest is not None and smallest == min(config.alphas)),
        Answer("trained_network_shows_peak",
               "Does the network trained in all its layers show the peak?",
               "yes" if peak(np.nanmedian(t_test, axis=0))[1] >= PEAK_FACTOR else "no",
               trained_text + div),
    ]


def _trained_story(config, main: Curves, widths, t_train, t_test) -> str:
    """Whether the trained network's test curve peaks, whether it interpolates, and why."""
    n, s2 = config.n_train, config.noise ** 2
    tm, tr = np.nanmedian(t_test, axis=0), np.nanmedian(t_train, axis=0)
    t_peak, t_height = peak(tm)
    _, h_lo, h_hi = float_band([heights(row)[t_peak] for row in t_test])
    j_n = int(np.argmin(np.abs(widths - n)))
    rf_at = float(np.median(main.test[:, 0, _at(main, widths[j_n])]))
    where = f"at width {widths[t_peak]} (p/n = {widths[t_peak] / n:.2f})"
    text = (f"The 1-p-1 network trained in all its layers ({config.trained_seeds} seeds, "
            f"{config.max_iter} Adam iterations at learning rate {config.learning_rate:g}, "
            f"initial weights x {config.init_scale:g}) has median test MSE {tm[j_n]:.4f} at "
            f"width {widths[j_n]} (random features: {rf_at:.3g}) and {tm[-1]:.4f} at width "
            f"{widths[-1]}. ")
    if t_height >= PEAK_FACTOR:
        text += (f"Its test curve does peak, {t_height:.2f}x above its neighbours {where}; "
                 f"each seed's curve stands {h_lo:.2f}-{h_hi:.2f}x high there (10-90 %). ")
    else:
        text += (f"Its test curve shows no peak: its highest bump, {t_height:.2f}x above its "
                 f"neighbours {where}, is below the {PEAK_FACTOR:g}x of a peak (each seed's "
                 f"curve: {h_lo:.2f}-{h_hi:.2f}x there, 10-90 %). ")
    p_param = int(np.ceil((n - 1) / 3))
    able = widths >= p_param
    text += (f"With 3p + 1 parameters it could interpolate the {n} points from p = {p_param} on, ")
    if np.all(tr[able] <= 1e-3 * s2):
        return text + (f"and it does (median train MSE at most {tr[able].max():.2g} there), so "
                       f"interpolation alone does not make the peak here.")
    i_low = int(np.argmin(np.where(able, tr, np.inf)))
    text += (f"but it never interpolates: its median train MSE is {tr[j_n]:.2g} at width "
             f"{widths[j_n]} and at best {tr[i_low]:.2g} (width {widths[i_low]}), while the "
             f"minimum-norm fit is exact from p = n on. The random-features peak comes from "
             f"fitting the noise exactly with barely enough features. For a linear model (the "
             f"output layer alone), gradient descent from zero reaches the interpolating solution "
             f"along Phi's small singular directions last (after about 1 / (learning rate x s^2) "
             f"steps), and those are the directions that blow the exact fit up: stopping after "
             f"{config.max_iter} iterations acts as early stopping, an implicit ridge penalty "
             f"(see es-l2-equivalence).")
    if able.sum() >= 3:
        ranks = [np.argsort(np.argsort(v)) for v in (tr[able], tm[able])]
        r = float(np.corrcoef(*ranks)[0, 1])  # Spearman's rank correlation (no ties in floats)
        text += (f" Across the widths that could interpolate, test and train error have rank "
                 f"correlation {r:+.2f}" + (": the closer a width fits the training noise, the "
                                            "worse it predicts." if r <= -0.3 else "."))
    return text


def _metrics(config, curves: dict, widths, t_train, t_test, n_div) -> dict:
    main = curves[config.n_train]
    med = np.median(main.test[:, 0], axis=0)
    i_peak, height = peak(med)
    metrics: dict[str, float | int] = {
        "peak_size": int(main.sizes[i_peak]), "peak_height": float(height),
        "trained_peak_height": float(peak(np.nanmedian(t_test, axis=0))[1]),
        "diverged": n_div}
    for m, c in curves.items():
        metrics[f"n={m}_peak_size"] = int(c.sizes[peak(np.median(c.test[:, 0], 0))[0]])
    for k, a in enumerate(main.alphas):
        metrics[f"alpha={a:g}_test_mse_at_p=n"] = float(
            np.median(main.test[:, k, _at(main, config.n_train)]))
    for j, w in enumerate(widths):
        metrics[f"trained_width={w}_test_mse"] = float(np.nanmedian(t_test[:, j]))
        metrics[f"trained_width={w}_train_mse"] = float(np.nanmedian(t_train[:, j]))
    return metrics


EXPERIMENT = Experiment(
    name="double-descent",
    description="Test error against the number of hidden units through the interpolation "
                "threshold: random features (minimum-norm and ridge) and the trained network.",
    config_class=DoubleDescentConfig, run=run, order=105)
