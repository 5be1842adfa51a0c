"""overfitlab: a laboratory for neural-network regularization on a vectorized JAX engine."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("overfitlab")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"

ESTIMATORS = ("RegularizedMLPRegressor", "RegularizedMLPClassifier", "RegularizedMLPRegressorCV",
              "RegularizedMLPClassifierCV")

__all__ = [*ESTIMATORS, "__version__"]


def __getattr__(name):
    # Import the estimators lazily so `import overfitlab` stays fast for the CLI.
    if name in ESTIMATORS:
        from overfitlab import estimators

        return getattr(estimators, name)
    raise AttributeError(name)
