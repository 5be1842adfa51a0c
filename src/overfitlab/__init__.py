"""overfitlab: a laboratory for neural-network regularization on a vectorized JAX engine."""

__all__ = ["RegularizedMLPRegressor", "__version__"]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("overfitlab")
    except PackageNotFoundError:  # running from a source tree without installation
        return "0.0.0+source"


def __getattr__(name):
    # The version and the estimators load lazily, so `import overfitlab` stays fast for the CLI
    # (importlib.metadata alone costs 0.2 s).
    if name == "__version__":
        return _version()
    if name == "RegularizedMLPRegressor":
        from overfitlab.estimators import RegularizedMLPRegressor

        return RegularizedMLPRegressor
    raise AttributeError(name)
