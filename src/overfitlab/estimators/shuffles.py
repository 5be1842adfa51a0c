"""scikit-learn's per-epoch sample orders, drawn on the host for the engine's mini-batches.

``MLPRegressor`` and ``MLPClassifier`` shuffle the training rows before every epoch with the
estimator's RandomState, after the initial weights and the early-stopping split have been drawn
from it: ``sample_idx = shuffle(sample_idx, random_state=rs)`` permutes the previous epoch's order
by ``rs.shuffle(arange(n))``, and the mini-batches are consecutive slices of the result. Giving
the engine these orders (its ``orders`` argument) makes a mini-batch fit retrace scikit-learn's
for the same ``random_state``, as a full-batch fit already does.
"""
from __future__ import annotations

import numpy as np


def seeded_streams(source: np.random.RandomState, n: int) -> list[np.random.RandomState]:
    """``n`` RandomStates, each seeded by one draw from ``source`` (in [0, 2**32)): the shuffle
    streams of networks that have no scikit-learn counterpart to follow."""
    return [np.random.RandomState(int(seed))
            for seed in source.randint(0, 2**32, n, dtype=np.uint64)]


class EpochOrders:
    """The engine's ``orders`` callable: network i's sample orders, epoch after epoch, drawn from
    its own RandomState ``streams[i]`` as scikit-learn draws them for a training set of
    ``sizes[i]`` rows. A network that trains on fewer rows than the engine's ``n_rows`` (a
    cross-validation fold padded with rows of weight 0) takes its padding rows last, after its
    own rows, so its mini-batches are the ones scikit-learn forms from its own rows.
    """

    def __init__(self, streams: list[np.random.RandomState], sizes: list[int], n_rows: int):
        if len(streams) != len(sizes) or max(sizes) > n_rows:
            raise ValueError("one stream and one size (at most n_rows) per network")
        self.streams = streams
        self.n_rows = n_rows
        self._orders = [np.arange(size) for size in sizes]  # each network's last epoch's order

    def __call__(self, networks: np.ndarray, epochs: int) -> np.ndarray:
        """Orders of the next ``epochs`` epochs of ``networks``, (len(networks), epochs,
        n_rows) int32."""
        out = np.empty((len(networks), epochs, self.n_rows), np.int32)
        for j, i in enumerate(networks):
            order, stream = self._orders[i], self.streams[i]
            size = len(order)
            out[j, :, size:] = np.arange(size, self.n_rows)
            for e in range(epochs):
                permutation = np.arange(size)
                stream.shuffle(permutation)
                order = order[permutation]
                out[j, e, :size] = order
            self._orders[i] = order
        return out
