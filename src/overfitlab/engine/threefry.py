"""JAX's threefry PRNG keys, derived on the host with NumPy.

``jax.random.PRNGKey``, ``split`` and ``fold_in`` called outside a compiled program each compile
a small XLA program per shape, about 0.1-0.3 s apiece: an experiment that derives its keys that
way pays a second or more before training starts, and so does every new process. These
functions compute the same keys (raw key data, uint32 arrays of shape (2,) or (n, 2)) bit for
bit in NumPy, for JAX's default ``threefry2x32`` implementation with
``jax_threefry_partitionable`` on (the default since JAX 0.5), which the test suite checks
against ``jax.random``. Keys inside compiled programs still come from ``jax.random``.

``uniform`` draws ``jax.random.uniform``'s float32 values on the host the same way, and
``permutations`` ``jax.random.permutation``'s orders, for many keys at once.
``bernoulli`` is the other direction: inside compiled programs it draws the same Bernoulli
variables as ``jax.random.bernoulli``, with the 20 rounds written out as plain array arithmetic.
JAX lowers them on CPU as a five-step loop (4 rounds a step) over the whole array, which made
dropout masks a visible part of a training step (a 128 x 1,600 mask: 2.0 -> 0.4 ms).

Threefry-2x32 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011) maps a
key (k0, k1) and a counter (x0, x1) of 32-bit words through 20 rounds of
``x0 += x1; x1 = rotl(x1, r); x1 ^= x0``, injecting the key schedule
(k0, k1, k0 ^ k1 ^ 0x1BD11BDA) every 4 rounds. In partitionable mode, key i of ``split(key, n)``
is threefry(key, (hi32(i), lo32(i))), and ``fold_in(key, d)`` is threefry(key, (0, d)).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = np.uint32(0x1BD11BDA)


def _rotl(x, r: int):
    return (x << r) | (x >> (32 - r))


def _rounds(k0, k1, x0, x1):
    """The 20 rounds on uint32 arrays (NumPy or JAX) ``x0``, ``x1`` under key words k0, k1."""
    schedule = (k0, k1, k0 ^ k1 ^ _PARITY)
    x0, x1 = x0 + k0, x1 + k1
    for block in range(5):
        for r in _ROTATIONS[block % 2]:
            x0 = x0 + x1
            x1 = _rotl(x1, r) ^ x0
        x0 = x0 + schedule[(block + 1) % 3]
        x1 = x1 + schedule[(block + 2) % 3] + np.uint32(block + 1)
    return x0, x1


def threefry2x32(key: np.ndarray, x0: np.ndarray, x1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Threefry-2x32 hash (20 rounds) of counters (x0, x1) (uint32 arrays of one shape)
    under ``key`` (uint32 of shape (2,))."""
    k0, k1 = (np.full(1, k, np.uint32) for k in key_data(key))
    return _rounds(k0, k1, np.asarray(x0, np.uint32), np.asarray(x1, np.uint32))


def _one_to_two(b0, b1):
    """The bits (uint32, NumPy or JAX) of the float32 in [1, 2) whose mantissa is the top 23 of
    the random bits b0 ^ b1, as ``jax.random.uniform`` builds it."""
    return ((b0 ^ b1) >> np.uint32(9)) | np.uint32(0x3F800000)


def bernoulli(key: jax.Array, p, shape: tuple[int, ...]) -> jax.Array:
    """``jax.random.bernoulli(key, p, shape)`` bit for bit, for use inside ``jax.jit``.

    Entry i (row-major) hashes the counter (0, i): its 32 random bits are b0 ^ b1, the top 23
    become the mantissa of a float32 u in [1, 2), and the entry is True where u - 1 < p, as
    ``jax.random.uniform`` followed by the comparison does (arrays under 2**32 entries).
    ``key`` is raw key data (uint32, shape (2,)) or a typed key; ``p`` may be traced."""
    key = _unwrapped(key)
    counter = jax.lax.iota(np.uint32, int(np.prod(shape, dtype=np.int64))).reshape(shape)
    b0, b1 = _rounds(key[0], key[1], jnp.zeros_like(counter), counter)
    return jax.lax.bitcast_convert_type(_one_to_two(b0, b1), jnp.float32) - 1.0 < p


def uniform(key, shape: tuple[int, ...], minval: float = 0.0, maxval: float = 1.0) -> np.ndarray:
    """``jax.random.uniform(key, shape, jnp.float32, minval, maxval)`` on the host, as JAX's CPU
    backend computes it.

    Entry i (row-major) hashes the counter (0, i) as in :func:`bernoulli`; its top 23 bits become
    the mantissa of u in [1, 2), and the entry is max(minval, (u - 1) (maxval - minval) + minval)
    in float32, where XLA fuses the multiply-add (one rounding). Here the product of the two
    float32 factors is exact in float64 and the sum is rounded to float64, then to float32: the
    fused result but for double-rounding ties (none in the 5 million draws compared with JAX;
    the test suite compares 68,620 bit for bit). Arrays under 2**32 entries."""
    counter = np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.uint32).reshape(shape)
    b0, b1 = threefry2x32(key, np.zeros_like(counter), counter)
    low, high = np.float32(minval), np.float32(maxval)
    unit = _one_to_two(b0, b1).view(np.float32) - np.float32(1.0)
    fused = unit.astype(np.float64) * (high - low) + np.float64(low)
    return np.maximum(low, fused.astype(np.float32))


def permutations(keys: np.ndarray, n: int) -> np.ndarray:
    """``jax.random.permutation(key, n)`` for each of ``keys`` (m, 2): (m, n) int32, on the host.

    JAX shuffles by sorting: ``ceil(3 ln n / ln(2**32 - 1))`` rounds (2 for n from 1,626 to about
    2.6 million), each with a fresh ``key, subkey = split(key)``; the round stable-sorts the
    current order by the 32 random bits b0 ^ b1 of the counters (0, i), i = 0 .. n-1, under
    ``subkey``. The stable sort is a plain sort of the distinct 64-bit words (bits << 32) | i,
    whose low halves are then the sorted positions (5x faster than NumPy's stable argsort). XLA's
    CPU sort calls a compiled comparator per comparison: inside a training program the two sorts
    of 10,000 rows took 3 ms per network and epoch."""
    keys = key_data(keys).reshape(-1, 2)
    order = None  # the identity before the first round
    counter = np.arange(n, dtype=np.uint32)[None, :]
    low = np.uint64(0xFFFFFFFF)
    for _ in range(int(np.ceil(3 * np.log(max(1, n)) / np.log(2**32 - 1)))):
        pairs = split_each(keys, 2)
        keys, subkeys = pairs[:, 0], pairs[:, 1]
        b0, b1 = _rounds(subkeys[:, :1], subkeys[:, 1:], np.zeros_like(counter), counter)
        words = ((b0 ^ b1).astype(np.uint64) << np.uint64(32)) | counter.astype(np.uint64)
        positions = (np.sort(words, axis=1) & low).astype(np.intp)
        order = positions if order is None else np.take_along_axis(order, positions, axis=1)
    identity = np.broadcast_to(np.arange(n, dtype=np.int32), (len(keys), n))
    return identity if order is None else order.astype(np.int32)


def split_each(keys: np.ndarray, n: int) -> np.ndarray:
    """``jax.random.split(key, n)`` for each of ``keys`` (m, 2): (m, n, 2)."""
    index = np.arange(n, dtype=np.uint64)[None, :]
    keys = key_data(keys).reshape(-1, 1, 2)
    bits = _rounds(keys[..., 0], keys[..., 1], (index >> np.uint64(32)).astype(np.uint32),
                   (index & np.uint64(0xFFFFFFFF)).astype(np.uint32))
    return np.stack(bits, axis=-1)


def key_data(key) -> np.ndarray:
    """The raw key data (uint32, shape (..., 2)) of ``key``: a raw key array (NumPy or JAX) or a
    typed key of ``jax.random.key``."""
    return np.asarray(_unwrapped(key), np.uint32)


def _unwrapped(key):
    """A typed key's raw data (traceable); any other key as it is."""
    if jax.dtypes.issubdtype(getattr(key, "dtype", np.uint32), jax.dtypes.prng_key):
        return jax.random.key_data(key)
    return key


def prng_key(seed: int) -> np.ndarray:
    """The key of ``jax.random.PRNGKey(seed)``: (0, seed), for seeds 0 .. 2**32 - 1."""
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be in 0 .. 2**32 - 1, got {seed}")
    return np.array([0, int(seed)], np.uint32)


def split(key: np.ndarray, n: int = 2) -> np.ndarray:
    """The ``n`` keys (n, 2) of ``jax.random.split(key, n)``."""
    return split_each(key, n)[0]


def fold_in(key: np.ndarray, data: int) -> np.ndarray:
    """The key of ``jax.random.fold_in(key, data)``, for data 0 .. 2**32 - 1."""
    bits = threefry2x32(key, np.zeros(1, np.uint32), np.full(1, data, np.uint32))
    return np.concatenate(bits)
