"""Vanishing gradients: the L-neuron chain trained by hand-written backprop, and deep wide MLPs.

Part 1 follows the course: a chain of L neurons (see :mod:`overfitlab.theory.chain`), weights
and biases uniform in [0, 1), one pair (x, sin x) with x = 0.5, plain gradient descent with
learning rate 1e-2 on C = (a_out - y)^2 / 2, using a correct backpropagation (the course's
snippet takes sqrt(2C) as the output error, which drops its sign and the factor sigma'(z_out)).
|dC/dw_l| is recorded for every layer at every epoch, for L in ``lengths`` and for the sigmoid,
tanh and ReLU, vmapped over seeds. The sigmoid bound |dC/dw_l| <= (1/4)^(L-1-l) |dC/db_{L-1}|
(valid while every |w_k| <= 1) is checked at every recorded epoch and drawn on the figure.

Part 2 measures the same effect at initialisation in a wide deep MLP (``mlp_depth`` hidden
layers of ``mlp_width`` units, linear scalar output, squared loss on a batch of Gaussian inputs
and Gaussian targets): the gradient norm per layer for each activation and for three
initialisations, naive N(0, 1), Glorot (variance 2 / (fan_in + fan_out)) and He (2 / fan_in).
"""
from __future__ import annotations

import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from overfitlab.engine.train import COMPILER_OPTIONS
from overfitlab.experiments.configs.vanishing_gradient import ANSWER_LENGTH, VanishingGradientConfig
from overfitlab.experiments.base import (
    Answer,
    Experiment,
    Progress,
    Result,
    band,
    no_progress,
)
from overfitlab.plots.gradients import chain_gradient_figure, chain_profile_figure, mlp_init_figure
from overfitlab.theory.chain import (
    SIGMOID_DERIVATIVE_MAX,
    gradient_bound,
    init_chain,
    switch_activation,
    train,
)

ACTIVATION_NAMES = ("sigmoid", "tanh", "relu")
INIT_NAMES = ("naive", "glorot", "he")
BOUND_RTOL = 1e-5  # float32 rounding allowance when checking the bound
MLP_STREAM = 0  # random stream of the MLP draws (chain lengths are >= 3, so never clash)


# ----------------------------------------------------------------------------- the chain


@partial(jax.jit, static_argnames=("epochs",), compiler_options=COMPILER_OPTIONS)
def _chain_runs(w, b, epochs: int, x, learning_rate):
    """Train every (activation, seed) chain from the initial (w, b) of shape (seed, L-1); the
    same draws serve every activation. Histories have leading axes (activation, seed)."""
    y = jnp.sin(x)

    def one(index, w, b):
        return train(w, b, x, y, switch_activation(ACTIVATION_NAMES, index), learning_rate,
                     epochs)

    per_seed = jax.vmap(one, in_axes=(None, 0, 0))
    return jax.vmap(per_seed, in_axes=(0, None, None))(jnp.arange(len(ACTIVATION_NAMES)), w, b)


def _seed_median(values: np.ndarray) -> np.ndarray:
    """Median over the last axis (layers), one value per seed; zeros (dead units) excluded."""
    v = np.where(np.isfinite(values) & (values > 0), values, np.nan)
    return np.nanmedian(v, axis=-1)


# ----------------------------------------------------------------------------- wide MLPs


def _init_std(depth: int, width: int) -> np.ndarray:
    """Weight standard deviation per layer (depth hidden layers + output), one row per init.

    naive: 1; Glorot: sqrt(2 / (fan_in + fan_out)); He: sqrt(2 / fan_in).
    """
    fan_in = np.full(depth + 1, width, dtype=float)
    fan_out = np.append(np.full(depth, width, dtype=float), 1.0)
    return np.stack([np.ones(depth + 1), np.sqrt(2 / (fan_in + fan_out)), np.sqrt(2 / fan_in)])


def _safe_norm(g: jax.Array) -> jax.Array:
    """Frobenius norm computed as m * ||g / m|| with m = max |g|, so huge gradients stay finite."""
    m = jnp.max(jnp.abs(g))
    scaled = jnp.where(m > 0, g / jnp.where(m > 0, m, 1.0), 0.0)
    return m * jnp.sqrt(jnp.sum(scaled**2))


def _mlp_draws(rng: np.random.Generator, depth: int, width: int, batch: int, seeds: int):
    """Standard-normal inputs x (seed, batch, width), targets t (seed, batch), hidden weights
    (seed, depth, width, width) and output weights (seed, width), float32."""
    def normal(*shape):
        return jnp.asarray(rng.standard_normal((seeds, *shape), dtype=np.float32))

    return normal(batch, width), normal(batch), normal(depth, width, width), normal(width)


@partial(jax.jit, compiler_options=COMPILER_OPTIONS)
def _mlp_grad_norms(stds, x, t, hidden, out):
    """||dLoss/dW_l||_F for the hidden layers of a bias-free MLP at initialisation.

    Layer l maps h to phi(h W_l) with W_l = std_l * (standard-normal draw); the output is the
    linear h_depth w_out and Loss = mean over the batch of (output - t)^2 / 2. Axes of the
    result: (activation, init, seed, layer). The same draws serve every activation and every
    initialisation: only the scale ``stds`` (init, depth + 1) differs.
    """

    def one(index, std, x, t, hidden, out):
        act = switch_activation(ACTIVATION_NAMES, index)

        def loss(hidden, out):
            h, _ = lax.scan(lambda h, w: (act.phi(h @ w), None), x, hidden)
            return 0.5 * jnp.mean((h @ out - t) ** 2)

        grad = jax.grad(loss)(hidden * std[:-1, None, None], out * std[-1])
        return jax.vmap(_safe_norm)(grad)

    over_seeds = jax.vmap(one, in_axes=(None, None, 0, 0, 0, 0))
    over_inits = jax.vmap(over_seeds, in_axes=(None, 0, None, None, None, None))
    return jax.vmap(over_inits, in_axes=(0, None, None, None, None, None))(
        jnp.arange(len(ACTIVATION_NAMES)), stds, x, t, hidden, out
    )


# ----------------------------------------------------------------------------- run


def _max_sigmoid_derivative() -> tuple[float, float]:
    """max of s(z)(1 - s(z)) on a grid of step 1e-4 over [-10, 10] (float64), and where."""
    z = np.linspace(-10.0, 10.0, 200_001)
    s = 1.0 / (1.0 + np.exp(-z))
    d = s * (1.0 - s)
    i = int(np.argmax(d))
    return float(d[i]), float(z[i])


def run(config: VanishingGradientConfig, progress: Progress = no_progress) -> Result:
    start = time.perf_counter()
    metrics: dict[str, float] = {}
    arrays: dict[str, np.ndarray] = {}
    notes: list[str] = []

    d_max, z_at = _max_sigmoid_derivative()
    metrics["max_sigmoid_derivative"] = d_max
    metrics["argmax_sigmoid_derivative"] = z_at

    grads: dict[tuple[str, int], np.ndarray] = {}  # (activation, L) -> |dC/dw|, (seed, epoch, L-1)
    profiles: dict[tuple[str, int], np.ndarray] = {}  # |dC/dw_l| / |dC/db_{L-1}| at init
    bound_layer1: dict[int, np.ndarray] = {}  # sigmoid bound on layer 1, (seed, epoch)
    ratios: dict[tuple[str, int], np.ndarray] = {}  # per-seed median |dw_l| / |dw_{l+1}|
    factors: dict[tuple[str, int], np.ndarray] = {}  # per-seed median phi'(z_l)
    first_last: dict[tuple[str, int], np.ndarray] = {}
    checked = violations = 0
    slack: list[np.ndarray] = []

    for i, length in enumerate(config.lengths):
        progress(i / (len(config.lengths) + 1), f"chain L={length}")
        # one generator per length: a length's draws do not depend on the other lengths
        w0, b0 = init_chain(np.random.default_rng([config.seed, length]), length, config.seeds)
        hist = jax.device_get(_chain_runs(w0, b0, config.epochs, config.x, config.learning_rate))
        dw, db = np.abs(np.asarray(hist.dw)), np.abs(np.asarray(hist.db))
        w_abs = np.abs(np.asarray(w0))
        for a, name in enumerate(ACTIVATION_NAMES):
            k = (name, length)
            grads[k] = dw[a]
            arrays[f"grad_w_{name}_L{length}"] = dw[a]
            init_w, init_b = dw[a, :, 0], db[a, :, 0]  # (seed, layer) at epoch 0
            profiles[k] = init_w / init_b[:, -1:]
            ratios[k] = _seed_median(init_w[:, :-1] / init_w[:, 1:])
            # phi'(z_l) = |delta_l| / (|delta_(l+1)| |w_(l+1)|), read off the recurrence
            with np.errstate(divide="ignore", invalid="ignore"):
                factors[k] = _seed_median(init_b[:, :-1] / (init_b[:, 1:] * w_abs[:, 1:]))
            first_last[k] = init_w[:, 0] / init_w[:, -1]
            if length == ANSWER_LENGTH and name == "sigmoid":
                # a_(l-1) / a_l = (|dC/dw_l| / |delta_l|) / (|dC/dw_(l+1)| / |delta_(l+1)|)
                a_in = init_w / init_b
                a_ratio = a_in[:, :-1] / a_in[:, 1:]
                metrics["sigmoid_L10_activation_ratio_min"] = float(a_ratio.min())
                metrics["sigmoid_L10_activation_ratio_max"] = float(a_ratio.max())
            for stat, values in (("layer_ratio", ratios[k]), ("activation_factor", factors[k]),
                                 ("first_to_last_ratio", first_last[k])):
                metrics[f"{name}_L{length}_{stat}"] = float(np.median(values))
            moved = np.abs(np.asarray(hist.w_final[a]) - np.asarray(w0))  # (seed, layer)
            with np.errstate(divide="ignore", invalid="ignore"):
                metrics[f"{name}_L{length}_weight_change_first_to_last"] = float(
                    np.nanmedian(moved[:, 0] / moved[:, -1]))
            frozen = int(np.sum(moved[:, 0] == 0))
            metrics[f"{name}_L{length}_frozen_first_weight_runs"] = frozen
            if frozen and name == "sigmoid":
                notes.append(f"sigmoid, L={length}: in {frozen} of {config.seeds} runs w_1 did not "
                             f"move at all in {config.epochs} epochs: each update eta dC/dw_1 was "
                             "below half a float32 spacing of w_1, so w_1 - update rounds to w_1.")
            dead = int(np.sum(np.all(dw[a, :, -1] == 0, axis=-1)))
            metrics[f"{name}_L{length}_dead_runs"] = dead
            if dead:
                notes.append(f"{name}, L={length}: {dead} of {config.seeds} runs ended with every "
                             "gradient exactly 0 (a unit's pre-activation turned negative: a dead "
                             "ReLU); their zeros are left out of the log plots and medians.")
        # the bound, checked at every epoch where all |w_k| <= 1 (sigmoid only)
        s = ACTIVATION_NAMES.index("sigmoid")
        bound = gradient_bound(db[s, :, :, -1], length)  # (seed, epoch, L-1)
        premise = (np.asarray(hist.w_max[s]) <= 1.0) & (db[s, :, :, -1] > 0)  # (seed, epoch)
        bound_layer1[length] = np.where(premise, bound[:, :, 0], np.nan)
        held, limit = dw[s][premise], bound[premise]  # (states, L-1)
        checked += held.size
        violations += int(np.sum(held > limit * (1 + BOUND_RTOL)))
        slack.append((held / limit)[:, :-1].ravel())
        arrays[f"w_init_L{length}"] = np.asarray(w0)

    metrics["sigmoid_bound_checks"] = checked
    metrics["sigmoid_bound_violations"] = violations
    metrics["sigmoid_bound_ratio_median"] = float(np.median(np.concatenate(slack)))

    progress(len(config.lengths) / (len(config.lengths) + 1), "wide MLPs at initialisation")
    draws = _mlp_draws(np.random.default_rng([config.seed, MLP_STREAM]), config.mlp_depth,
                       config.mlp_width, config.mlp_batch, config.seeds)
    stds = jnp.asarray(_init_std(config.mlp_depth, config.mlp_width), dtype=jnp.float32)
    norms = np.asarray(_mlp_grad_norms(stds, *draws))
    arrays["mlp_grad_norms"] = norms
    overflow = int(np.sum(~np.isfinite(norms)))
    if overflow:
        notes.append(f"{overflow} MLP gradient norms overflowed float32 (left out of the plot).")
    mlp: dict[tuple[str, str], np.ndarray] = {}
    for a, act in enumerate(ACTIVATION_NAMES):
        for j, init in enumerate(INIT_NAMES):
            mlp[(act, init)] = norms[a, j]
            metrics[f"mlp_{act}_{init}_first_to_last_ratio"] = float(
                np.median(norms[a, j, :, 0] / norms[a, j, :, -1]))
            metrics[f"mlp_{act}_{init}_first_layer_norm"] = float(np.median(norms[a, j, :, 0]))
        summary = ", ".join(f"{init} {metrics[f'mlp_{act}_{init}_first_to_last_ratio']:.2g}"
                            for init in INIT_NAMES)
        notes.append(f"Deep MLP, {act}: median ||dLoss/dW_1|| / ||dLoss/dW_{config.mlp_depth}|| "
                     f"at initialisation: {summary}.")

    answers = _answers(config, metrics, ratios, factors, first_last)
    figures = {
        "chain_gradients.png": chain_gradient_figure(grads, bound_layer1, config.lengths,
                                                     ACTIVATION_NAMES),
        "chain_profile.png": chain_profile_figure(profiles, config.lengths, ACTIVATION_NAMES,
                                                  SIGMOID_DERIVATIVE_MAX),
        "mlp_init.png": mlp_init_figure(mlp, ACTIVATION_NAMES, INIT_NAMES, config.mlp_width),
    }
    longest = max(config.lengths)
    ratio = lambda name: metrics[f"{name}_L{longest}_first_to_last_ratio"]  # noqa: E731
    captions = {
        "chain_gradients.png": f"|dC/dw_l| of every layer during training, one row per "
                               f"activation and one column per chain length (dark = next to the "
                               f"input): look at the spread between layers; the sigmoid bound "
                               f"(dashed) held in {checked - violations:,} of {checked:,} checks.",
        "chain_profile.png": f"Gradient of each layer relative to the output error at "
                             f"initialisation, against the sigmoid bound (1/4)^(L-1-l): in the "
                             f"L = {longest} chain the first layer gets {ratio('sigmoid'):.2g} of "
                             f"the last layer's gradient with sigmoid, {ratio('tanh'):.2g} with "
                             f"tanh and {ratio('relu'):.2g} with ReLU.",
        "mlp_init.png": f"Gradient norm per hidden layer of a {config.mlp_depth}-layer, "
                        f"{config.mlp_width}-unit MLP at initialisation, by activation and "
                        f"initialisation: a flat line means every layer learns at the same pace "
                        f"(first/last ratio with sigmoid: " + ", ".join(
                            f"{init} {metrics[f'mlp_sigmoid_{init}_first_to_last_ratio']:.2g}"
                            for init in INIT_NAMES) + ").",
    }
    notes.append(f"Answers use the chain with L={ANSWER_LENGTH} at initialisation (epoch 0), "
                 f"{config.seeds} seeds; ratios are per-seed medians over layers.")
    progress(1.0, "done")
    return Result(experiment="vanishing-gradient", config=config, metrics=metrics,
                  answers=answers, figures=figures, arrays=arrays, notes=notes,
                  elapsed_s=time.perf_counter() - start, captions=captions)


def _answers(config: VanishingGradientConfig, metrics: dict[str, float], ratios: dict,
             factors: dict, first_last: dict) -> list[Answer]:
    """The five answers, from per-seed statistics of the chain of ANSWER_LENGTH neurons."""
    L = ANSWER_LENGTH
    sig_ratio, relu_ratio = ratios[("sigmoid", L)], ratios[("relu", L)]
    sig_fl, relu_fl = first_last[("sigmoid", L)], first_last[("relu", L)]
    sig_factor, relu_factor = factors[("sigmoid", L)], factors[("relu", L)]

    def banded(values):
        med, lo, hi = band(values)
        return float(med), float(lo), float(hi)

    r_med, r_lo, r_hi = banded(sig_ratio)
    q_med, q_lo, q_hi = banded(relu_ratio)
    f_sig, f_relu = float(np.median(sig_factor)), float(np.median(relu_factor))
    s_med, s_lo, s_hi = banded(sig_fl)
    u_med, u_lo, u_hi = banded(relu_fl)
    return [
        Answer(
            "max_sigmoid_derivative",
            "What is the maximum value of the derivative of the sigmoid?",
            metrics["max_sigmoid_derivative"],
            f"sigma'(z) = sigma(z)(1 - sigma(z)) is a product of two numbers summing to 1, so it "
            f"is largest when both are 1/2, i.e. at z = 0, where it equals 1/4. On a float64 grid "
            f"of step 1e-4 over [-10, 10] the maximum is {metrics['max_sigmoid_derivative']:.6g}, "
            f"at z = {metrics['argmax_sigmoid_derivative']:.3g}.",
        ),
        Answer(
            "gradient_decay_per_layer",
            "By what factor does |dC/dw_l| shrink per layer towards the input (sigmoid, "
            f"weights in [0, 1), L = {L})?",
            r_med,
            f"Each step of the recurrence multiplies the error by w_(l+1) sigma'(z_l), which is at "
            f"most 1/4 when |w| <= 1. Measured at initialisation, the median ratio "
            f"|dC/dw_l| / |dC/dw_(l+1)| is {r_med:.3g} (10-90 % across seeds {r_lo:.3g}-"
            f"{r_hi:.3g}), well under the bound 1/4: the median sigma'(z_l) is {f_sig:.3g} "
            f"(sigma' reaches 1/4 only at z = 0) and the weights, uniform in [0, 1), add their "
            f"own factor (median 1/2). The weight gradient also carries a_(l-1) / a_l, measured "
            f"between {metrics['sigmoid_L10_activation_ratio_min']:.2g} and "
            f"{metrics['sigmoid_L10_activation_ratio_max']:.2g}. Across all lengths and "
            f"{int(metrics['sigmoid_bound_checks'])} recorded layer gradients (every epoch, "
            f"seed and layer with all |w| <= 1), the bound "
            f"|dC/dw_l| <= (1/4)^(L-1-l) |dC/db_(L-1)| failed "
            f"{int(metrics['sigmoid_bound_violations'])} times; the median of the gradient over "
            f"its bound is {metrics['sigmoid_bound_ratio_median']:.2g}.",
            r_lo, r_hi,
        ),
        Answer(
            "relu_no_vanishing",
            "Why does the ReLU not suffer from the vanishing gradient?",
            q_med,
            f"On its active side (z > 0) the ReLU's derivative is exactly 1, so the recurrence "
            f"delta_l = delta_(l+1) w_(l+1) relu'(z_l) only multiplies by the weight; the sigmoid "
            f"multiplies by sigma'(z_l) <= 1/4 at every layer as well. Measured (L = {L}, at "
            f"initialisation): median activation factor {f_relu:.3g} for ReLU vs {f_sig:.3g} for "
            f"the sigmoid; median per-layer gradient ratio {q_med:.3g} for ReLU (10-90 %: "
            f"{q_lo:.3g}-{q_hi:.3g}) vs {r_med:.3g} for the sigmoid. What decay ReLU keeps here "
            f"comes from the weights drawn in [0, 1), not from the activation; a weight scale "
            f"near 1 (He initialisation in wide layers) removes it. The price is dead units: a "
            f"negative pre-activation gives derivative 0 and the gradient stops altogether "
            f"({int(metrics[f'relu_L{L}_dead_runs'])} of {config.seeds} ReLU chains of length "
            f"{L} died during training).",
            q_lo, q_hi,
        ),
        Answer(
            "first_to_last_gradient_ratio_sigmoid_L10",
            f"|dC/dw_1| / |dC/dw_(L-1)| at initialisation, sigmoid chain, L = {L}",
            s_med,
            f"The first layer's gradient is {s_med:.3g} times the output layer's (median over "
            f"{config.seeds} seeds; 10-90 %: {s_lo:.3g}-{s_hi:.3g}): {L - 2} factors of about "
            f"{r_med:.2g}. The bound allows at most (1/4)^{L - 2} = {0.25 ** (L - 2):.3g} times "
            f"the output error (times a_0 / a_(L-2) <= 2 for the weights).",
            s_lo, s_hi,
        ),
        Answer(
            "first_to_last_gradient_ratio_relu_L10",
            f"|dC/dw_1| / |dC/dw_(L-1)| at initialisation, ReLU chain, L = {L}",
            u_med,
            f"With ReLU the first layer's gradient is {u_med:.3g} times the output layer's "
            f"(median; 10-90 %: {u_lo:.3g}-{u_hi:.3g}), about {u_med / s_med:.2g} times the "
            f"sigmoid's ratio {s_med:.3g}. What remains is a_0 / a_(L-2) times the product of "
            f"the weights w_2 .. w_(L-1), drawn in [0, 1); the activation contributes 1.",
            u_lo, u_hi,
        ),
    ]


EXPERIMENT = Experiment(
    name="vanishing-gradient",
    description="Gradients through an L-neuron chain (hand backprop, sigmoid/tanh/ReLU, the "
                "(1/4)^depth bound) and through deep wide MLPs under three initialisations.",
    config_class=VanishingGradientConfig,
    run=run,
    order=90,
)
