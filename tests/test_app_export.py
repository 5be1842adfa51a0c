""""Copy as Python": the exported RegularizedMLPRegressor script retrains the playground's view.

Each case trains a view with the playground (``compute.run``), runs the exported script in this
process, and compares the test MSE it prints for every seed with the playground's. Tolerance: the
estimator predicts in float64 and the playground in float32 (relative rounding 6e-8 per
operation, a few times that over a 1-8-1 network and a 100-point mean); both train the same
networks from the same draws with float32 programs compiled for different numbers of networks,
whose last-bit differences stay near 1e-7 relative over a few thousand iterations (measured:
4e-8 to 2.4e-7 for these views and for 5 seeds x 2000 iterations of the course defaults).
rtol = 1e-5 leaves a margin of 40 over that and still fails on any different draw, split or
hyper-parameter (those change the test MSE by percents).
"""
from __future__ import annotations

import contextlib
import io
import re

import numpy as np
import pytest

from overfitlab.app import compute
from overfitlab.app.export import estimator_arguments, python_code
from overfitlab.app.schemas import TrainRequest

SMALL = {"iterations": 300, "n_train": 10, "hidden_units": 8, "learning_rate": 0.01}


def _run_script(code: str) -> list[float]:
    """Execute the exported script; the per-seed test MSEs it prints."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "exported.py", "exec"), {"__name__": "__main__"})
    text = out.getvalue()
    assert "test MSE at end, median [10 %, 90 %]:" in text
    return [float(v) for v in re.findall(r"seed \d+: test MSE at end (\S+)", text)]


@pytest.mark.parametrize("view", [
    {**SMALL, "seeds": 3, "seed": 4},
    {**SMALL, "seeds": 2, "ensemble": 2, "dropout": 0.1, "l1": 1e-3},
], ids=["seeds", "ensemble-dropout-l1"])
def test_exported_code_reproduces_every_seed(view):
    req = TrainRequest(**view)
    playground = compute.run(req).metrics.test_mse_end_per_seed
    exported = _run_script(python_code(req))
    np.testing.assert_allclose(exported, playground, rtol=1e-5)


def test_exported_code_with_your_points_and_early_stopping():
    """The first seed holds out the split the estimator draws for it, so it agrees exactly; the
    script says that the other seeds' splits differ."""
    rng = np.random.default_rng(3)
    x = np.round(rng.uniform(-1, 1, 12), 3)
    y = np.round(x**2 + rng.normal(0, 0.1, 12), 3)
    req = TrainRequest(**SMALL, seeds=2, x_train=x.tolist(), y_train=y.tolist(),
                       early_stopping=True, validation_fraction=0.25, patience=20)
    answer = compute.run(req)
    code = python_code(req)
    assert "first seed matches" in code and "x = np.array([" in code
    exported = _run_script(code)
    assert len(exported) == 2
    np.testing.assert_allclose(exported[0], answer.metrics.test_mse_end_per_seed[0], rtol=1e-5)


def test_large_data_keeps_full_batch():
    """Above 200 training points the estimator's batch_size='auto' would use mini-batches; the
    export asks for one batch of all fitted points, as the playground trains."""
    x = np.linspace(-1, 1, 300).tolist()
    args = estimator_arguments(TrainRequest(iterations=100, seeds=1, x_train=x, y_train=x))
    assert "batch_size=300" in args
    es = TrainRequest(iterations=100, seeds=1, x_train=x, y_train=x, early_stopping=True)
    assert "batch_size=240" in estimator_arguments(es)  # 300 - ceil(0.2 * 300) held out
    assert not any(a.startswith("batch_size") for a in estimator_arguments(TrainRequest()))
