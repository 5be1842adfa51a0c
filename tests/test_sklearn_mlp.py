"""scikit-learn's own MLP tests, run against our estimators.

The installed ``sklearn/neural_network/tests/test_mlp.py`` is read, its import of
``MLPClassifier`` and ``MLPRegressor`` is replaced by ours under those names, and its source is
executed here so that pytest collects its tests from this module. Tests that need what we do not
offer (the ``lbfgs`` solver, the Poisson loss) are set aside below, each with its reason, and are
reported as skipped. Everything else must pass unchanged.
"""
from pathlib import Path

import pytest
import sklearn

SOURCE = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor"
OURS = ("from overfitlab import RegularizedMLPClassifier as MLPClassifier, "
        "RegularizedMLPRegressor as MLPRegressor")

LBFGS = "needs the lbfgs solver, which overfitlab does not offer (stochastic solvers only)"
SET_ASIDE = {
    "test_gradient": "checks lbfgs's private _loss_grad_lbfgs against finite differences "
                     "(the engine's gradients are checked in tests/test_engine.py)",
    "test_lbfgs_classification": LBFGS,
    "test_lbfgs_regression": LBFGS,
    "test_lbfgs_classification_maxfun": LBFGS + " (max_fun is lbfgs's parameter)",
    "test_lbfgs_regression_maxfun": LBFGS + " (max_fun is lbfgs's parameter)",
    "test_multilabel_classification": LBFGS + " for its first fit (its partial_fit and "
                                      "early-stopping parts run in tests/test_classifier.py)",
    "test_multioutput_regression": LBFGS,
    "test_predict_proba_multilabel": LBFGS,
    "test_sparse_matrices": LBFGS + "; sparse input is not accepted either",
    "test_warm_start": LBFGS + " (the warm-start class check runs in tests/test_classifier.py)",
    "test_mlp_vs_poisson_glm_equivalent": "needs loss='poisson' and lbfgs, not offered",
}
SET_ASIDE_CASES = {("test_mlp_warm_start_no_convergence", "solver", "lbfgs"): LBFGS}


def _load() -> dict:
    source = SOURCE.read_text()
    assert source.count(IMPORT) == 1, f"{SOURCE} no longer imports the MLPs as expected"
    namespace = {"__name__": __name__, "__file__": str(SOURCE)}
    exec(compile(source.replace(IMPORT, OURS), str(SOURCE), "exec"), namespace)
    return namespace


def _set_aside_case(test, argname: str, value, reason: str) -> None:
    """Skip one value of a parametrized argument (with ``reason``), keep the others."""
    for i, mark in enumerate(test.pytestmark):
        if mark.name == "parametrize" and mark.args[0] == argname:
            values = [pytest.param(v, marks=pytest.mark.skip(reason=reason)) if v == value
                      else v for v in mark.args[1]]
            test.pytestmark[i] = pytest.mark.parametrize(argname, values).mark
            return
    raise AssertionError(f"{test.__name__} has no parametrized {argname!r}")


_namespace = _load()
for _name, _reason in SET_ASIDE.items():
    assert _name in _namespace, f"{_name} is not in {SOURCE} any more"
    _namespace[_name] = pytest.mark.skip(reason=_reason)(_namespace[_name])
for (_name, _arg, _value), _reason in SET_ASIDE_CASES.items():
    _set_aside_case(_namespace[_name], _arg, _value, _reason)
globals().update({k: v for k, v in _namespace.items() if k.startswith("test_")})
