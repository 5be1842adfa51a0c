"""Host-side PRNG keys and in-program Bernoulli draws equal JAX's, and the course's predictions
equal the engine's forward pass.

The keys and predictions replace eager JAX outside compiled programs (which compiled a small
program per shape), the draws replace JAX's sampler inside them (a slow loop on CPU), so each
must reproduce exactly what it replaces: every experiment's results depend on these keys and
dropout masks, and its answers on these predictions.
"""
import jax
import numpy as np
import pytest

from overfitlab.engine import threefry
from overfitlab.engine.mlp import forward, init_mlp
from overfitlab.experiments._course import predict

SEEDS = [0, 1, 7, 12345, 2**31 - 1, 2**31, 2**32 - 1]


@pytest.mark.parametrize("seed", SEEDS)
def test_prng_key_split_and_fold_in_equal_jax_random_bit_for_bit(seed):
    key = threefry.prng_key(seed)
    reference = jax.random.PRNGKey(seed)
    np.testing.assert_array_equal(key, reference)
    for n in (1, 2, 3, 10, 257):
        np.testing.assert_array_equal(threefry.split(key, n), jax.random.split(reference, n))
    for data in (0, 1, 4, 10**9, 2**32 - 1):
        np.testing.assert_array_equal(threefry.fold_in(key, data),
                                      jax.random.fold_in(reference, data))


def test_keys_of_any_origin_and_chains_of_derivations_agree():
    rng = np.random.default_rng(0)
    for _ in range(20):
        raw = rng.integers(0, 2**32, 2, dtype=np.uint64).astype(np.uint32)
        ours, theirs = threefry.fold_in(threefry.split(raw, 5)[3], 11), jax.random.fold_in(
            jax.random.split(raw, 5)[3], 11)
        np.testing.assert_array_equal(ours, theirs)
    typed = jax.random.key(3)  # a new-style typed key is read through its key data
    np.testing.assert_array_equal(threefry.split(typed, 4),
                                  jax.random.key_data(jax.random.split(typed, 4)))


@pytest.mark.parametrize("n", [0, 1, 2, 10, 1625, 1626, 10_000])
def test_permutations_equal_jax_random_permutation_for_every_key(n):
    """One sorting round up to n = 1625, two from 1626; rows of keys at once, as the engine
    shuffles its networks' mini-batches."""
    keys = threefry.split(threefry.prng_key(21), 6)
    ours = threefry.permutations(keys, n)
    assert ours.shape == (6, n) and ours.dtype == np.int32
    np.testing.assert_array_equal(ours, np.stack([jax.random.permutation(k, n) for k in keys]))


def test_split_each_splits_every_key_as_jax_random_split():
    keys = threefry.split(threefry.prng_key(8), 5)
    np.testing.assert_array_equal(threefry.split_each(keys, 3),
                                  np.stack([jax.random.split(k, 3) for k in keys]))


@pytest.mark.parametrize("shape", [(128, 1600), (32, 512), (10, 20), (7,), (3, 5, 4, 2)])
@pytest.mark.parametrize("p", [0.0, 0.25, 0.5, 0.9, 1.0])
def test_bernoulli_draws_what_jax_random_bernoulli_draws(shape, p):
    """Dropout masks inside compiled programs: same key, same mask, bit for bit."""
    key = jax.random.fold_in(jax.random.PRNGKey(3), int(p * 100))
    ours = jax.jit(threefry.bernoulli, static_argnums=2)(key, p, shape)
    np.testing.assert_array_equal(ours, jax.random.bernoulli(key, p, shape))
    assert ours.shape == shape and ours.dtype == bool


def test_bernoulli_under_vmap_with_traced_probabilities_and_typed_keys():
    """One key and one probability per network, as the vmapped sweeps draw their masks."""
    keys = jax.random.split(jax.random.PRNGKey(11), 6)
    p = np.linspace(0.1, 0.9, 6).astype(np.float32)
    ours = jax.jit(jax.vmap(lambda k, q: threefry.bernoulli(k, q, (40, 9))))(keys, p)
    theirs = jax.vmap(lambda k, q: jax.random.bernoulli(k, q, (40, 9)))(keys, p)
    np.testing.assert_array_equal(ours, theirs)
    typed = jax.random.key(5)
    np.testing.assert_array_equal(threefry.bernoulli(typed, 0.3, (50,)),
                                  jax.random.bernoulli(typed, 0.3, (50,)))


@pytest.mark.parametrize("low, high", [(0.0, 1.0), (-0.2901, 0.2901), (-3.0, 5.5),
                                       (1e-3, 2e-3), (-1e4, -10.0)])
def test_uniform_draws_what_jax_random_uniform_draws(low, high):
    """Bit for bit on CPU, shapes of 1 to 4 axes, in ranges where a fused and an unfused
    multiply-add round differently (XLA fuses it; a separate multiply and add differed by 1 ulp)."""
    for seed in SEEDS[:4]:
        key = threefry.prng_key(seed)
        for shape in [(1,), (64, 10), (10, 64), (3, 5, 2), (2, 3, 4, 5), (2000,)]:
            np.testing.assert_array_equal(
                threefry.uniform(key, shape, low, high),
                jax.random.uniform(jax.random.PRNGKey(seed), shape, np.float32, low, high))


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_seeds_outside_numpys_range_are_refused(seed):
    with pytest.raises(ValueError, match="seed must be in"):
        threefry.prng_key(seed)


@pytest.mark.parametrize("activation", ["tanh", "relu", "logistic", "identity"])
def test_predict_equals_the_engines_forward_pass_for_stacked_networks(activation):
    """Networks stacked along two leading axes (seeds, configurations), with unit masks."""
    rng = np.random.default_rng(1)
    sizes = (1, 6, 4, 1)
    nets = [[init_mlp(rng, sizes, activation) for _ in range(3)] for _ in range(2)]
    stacked = jax.tree_util.tree_map(lambda *a: np.stack(a), *[
        jax.tree_util.tree_map(lambda *a: np.stack(a), *row) for row in nets])
    masks = [rng.integers(0, 2, (2, 3, h)).astype(np.float32) for h in sizes[1:-1]]
    X = rng.uniform(-1, 1, (9, 1)).astype(np.float32)
    out = predict(stacked, X, activation, masks)
    assert out.shape == (2, 3, 9) and out.dtype == np.float64
    for i in range(2):
        for j in range(3):
            ref = forward(nets[i][j], X.astype(np.float64), activation,
                          [m[i, j] for m in masks], backend="numpy")[:, 0]
            np.testing.assert_allclose(out[i, j], ref, rtol=1e-12, atol=1e-12)
            f32 = np.asarray(forward(nets[i][j], X, activation, [m[i, j] for m in masks]))[:, 0]
            np.testing.assert_allclose(out[i, j], f32, rtol=1e-5, atol=1e-6)
