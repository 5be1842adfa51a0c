"""Test helpers shared by the estimators' test files: scikit-learn's check_estimator, and a
scikit-learn estimator fitted beside ours."""
import warnings

import jax
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import check_estimator

FLOAT32_REASON = ("the engine computes in float32: weighted and repeated sums agree to float32 "
                  "rounding, not to the check's rtol=1e-7; the float64 test of the same file "
                  "runs the same check in float64")


def assert_passes_check_estimator(estimator, expected_failed_checks=None) -> None:
    """Every applicable check passes (those in ``expected_failed_checks`` must fail, with the
    reason given)."""
    results = check_estimator(estimator, on_fail=None,
                              expected_failed_checks=expected_failed_checks or {})
    failed = [(r["check_name"], str(r["exception"])[:300]) for r in results
              if r["status"] == "failed"]
    assert not failed
    assert len(results) > 40


def fit_both(reference_class, our_class, X, y, **kw):
    """scikit-learn's estimator and ours fitted alike (ours in float64), ConvergenceWarnings
    silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = reference_class(**kw).fit(X, y)
        with jax.enable_x64(True):
            ours = our_class(**kw).fit(X, y)
    return sk, ours
