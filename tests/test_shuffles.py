"""scikit-learn's per-epoch shuffles drawn on the host (overfitlab.estimators.shuffles)."""
import numpy as np
import pytest
from sklearn.utils import shuffle

from overfitlab.engine.train import derived_stream
from overfitlab.estimators.shuffles import EpochOrders


def test_orders_are_sklearns_shuffles_with_padding_last():
    """Network i's orders are what MLPRegressor's loop draws, ``sample_idx = shuffle(sample_idx,
    random_state=rs)`` epoch after epoch, whatever the chunks they are asked in; rows past the
    network's own size (padding) come last in every epoch."""
    orders = EpochOrders([np.random.RandomState(3), np.random.RandomState(4)], [7, 9], 9)
    drawn = np.concatenate([orders(np.array([0, 1]), 2), orders(np.array([0, 1]), 3)], axis=1)
    for i, (seed, size) in enumerate([(3, 7), (4, 9)]):
        rs, sample_idx = np.random.RandomState(seed), np.arange(size)
        for epoch in range(5):
            sample_idx = shuffle(sample_idx, random_state=rs)
            np.testing.assert_array_equal(drawn[i, epoch, :size], sample_idx)
            np.testing.assert_array_equal(drawn[i, epoch, size:], np.arange(size, 9))


def test_derived_stream_draws_nothing_from_its_source():
    """The derived stream depends on the source's state and leaves the source's draws intact."""
    a, b = np.random.RandomState(0), np.random.RandomState(0)
    first = derived_stream(a).randint(0, 2**31, 4)
    np.testing.assert_array_equal(a.randint(0, 2**31, 4), b.randint(0, 2**31, 4))
    assert not np.array_equal(derived_stream(a).randint(0, 2**31, 4), first)  # state moved on


def test_sizes_must_fit_the_rows():
    with pytest.raises(ValueError, match="at most n_rows"):
        EpochOrders([np.random.RandomState(0)], [10], 9)
