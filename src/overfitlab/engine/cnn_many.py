"""Many small image classifiers trained at once: one compiled step for every network.

Network ``k`` has its own training set (a subset of a shared pool of images, given by indices),
its own initial weights and random stream, and its own regularization ``Recipe``: dropout rate,
decoupled weight decay, random shifts (data augmentation), batch normalisation on or off, and an
optional validation subset for early stopping. All networks share one architecture, a
:mod:`overfitlab.engine.cnn` model holding every optional layer (``Dropout`` and ``BatchNorm``
layers are switched per network: rate 0 keeps every unit, batch normalisation off passes its input
through), so that one ``jax.vmap``-ped training step serves them all.

Each step draws for every network a batch of ``B`` of its images uniformly with replacement,
shifts each image by a random whole number of pixels in ``[-s, s]`` per axis where augmentation is
on, and takes an AdamW step on the mean softmax cross-entropy: ``w <- w - eta_t (adam_t + lambda_k
w)`` with decay ``lambda_k`` on kernels only, under the one-cycle cosine schedule of
:mod:`overfitlab.engine.cnn_train`. Every ``eval_every`` steps (a checkpoint) the networks are
evaluated: test loss and accuracy, accuracy on (up to ``train_eval_images`` of) their own training
images, and validation loss for networks with a validation subset. Networks that are not
*followed* are measured at a checkpoint only on their validation images (the one measure early
stopping needs), and on everything else once, at the end, on the parameters kept. Early stopping
keeps, per network, the parameters of the checkpoint with the lowest validation loss (Keras'
``EarlyStopping(restore_best_weights=True)`` with unlimited patience); the others keep their last
parameters. The step is called from a Python loop (see :mod:`overfitlab.engine.cnn_train` on
convolutions inside ``lax.scan`` on CPU).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from overfitlab.engine import cnn
from overfitlab.engine.cnn_train import random_shift
from overfitlab.progress import Progress, no_progress

COMPILER_OPTIONS = {"xla_cpu_use_fusion_emitters": False, "xla_backend_optimization_level": 1}
"""For ``jax.jit(compiler_options=...)`` of the many-networks programs. XLA's CPU backend runs the
convolutions and matrix products through its YNNPACK kernels whatever the options; the options
only change how the element-wise fusions around them are compiled. The older LLVM emitters and
LLVM optimisation level 1 compiled the many-networks training step of cnn-regularization in 6.4 s
of CPU time instead of 14.6 s (level 3) or 16.5 s (the defaults), and it ran as fast (41-46 ms
of CPU time per step either way; 2 busy cores). Not for one network's step
(:mod:`overfitlab.engine.cnn_train`), which level 1 slowed from about 1,700 to 1,100 training
images/s (simple convnet, batch 128). Other backends ignore them."""


@dataclass(frozen=True)
class Recipe:
    """Per-network regularization, each field an array of shape ``(K,)``."""

    dropout: np.ndarray  # drop probability of every Dropout layer
    weight_decay: np.ndarray  # decoupled weight decay lambda on kernels
    augment: np.ndarray  # bool: random shifts of the training images
    batch_norm: np.ndarray  # bool: BatchNorm layers normalise (else identity)


jax.tree_util.register_dataclass(Recipe, data_fields=["dropout", "weight_decay", "augment",
                                                      "batch_norm"], meta_fields=[])


@dataclass(frozen=True)
class Subsets:
    """Which pool images each network trains and validates on.

    ``train`` is ``(K, m)``: row ``k`` holds network ``k``'s ``n_train[k]`` training indices
    first (the rest is padding and never drawn); likewise ``validation`` ``(K, v)`` and
    ``n_validation`` (0: no early stopping; ``v >= 1``).
    """

    train: np.ndarray
    n_train: np.ndarray
    validation: np.ndarray
    n_validation: np.ndarray


@dataclass(frozen=True)
class ManySettings:
    """Training budget shared by every network."""

    steps: int = 300
    batch_size: int = 32
    learning_rate: float = 3e-3
    warmup: float = 0.2
    shift: int = 1  # augmentation: max shift in pixels
    eval_every: int = 25
    train_eval_images: int = 200  # training accuracy at checkpoints: first images of each set


@dataclass
class ManyFit:
    """Parameters and checkpoint history of ``K`` networks.

    ``params`` is the stacked pytree (leading axis ``K``) of the checkpoint kept: for networks
    with a validation subset the one of lowest validation loss, otherwise the last.
    ``history`` maps ``step`` ``(C,)`` and ``test_loss``, ``test_accuracy``,
    ``train_accuracy``, ``validation_loss`` ``(K, C)`` (NaN without validation, and where a
    network was not followed, see :func:`train_many`) to arrays;
    ``kept`` ``(K,)`` is the index of the checkpoint kept, ``final`` the same four measures
    ``(K,)`` at that checkpoint.
    """

    params: cnn.Params
    history: dict[str, np.ndarray]
    kept: np.ndarray
    final: dict[str, np.ndarray]
    seconds: float = 0.0


def _kernels_only(params):
    return jax.tree_util.tree_map(lambda p: p.ndim > 1, params)


def _optimizer(settings: ManySettings, weight_decay) -> optax.GradientTransformation:
    """AdamW (decay ``weight_decay`` on kernels) under the one-cycle cosine schedule; the decay
    may be traced (one per network): the optimizer state does not depend on it."""
    schedule = optax.cosine_onecycle_schedule(
        transition_steps=max(settings.steps, 1), peak_value=settings.learning_rate,
        pct_start=settings.warmup, div_factor=25.0, final_div_factor=100.0)
    return optax.adamw(schedule, weight_decay=weight_decay, mask=_kernels_only)


def forward(model: cnn.Model, params: cnn.Params, x: jax.Array, recipe: Recipe,
            key: jax.Array | None = None, train: bool = False,
            masks: dict[int, jax.Array] | None = None) -> tuple[jax.Array, list]:
    """Logits of one network under its ``recipe`` and the batch moments of each normalising
    layer (None elsewhere, and at evaluation) for :func:`cnn.update_running_stats`.

    Dropout layers drop with the recipe's rate; BatchNorm layers compute their output and keep it
    only when the recipe's ``batch_norm`` is on; convolutions are products of patches (see
    :func:`cnn.conv2d`: the form that vmap keeps a batched matrix product); other layers are
    :func:`cnn.apply_layer`.

    The bias of a layer that feeds a normalising BatchNorm gets an exactly zero gradient (it is
    kept, not trained; see :func:`cnn.feeds_batch_norm`). ``masks`` (training only): the keep
    masks of the Dropout layers by layer index, drawn beforehand (:func:`_dropout_masks`, the
    same bits as drawing them here from ``key``).
    """
    moments: list = []
    for i, (layer, p) in enumerate(zip(model, params)):
        batch = None
        if isinstance(layer, cnn.Dropout):
            x = (cnn.apply_keep_mask(x, masks[i], recipe.dropout)
                 if train and masks is not None else
                 cnn.dropout(x, recipe.dropout, jax.random.fold_in(key, i) if train else None,
                             train))
        elif isinstance(layer, cnn.BatchNorm):
            batch = cnn.batch_moments(x) if train else None
            x = jnp.where(recipe.batch_norm, cnn.apply_layer(layer, p, x, train=train), x)
        elif isinstance(layer, (cnn.Conv, cnn.Dense)):
            if cnn.feeds_batch_norm(model, i):
                p = {**p, "b": jnp.where(recipe.batch_norm, jax.lax.stop_gradient(p["b"]),
                                         p["b"])}
            x = (cnn.conv2d(x, p["w"], p["b"], layer.padding, patches=True)
                 if isinstance(layer, cnn.Conv) else cnn.apply_layer(layer, p, x))
        else:
            x = cnn.apply_layer(layer, p, x)
        moments.append(batch)
    return x, moments


EVAL_FLOATS = 2**25
"""Evaluation runs in equal chunks of images, as few as keep networks x chunk x the largest
activation of one image under this many floats (128 MiB)."""


def _cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels)


@partial(jax.jit, static_argnames="settings", compiler_options=COMPILER_OPTIONS)
def _init_optimizer(params, *, settings):
    return jax.vmap(_optimizer(settings, 0.0).init)(params)


def _step_keys(seed, t):
    """Network ``seed``'s keys of step ``t``: batch, shift, dropout."""
    return jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), t), 3)


@partial(jax.jit, static_argnames=("model", "image_shape", "batch_size"),
         compiler_options=COMPILER_OPTIONS)
def _dropout_masks(seeds, rates, t, *, model, image_shape, batch_size):
    """Every network's keep masks of step ``t``, ``{layer index: (K, batch_size, *features)}``
    for its Dropout layers. Drawn in a program of their own: inside the training step XLA
    fused the hash into several of the fusions that read the masks and computed it in each
    (without Dropout layers the step took about a quarter less CPU time)."""
    outputs = cnn.layer_output_shapes(model, image_shape)

    def one(seed, rate):
        k_drop = _step_keys(seed, t)[2]
        return {i: cnn.keep_mask(jax.random.fold_in(k_drop, i), rate, (batch_size, *outputs[i]))
                for i, layer in enumerate(model) if isinstance(layer, cnn.Dropout)}

    return jax.vmap(one)(seeds, rates)


@partial(jax.jit, static_argnames=("model", "settings"), donate_argnums=(0,),
         compiler_options=COMPILER_OPTIONS)
def _train_step(state, x_pool, y_pool, train_index, n_train, recipe, seeds, t, masks, *, model,
                settings):
    """Step ``t`` of every network (vmapped over the leading axis of all but the pool), with
    the keep masks of :func:`_dropout_masks`."""

    def one(params, opt_state, index, n, rec, seed, mask):
        k_batch, k_shift, _ = _step_keys(seed, t)  # dropout's key drew ``mask``
        rows = index[jax.random.randint(k_batch, (settings.batch_size,), 0, n)]
        xb, yb = x_pool[rows], y_pool[rows]
        if settings.shift:
            xb = jnp.where(rec.augment, random_shift(xb, settings.shift, k_shift), xb)

        def loss_fn(p):
            logits, moments = forward(model, p, xb, rec, train=True, masks=mask)
            return _cross_entropy(logits, yb).mean(), moments

        grads, moments = jax.grad(loss_fn, has_aux=True)(params)
        updates, opt_state = _optimizer(settings, rec.weight_decay).update(grads, opt_state,
                                                                           params)
        params = cnn.update_running_stats(model, optax.apply_updates(params, updates), moments)
        return params, opt_state

    params, opt_state = state
    return jax.vmap(one)(params, opt_state, train_index, n_train, recipe, seeds, masks)


@partial(jax.jit, static_argnames="model", compiler_options=COMPILER_OPTIONS)
def _evaluate_chunk(params, recipe, networks, x, y, rows, weights, *, model):
    """For each network ``networks[k]`` of the stacked ``params`` and ``recipe``, summed
    weighted losses and correct predictions on the images ``x[rows[k]]`` (``rows`` ``(K, m)``)
    under each of the weightings ``weights`` ``(K, S, m)``: ``(K, S)`` each."""
    def one(p, rec, r, w):
        logits, _ = forward(model, p, x[r], rec)
        return w @ _cross_entropy(logits, y[r]), w @ (jnp.argmax(logits, -1) == y[r])

    params, recipe = jax.tree_util.tree_map(lambda a: a[networks], (params, recipe))
    return jax.vmap(one)(params, recipe, rows, weights)


def evaluate(model: cnn.Model, params: cnn.Params, recipe: Recipe, x: jax.Array, y: jax.Array,
             index: np.ndarray, weights: np.ndarray, networks: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean losses and accuracies ``(K, S)`` of the networks ``networks`` (indices into
    the stacked ``params`` and ``recipe``; default: all) on images ``x[index]`` (``index``
    ``(K, m)``, one row per network evaluated) under each of ``S`` weightings ``weights``
    ``(K, S, m)`` (0 leaves an image out); NaN where a weighting is all zero. Runs in chunks of
    images (``EVAL_FLOATS``)."""
    k, _, m = weights.shape
    networks = jnp.arange(k) if networks is None else jnp.asarray(networks)
    widest = max(1, EVAL_FLOATS // (k * cnn.largest_activation(model, x.shape[1:])))
    chunk = -(-m // -(-m // widest))  # ceil(m / chunks) for the fewest chunks of <= widest
    pad = -m % chunk
    index = np.pad(index, ((0, 0), (0, pad)))
    weights = np.pad(weights, ((0, 0), (0, 0), (0, pad))).astype(np.float32)
    loss, correct = 0.0, 0.0
    for start in range(0, m + pad, chunk):
        a, b = _evaluate_chunk(params, recipe, networks, x, y, index[:, start:start + chunk],
                               weights[..., start:start + chunk], model=model)
        loss, correct = loss + np.asarray(a, np.float64), correct + np.asarray(b, np.float64)
    total = weights.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.where(total > 0, loss / total, np.nan),
                np.where(total > 0, correct / total, np.nan))


def _evaluation_rows(subsets: Subsets, shared_rows: list[np.ndarray], train_images: int):
    """Per network one row of image indices: each shared set's rows, then its first
    ``train_images`` training images, then its validation images; and the weights
    ``(K, len(shared_rows) + 2, m)`` that select each of these sets."""
    k = len(subsets.n_train)
    train = subsets.train[:, :train_images]
    parts = [np.broadcast_to(r, (k, len(r))) for r in shared_rows] + [train, subsets.validation]
    counts = [np.full(k, len(r)) for r in shared_rows] + [
        np.minimum(subsets.n_train, train.shape[1]), subsets.n_validation]
    weights = np.zeros((k, len(parts), sum(p.shape[1] for p in parts)), np.float32)
    offset = 0
    for s, (part, count) in enumerate(zip(parts, counts)):
        width = part.shape[1]
        weights[:, s, offset:offset + width] = np.arange(width)[None] < count[:, None]
        offset += width
    return np.concatenate(parts, axis=1), weights


def _measure(model: cnn.Model, params: cnn.Params, recipe: Recipe, x: jax.Array, y: jax.Array,
             index: np.ndarray, weights: np.ndarray, networks: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`evaluate` of the ``networks`` (indices) only, on their rows of ``index`` and
    ``weights``: ``(K, S)`` losses and accuracies, NaN for every other network."""
    loss, accuracy = (np.full(weights.shape[:2], np.nan) for _ in range(2))
    if len(networks):
        loss[networks], accuracy[networks] = evaluate(model, params, recipe, x, y,
                                                      index[networks], weights[networks],
                                                      networks)
    return loss, accuracy


@partial(jax.jit, compiler_options=COMPILER_OPTIONS)
def _select(mask, new, old):
    """Per network (leading axis), ``new`` where ``mask`` else ``old``."""
    def pick(a, b):
        return jnp.where(mask.reshape((-1,) + (1,) * (a.ndim - 1)), a, b)
    return jax.tree_util.tree_map(pick, new, old)


def init_many(model: cnn.Model, seeds: np.ndarray, image_shape: tuple[int, ...],
              dtype: np.dtype = np.float32) -> cnn.Params:
    """Stacked initial parameters ``(K, ...)`` of ``dtype``, network ``k``'s drawn by NumPy from
    ``seeds[k]`` (see :func:`cnn.init_host`)."""
    draws = [cnn.init_host(model, np.random.default_rng([int(s), 1]), image_shape)
             for s in seeds]
    return jax.device_put(jax.tree_util.tree_map(lambda *a: np.stack(a).astype(dtype), *draws))


def train_many(model: cnn.Model, seeds: np.ndarray, x_pool: np.ndarray, y_pool: np.ndarray,
               subsets: Subsets, recipe: Recipe, settings: ManySettings,
               eval_sets: dict[str, tuple[np.ndarray, np.ndarray]],
               progress: Progress = no_progress, followed: np.ndarray | None = None) -> ManyFit:
    """Train ``K = len(seeds)`` networks, network ``k`` initialised and driven by the integer
    ``seeds[k]``, on ``x_pool[subsets.train[k, :n_train[k]]]`` under ``recipe`` entry ``[k]``.

    At each checkpoint the ``followed`` networks (boolean ``(K,)``; default: all) are evaluated
    on each shared set ``eval_sets[name] = (images, labels)`` (history ``<name>_loss``,
    ``<name>_accuracy``), on their training images (``train_accuracy``) and on their validation
    images (``validation_loss``); the others on their validation images only, their other
    measures being NaN in ``history`` and measured once, at the end, on the parameters kept
    (``final``). Measuring every network at every checkpoint would cost cnn-regularization's
    defaults about a third of the multiply-adds of training. The parameters are float64 when
    ``x_pool`` is and JAX's 64-bit mode is on, else float32.
    """
    start = time.perf_counter()
    k = len(seeds)
    params = init_many(model, seeds, x_pool.shape[1:], np.result_type(x_pool.dtype, np.float32))
    opt_state = _init_optimizer(params, settings=settings)
    recipe = jax.device_put(Recipe(*(np.asarray(a) for a in (
        recipe.dropout, recipe.weight_decay, recipe.augment, recipe.batch_norm))))
    # the shared sets join the pool, so that one index array addresses every image
    sizes = np.cumsum([len(y_pool)] + [len(y) for _, y in eval_sets.values()])
    shared_rows = [np.arange(a, b) for a, b in zip(sizes[:-1], sizes[1:])]
    images = jax.device_put(np.concatenate([x_pool, *(x for x, _ in eval_sets.values())]))
    labels = jax.device_put(np.concatenate([y_pool, *(y for _, y in eval_sets.values())]))
    rows, weights = _evaluation_rows(subsets, shared_rows, settings.train_eval_images)
    train_index, n_train, seeds = jax.device_put((subsets.train, subsets.n_train,
                                                  np.asarray(seeds, np.uint32)))
    step = partial(_train_step, model=model, settings=settings)
    measures = [(f"{name}_{what}", i, column) for i, name in enumerate(eval_sets)
                for what, column in (("loss", 0), ("accuracy", 1))]
    measures += [("train_accuracy", len(eval_sets), 1), ("validation_loss", len(eval_sets) + 1, 0)]

    stops = np.asarray(subsets.n_validation) > 0
    followed = np.ones(k, bool) if followed is None else np.asarray(followed, bool)
    watched, unwatched = np.flatnonzero(followed), np.flatnonzero(~followed)
    validating = np.flatnonzero(stops & ~followed)
    v = subsets.validation.shape[1]  # the last columns of rows: the validation images
    best = None  # the kept parameters of networks with a validation set (fresh buffers: the
    # step donates its own)
    best_loss = np.full(k, np.inf)
    kept = np.zeros(k, np.int64)
    records: dict[str, list] = {name: [] for name, _, _ in measures}
    steps = []
    state = (params, opt_state)
    for t in range(settings.steps):
        masks = _dropout_masks(seeds, recipe.dropout, t, model=model,
                               image_shape=x_pool.shape[1:], batch_size=settings.batch_size)
        state = step(state, images, labels, train_index, n_train, recipe, seeds, t, masks)
        if (t + 1) % settings.eval_every and t + 1 != settings.steps:
            continue
        scores = _measure(model, state[0], recipe, images, labels, rows, weights, watched)
        scores[0][validating, -1] = _measure(model, state[0], recipe, images, labels,
                                             rows[:, -v:], weights[:, -1:, -v:],
                                             validating)[0][validating, 0]
        validation = scores[0][:, -1]
        improved = validation < best_loss  # NaN (no validation set) is never an improvement
        if improved.any():
            best = _select(improved, state[0], state[0] if best is None else best)
        best_loss[improved] = validation[improved]
        kept[improved] = len(steps)
        steps.append(t + 1)
        for name, i, column in measures:
            records[name].append(scores[column][:, i])
        summary = "".join(f", median {name} accuracy {np.median(scores[1][watched, 0]):.3f}"
                          for name in list(eval_sets)[:1] if len(watched))
        progress((t + 1) / settings.steps, f"{k} networks: step {t + 1}/{settings.steps}"
                 + summary)
    kept = np.where(stops, kept, len(steps) - 1)
    params = state[0] if best is None else _select(stops, best, state[0])
    history = {name: np.stack(values, axis=1) for name, values in records.items()}
    final = {name: values[np.arange(k), kept] for name, values in history.items()}
    at_end = _measure(model, params, recipe, images, labels, rows, weights, unwatched)
    for name, i, column in measures:
        final[name][unwatched] = at_end[column][unwatched, i]
    history["step"] = np.asarray(steps)
    return ManyFit(jax.block_until_ready(params), history, kept, final,
                   time.perf_counter() - start)
