"""scikit-learn's check_estimator as a test helper shared by the estimators' test files."""
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
