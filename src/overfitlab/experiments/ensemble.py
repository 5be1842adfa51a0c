"""ensemble: average many networks trained from different initialisations.

``members * seeds`` copies of the course's 1-20-1 tanh network are trained at once on the same
10 noisy points (one compiled call), from independent Glorot initialisations; ``seeds`` is the
number of independent ensembles of ``members`` networks (the band over ensembles). The
ensemble of the first K members predicts

    f_K(x) = 1/K sum_{k=1..K} f_k(x),

and its test MSE is drawn against K = 1..members. The ambiguity decomposition (Krogh & Vedelsby
1995) is exact for the squared error:

    MSE(f_K) = 1/K sum_k MSE(f_k) - 1/K sum_k mean_x (f_k(x) - f_K(x))^2,

so an average is never worse than its average member, and it gains exactly the members'
disagreement. With ``bagging`` each network instead minimises a loss weighted by the bootstrap
counts of its own resample (sample_weight = counts), which adds data diversity to the
initialisation diversity.

The module also holds what the ensemble, dropout and sample-size experiments share on top of
the course protocol (:class:`~overfitlab.experiments.configs.course.NetworkConfig`, and
:func:`course_spec`, :func:`predict`, :func:`mse` in ``_course``).
"""
from __future__ import annotations

import time

import jax
import numpy as np

from overfitlab.data.synthetic import RegressionData
from overfitlab.engine import threefry
from overfitlab.engine.train import Hyper, init_many, make_hyper, train
from overfitlab.experiments.configs.course import NetworkConfig
from overfitlab.experiments.configs.ensemble import FIT_GRID, EnsembleConfig
from overfitlab.experiments._course import course_spec, mse, predict
from overfitlab.experiments._verdicts import alive_or_raise, diverged_note
from overfitlab.experiments.base import Answer, Experiment, Progress, Result, no_progress
from overfitlab.progress import scaled
from overfitlab.stats import float_band, without_diverged


# --------------------------------------------------------------------------- ensemble
def bootstrap_counts(rng: np.random.Generator, n_networks: int, n_samples: int) -> np.ndarray:
    """How often each sample appears in each network's bootstrap resample, (B, n).

    Each row is Multinomial(n, (1/n, ..., 1/n)): n draws with replacement.
    """
    return rng.multinomial(n_samples, np.full(n_samples, 1.0 / n_samples), size=n_networks)


def network_hypers(config: NetworkConfig, n_networks: int,
                   weights: np.ndarray | None = None) -> Hyper:
    """``n_networks`` stacked :class:`Hyper`, with per-sample weights (one row per network) for
    bagging, or none (unit weights)."""
    one = make_hyper(config.alpha, learning_rate=config.learning_rate)
    batched = jax.tree_util.tree_map(lambda a: np.broadcast_to(a, (n_networks,) + a.shape), one)
    return batched if weights is None else batched._replace(
        sample_weight=np.asarray(weights, np.float32))


def running_means(preds: np.ndarray) -> np.ndarray:
    """``out[..., K-1, :]`` = mean of the first K members (axis -2) of ``preds``; members whose
    predictions are NaN (diverged) are left out of the mean."""
    count = np.cumsum(~np.isnan(preds), axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nancumsum(preds, axis=-2) / count


def ambiguity(preds: np.ndarray) -> np.ndarray:
    """Members' mean squared disagreement with their average, per ensemble (axis -2 members;
    NaN members left out)."""
    return np.nanmean((preds - np.nanmean(preds, axis=-2, keepdims=True)) ** 2, axis=(-2, -1))


def train_members(config: EnsembleConfig, data: RegressionData,
                  progress: Progress = no_progress):
    """Train every member of every ensemble at once; returns params (S, M, ...), the sample
    weights (S, M, n) and the diverged marks (S, M)."""
    n_nets = config.seeds * config.members
    k_init, k_run = threefry.split(threefry.prng_key(config.seed))
    params = init_many(k_init, n_nets, (1, config.hidden_units, 1), config.activation)
    weights = (bootstrap_counts(np.random.default_rng(config.seed), n_nets, config.n_train)
               if config.bagging else None)
    out = train(course_spec(config), params, threefry.split(k_run, n_nets),
                network_hypers(config, n_nets, weights), data.X_train, data.y_train,
                progress=progress)
    shape = (config.seeds, config.members)
    params = jax.tree_util.tree_map(lambda a: a.reshape(shape + a.shape[1:]), out.params)
    counts = np.ones((n_nets, config.n_train)) if weights is None else weights
    return params, counts.reshape(shape + (config.n_train,)), out.diverged.reshape(shape)


def _saturation_size(curve: np.ndarray, within: float = 0.05) -> int:
    """Smallest K whose ensemble MSE is within ``within`` (relative) of the largest ensemble's."""
    return int(np.argmax(curve <= curve[-1] * (1 + within))) + 1


def run(config: EnsembleConfig, progress: Progress = no_progress) -> Result:
    """Train the members, then score the running averages and the members."""
    start = time.perf_counter()
    data = config.data()
    S, M = config.seeds, config.members
    progress(0.02, f"training {S} x {M} networks x {config.max_iter} iterations")
    params, weights, diverged = train_members(config, data, scaled(progress, 0.02, 0.85))
    alive_or_raise(diverged, config.learning_rate)
    n_div = int(diverged.sum())
    lost = diverged_note(n_div, diverged.size)
    progress(0.85, "scoring ensembles")

    test_pred = without_diverged(predict(params, data.X_test, config.activation), diverged)
    member_mse = mse(test_pred, data.y_test)  # (S, M), NaN: diverged
    ens_curve = mse(running_means(test_pred), data.y_test)  # (S, M): K = 1..M
    ens_mse = ens_curve[:, -1]
    member_median = np.nanmedian(member_mse, axis=1)
    gain = member_median / ens_mse
    spread = ambiguity(test_pred)  # (S,)
    train_pred = without_diverged(predict(params, data.X_train, config.activation), diverged)
    ens_train = mse(np.nanmean(train_pred, axis=1), data.y_train)
    member_train = np.nanmedian(mse(train_pred, data.y_train), axis=1)
    grid = np.linspace(-1, 1, FIT_GRID, dtype=np.float32)[:, None]
    fits = without_diverged(predict(jax.tree_util.tree_map(lambda a: a[0], params), grid,
                                    config.activation), diverged[0])
    excess_avg = float(np.mean((np.nanmean(fits, axis=0) - data.truth(grid)) ** 2))
    excess_members = float(np.nanmedian(np.mean((fits - data.truth(grid)) ** 2, axis=1)))
    k_sat = _saturation_size(np.nanmedian(ens_curve, axis=0))

    from overfitlab.plots.lab import ensemble_fits_figure, ensemble_size_figure, members_figure

    figures = {
        "ensemble_size.png": ensemble_size_figure(ens_curve, member_mse, data.bayes_mse,
                                                  config.bagging),
        "members.png": members_figure(member_mse, ens_mse, data.bayes_mse),
        "fits.png": ensemble_fits_figure(data, grid[:, 0], fits),
    }
    captions = {
        "ensemble_size.png": f"Test MSE of the average of the first K networks against K (median "
                             f"over {S} ensembles): look at how fast it flattens, within 5 % of "
                             f"the {M}-member value from K = {k_sat} on.",
        "members.png": f"Histogram of every member's test MSE, the ensembles' marked (median "
                       f"{np.nanmedian(ens_mse):.4f} against {np.nanmedian(member_median):.4f} for "
                       f"the median member): {np.nanmean(member_mse > ens_mse[:, None]):.0%} of "
                       f"the members do worse than their ensemble.",
        "fits.png": f"The first ensemble's {M} members (thin) and their average (bold): their "
                    f"average lies {excess_avg:.2g} from x² in mean squared distance, the median "
                    f"member {excess_members:.2g}.",
    }

    e_m, e_lo, e_hi = float_band(ens_mse)
    m_m, m_lo, m_hi = float_band(member_median)
    g_m, g_lo, g_hi = float_band(gain)
    a_m = float(np.median(spread))
    mean_member = float(np.median(np.nanmean(member_mse, axis=1)))
    speed = "quickly" if k_sat <= max(2, M // 4) else "slowly"
    fits_noise = ("the average fits the noise of the training points less"
                  if np.median(ens_train) > 1.1 * np.median(member_train) else
                  "the average fits the training points about as closely as its members")
    share = a_m / mean_member
    diversity = ("the members are nearly the same function, so averaging them changes little"
                 if share < 0.05 else "the members differ enough for the average to gain")
    how = ("bootstrap resamples of the 10 points and different initialisations"
           if config.bagging else "different initialisations on the same points")
    answers = [
        Answer("ensemble_test_mse", f"Test MSE of the average of {M} networks?", float(e_m),
               f"Averaging {M} networks trained from {how} gives a test MSE of {e_m:.4f} "
               f"(median over {S} independent ensembles, 10-90 % {e_lo:.4f}-{e_hi:.4f}), "
               f"against the noise variance {data.bayes_mse:g}. Its training MSE is "
               f"{np.median(ens_train):.2g} versus {np.median(member_train):.2g} for the median "
               f"member: {fits_noise}. Against K the curve flattens {speed}: "
               f"{'a single member is' if k_sat == 1 else f'the first {k_sat} members are'} "
               f"within 5 % of the {M}-member value.{lost}", e_lo, e_hi),
        Answer("member_test_mse_median", "Median test MSE of a single member?", float(m_m),
               f"A single network reaches a median test MSE of {m_m:.4f} (median over "
               f"ensembles of the members' median; 10-90 % {m_lo:.4f}-{m_hi:.4f}); members "
               f"range from {np.nanmin(member_mse):.4f} to {np.nanmax(member_mse):.4f} (all "
               f"{S * M - n_div}), against {data.bayes_mse:g} for the noise variance.",
               m_lo, m_hi),
        Answer("ensemble_gain", "How much better is the average than its median member?",
               float(g_m),
               f"The ratio median member MSE / ensemble MSE is {g_m:.3f} (10-90 % "
               f"{g_lo:.3f}-{g_hi:.3f}); above 1 means the ensemble wins. The squared error "
               f"obeys ensemble MSE = mean member MSE - ambiguity exactly (first ensemble: "
               f"{np.nanmean(member_mse[0]):.5f} - {spread[0]:.5f} = {ens_mse[0]:.5f}), the "
               f"ambiguity being the members' mean squared disagreement with their average. "
               f"Averaging cancels only what differs between members, not what they share (bias "
               f"and noise memorised alike by all). Here the ambiguity is {a_m:.5f}, "
               f"{100 * share:.1f} % of the mean member MSE: {diversity}. On a noise-free grid "
               f"the average's squared error to the truth is {excess_avg:.4f} against "
               f"{excess_members:.4f} for the median member.",
               g_lo, g_hi),
    ]
    metrics = {
        "diverged": n_div,
        "bayes_mse": data.bayes_mse, "ensemble_test_mse_median": float(e_m),
        "member_test_mse_median": float(m_m), "member_test_mse_mean": mean_member,
        "ensemble_gain_median": float(g_m), "ambiguity_median": a_m,
        "ensemble_train_mse_median": float(np.median(ens_train)),
        "member_train_mse_median": float(np.median(member_train)),
        "ensemble_excess_error": excess_avg, "member_excess_error_median": excess_members,
        "members_within_5pct": k_sat, "n_networks": S * M,
    }
    arrays = {"ensemble_mse_by_k": ens_curve.astype(np.float32),
              "member_test_mse": member_mse.astype(np.float32),
              "sample_weights": weights.astype(np.float32), "grid": grid[:, 0],
              "fits_first_ensemble": fits.astype(np.float32)}
    notes = [f"{S} independent ensembles of {M} networks ({S * M} networks, one compiled "
             f"call); ensemble of size K = the first K members."]
    if config.bagging:
        notes.append("bagging: each network weights the squared error by its bootstrap counts")
    progress(1.0, "done")
    return Result("ensemble", config, metrics, answers, figures, arrays, notes,
                  elapsed_s=time.perf_counter() - start, captions=captions)


EXPERIMENT = Experiment(
    name="ensemble",
    description="Average up to 50 networks from different initialisations (optionally "
                "bagged): test MSE against ensemble size and the members' spread.",
    config_class=EnsembleConfig, run=run, order=40)
