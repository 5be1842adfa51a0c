"""bias-variance: where the test error of the course's network comes from, knob by knob.

The course's training set (``n_train`` points of a regular grid of [-1, 1], y = f(x) + eps,
eps ~ N(0, noise^2)) is drawn ``data_sets`` times with independent noise (D *data sets*), and on
each data set the 1-H-1 tanh network is trained from independent Glorot initialisations (S per
data set). Every network of a setting is trained in the same compiled call, each on its own
targets. Predictions on a fine grid of [-1, 1], where f is known, give the expected test MSE of
the setting and its decomposition (:mod:`overfitlab.theory.bias_variance`):

    E[(y - f_ds(x))^2] = noise^2 + bias^2 + Var_d(E_s f_ds) + E_d[Var_s f_ds]
                                           (data variance)  (initialisation variance)

averaged over the grid (uniform x, as the course's test set). A *repetition* (what ``seeds``
counts, and what the 10-90 % bands run over) is an independent block of D data sets with their
networks; each block gives one unbiased estimate of every component.

Knobs, each swept from the base setting (the course's network: ``hidden_units`` tanh units, L2
``alpha``, no dropout, ``n_train`` points, ``max_iter`` full-batch Adam iterations), the base
value being added to every sweep:

* L2 ``alphas``, hidden ``widths`` (surplus units masked off, which trains exactly a narrower
  network), ``dropout_rates``, training-set sizes ``n_values``: S = ``inits`` per data set;
  within a knob every value starts from the same initial weights and sees the same data sets
  (common random numbers, so differences between values are not sampling noise);
* training iterations (early stopping): the base networks' predictions at ``checkpoints``
  (training runs in equal segments, each continuing the previous one's weights and Adam state);
* ensemble size K: the base setting has S = ``members`` initialisations per data set, grouped
  into members/K ensembles of K (an ensemble is a model; its initialisation variance is the
  single network's divided by K);
* bagging: the same ``members`` initialisations, each trained on a bootstrap resample of its data
  set (sample weights = bootstrap counts); the "initialisation" variance of a bagged member
  includes the resampling.

Networks whose loss diverged are left out (their data set drops out of its block), counted in
``metrics["diverged"]``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import jax
import numpy as np

from overfitlab.data.synthetic import TARGETS
from overfitlab.engine import threefry
from overfitlab.engine.mlp import init_stack
from overfitlab.engine.train import Hyper, make_hyper, seed_keys, train
from overfitlab.errors import DivergedError
from overfitlab.experiments.configs.bias_variance import BiasVarianceConfig
from overfitlab.experiments._course import course_spec, predict
from overfitlab.experiments.base import Answer, Experiment, Progress, Result, no_progress
from overfitlab.experiments.ensemble import bootstrap_counts
from overfitlab.experiments.small_network import masked_small_networks
from overfitlab.progress import scaled
from overfitlab.stats import band, float_band, integer_band
from overfitlab.theory.bias_variance import BiasVariance, decompose

COMPONENTS = ("bias2", "data_variance", "init_variance", "expected_mse")
"""What each knob's table holds, per value and repetition (``noise`` is a constant)."""


@dataclass(frozen=True)
class Knob:
    """One swept knob: its values and each component per (repetition, value)."""

    name: str
    label: str
    values: list
    table: dict[str, np.ndarray]  # component -> (R, V)
    log_x: bool = False

    def median(self, component: str) -> np.ndarray:
        return band(self.table[component])[0]

    def variance(self) -> np.ndarray:
        """Total variance per (repetition, value)."""
        return self.table["data_variance"] + self.table["init_variance"]


def knob(name: str, label: str, values, parts: list[BiasVariance], log_x: bool = False) -> Knob:
    """A :class:`Knob` from one decomposition (over repetitions) per value."""
    table = {c: np.stack([np.asarray(getattr(p, c), np.float64) for p in parts], axis=1)
             for c in COMPONENTS}
    return Knob(name, label, list(values), table, log_x)


def _rng(config: BiasVarianceConfig, *stream: int) -> np.random.Generator:
    """An independent NumPy generator per purpose (``stream``), all derived from the seed."""
    return np.random.default_rng(np.random.SeedSequence([config.seed, *stream]))


def _keys(config: BiasVarianceConfig, stream: int, n: int) -> np.ndarray:
    """``n`` PRNG keys (dropout masks, shuffling) for the networks of one training call."""
    return seed_keys(int(np.random.SeedSequence([config.seed, stream]).generate_state(1)[0]), n)


def _targets(config: BiasVarianceConfig, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (n,) and R x D noisy target draws (R, D, n) of an n-point training set."""
    x = np.linspace(-1.0, 1.0, n)
    eps = _rng(config, 1, n).normal(0.0, config.noise, (config.seeds, config.data_sets, n))
    return x, TARGETS[config.target](x) + eps


def _hypers(config: BiasVarianceConfig, alpha, masks=None, weights=None, dropout=None) -> Hyper:
    """Stacked hyper-parameters of B networks: per-network ``alpha`` (B,) and optional unit masks
    (B, H), sample weights (B, n) and dropout rates (B,)."""
    alpha = np.asarray(alpha, np.float32)
    B = alpha.shape[0]
    one = make_hyper(0.0, learning_rate=config.learning_rate)
    hyper = jax.tree_util.tree_map(lambda a: np.broadcast_to(a, (B,)).copy(), one)
    return hyper._replace(
        alpha=alpha, dropout=hyper.dropout if dropout is None else np.asarray(dropout, np.float32),
        unit_masks=None if masks is None else (np.asarray(masks, np.float32),),
        sample_weight=None if weights is None else np.asarray(weights, np.float32))


class _Batch:
    """Networks trained in one compiled call, assembled group by group.

    Each group is a (R, D, S) block of networks; ``add`` appends its initial weights, hyper
    leaves and per-network data, ``split`` cuts the stacked predictions back into groups.
    """

    def __init__(self):
        self.groups: list[tuple[str, tuple[int, int, int]]] = []
        self.parts: dict[str, list] = {k: [] for k in
                                       ("params", "alpha", "masks", "weights", "dropout",
                                        "X", "y")}

    def add(self, name, shape, params, alpha, masks=None, weights=None, dropout=0.0, X=None,
            y=None):
        B = int(np.prod(shape))
        self.groups.append((name, shape))
        self.parts["params"].append(params)
        self.parts["alpha"].append(np.full(B, alpha))
        self.parts["masks"].append(masks)
        self.parts["weights"].append(weights)
        self.parts["dropout"].append(np.full(B, dropout))
        self.parts["X"].append(X)
        self.parts["y"].append(y)

    def stacked(self, name: str):
        items = self.parts[name]
        if name == "params":
            return jax.tree_util.tree_map(lambda *a: np.concatenate(a), *items)
        if all(i is None for i in items):
            return None
        return np.concatenate(items)

    def split(self, preds: np.ndarray) -> dict[str, np.ndarray]:
        out, start = {}, 0
        for name, shape in self.groups:
            size = int(np.prod(shape))
            out[name] = preds[start:start + size].reshape(shape + preds.shape[1:])
            start += size
        return out


def _grid_predictions(params, grid, activation, masks, diverged) -> np.ndarray:
    """Predictions (B, n_grid) in float64, NaN for diverged networks."""
    preds = predict(params, grid[:, None], activation,
                    masks=None if masks is None else [masks])
    preds[np.asarray(diverged, bool)] = np.nan
    return preds


def key(knob: str, value) -> str:
    """Name of the group of networks trained with ``knob`` set to ``value``."""
    return f"{knob}={value!r}"


def _initial_weights(config: BiasVarianceConfig):
    """Glorot initialisations (R*D*M, ...) of the base setting's networks, and the first
    ``inits`` of each data set's (R*D*I, ...), which every swept setting of the same width
    starts from."""
    R, D, M, I = config.seeds, config.data_sets, config.members, config.inits
    theta = init_stack(_rng(config, 2), R * D * M, (1, config.hidden_units, 1),
                       config.activation)
    first = jax.tree_util.tree_map(
        lambda a: a.reshape((R, D, M) + a.shape[1:])[:, :, :I].reshape((-1,) + a.shape[1:]),
        theta)
    return theta, first


def _train_base_program(config, x, y, grid, theta, theta_i, progress: Progress):
    """The base setting (``members`` per data set), its bagged twin, and the alpha and width
    sweeps (``inits`` per data set): one compiled program, run in equal segments so that the base
    networks' predictions are read at every checkpoint. Returns (groups of predictions at the
    end, base predictions per checkpoint (C, R, D, M, G), the base networks' median squared
    weight norm per checkpoint (C,), number of diverged networks)."""
    R, D, M, I = config.seeds, config.data_sets, config.members, config.inits
    H, n = config.hidden_units, x.shape[0]
    ones_mask, ones_w = np.ones((R * D * M, H)), np.ones((R * D * M, n))
    per_net_y = lambda S: np.repeat(y.reshape(R * D, n), S, axis=0)  # noqa: E731
    batch = _Batch()
    batch.add("base", (R, D, M), theta, config.alpha, ones_mask, ones_w, y=per_net_y(M))
    counts = bootstrap_counts(_rng(config, 3), R * D * M, n)
    batch.add("bagged", (R, D, M), theta, config.alpha, ones_mask, counts, y=per_net_y(M))
    for a in config.alpha_values():
        if a != config.alpha:
            batch.add(key("alpha", a), (R, D, I), theta_i, a, ones_mask[:R * D * I],
                      ones_w[:R * D * I], y=per_net_y(I))
    widths = [w for w in config.width_values() if w != H]
    if widths:
        k_w = threefry.fold_in(threefry.prng_key(config.seed), 4)
        p_w, m_w = masked_small_networks(k_w, R * D * I, widths, H, config.activation)
        for j, w in enumerate(widths):
            rows = slice(j * R * D * I, (j + 1) * R * D * I)
            batch.add(key("width", w), (R, D, I), jax.tree_util.tree_map(lambda a: a[rows], p_w),
                      config.alpha, m_w[rows], ones_w[:R * D * I], y=per_net_y(I))

    params = batch.stacked("params")
    masks = batch.stacked("masks")
    hyper = _hypers(config, batch.stacked("alpha"), masks, batch.stacked("weights"))
    Y = batch.stacked("y")[..., None].astype(np.float32)
    keys = _keys(config, 5, Y.shape[0])
    seg = config.segment()
    spec = course_spec(config, seg, record_loss_curve=False)
    X = x[:, None].astype(np.float32)
    checkpoints = config.iterations()
    base_rows = slice(0, R * D * M)
    diverged = np.zeros(Y.shape[0], bool)
    opt_state, at_checkpoint, norms = None, [], []
    for k in range(config.max_iter // seg):
        out = train(spec, params, keys, hyper, X, Y, opt_state=opt_state)
        params, opt_state = out.params, out.opt_state
        diverged |= np.asarray(out.diverged)
        t = (k + 1) * seg
        if t in checkpoints:
            base = jax.tree_util.tree_map(lambda a: np.asarray(a)[base_rows], params)
            at_checkpoint.append(_grid_predictions(base, grid, config.activation,
                                                   masks[base_rows], diverged[base_rows]))
            norms.append(float(np.median(sum(np.sum(W ** 2, axis=(1, 2))
                                             for W in base["coefs"]))))
        progress(t / config.max_iter, f"iteration {t} of {config.max_iter}")
    preds = _grid_predictions(params, grid, config.activation, masks, diverged)
    curves = np.stack(at_checkpoint).reshape((len(checkpoints), R, D, M, -1))
    return batch.split(preds), curves, np.array(norms), int(diverged.sum())


def _train_sweeps(config, grid, theta_i, progress: Progress):
    """Every dropout rate > 0 and every training-set size but the base one, from the same
    ``inits`` initial weights: one compiled call (one compilation fewer than two calls).

    Each network's data are padded to the largest size with zero-weight rows, which is exact:
    the loss and the L2 term are normalised by the sum of the sample weights. Networks of rate 0
    draw dropout masks of ones, which is exact too.
    """
    R, D, I = config.seeds, config.data_sets, config.inits
    rates = [r for r in config.rate_values() if r > 0]
    sizes = [n for n in config.n_train_values() if n != config.n_train]
    if not rates and not sizes:
        return {}, 0
    n_max = max(sizes + [config.n_train])
    batch = _Batch()
    B = R * D * I

    def add(name, n, dropout):
        x, y = _targets(config, n)
        pad = lambda a: np.pad(a, ((0, 0), (0, n_max - n)))  # noqa: E731
        batch.add(name, (R, D, I), theta_i, config.alpha, dropout=dropout,
                  weights=np.repeat(pad(np.ones((1, n))), B, axis=0),
                  X=np.repeat(pad(x[None]), B, axis=0),
                  y=np.repeat(pad(y.reshape(R * D, n)), I, axis=0))

    for r in rates:
        add(key("dropout", r), config.n_train, r)
    for n in sizes:
        add(key("n_train", n), n, 0.0)
    hyper = _hypers(config, batch.stacked("alpha"), weights=batch.stacked("weights"),
                    dropout=batch.stacked("dropout"))
    X = batch.stacked("X")[..., None].astype(np.float32)
    Y = batch.stacked("y")[..., None].astype(np.float32)
    out = train(course_spec(config, use_dropout=bool(rates), record_loss_curve=False),
                batch.stacked("params"), _keys(config, 6, X.shape[0]), hyper, X, Y,
                progress=progress)
    preds = _grid_predictions(out.params, grid, config.activation, None, out.diverged)
    return batch.split(preds), int(np.sum(out.diverged))


def _ensembles(preds: np.ndarray, k: int) -> np.ndarray:
    """(R, D, M, G) member predictions -> (R, D, M/k, G) predictions of ensembles of k."""
    R, D, M, G = preds.shape
    return preds.reshape(R, D, M // k, k, G).mean(axis=3)


def _knobs(config: BiasVarianceConfig, groups: dict, curves: np.ndarray, truth) -> dict:
    """Decompose every setting of every knob (each value: one estimate per repetition)."""
    dec = lambda preds: decompose(preds, truth, config.noise ** 2)  # noqa: E731
    swept = lambda name, label, values, log_x=True: knob(  # noqa: E731
        name, label, values, [dec(groups[key(name, v)]) for v in values], log_x)
    sizes = config.ensemble_sizes()
    return {
        "alpha": swept("alpha", "L2 alpha", config.alpha_values()),
        "width": swept("width", "hidden units", config.width_values()),
        "dropout": swept("dropout", "dropout rate", config.rate_values(), log_x=False),
        "n_train": swept("n_train", "training points n", config.n_train_values()),
        "iterations": knob("iterations", "training iterations", config.iterations(),
                           [dec(c) for c in curves], log_x=True),
        "ensemble": knob("ensemble", "ensemble size K", sizes,
                         [dec(_ensembles(groups["base"], k)) for k in sizes], log_x=True),
        "bagging": knob("bagging", "bagged ensemble size K", sizes,
                        [dec(_ensembles(groups["bagged"], k)) for k in sizes], log_x=True),
    }


def run(config: BiasVarianceConfig, progress: Progress = no_progress) -> Result:
    """Train every setting, decompose each, and answer from the decompositions."""
    start = time.perf_counter()
    R, D = config.seeds, config.data_sets
    grid = np.linspace(-1.0, 1.0, config.grid_points)
    truth = TARGETS[config.target](grid)
    x, y = _targets(config, config.n_train)
    theta, theta_i = _initial_weights(config)
    progress(0.01, f"training {config.n_networks()} networks")
    groups, curves, norms, n_div = _train_base_program(config, x, y, grid, theta, theta_i,
                                                       scaled(progress, 0.01, 0.6))
    swept, s_div = _train_sweeps(config, grid, theta_i, scaled(progress, 0.6, 0.95))
    n_div += s_div
    groups.update(swept)
    if n_div == config.n_networks():
        raise DivergedError(f"all {n_div} networks diverged; lower --set learning_rate (now "
                            f"{config.learning_rate:g})")
    base = groups["base"]
    for name, value in (("alpha", config.alpha), ("width", config.hidden_units),
                        ("dropout", 0.0), ("n_train", config.n_train)):
        groups[key(name, value)] = base
    progress(0.95, "decomposing")
    knobs = _knobs(config, groups, curves, truth)
    mc = _fresh_noise_check(config, base, truth)
    answers = _answers(config, knobs, y - TARGETS[config.target](x), mc, norms, n_div)

    from overfitlab.plots.bias_variance import decomposition_figure, ensembles_figure, fits_figure

    alpha = knobs["alpha"]
    settings = [int(np.argmin(alpha.median("bias2"))),
                int(np.argmin(band(alpha.variance())[0]))]
    figures = {
        "decomposition.png": decomposition_figure(
            [knobs[k] for k in ("alpha", "width", "dropout", "n_train", "iterations")],
            config.noise ** 2),
        "ensembles.png": ensembles_figure(knobs["ensemble"], knobs["bagging"], config.noise ** 2),
        "fits.png": fits_figure(grid, truth, x, y[0],
                                [groups[key("alpha", alpha.values[i])][0] for i in settings],
                                alpha, settings),
    }
    first, last = 0, len(alpha.values) - 1
    variance = band(alpha.variance())[0]
    ens, bag = knobs["ensemble"], knobs["bagging"]
    captions = {
        "decomposition.png": (
            f"The expected test MSE split into noise ({config.noise ** 2:g}), bias², data "
            f"variance and initialisation variance against each knob (median over {R} "
            f"repetitions of {D} data sets). Follow one layer across a panel: from alpha = "
            f"{alpha.values[first]:g} to {alpha.values[last]:g} the bias² goes from "
            f"{alpha.median('bias2')[first]:.2g} to {alpha.median('bias2')[last]:.2g} and the "
            f"variance from {variance[first]:.2g} to {variance[last]:.2g}."),
        "ensembles.png": (
            f"Ensembles of K initialisations against bagging: the initialisation variance of "
            f"a plain ensemble goes from {ens.median('init_variance')[0]:.2g} at K = "
            f"{ens.values[0]} to {ens.median('init_variance')[-1]:.2g} at K = {ens.values[-1]}, "
            f"while its data variance stays near {ens.median('data_variance')[-1]:.2g}; compare "
            f"bagging's layers (data variance {bag.median('data_variance')[-1]:.2g} at K = "
            f"{bag.values[-1]})."),
        "fits.png": (
            f"Fits of several data sets at alpha = {alpha.values[settings[0]]:g} (the lowest "
            f"bias²) and alpha = {alpha.values[settings[1]]:g} (the lowest variance): look at "
            f"how far the curves of different data sets spread around x² and around each "
            f"other."),
    }
    arrays = {"grid": grid, "truth": truth, "x_train": x, "y_train": y,
              "base_predictions_block0": base[0].astype(np.float32)}
    for k in knobs.values():
        arrays[f"{k.name}_values"] = np.asarray(k.values, np.float64)
        arrays.update({f"{k.name}_{c}": k.table[c] for c in COMPONENTS})
    notes = [f"{R} repetitions (independent blocks of {D} data sets, the bands run over them); "
             f"{config.members} initialisations per data set for the base setting, ensembles and "
             f"bagging, {config.inits} for the other settings; {config.n_networks()} networks.",
             "bias^2 and the variances are unbiased estimates: a small negative value is zero "
             "within sampling error."]
    if n_div:
        notes.append(f"{n_div} networks diverged and were left out with their data sets.")
    progress(1.0, "done")
    return Result("bias-variance", config, _metrics(config, knobs, mc, n_div), answers, figures,
                  arrays, notes, elapsed_s=time.perf_counter() - start, captions=captions)


def _fresh_noise_check(config: BiasVarianceConfig, preds: np.ndarray, truth) -> dict:
    """The base networks scored on fresh noisy targets y = f(x) + eps, one draw per grid point
    and network: a Monte-Carlo test MSE, its expectation given the networks (noise + mean squared
    error to f, what the decomposition adds up to) and the standard error of the difference,
    sqrt(mean(2 sigma^4 + 4 sigma^2 e^2) / N) with e = f_hat - f (the terms are independent
    given the networks)."""
    ok = np.all(np.isfinite(preds), axis=(-2, -1))
    err = preds[ok] - truth  # (N_sets, M, G)
    eps = _rng(config, 8).normal(0.0, config.noise, err.shape)
    s2 = config.noise ** 2
    return {"mc_test_mse": float(np.mean((eps - err) ** 2)),
            "expected": float(s2 + np.mean(err ** 2)),
            "se": float(np.sqrt(np.mean(2 * s2 ** 2 + 4 * s2 * err ** 2) / err.size)),
            "n": int(err.size)}


def _change(a: float, b: float, tolerance: float = 0.1) -> str:
    """'falls' / 'rises' / 'stays about the same' for a change from a to b."""
    if abs(b - a) <= tolerance * max(abs(a), abs(b)):
        return "stays about the same"
    return "rises" if b > a else "falls"


def _best(k: Knob) -> tuple[int, int, int]:
    """Index of the value of least median expected MSE, and the 10-90 % band of each
    repetition's own best index (nearest rank)."""
    best = int(np.argmin(k.median("expected_mse")))
    table = np.where(np.isfinite(k.table["expected_mse"]), k.table["expected_mse"], np.inf)
    _, lo, hi = integer_band(np.argmin(table, axis=1))
    return best, lo, hi


def _f(value: float) -> str:
    """Four decimals, without the sign of a negative estimate that rounds to zero."""
    text = f"{value:.4f}"
    return "0.0000" if text == "-0.0000" else text


def _sweep_story(k: Knob, what: str) -> str:
    """How bias^2 and the variance move across the knob's values, from the medians (``what``
    prefixes each value, e.g. "alpha = ")."""
    b, v = k.median("bias2"), band(k.variance())[0]
    dv, iv = k.median("data_variance"), k.median("init_variance")
    first, last = k.values[0], k.values[-1]
    return (f"From {what}{first:g} to {last:g} the variance {_change(v[0], v[-1])} "
            f"({_f(v[0])} -> {_f(v[-1])}; data {_f(dv[0])} -> {_f(dv[-1])}, initialisation "
            f"{_f(iv[0])} -> {_f(iv[-1])}) and bias^2 {_change(b[0], b[-1])} ({_f(b[0])} -> "
            f"{_f(b[-1])}).")


def _edge_note(k: Knob, best: int, low_hint: str, high_hint: str) -> tuple[bool, str]:
    if best == 0:
        return True, f" The optimum is at the low end of the grid; widen it with {low_hint}."
    if best == len(k.values) - 1:
        return True, f" The optimum is at the high end of the grid; widen it with {high_hint}."
    return False, ""


def _answers(config: BiasVarianceConfig, knobs: dict, noise_draws: np.ndarray, mc: dict,
             norms: np.ndarray, n_div: int) -> list[Answer]:
    s2 = config.noise ** 2
    div = (f" {n_div} diverged networks were left out with their data sets." if n_div else "")
    every = [(k, i) for k in knobs.values() for i in range(len(k.values))]
    medians = {(k.name, i): k.median("expected_mse")[i] for k, i in every}
    (low_name, low_i), low_mse = min(medians.items(), key=lambda kv: kv[1])
    low_value = knobs[low_name].values[low_i]
    residual = max(float(np.nanmax(np.abs(k.table["expected_mse"]
                                          - (s2 + k.table["bias2"] + k.variance()))))
                   for k in knobs.values())
    typical = float(np.nanmedian(knobs["alpha"].table["expected_mse"]))
    z = (mc["mc_test_mse"] - mc["expected"]) / mc["se"]

    alpha = knobs["alpha"]
    a_best, a_lo, a_hi = _best(alpha)
    a_edge, a_note = _edge_note(alpha, a_best, "--set alphas=... (smaller values)",
                                "--set alphas=... (larger values)")
    it = knobs["iterations"]
    i_best, i_lo, i_hi = _best(it)
    i_edge, i_note = _edge_note(it, i_best, "--set checkpoints=... (earlier iterations)",
                                "--set max_iter=... (longer training)")
    i_mse = it.median("expected_mse")

    n_knob = knobs["n_train"]
    v_n = n_knob.variance()
    ratio = v_n[:, -1] / v_n[:, 0]
    r_m, r_lo, r_hi = float_band(ratio)
    n0, n1 = n_knob.values[0], n_knob.values[-1]
    n_mse = n_knob.median("expected_mse")

    return [
        Answer("noise_floor", "What expected test error can no setting beat?", s2,
               f"The targets carry Gaussian noise of variance {s2:g} (sd {config.noise:g}), "
               f"independent of x and of the training data, so no model predicts it: every "
               f"expected test MSE is noise + bias^2 + variance >= {s2:g}. The "
               f"{noise_draws.size} training-noise draws here have mean square "
               f"{np.mean(noise_draws ** 2):.4f}. The lowest expected test MSE measured is "
               f"{low_mse:.4f} ({knobs[low_name].label} = {low_value:g}), "
               f"{low_mse - s2:.4f} above the floor: its bias^2 + variance."),
        Answer("decomposition_residual",
               "Do noise + bias^2 + data variance + initialisation variance add up to the "
               "measured error?", residual,
               f"The largest |expected MSE - (noise + bias^2 + variance)| over every setting and "
               f"repetition is {residual:.1e}, against a typical expected MSE of {typical:.3f}: "
               f"the law of total variance holds to float64 rounding (the unbiased estimates "
               f"add up exactly, algebraically). Scored on fresh noisy targets ({mc['n']} "
               f"draws), the base networks' test MSE is {mc['mc_test_mse']:.5f} against "
               f"{mc['expected']:.5f} expected, {z:+.1f} standard errors: the noise term is the "
               f"test error that no training reduces." + div),
        _ensemble_answer(config, knobs),
        Answer("l2_trades_variance_for_bias",
               "How does the L2 penalty move error between bias and variance?",
               float(alpha.values[a_best]),
               _sweep_story(alpha, "alpha = ") +
               f" Their sum with the noise is least at alpha = {alpha.values[a_best]:g} "
               f"(expected test MSE {alpha.median('expected_mse')[a_best]:.4f}, against "
               f"{alpha.median('expected_mse')[0]:.4f} at alpha = {alpha.values[0]:g} and "
               f"{alpha.median('expected_mse')[-1]:.4f} at {alpha.values[-1]:g}); each "
               f"repetition's own best lies in {alpha.values[a_lo]:g}-{alpha.values[a_hi]:g}."
               + a_note, float(alpha.values[a_lo]), float(alpha.values[a_hi]), at_edge=a_edge),
        Answer("early_stopping_controls_variance",
               "How does stopping training early change bias and variance?",
               int(it.values[i_best]),
               _sweep_story(it, "iteration ") +
               f" The expected test MSE is least after {it.values[i_best]} iterations "
               f"({i_mse[i_best]:.4f}, against {i_mse[-1]:.4f} after {it.values[-1]}); each "
               f"repetition's own best is in {it.values[i_lo]}-{it.values[i_hi]}. The weights' "
               f"squared norm (median) {_change(norms[0], norms[-1])} from {norms[0]:.3g} to "
               f"{norms[-1]:.3g} over training ({norms[i_best]:.3g} at the best iteration): "
               f"stopping early keeps them small, as an L2 penalty does." + i_note,
               int(it.values[i_lo]), int(it.values[i_hi]), at_edge=i_edge),
        Answer("more_data_reduces_variance",
               f"How much does going from {n0} to {n1} training points reduce the variance?",
               r_m,
               _sweep_story(n_knob, "n = ") +
               f" The variance ratio (n = {n1} over n = {n0}) is {r_m:.3f} (10-90 % over "
               f"repetitions {r_lo:.3f}-{r_hi:.3f}); a model with a fixed number of effective "
               f"parameters p has variance about noise * p / n, a ratio of {n0 / n1:.3f}. The "
               f"expected test MSE goes from {n_mse[0]:.4f} to {n_mse[-1]:.4f}.", r_lo, r_hi),
    ]


def _ensemble_answer(config: BiasVarianceConfig, knobs: dict) -> Answer:
    """How much of the error averaging initialisations can remove, and what bagging adds."""
    plain, bag = knobs["ensemble"], knobs["bagging"]
    t = plain.table
    share = t["init_variance"][:, 0] / t["expected_mse"][:, 0]
    s_m, s_lo, s_hi = float_band(share)
    share_var = float(np.nanmedian(t["init_variance"][:, 0] / plain.variance()[:, 0]))
    K = plain.values[-1]
    m = {c: plain.median(c) for c in COMPONENTS}
    mb = {c: bag.median(c) for c in COMPONENTS}
    gain_plain = m["expected_mse"][0] / m["expected_mse"][-1]
    gain_bag = mb["expected_mse"][0] / mb["expected_mse"][-1]
    better = mb["expected_mse"][-1] < m["expected_mse"][-1]
    data_cut = mb["data_variance"][-1] < m["data_variance"][-1]
    why = (f"Bagged members are each trained on a bootstrap resample, so within a data set they "
           f"differ by initialisation and by resampling: their within-data-set variance is "
           f"{mb['init_variance'][0]:.4f} against {m['init_variance'][0]:.4f}, and averaging "
           f"{K} of them removes {100 * (1 - mb['init_variance'][-1] / mb['init_variance'][0]):.0f}"
           f" % of it: the bagged ensemble gains x{gain_bag:.3f} over its own members against "
           f"x{gain_plain:.3f} for the plain ensemble. ")
    why += (f"The average over resamples also has a lower data variance "
            f"({mb['data_variance'][-1]:.4f} against {m['data_variance'][-1]:.4f}): it depends "
            f"less on any single noisy point" if data_cut else
            f"The average over resamples does not lower the data variance here "
            f"({mb['data_variance'][-1]:.4f} against {m['data_variance'][-1]:.4f})")
    why += (f", and its bias^2 is {mb['bias2'][-1]:.4f} against {m['bias2'][-1]:.4f}. "
            f"In absolute terms the bagged ensemble of "
            f"{K} reaches {mb['expected_mse'][-1]:.4f} against {m['expected_mse'][-1]:.4f} "
            f"for the plain one: bagging is "
            + ("better." if better else "not better here" + (
                ": its larger gain is over weaker members." if gain_bag > gain_plain else ".")))
    return Answer(
        "ensemble_removes_init_variance_only",
        "Which part of the error does averaging initialisations remove?", s_m,
        f"The initialisation variance is {100 * s_m:.1f} % of a single network's expected "
        f"test MSE (10-90 % over repetitions {100 * s_lo:.1f}-{100 * s_hi:.1f} %; "
        f"{100 * share_var:.0f} % of its variance), and it is all an average of "
        f"initialisations can remove. From K = 1 to K = {K}: initialisation variance "
        f"{m['init_variance'][0]:.4f} -> {m['init_variance'][-1]:.4f} (1/K would give "
        f"{m['init_variance'][0] / K:.4f}), while bias^2 {_change(m['bias2'][0], m['bias2'][-1])} "
        f"({m['bias2'][0]:.4f} -> {m['bias2'][-1]:.4f}) and the data variance "
        f"{_change(m['data_variance'][0], m['data_variance'][-1])} "
        f"({m['data_variance'][0]:.4f} -> {m['data_variance'][-1]:.4f}): the expected MSE "
        f"{m['expected_mse'][0]:.4f} -> {m['expected_mse'][-1]:.4f}. " + why, s_lo, s_hi)


def _metrics(config: BiasVarianceConfig, knobs: dict, mc: dict, n_div: int) -> dict:
    metrics: dict[str, float | int] = {
        "noise_variance": config.noise ** 2, "diverged": n_div,
        "n_networks": config.n_networks(), "fresh_noise_test_mse": mc["mc_test_mse"],
        "fresh_noise_expected_mse": mc["expected"]}
    for k in knobs.values():
        for i, v in enumerate(k.values):
            for c in COMPONENTS:
                metrics[f"{k.name}={v:g}_{c}"] = float(k.median(c)[i])
    return metrics


EXPERIMENT = Experiment(
    name="bias-variance",
    description="Where the test error comes from: noise + bias^2 + data variance + "
                "initialisation variance, against L2, width, dropout, n, iterations, ensembles "
                "and bagging.",
    config_class=BiasVarianceConfig, run=run, order=100)
