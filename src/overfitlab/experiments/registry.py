"""Discovers experiments: every module of this package that defines ``EXPERIMENT``."""
from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from overfitlab.experiments.base import ConfigError, Experiment

_NOT_EXPERIMENTS = {"base", "registry", "results_io"}


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
    """The experiment called ``name``; a ConfigError listing the known names otherwise."""
    known = experiments()
    if name not in known:
        raise ConfigError(
            f"unknown experiment {name!r}; run `overfitlab list` to see: {', '.join(known)}"
        )
    return known[name]
