""""Copy as Python": the script that retrains a playground view with ``RegularizedMLPRegressor``.

How a view maps onto the estimator. The playground draws repetition s of its S seeds as
``RegularizedMLPRegressor(n_networks=E, random_state=seed + s)`` draws it (see
:func:`overfitlab.app.compute.draws`: the members' initial weights from
``np.random.RandomState(seed + s)``, then the early-stopping split, then the dropout keys), so
the script fits one estimator per seed with

* ``hidden_layer_sizes=(hidden_units,) * depth``, ``activation``, Adam with
  ``learning_rate_init``, ``alpha``, ``l1``, ``dropout``, ``max_iter=iterations``,
  ``n_networks=ensemble``;
* without early stopping ``n_iter_no_change=np.inf``: the playground runs every iteration, and
  an infinite patience turns the estimator's tolerance rule off (scikit-learn's
  ConvergenceWarning that follows is silenced in the script);
* with early stopping ``early_stopping=True``, ``validation_fraction``, ``tol`` = the
  playground's 1e-7 and ``n_iter_no_change=patience``;
* full-batch Adam as in the playground (``batch_size`` given only above the estimator's
  automatic full-batch limit of 200 points);

on the training points written into the script as the shortest decimals that round-trip to the
playground's float32 values, and evaluates on the playground's test set, redrawn with
:func:`~overfitlab.data.synthetic.noisy_function`. It prints the test MSE of the final model (the
ensemble's average prediction) per seed and its median with the 10-90 % band (linear
percentiles, as the playground's table), and without early stopping the training MSE likewise.

Agreement. Without early stopping every seed is the playground's network(s); with early stopping
the playground holds out the first seed's split for all seeds, so the first seed agrees and the
others differ by their split (the script says so). The estimator predicts in float64 and the
playground in float32 (relative differences about 1e-6). The two training programs are compiled
for different numbers of networks, so float32 rounding can differ in the last bit; over a few
thousand iterations this stays at the 1e-6 level, while in a long overfitting phase (10^4
iterations and more) it can grow to about 1e-3 relative in the test MSE.
"""
from __future__ import annotations

import numpy as np

from overfitlab import __version__
from overfitlab.app.compute import ES_TOL, N_TEST
from overfitlab.app.schemas import TrainRequest
from overfitlab.data.synthetic import noisy_function

AUTO_FULL_BATCH = 200  # RegularizedMLPRegressor's batch_size="auto" is full batch up to this


def _numbers(values) -> str:
    """Float32 values as the shortest decimals that read back as the same float32."""
    return ", ".join(np.format_float_positional(np.float32(v), unique=True, trim="-")
                     for v in np.asarray(values, np.float32).ravel())


def _wrapped(name: str, values, indent: str = "") -> str:
    """``name = np.array([...])`` broken into lines of at most about 96 characters."""
    parts, line, lines = _numbers(values).split(", "), "", []
    for p in parts:
        if line and len(line) + len(p) > 84:
            lines.append(line.rstrip())
            line = ""
        line += p + ", "
    lines.append(line.rstrip(", "))
    body = ("\n" + indent + "    ").join(lines)
    return f"{indent}{name} = np.array([\n{indent}    {body},\n{indent}])"


def estimator_arguments(req: TrainRequest) -> list[str]:
    """The ``RegularizedMLPRegressor`` keyword arguments of a view, as source text (without
    ``random_state``)."""
    args = [f"hidden_layer_sizes={(req.hidden_units,) * req.depth!r}",
            f"activation=\"{req.activation}\"", 'solver="adam"',
            f"learning_rate_init={req.learning_rate!r}", f"alpha={req.alpha!r}"]
    if req.l1 > 0:
        args.append(f"l1={req.l1!r}")
    if req.dropout > 0:
        args.append(f"dropout={req.dropout!r}")
    if req.ensemble > 1:
        args.append(f"n_networks={req.ensemble}")
    args.append(f"max_iter={req.iterations}")
    n_fit = req.n_train - (req.validation_points if req.early_stopping else 0)
    if n_fit > AUTO_FULL_BATCH:
        args.append(f"batch_size={n_fit}")
    if req.early_stopping:
        args += ["early_stopping=True", f"validation_fraction={req.validation_fraction!r}",
                 f"tol={ES_TOL!r}", f"n_iter_no_change={req.patience}"]
    else:
        args.append("n_iter_no_change=np.inf")
    return args


def python_code(req: TrainRequest) -> str:
    """A self-contained script that retrains ``req`` and prints its numbers (module docstring)."""
    if req.x_train is not None:
        X, y, source = req.x_train, req.y_train, "your points"
    else:
        data = noisy_function(n_train=req.n_train, n_test=N_TEST, noise=req.noise,
                              target=req.target, seed=req.seed)
        X, y, source = data.X_train, data.y_train, (
            f"{req.n_train} points of {req.target!r} with noise {req.noise:g}, seed {req.seed}")
    es = req.early_stopping
    arguments = ",\n        ".join(estimator_arguments(req) + [f"random_state={req.seed} + s"])
    header = [
        f'"""A playground view retrained with RegularizedMLPRegressor (overfitlab {__version__}).',
        "",
        f"Seed s of the view's {req.seeds} seed(s) is one estimator with random_state="
        f"{req.seed} + s;",
        "the script prints the test MSE of each final model and the median and 10-90 % band",
        "over seeds, as in the playground's table.",
        *([f"The view trains {req.datasets} data sets (noise draws); this script retrains the "
           "first, the points drawn on the page."] if req.datasets > 1 else []),
        '"""',
    ]
    imports = ["import numpy as np", "", "from overfitlab import RegularizedMLPRegressor",
               "from overfitlab.data.synthetic import noisy_function"]
    if es:
        note = ["# The playground holds out the first seed's validation split for all seeds;",
                "# each estimator draws its own, so the first seed matches the playground's "
                "exactly."]
    else:
        imports = ["import warnings", "", "import numpy as np",
                   "from sklearn.exceptions import ConvergenceWarning"] + imports[1:]
        note = ["# The playground trains every iteration: no tolerance stop, no warning.",
                'warnings.simplefilter("ignore", ConvergenceWarning)']
    data = [
        f"# Training data: {source}.",
        _wrapped("x", X),
        _wrapped("y", y),
        "X = x.reshape(-1, 1)",
        "# The playground's test set (its noise drawn after the generated training points').",
        f"test = noisy_function(n_train={req.n_train}, n_test={N_TEST}, noise={req.noise!r}, "
        f"target=\"{req.target}\", seed={req.seed})",
    ]
    fit = [
        "test_mse" + ("" if es else ", train_mse") + " = []" + ("" if es else ", []"),
        f"for s in range({req.seeds}):",
        "    model = RegularizedMLPRegressor(",
        f"        {arguments},",
        "    ).fit(X, y)",
        "    test_mse.append(np.mean((model.predict(test.X_test) - test.y_test) ** 2))",
        *([] if es else ["    train_mse.append(np.mean((model.predict(X) - y) ** 2))"]),
        f'    print(f"seed {{{req.seed} + s}}: test MSE at end {{test_mse[-1]:.9g}}")',
    ]
    summary = [
        "def band(values):",
        '    """Median and 10-90 % band over seeds."""',
        "    low, median, high = np.percentile(values, [10, 50, 90])",
        '    return f"{median:.9g} [{low:.9g}, {high:.9g}]"',
        "",
        "",
        'print("test MSE at end, median [10 %, 90 %]:", band(test_mse))',
        *([] if es else ['print("train MSE at end, median [10 %, 90 %]:", band(train_mse))']),
    ]
    blocks = [header + imports, data + note, fit, summary]
    return "\n\n".join("\n".join(b) for b in blocks[:2]) + "\n\n" + "\n".join(fit) \
        + "\n\n\n" + "\n".join(summary) + "\n"
