"""Discovers experiments: every module of this package that defines ``EXPERIMENT``.

:func:`catalog` reads the names, descriptions and order from the modules' source without
importing them (importing every experiment pulls in JAX and costs seconds), for
``overfitlab list``, ``--help`` and name suggestions; :func:`experiments` imports them all.
:func:`config_class` gives an experiment's Config class from :mod:`overfitlab.experiments.configs`
without importing the experiment (nor JAX), so that a configuration is validated at once.
"""
from __future__ import annotations

import ast
import difflib
import importlib
import pkgutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from overfitlab.errors import ConfigError

if TYPE_CHECKING:
    from overfitlab.experiments.base import Config, Experiment

_NOT_EXPERIMENTS = {"base", "budget", "configs", "display", "params", "registry", "results_io"}


@dataclass(frozen=True)
class CatalogEntry:
    """An experiment as its module declares it, read without importing the module."""

    name: str
    description: str
    order: int
    module: str
    reuses: tuple[str, ...] = ()


def _declared(path: Path) -> CatalogEntry | None:
    """The literal keyword arguments of ``EXPERIMENT = Experiment(...)`` in a module's source.

    Only the source from that top-level statement on is parsed (parsing whole modules took most
    of ``overfitlab list``'s time)."""
    source = path.read_text(encoding="utf-8")
    start = source.find("\nEXPERIMENT = ")
    if start < 0:
        return None
    try:
        body = ast.parse(source[start + 1:]).body
    except SyntaxError:  # the declaration is not a self-contained tail of the module
        body = ast.parse(source).body
    for node in body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "EXPERIMENT" for t in node.targets) \
                and isinstance(node.value, ast.Call):
            fields = {k.arg: k.value for k in node.value.keywords}
            try:
                return CatalogEntry(ast.literal_eval(fields["name"]),
                                    ast.literal_eval(fields["description"]),
                                    ast.literal_eval(fields.get("order", ast.Constant(100))),
                                    path.stem,
                                    ast.literal_eval(fields.get("reuses", ast.Tuple([]))))
            except (KeyError, ValueError):
                return None
    return None


@cache
def catalog() -> tuple[CatalogEntry, ...]:
    """Every experiment's name, description and order, in presentation order (no imports)."""
    import overfitlab.experiments as package

    entries = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name in _NOT_EXPERIMENTS or info.name.startswith("_"):
            continue
        entry = _declared(Path(package.__path__[0]) / f"{info.name}.py")
        if entry is not None:
            entries.append(entry)
    return tuple(sorted(entries, key=lambda e: (e.order, e.name)))


@cache
def experiments() -> dict[str, Experiment]:
    """All experiments by name, in their presentation order (imports every module)."""
    import overfitlab.experiments as package
    from overfitlab.experiments.base import Experiment

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
    from overfitlab.experiments.base import Experiment

    module_name = name.replace("-", "_")
    if module_name.isidentifier() and module_name not in _NOT_EXPERIMENTS \
            and not module_name.startswith("_"):
        module = _import_if_present(f"overfitlab.experiments.{module_name}")
        experiment = getattr(module, "EXPERIMENT", None)
        if isinstance(experiment, Experiment) and experiment.name == name:
            return experiment
    known = [e.name for e in catalog()]
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"choose one of {', '.join(known)}"
        raise ConfigError(f"unknown experiment {name!r}; {hint} (`overfitlab list` describes "
                          f"them)")
    return experiments()[name]


def config_class(name: str) -> type[Config]:
    """The Config class of the experiment called ``name``, imported without the experiment.

    The experiment of module ``a_b`` defines its Config subclass in ``configs/a_b.py`` by
    convention, as the one Config subclass defined there: that module alone is imported (it
    needs neither JAX nor matplotlib, scikit-learn or SciPy), with :func:`get` as fallback, which
    also raises the ConfigError of an unknown name.
    """
    from overfitlab.experiments.base import Config

    entry = next((e for e in catalog() if e.name == name), None)
    module = None if entry is None else _import_if_present(
        f"overfitlab.experiments.configs.{entry.module}")
    if module is not None:
        defined = [c for c in vars(module).values() if isinstance(c, type)
                   and issubclass(c, Config) and c.__module__ == module.__name__]
        if len(defined) == 1:
            return defined[0]
    return get(name).config_class


def _import_if_present(full_name: str) -> ModuleType | None:
    """The module ``full_name``, or None where there is no such module (a module that exists but
    lacks one of its own imports still raises)."""
    try:
        return importlib.import_module(full_name)
    except ModuleNotFoundError as exc:
        if exc.name != full_name:
            raise
        return None
