"""Discovers experiments: every module of this package that defines ``EXPERIMENT``."""
from __future__ import annotations

import difflib
import importlib
import pkgutil
from functools import cache

from overfitlab.experiments.base import ConfigError, Experiment

_NOT_EXPERIMENTS = {"base", "display", "registry", "results_io"}


@cache
def experiments() -> dict[str, Experiment]:
    """All experiments by name, in their presentation order."""
    import overfitlab.experiments as package

    found: list[Experiment] = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name in _NOT_EXPERIMENTS or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        experiment = getattr(module, "EXPERIMENT", None)
        if isinstance(experiment, Experiment):
            found.append(experiment)
    found.sort(key=lambda e: (e.order, e.name))
    return {e.name: e for e in found}


def get(name: str) -> Experiment:
    """The experiment called ``name``; otherwise a ConfigError suggesting the closest known name
    (difflib's similarity ratio >= 0.6), or listing them all when none is close.

    Experiment ``a-b`` lives in module ``a_b`` by convention: that module alone is imported
    (importing every experiment costs seconds of start-up), with full discovery as fallback.
    """
    module_name = name.replace("-", "_")
    if module_name.isidentifier() and module_name not in _NOT_EXPERIMENTS \
            and not module_name.startswith("_"):
        full_name = f"overfitlab.experiments.{module_name}"
        try:
            module = importlib.import_module(full_name)
        except ModuleNotFoundError as exc:
            if exc.name != full_name:  # the module exists but one of its imports is missing
                raise
        else:
            experiment = getattr(module, "EXPERIMENT", None)
            if isinstance(experiment, Experiment) and experiment.name == name:
                return experiment
    known = experiments()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"choose one of {', '.join(known)}"
        raise ConfigError(f"unknown experiment {name!r}; {hint} (`overfitlab list` describes "
                          f"them)")
    return known[name]
