"""Convolutional networks in pure JAX, NHWC layout: layers, two classic architectures, init, apply.

A model is a tuple of frozen layer descriptions (hashable, so it can be a static argument of
``jax.jit``); its parameters are a list with one dict per layer (empty for layers without
weights). Images are ``(N, H, W, C)`` float arrays; kernels are ``(kh, kw, C_in, C_out)`` (HWIO).

Layers and their maths:

* ``Conv``: the cross-correlation deep-learning libraries call convolution,
  ``y[n, i, j, o] = b[o] + sum_{u, v, c} x[n, i + u, j + v, c] w[u, v, c, o]``; ``"valid"`` keeps
  the ``(H - kh + 1) x (W - kw + 1)`` positions where the kernel fits, ``"same"`` zero-pads so the
  output keeps ``H x W``. Parameters: ``kh kw C_in C_out + C_out``.
* ``Pool``: the max (or mean) over non-overlapping ``s x s`` windows, computed element-wise over
  the ``s^2`` strided sub-grids ``x[:, i::s, j::s]``; max pooling routes the gradient to each
  window's first maximum, found in the forward pass. Trailing rows/columns that do not fill a
  window are dropped (floor), as in Keras. On CPU (128 x 26 x 26 x 32 maps) the backward pass
  takes 1.95 ms, against 4.6 ms for reshaping to ``(N, H/s, s, W/s, s, C)`` and reducing and
  36 ms for ``reduce_window``; it raised the simple convnet's training throughput by about 40 %.
* ``Dense``: ``y = x W + b`` on the flattened input; ``n_in n_out + n_out`` parameters.
* ``Dropout``: inverted dropout, ``y = x m / (1 - rate)`` with ``m ~ Bernoulli(1 - rate)`` while
  training, identity at evaluation (so the expected activation is unchanged).
* ``BatchNorm``: per-channel batch normalisation (Ioffe and Szegedy, 2015). While training,
  ``y = gamma (x - mu_B) / sqrt(var_B + eps) + beta`` with ``mu_B``, ``var_B`` the mean and
  (biased) variance of the batch over every axis but the channel axis; at evaluation the running
  estimates ``mu``, ``var`` replace them, updated after each training step by
  ``mu <- m mu + (1 - m) mu_B`` (likewise ``var``). ``gamma``, ``beta`` are trained (``2 C``
  parameters); ``mu``, ``var`` are state, not parameters (not counted, not trained).
* ``Activation``: ``relu`` (``max(x, 0)``) or ``tanh``; ``Flatten``: ``(N, H, W, C) -> (N, HWC)``.

Weights are Glorot-uniform, ``U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))`` where the fans
of a convolution count the receptive field, ``fan_in = kh kw C_in``; biases start at zero (the
Keras defaults, so parameter counts and starting points match the Keras examples).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache, partial, reduce
from typing import Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np

from overfitlab.engine import threefry
from overfitlab.engine.names import CNN_ARCHITECTURES

Params = list  # one dict per layer: {"w": kernel, "b": bias}, BatchNorm's four arrays, or {}
RUNNING_STATS = ("mean", "var")  # BatchNorm state: carried in the params, never trained


@dataclass(frozen=True)
class Conv:
    """2-D convolution with ``features`` output channels and a ``kernel x kernel`` window."""

    features: int
    kernel: int
    padding: str = "valid"  # "valid" | "same"


@dataclass(frozen=True)
class Pool:
    """Non-overlapping ``size x size`` pooling, ``kind`` "max" or "avg"."""

    kind: str = "max"
    size: int = 2


@dataclass(frozen=True)
class Dense:
    """Fully connected layer with ``units`` outputs."""

    units: int


@dataclass(frozen=True)
class Dropout:
    """Inverted dropout with drop probability ``rate``."""

    rate: float


@dataclass(frozen=True)
class BatchNorm:
    """Batch normalisation over the channel axis; ``momentum`` of the running statistics."""

    momentum: float = 0.9
    epsilon: float = 1e-5


@dataclass(frozen=True)
class Activation:
    """Element-wise non-linearity: "relu" or "tanh"."""

    name: str = "relu"


@dataclass(frozen=True)
class Flatten:
    """``(N, H, W, C) -> (N, H W C)``."""


Layer = Union[Conv, Pool, Dense, Dropout, BatchNorm, Activation, Flatten]
Model = tuple  # tuple[Layer, ...]

_ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jnp.tanh}


_DIMENSIONS = ("NHWC", "HWIO", "NHWC")
SMALL_CHANNELS = 4
"""Inputs with at most this many channels (the image itself) use the shifted-product forms."""


def conv2d(x: jax.Array, w: jax.Array, b: jax.Array, padding: str,
           patches: bool = False) -> jax.Array:
    """Cross-correlation of NHWC ``x`` with HWIO kernel ``w`` plus bias ``b`` (stride 1);
    ``"same"`` zero-pads ``x`` by ``(k - 1) / 2`` on each side (the extra row of an even kernel
    at the end) and then correlates in ``"valid"`` mode.

    ``patches=True`` computes it as one matrix product of the image patches (:func:`patch_conv`)
    instead of :func:`valid_conv`: the form to use under ``jax.vmap`` over networks (one kernel
    per network), where a convolution becomes a grouped convolution that XLA's CPU backend runs
    through layout copies, while a matrix product stays a batched matrix product.
    """
    if padding == "same":
        kh, kw = w.shape[:2]
        x = jnp.pad(x, ((0, 0), ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2), (0, 0)))
    return (patch_conv(x, w) if patches else valid_conv(x, w)) + b


def patch_conv(x: jax.Array, w: jax.Array) -> jax.Array:
    """:func:`valid_conv` as ``P w``: ``P[n, i, j]`` holds the ``kh kw C`` input entries
    ``x[n, i + u, j + v, c]`` that output position ``(i, j)`` sees, ``w`` is reshaped to
    ``(kh kw C, O)``.

    ``P`` is selected by products with 0/1 matrices, first of rows ``R[i, u, h] = [h = i + u]``
    then of columns (``(H' kh) H W C + H' kh W' kw W C`` multiply-adds per image), rather than by
    slicing the ``kh kw`` windows: XLA fuses whatever produced ``x`` (pooling, normalisation)
    into each slice and computes it ``kh kw`` times, while a product's operand is computed once.
    JAX differentiates the products into products (``P^T G`` for the kernel).
    """
    kh, kw, c, o = w.shape
    if c <= SMALL_CHANNELS:
        return valid_conv(x, w)  # already elementwise products, which vmap keeps elementwise
    _, h, wd, _ = x.shape
    rows, cols = _window_selection(h, kh), _window_selection(wd, kw)
    patches = jnp.einsum("iuh,jvw,nhwc->nijuvc", rows, cols, x)
    return patches.reshape(*patches.shape[:3], kh * kw * c) @ w.reshape(kh * kw * c, o)


@cache
def _window_selection(size: int, k: int) -> np.ndarray:
    """``S[i, u, s] = 1`` where ``s = i + u`` (output ``i``, kernel offset ``u``), else 0."""
    out = size - k + 1
    select = np.zeros((out, k, size), np.float32)
    for i, u in np.ndindex(out, k):
        select[i, u, i + u] = 1.0
    return select


def _shifted(x: jax.Array, kh: int, kw: int) -> list[jax.Array]:
    """The ``kh kw`` windows ``x[:, u:u + H', v:v + W', :]`` (``H' = H - kh + 1``), in
    ``(u, v)`` row-major order: the input entries that meet kernel entry ``w[u, v]``."""
    ho, wo = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    return [x[:, u:u + ho, v:v + wo, :] for u in range(kh) for v in range(kw)]


def valid_conv(x: jax.Array, w: jax.Array) -> jax.Array:
    """``y[n, i, j, o] = sum_{u, v, c} x[n, i + u, j + v, c] w[u, v, c, o]`` ("valid", no bias).

    With few input channels, :func:`_few_channel_conv`; otherwise XLA's convolution, which JAX
    differentiates into two convolutions: the kernel gradient correlates ``x`` with the output
    gradient over the batch, the input gradient is the full correlation of the output gradient
    with the flipped kernel. Both run on every core once convolutions stay out of YNNPACK
    (``cnn_train.COMPILER_OPTIONS``): the simple convnet's gradient at batch 128 took 22 ms with
    the kernel gradient as XLA's convolution against 27 ms as nine shifted matrix products
    (copying the nine windows of the pooled maps cost more than the products; same process,
    interleaved, 2 cores, 2026-12-02).
    """
    if w.shape[2] <= SMALL_CHANNELS:
        return _few_channel_conv(x, w)
    return _xla_valid_conv(x, w)


def _xla_valid_conv(x: jax.Array, w: jax.Array) -> jax.Array:
    """:func:`valid_conv` as XLA's convolution (NHWC images, HWIO kernels, stride 1)."""
    return jax.lax.conv_general_dilated(x, w, (1, 1), "VALID", dimension_numbers=_DIMENSIONS)


@jax.custom_vjp
def _few_channel_conv(x: jax.Array, w: jax.Array) -> jax.Array:
    """:func:`valid_conv` as ``sum_{u, v} X_uv w[u, v]``, ``X_uv`` the shifted windows of
    :func:`_shifted`: one fused loop of ``kh kw C`` multiply-adds per output, which on CPU beats
    XLA's convolution of a one-channel image (1.6 ms against 4.3 ms of CPU time for
    128 x 28 x 28 x 1 into 32 channels).

    Its gradients (custom, below): ``dw`` is one matrix product of the concatenated windows,
    ``[X_11 ... X_kk]^T G`` over the ``N H' W'`` positions; ``dx`` is XLA's transposed
    convolution.
    """
    kh, kw, _, _ = w.shape
    return sum(xs @ w[u // kw, u % kw] for u, xs in enumerate(_shifted(x, kh, kw)))


def _few_channel_conv_forward(x: jax.Array, w: jax.Array):
    return _few_channel_conv(x, w), (x, w)


def _few_channel_conv_backward(residuals, g: jax.Array):
    x, w = residuals
    kh, kw, c, o = w.shape
    patches = jnp.concatenate(_shifted(x, kh, kw), axis=-1).reshape(-1, kh * kw * c)
    dw = (patches.T @ g.reshape(-1, o)).reshape(kh, kw, c, o)
    _, transpose = jax.vjp(lambda a: _xla_valid_conv(a, w), x)
    return transpose(g)[0], dw


_few_channel_conv.defvjp(_few_channel_conv_forward, _few_channel_conv_backward)


def _subgrids(x: jax.Array, size: int) -> list[jax.Array]:
    """Crop to multiples of ``size``; the ``size**2`` strided sub-grids ``x[:, i::s, j::s]``, whose
    element ``[n, a, b]`` is entry ``(i, j)`` of window ``(a, b)``."""
    n, h, w, c = x.shape
    hs, ws = h // size, w // size
    if hs == 0 or ws == 0:
        raise ValueError(f"cannot pool a {h}x{w} map with {size}x{size} windows; "
                         "use 'same' convolutions or larger images")
    x = x[:, : hs * size, : ws * size, :]
    return [x[:, i::size, j::size, :] for i in range(size) for j in range(size)]


@partial(jax.custom_vjp, nondiff_argnums=(1,))
def max_pool(x: jax.Array, size: int = 2) -> jax.Array:
    """Maximum over non-overlapping ``size x size`` windows (element-wise max of sub-grids).

    The gradient goes to the first maximal entry of each window, located once in the forward
    pass: a gradient that compared inputs with the output after the fact could miss the maximum
    when XLA fuses the two computations differently (it did, under jit, behind batch norm).
    """
    return reduce(jnp.maximum, _subgrids(x, size))


def _max_pool_forward(x: jax.Array, size: int):
    """The maximum and the index of its sub-grid (the first one on ties), found in one pass of
    comparisons (one fused loop, where ``argmax`` over the stacked sub-grids took 4 ms of the
    simple convnet's step)."""
    parts = _subgrids(x, size)
    best, winner = parts[0], jnp.zeros(parts[0].shape, jnp.int8)
    for k, part in enumerate(parts[1:], start=1):
        better = part > best
        best, winner = jnp.where(better, part, best), jnp.where(better, jnp.int8(k), winner)
    return reduce(jnp.maximum, parts), (winner, x.shape)  # the maximum propagates NaN


def _max_pool_backward(size: int, residuals, g: jax.Array):
    winner, (n, h, w, c) = residuals
    hs, ws = h // size, w // size
    parts = jnp.stack([jnp.where(winner == k, g, 0.0) for k in range(size * size)])
    dx = parts.reshape(size, size, n, hs, ws, c).transpose(2, 3, 0, 4, 1, 5)
    dx = dx.reshape(n, hs * size, ws * size, c)  # window (a, b), entry (i, j) -> (a s + i, b s + j)
    return (jnp.pad(dx, ((0, 0), (0, h - hs * size), (0, w - ws * size), (0, 0))),)


max_pool.defvjp(_max_pool_forward, _max_pool_backward)


def avg_pool(x: jax.Array, size: int = 2) -> jax.Array:
    """Mean over non-overlapping ``size x size`` windows (sum of sub-grids / size**2)."""
    return sum(_subgrids(x, size)) / size**2


def dropout(x: jax.Array, rate: float, key: jax.Array | None, train: bool) -> jax.Array:
    """Inverted dropout: zero each unit with probability ``rate``, scale survivors by 1/(1-rate)."""
    if not train or (isinstance(rate, (int, float)) and rate == 0.0):
        return x  # a traced rate (one per vmapped network) of 0 keeps every unit as well
    return apply_keep_mask(x, keep_mask(key, rate, x.shape), rate)


def keep_mask(key: jax.Array, rate, shape: tuple[int, ...]) -> jax.Array:
    """Dropout's keep mask: True with probability ``1 - rate``, drawn from ``key``."""
    return threefry.bernoulli(key, 1.0 - rate, shape)


def apply_keep_mask(x: jax.Array, keep: jax.Array, rate) -> jax.Array:
    """Inverted dropout with a given mask: ``x / (1 - rate)`` where ``keep``, else 0."""
    return jnp.where(keep, x / (1.0 - rate), 0.0)


def _param_shapes(layer: Layer, in_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """Shape of each array of the layer's parameters for inputs of ``in_shape`` ({}: none)."""
    if isinstance(layer, Conv):
        kernel = (layer.kernel, layer.kernel, in_shape[-1], layer.features)
        return {"w": kernel, "b": kernel[-1:]}
    if isinstance(layer, Dense):
        return {"w": (in_shape[-1], layer.units), "b": (layer.units,)}
    if isinstance(layer, BatchNorm):
        return {name: in_shape[-1:] for name in ("scale", "bias", *RUNNING_STATS)}
    return {}


def _trace_shapes(model: Model, input_shape: Sequence[int]):
    """Parameter shapes and output shape (one example) of every layer, without computing."""
    return _traced_shapes(model, tuple(int(d) for d in input_shape))


@cache
def _traced_shapes(model: Model, input_shape: tuple[int, ...]):
    x = jax.ShapeDtypeStruct((1, *input_shape), jnp.float32)
    shapes, outputs = [], []
    for layer in model:
        layer_shapes = _param_shapes(layer, tuple(x.shape))
        shapes.append(layer_shapes)
        p = {k: jax.ShapeDtypeStruct(v, jnp.float32) for k, v in layer_shapes.items()}
        x = jax.eval_shape(lambda a, p, layer=layer: apply_layer(layer, p, a), x, p)
        outputs.append(tuple(x.shape[1:]))
    return shapes, outputs


def apply_layer(layer: Layer, p: dict, x: jax.Array, key: jax.Array | None = None,
                train: bool = False) -> jax.Array:
    """Output of one layer (``key`` is only used by dropout while training)."""
    if isinstance(layer, Conv):
        return conv2d(x, p["w"], p["b"], layer.padding)
    if isinstance(layer, Pool):
        return max_pool(x, layer.size) if layer.kind == "max" else avg_pool(x, layer.size)
    if isinstance(layer, Dense):
        return x @ p["w"] + p["b"]
    if isinstance(layer, Dropout):
        return dropout(x, layer.rate, key, train)
    if isinstance(layer, BatchNorm):
        if train:
            return normalize_batch(x, p["scale"], p["bias"], layer.epsilon)
        return normalize(x, p["mean"], p["var"], p, layer.epsilon)
    if isinstance(layer, Activation):
        return _ACTIVATIONS[layer.name](x)
    if isinstance(layer, Flatten):
        return x.reshape(x.shape[0], -1)
    raise TypeError(f"unknown layer {layer!r}")


def batch_moments(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Mean and biased variance of ``x`` over every axis but the last (channels)."""
    axes = tuple(range(x.ndim - 1))
    mean = x.mean(axes)
    return mean, jnp.mean((x - mean) ** 2, axes)


def normalize(x: jax.Array, mean: jax.Array, var: jax.Array, p: dict, eps: float) -> jax.Array:
    """``gamma (x - mean) / sqrt(var + eps) + beta``, per channel."""
    return (x - mean) * (p["scale"] * jax.lax.rsqrt(var + eps)) + p["bias"]


@partial(jax.custom_vjp, nondiff_argnums=(3,))
def normalize_batch(x: jax.Array, scale: jax.Array, bias: jax.Array, eps: float) -> jax.Array:
    """Training-mode batch normalisation ``y = gamma x_hat + beta``, ``x_hat = (x - mu_B)
    r``, ``r = 1 / sqrt(var_B + eps)``, with the batch's moments over all ``M`` positions of each
    channel.

    Its gradient (custom, the closed form of Ioffe and Szegedy): ``dbeta = sum g``,
    ``dgamma = sum g x_hat``, ``dx = gamma r (g - dbeta / M - x_hat dgamma / M)``: one pass
    that reduces both sums and one element-wise pass, where differentiating the forward
    computation through the moments made XLA read the maps several more times.
    """
    mean, var = batch_moments(x)
    return normalize(x, mean, var, {"scale": scale, "bias": bias}, eps)


def _normalize_batch_forward(x, scale, bias, eps):
    mean, var = batch_moments(x)
    r = jax.lax.rsqrt(var + eps)
    x_hat = (x - mean) * r
    return x_hat * scale + bias, (x_hat, r, scale)


def _normalize_batch_backward(eps, residuals, g):
    x_hat, r, scale = residuals
    axes = tuple(range(g.ndim - 1))
    d_bias, d_scale = g.sum(axes), (g * x_hat).sum(axes)
    m = g.size // g.shape[-1]
    dx = (scale * r) * (g - d_bias / m - x_hat * (d_scale / m))
    return dx, d_scale, d_bias


normalize_batch.defvjp(_normalize_batch_forward, _normalize_batch_backward)


def init(model: Model, key: jax.Array, input_shape: Sequence[int]) -> Params:
    """Glorot-uniform weights, zero biases, for images of shape ``input_shape = (H, W, C)``.

    The uniform draws come from a NumPy generator seeded with the bits of ``key`` (still a pure
    function of the key): compiling JAX's threefry sampler once per layer shape took seconds.
    """
    rng = np.random.default_rng(threefry.key_data(key).ravel().tolist())
    # one transfer of distinct buffers (the train step donates each one)
    return jax.device_put(init_host(model, rng, input_shape))


def init_host(model: Model, rng: np.random.Generator, input_shape: Sequence[int]) -> Params:
    """:func:`init`'s parameters as NumPy arrays drawn from ``rng`` (no device work, nothing to
    compile: callers stack many networks' draws and transfer them at once)."""
    params: Params = []
    for shapes in _trace_shapes(model, input_shape)[0]:
        if "w" in shapes:
            shape = shapes["w"]
            receptive = int(np.prod(shape[:-2]))  # kh * kw for a conv kernel, 1 for a dense one
            bound = math.sqrt(6.0 / (receptive * (shape[-2] + shape[-1])))
            w = rng.uniform(-bound, bound, shape).astype(np.float32)
            params.append({"w": w, "b": np.zeros(shape[-1], np.float32)})
        elif shapes:  # BatchNorm: identity transform, running statistics of N(0, 1)
            c = shapes["scale"]
            params.append({"scale": np.ones(c, np.float32), "bias": np.zeros(c, np.float32),
                           "mean": np.zeros(c, np.float32), "var": np.ones(c, np.float32)})
        else:
            params.append({})
    return params


def apply(model: Model, params: Params, x: jax.Array, key: jax.Array | None = None,
          train: bool = False) -> jax.Array:
    """Logits of the model for a batch ``x``; dropout layer ``i`` uses ``fold_in(key, i)``."""
    return apply_train(model, params, x, key)[0] if train else _forward(model, params, x)


def feeds_batch_norm(model: Model, i: int) -> bool:
    """Whether layer ``i`` is a convolution or dense layer whose output goes straight into a
    BatchNorm layer.

    The bias of such a layer is kept, not trained (its gradient is stopped). Batch normalisation
    subtracts the batch mean, so that gradient is zero in exact arithmetic, but computed it is
    rounding noise (``sum_M dx``, ~1e-9 in float32); Adam's step ``m / (sqrt(v) + 1e-8)`` scales
    noise of that size up to steps of the learning rate, and the bias wandered by ~0.05 in 60
    steps. Training cancels it, but evaluation subtracts the lagging running mean, so test
    losses followed the rounding of each compiled program: 5 % apart between a network trained
    alone and the same network among others (:mod:`overfitlab.engine.cnn_many`).
    """
    return (isinstance(model[i], (Conv, Dense)) and i + 1 < len(model)
            and isinstance(model[i + 1], BatchNorm))


def execution_order(model: Model) -> list[int]:
    """The layers' indices in the order :func:`apply` computes them: a ReLU between a
    convolution and a max-pooling comes after the pooling instead.

    ``maxpool(relu(z)) = relu(maxpool(z))`` exactly (ReLU is non-decreasing), and so are the
    gradients: both reach the window's first maximum ``z*`` when ``z* > 0`` and nothing otherwise
    (JAX's ReLU has derivative 0 at 0). Pooling first, the backward pass needs ReLU's mask of the
    pooled map only, so the convolution's full-size output is never written out for it: the
    simple convnet's gradient at batch 128 went from 22 to 14 ms (2 cores, same process,
    interleaved, 2026-12-02). Behind a batch normalisation the swap gained nothing (its backward
    keeps the full-size map anyway; the compact net's gradient 4.0 -> 4.6 ms), so it is not made
    there."""
    order = list(range(len(model)))
    for i in range(1, len(model) - 1):
        before, layer, after = model[i - 1:i + 2]
        if (isinstance(before, Conv) and layer == Activation("relu")
                and isinstance(after, Pool) and after.kind == "max"):
            order[i], order[i + 1] = i + 1, i
    return order


def _forward(model: Model, params: Params, x: jax.Array, key: jax.Array | None = None,
             train: bool = False, moments: list | None = None) -> jax.Array:
    if moments is not None:
        moments.extend([None] * len(model))
    for i in execution_order(model):
        layer, p = model[i], params[i]
        k = jax.random.fold_in(key, i) if (train and isinstance(layer, Dropout)) else None
        if feeds_batch_norm(model, i):
            p = {**p, "b": jax.lax.stop_gradient(p["b"])}
        if moments is not None and isinstance(layer, BatchNorm):  # the moments apply_layer
            moments[i] = batch_moments(x)  # normalises with (XLA's CSE computes them once)
        x = apply_layer(layer, p, x, k, train)
    return x


def apply_train(model: Model, params: Params, x: jax.Array,
                key: jax.Array | None) -> tuple[jax.Array, list]:
    """Training-mode logits and, per layer, the batch moments a BatchNorm layer used (else None),
    for :func:`update_running_stats`."""
    moments: list = []
    return _forward(model, params, x, key, True, moments), moments


def update_running_stats(model: Model, params: Params, moments: list) -> Params:
    """Move each BatchNorm layer's running mean and variance towards the batch's:
    ``r <- m r + (1 - m) r_B``."""
    out = []
    for layer, p, batch in zip(model, params, moments):
        if isinstance(layer, BatchNorm):
            m = layer.momentum
            p = {**p, **{name: m * p[name] + (1 - m) * jax.lax.stop_gradient(b)
                         for name, b in zip(RUNNING_STATS, batch)}}
        out.append(p)
    return out


@partial(jax.jit, static_argnums=0)
def layer_outputs(model: Model, params: Params, x: jax.Array) -> list[jax.Array]:
    """Every layer's output at evaluation (no dropout), for feature-map figures (one compiled
    program: layer by layer, eager JAX compiled a small program per operation and shape)."""
    outputs = []
    for layer, p in zip(model, params):
        x = apply_layer(layer, p, x)
        outputs.append(x)
    return outputs


def layer_output_shapes(model: Model, input_shape: Sequence[int]) -> list[tuple[int, ...]]:
    """Shape of every layer's output for one example, computed without running the model."""
    return _trace_shapes(model, input_shape)[1]


def output_shape(model: Model, input_shape: Sequence[int]) -> tuple[int, ...]:
    """Shape of one example's output, computed without running the model."""
    return layer_output_shapes(model, input_shape)[-1]


def largest_activation(model: Model, input_shape: Sequence[int]) -> int:
    """Number of scalars in the largest layer output for one example (sizes memory use)."""
    return max(int(np.prod(shape)) for shape in layer_output_shapes(model, input_shape))


def count_parameters(params: Params) -> int:
    """Total number of trainable scalars (BatchNorm's running statistics excluded)."""
    return int(sum(np.prod(np.shape(a)) for p in params for name, a in p.items()
                   if name not in RUNNING_STATS))


def n_parameters(model: Model, input_shape: Sequence[int]) -> int:
    """Number of trainable scalars of ``model`` on ``input_shape`` images, without drawing them."""
    return sum(int(np.prod(shape)) for shapes in _trace_shapes(model, input_shape)[0]
               for name, shape in shapes.items() if name not in RUNNING_STATS)


def simple_convnet(n_classes: int = 10, padding: str = "valid", width: int = 1,
                   dropout_rate: float = 0.5, dense_hidden: int = 0,
                   batch_norm: bool = False) -> Model:
    """The Keras "simple MNIST convnet": conv 32 3x3 relu, max-pool 2, conv 64 3x3 relu,
    max-pool 2, flatten, dropout, dense ``n_classes`` (softmax in the loss).

    ``width`` multiplies the channel counts; ``padding="same"`` lets the pools fit on 8x8 images.
    On 28x28x1 with valid padding and width 1 it has 320 + 18,496 + 16,010 = 34,826 parameters.
    ``dense_hidden = h > 0`` inserts dense ``h``, relu, dropout between the flatten and the output
    (as in the older Keras mnist_cnn example): the head then has ``F h + h + h n_classes +
    n_classes`` parameters for ``F`` flattened features (F = 1,600 on 28x28x1) instead of
    ``F n_classes + n_classes``. ``batch_norm`` normalises each convolution's output before its
    ReLU (and the hidden dense layer's), adding ``2 C`` parameters per normalised layer.
    """
    norm: tuple[Layer, ...] = (BatchNorm(),) if batch_norm else ()
    hidden: tuple[Layer, ...] = ()
    if dense_hidden > 0:
        hidden = (Dropout(dropout_rate), Dense(dense_hidden), *norm, Activation("relu"))
    return (
        Conv(32 * width, 3, padding), *norm, Activation("relu"), Pool("max", 2),
        Conv(64 * width, 3, padding), *norm, Activation("relu"), Pool("max", 2),
        Flatten(), *hidden, Dropout(dropout_rate), Dense(n_classes),
    )


def lenet5(n_classes: int = 10, padding: str = "valid", width: int = 1,
           dropout_rate: float = 0.0) -> Model:
    """LeNet-5 with ReLU: conv 6 5x5 ('same', standing in for LeNet's 32x32 padded input),
    avg-pool 2, conv 16 5x5 (``padding``), avg-pool 2, flatten, dense 120, dense 84, dense
    ``n_classes``; optional dropout before each hidden dense layer.

    On 28x28x1 (valid second conv, width 1) it has 156 + 2,416 + 48,120 + 10,164 + 850 = 61,706
    parameters, LeNet-5's classic count.
    """
    hidden: list[Layer] = []
    for units in (120, 84):
        if dropout_rate > 0:
            hidden.append(Dropout(dropout_rate))
        hidden += [Dense(units * width), Activation("relu")]
    return (
        Conv(6 * width, 5, "same"), Activation("relu"), Pool("avg", 2),
        Conv(16 * width, 5, padding), Activation("relu"), Pool("avg", 2),
        Flatten(), *hidden, Dense(n_classes),
    )


def vgg_convnet(n_classes: int = 10, padding: str = "valid", width: int = 1,
                dropout_rate: float = 0.1, dense_hidden: int = 512) -> Model:
    """A small VGG-style network: 3x3 convolutions stacked before pooling, each followed by
    batch normalisation and ReLU: conv 32, max-pool 2, conv 64, conv 64, max-pool 2, flatten,
    dropout, dense ``dense_hidden`` (normalised, ReLU), dropout, dense ``n_classes``.

    On 28x28x1 with valid padding (28 -> 26 -> 13 -> 11 -> 9 -> 4: 1,024 features) and width 1
    it has 384 + 18,624 + 37,056 + 525,824 + 5,130 = 587,018 parameters (convolutions,
    dense layer and their normalisations; the output layer), and about 2.4 times the simple
    convnet's multiply-adds per image.
    """
    norm_relu = (BatchNorm(), Activation("relu"))
    return (
        Conv(32 * width, 3, padding), *norm_relu, Pool("max", 2),
        Conv(64 * width, 3, padding), *norm_relu,
        Conv(64 * width, 3, padding), *norm_relu, Pool("max", 2),
        Flatten(), Dropout(dropout_rate), Dense(dense_hidden), *norm_relu,
        Dropout(dropout_rate), Dense(n_classes),
    )


def compact_convnet(n_classes: int = 10, padding: str = "valid", width: int = 1,
                    dropout_rate: float = 0.1, dense_hidden: int = 512) -> Model:
    """The VGG-style network made cheaper where its multiply-adds are: half the channels in the
    first convolution (16), and the second pooling moved before the third convolution (128
    channels), which then sees 5x5 maps instead of 11x11: conv 16, max-pool 2, conv 64, max-pool
    2, conv 128 (each with batch normalisation and ReLU), flatten, dropout, dense
    ``dense_hidden`` (normalised, ReLU), dropout, dense ``n_classes``.

    On 28x28x1 with valid padding (28 -> 26 -> 13 -> 11 -> 5 -> 3: 1,152 features) and width 1
    it has 192 + 9,408 + 74,112 + 591,360 + 5,130 = 680,202 parameters and 2.47 million
    multiply-adds per image against the VGG-style net's 5.94 million (whose second and third
    convolutions alone take 5.2 million), so it trains about twice as many images per second.
    """
    norm_relu = (BatchNorm(), Activation("relu"))
    return (
        Conv(16 * width, 3, padding), *norm_relu, Pool("max", 2),
        Conv(64 * width, 3, padding), *norm_relu, Pool("max", 2),
        Conv(128 * width, 3, padding), *norm_relu,
        Flatten(), Dropout(dropout_rate), Dense(dense_hidden), *norm_relu,
        Dropout(dropout_rate), Dense(n_classes),
    )


def mlp(n_classes: int = 10, hidden: Sequence[int] = (256,), dropout_rate: float = 0.0) -> Model:
    """Fully connected baseline on flattened pixels: [dense h, relu, dropout] per hidden layer."""
    layers: list[Layer] = [Flatten()]
    for units in hidden:
        layers += [Dense(units), Activation("relu")]
        if dropout_rate > 0:
            layers.append(Dropout(dropout_rate))
    return (*layers, Dense(n_classes))


# One builder per name of CNN_ARCHITECTURES (the names configurations offer), in its order.
ARCHITECTURES = {"simple": simple_convnet, "lenet5": lenet5, "vgg": vgg_convnet,
                 "compact": compact_convnet}


def build(architecture: str, n_classes: int, image_shape: Sequence[int], padding: str = "auto",
          width: int = 1, dropout_rate: float = 0.5, dense_hidden: int = 0,
          batch_norm: bool = False) -> Model:
    """The named architecture for ``image_shape``; ``padding="auto"`` picks "valid" when the
    feature maps still fit the pools with it (e.g. 28x28) and "same" otherwise (e.g. 8x8).
    ``dense_hidden > 0`` and ``batch_norm`` (the simple convnet only) add a hidden dense layer of
    that width and batch normalisation."""
    if architecture not in CNN_ARCHITECTURES:
        raise ValueError(f"architecture must be one of {', '.join(CNN_ARCHITECTURES)}, got "
                         f"{architecture!r}")
    make = ARCHITECTURES[architecture]
    if dense_hidden or batch_norm:
        if architecture != "simple":
            raise ValueError("dense_hidden and batch_norm apply to the simple convnet, "
                             f"not {architecture}")
        make = partial(simple_convnet, dense_hidden=dense_hidden, batch_norm=batch_norm)
    if padding != "auto":
        return make(n_classes, padding, width, dropout_rate)
    model = make(n_classes, "valid", width, dropout_rate)
    try:
        output_shape(model, image_shape)
    except ValueError:
        return make(n_classes, "same", width, dropout_rate)
    return model
