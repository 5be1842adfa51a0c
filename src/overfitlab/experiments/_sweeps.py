"""Penalty sweeps shared by the weight-penalty and small-network experiments.

The sweeps train the course's 1-H-1 network (full-batch Adam, a fixed number of iterations) for
every (seed, coefficient) pair in one compiled call: ``seeds`` initialisations, each shared by
all coefficients, times the swept values of two penalties,

* ``"alpha"``: J(W) = 1/(2n) sum_i (y_i - f(x_i))^2 + alpha/(2n) sum_l ||W_l||^2 (scikit-learn's
  L2, weight decay);
* ``"l1"``: the same data term with l1/n sum_l sum_ij |W_l,ij| applied by a soft-threshold step
  after each update (exact zeros).

Sweeps are memoised in-process (:func:`penalty_sweeps` is an LRU cache keyed by the frozen
:class:`SweepSetup` and the values), so small-network reuses the L2 sweep that weight-penalty
ran in the same report without training it again. The returned arrays are read-only. Their
configuration is :class:`~overfitlab.experiments.configs.penalty_sweep.PenaltySweepConfig`.
"""
from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np

from overfitlab.engine import threefry
from overfitlab.engine.train import TrainSpec, init_many, make_hyper
from overfitlab.experiments._cv import fold_masks, held_out_mse, train_with_folds
from overfitlab.experiments.configs.penalty_sweep import PenaltySweepConfig, SweepSetup
from overfitlab.stats import without_diverged
from overfitlab.progress import Progress, no_progress
from overfitlab.experiments._course import course_spec, mse, predict


@dataclass(frozen=True)
class PenaltySweep:
    """Trained networks of one sweep; arrays have leading axes (seed S, value C)."""

    values: np.ndarray  # (C,) the swept coefficients
    coefs: tuple[np.ndarray, ...]  # W_l of shape (S, C, fan_in, fan_out)
    intercepts: tuple[np.ndarray, ...]  # b_l of shape (S, C, fan_out)
    train_mse: np.ndarray  # (S, C), NaN where diverged
    test_mse: np.ndarray  # (S, C), NaN where diverged
    diverged: np.ndarray  # (S, C)
    cv_mse: np.ndarray  # (cv_seeds, C, cv_folds) held-out MSE of the cross-validation

    def params_at(self, index: int) -> dict:
        """The S networks trained with ``values[index]`` as one stacked pytree."""
        return {"coefs": [W[:, index] for W in self.coefs],
                "intercepts": [b[:, index] for b in self.intercepts]}

    def weights(self) -> np.ndarray:
        """All weights (biases excluded) flattened per network: (S, C, n_weights)."""
        S, C = self.train_mse.shape
        return np.concatenate([W.reshape(S, C, -1) for W in self.coefs], axis=-1)


@dataclass(frozen=True)
class Sweeps:
    """The L2 sweep and the L1 sweep, trained together."""

    l2: PenaltySweep
    l1: PenaltySweep


def sweep_spec(setup: SweepSetup) -> TrainSpec:
    """Fixed-length full-batch Adam training of the 1-H-1 network, with the L1 step."""
    return course_spec(setup, use_l1=True)


def sweeps_of(config: PenaltySweepConfig, progress: Progress = no_progress) -> Sweeps:
    """Both sweeps of ``config`` (memoised: :func:`penalty_sweeps`)."""
    return penalty_sweeps(config.setup(), config.alphas(), config.l1s(), progress)


_SWEEPS: dict[tuple, Sweeps] = {}
_SWEEPS_KEPT = 4


def penalty_sweeps(setup: SweepSetup, alphas: tuple[float, ...], l1s: tuple[float, ...],
                   progress: Progress = no_progress) -> Sweeps:
    """Both sweeps and their cross-validation, memoised on (setup, alphas, l1s) (the last
    ``_SWEEPS_KEPT``), so that small-network reuses the sweep weight-penalty trained."""
    key = (setup, alphas, l1s)
    if key not in _SWEEPS:
        _SWEEPS[key] = _train_sweeps(setup, alphas, l1s, progress)
        while len(_SWEEPS) > _SWEEPS_KEPT:
            _SWEEPS.pop(next(iter(_SWEEPS)))
    return _SWEEPS[key]


def _train_sweeps(setup: SweepSetup, alphas: tuple[float, ...], l1s: tuple[float, ...],
                  progress: Progress) -> Sweeps:
    """Train seeds x C networks on all training points and cv_seeds x C x cv_folds networks on
    the cross-validation folds (:mod:`._cv`), C = ``len(alphas)`` + ``len(l1s)``, in one
    compiled call.

    The first ``len(alphas)`` configurations have L2 coefficient ``alphas[c]`` and no L1; the
    others L1 coefficient ``l1s[c]`` and no L2. All are compiled with the proximal L1 step,
    which is the identity for l1 = 0 (soft-thresholding by 0). Seed s starts every
    configuration and fold from the same initial weights.
    """
    data = setup.data()
    configs = ([make_hyper(alpha=a, learning_rate=setup.learning_rate) for a in alphas]
               + [make_hyper(alpha=0.0, l1=v, learning_rate=setup.learning_rate) for v in l1s])
    init_key, run_key = threefry.split(threefry.prng_key(setup.seed))
    inits = init_many(init_key, setup.seeds, (1, setup.hidden_units, 1), setup.activation)
    inits = jax.tree_util.tree_map(lambda a: np.repeat(a[:, None], len(configs), axis=1), inits)
    run = train_with_folds(sweep_spec(setup), inits, configs, setup.cv_seeds,
                           fold_masks(setup.n_train, setup.cv_folds, setup.seed),
                           data.X_train, data.y_train, run_key, progress)
    main, diverged = run.params, run.diverged
    train_mse = without_diverged(mse(predict(main, data.X_train, setup.activation),
                                     data.y_train), diverged)
    test_mse = without_diverged(mse(predict(main, data.X_test, setup.activation), data.y_test),
                                diverged)
    cv_mse = without_diverged(
        held_out_mse(predict(run.cv_params, data.X_train, setup.activation), data.y_train,
                     run.masks), run.cv_diverged)

    def part(values: tuple[float, ...], columns: slice) -> PenaltySweep:
        arrays = [np.array(a[:, columns]) for a in
                  (*main["coefs"], *main["intercepts"], train_mse, test_mse, diverged, cv_mse)]
        arrays.append(np.array(values, dtype=np.float64))
        for a in arrays:
            a.flags.writeable = False
        n_layers = len(main["coefs"])
        return PenaltySweep(arrays[-1], tuple(arrays[:n_layers]),
                            tuple(arrays[n_layers:2 * n_layers]), *arrays[-5:-1])

    n_alphas = len(alphas)
    return Sweeps(part(alphas, slice(0, n_alphas)), part(l1s, slice(n_alphas, None)))


def best_index(test_mse: np.ndarray, first: int = 0) -> int:
    """Index (>= ``first``) of the value whose median test MSE over seeds is smallest (seeds
    that diverged, NaN, left out)."""
    return first + int(np.nanargmin(np.nanmedian(test_mse[:, first:], axis=0)))


def per_seed_best(values: np.ndarray, test_mse: np.ndarray, first: int = 0) -> np.ndarray:
    """Each seed's own best value (argmin of its test MSE over ``values[first:]``, diverged
    networks left out)."""
    return values[first + np.argmin(np.nan_to_num(test_mse[:, first:], nan=np.inf), axis=1)]
