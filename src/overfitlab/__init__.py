"""overfitlab: a laboratory for neural-network regularization on a vectorized JAX engine."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("overfitlab")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"

__all__ = ["RegularizedMLPRegressor", "__version__"]


def __getattr__(name):
    # Import the estimator lazily so `import overfitlab` stays fast for the CLI.
    if name == "RegularizedMLPRegressor":
        from overfitlab.estimators import RegularizedMLPRegressor

        return RegularizedMLPRegressor
    raise AttributeError(name)
