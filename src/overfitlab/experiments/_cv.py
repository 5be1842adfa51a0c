"""Cross-validation on the training points only, every fold network in one engine call.

The course picks its coefficients (alpha, l1, the dropout rate, the width) on the test set,
which makes the reported test error optimistic: the test set chose it. Here they are chosen by
K-fold cross-validation of the training points alone. A fold is described by a 0/1 mask per
training point (1: trained on, 0: held out) and trained on its own points (the engine's
``rows``), so every (initialisation, configuration, fold) is one network of a single vectorized
call; the held-out error of fold k is the MSE of its network on the points it did not train on.
The networks on all the training points are a second call: with 8 rows per fold network instead
of all 10 points weighted 0/1, 1,050 course networks x 4,000 iterations took 2.0-2.1 s instead of
2.9-3.3 s (8 float32 rows fill one AVX2 vector). Folds are shuffled (scikit-learn's
``KFold(shuffle=True)``): the course's x is sorted, and unshuffled folds would hold out whole
intervals and measure extrapolation instead of fit.

K = 5 is the default for the course's 10 points: each network trains on 8 points and is judged
on 2, and the 5 folds together judge every point once. Leave-one-out (K = n) would judge the
same points with twice the networks and nearly the same training sets, which makes its estimate
more variable for unstable fits like these, for little gain in bias.
"""
from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np
from sklearn.model_selection import KFold

from overfitlab.engine import threefry
from overfitlab.engine.train import Hyper, TrainSpec, padded_rows, stack_networks, train
from overfitlab.progress import Progress, no_progress, scaled


def fold_masks(n_samples: int, n_folds: int, seed: int) -> np.ndarray:
    """(K, n) float32 training masks of shuffled K-fold cross-validation (1 = trained on)."""
    masks = np.ones((n_folds, n_samples), np.float32)
    splitter = KFold(n_folds, shuffle=True, random_state=seed % 2**32)
    for k, (_, held_out) in enumerate(splitter.split(np.zeros((n_samples, 1)))):
        masks[k, held_out] = 0.0
    return masks


def held_out_mse(pred: np.ndarray, y: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """MSE of each fold's network on its held-out points.

    ``pred`` (..., K, n) are the predictions on all training points of networks whose fold axis
    is the one before last; ``masks`` (K, n) the training masks. Returns (..., K).
    """
    held = 1.0 - masks
    return np.sum(held * (pred - y) ** 2, axis=-1) / np.sum(held, axis=-1)


def cv_choice(cv_mse: np.ndarray) -> tuple[int, np.ndarray]:
    """The configuration with the lowest mean held-out error, and the CV curve.

    ``cv_mse`` (S, C, K): seeds, configurations, folds (NaN where a network diverged). The curve
    is the mean over seeds and folds, (C,).
    """
    curve = np.nanmean(cv_mse, axis=(0, 2))
    return int(np.nanargmin(curve)), curve


@dataclass(frozen=True)
class FoldedRun:
    """Networks trained on all training points, (S, C, ...), and on the folds, (S_cv, C, K, ...).

    ``masks`` (K, n) are the folds' training masks; diverged marks have the leading shapes.
    """

    params: dict
    diverged: np.ndarray
    cv_params: dict
    cv_diverged: np.ndarray
    masks: np.ndarray


def train_with_folds(spec: TrainSpec, inits: dict, configs: list[Hyper], cv_seeds: int,
                     masks: np.ndarray, X, y, key, progress: Progress = no_progress
                     ) -> FoldedRun:
    """Train S x C networks on all of (X, y) in one call and cv_seeds x C x K on the folds'
    points in a second.

    ``inits`` (S, C, ...) are the initial weights of seed s and configuration c (the fold networks
    of (s, c) start from the same ones); ``configs`` the C hyper-parameter sets (their sample
    weights are dropped: a fold trains on its own rows, unequal folds padded with rows of weight
    0). PRNG keys (dropout, shuffling) are split from ``key``.
    """
    S, C = inits["intercepts"][0].shape[:2]
    K, n = masks.shape
    rows, fold_weights = padded_rows([np.flatnonzero(m) for m in masks])
    fold_of = np.repeat(np.arange(cv_seeds * C), K)  # fold network -> its (s, c) in the S x C
    flat = jax.tree_util.tree_map(lambda a: a.reshape((S * C,) + a.shape[2:]), inits)
    main_share = S * C * n / (S * C * n + len(fold_of) * rows.shape[1])  # of the rows trained
    main = train(spec, flat, threefry.split(key, S * C),
                 stack_networks([configs[c]._replace(sample_weight=None)
                                 for s in range(S) for c in range(C)]),
                 X, y, progress=scaled(progress, 0.0, main_share))
    folds = train(spec, jax.tree_util.tree_map(lambda a: a[fold_of], flat),
                  threefry.split(threefry.fold_in(key, 1), len(fold_of)),
                  stack_networks([configs[c]._replace(sample_weight=fold_weights[k])
                                  for s in range(cv_seeds) for c in range(C) for k in range(K)]),
                  X, y, rows=np.tile(rows, (cv_seeds * C, 1)),
                  progress=scaled(progress, main_share, 1.0))

    def shaped(a, lead):
        return a.reshape(lead + a.shape[1:])

    return FoldedRun(
        params=jax.tree_util.tree_map(lambda a: shaped(a, (S, C)), main.params),
        diverged=shaped(main.diverged, (S, C)),
        cv_params=jax.tree_util.tree_map(lambda a: shaped(a, (cv_seeds, C, K)), folds.params),
        cv_diverged=shaped(folds.diverged, (cv_seeds, C, K)), masks=masks)
