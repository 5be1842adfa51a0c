"""Discovers experiments: every module of this package that defines ``EXPERIMENT``.

:func:`catalog` reads the names, descriptions and order from the modules' source without
importing them (importing every experiment pulls in JAX and costs seconds), for
``overfitlab list``, ``--help`` and name suggestions; :func:`experiments` imports them all.
"""
from __future__ import annotations

import ast
import difflib
import importlib
import pkgutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from overfitlab.errors import ConfigError

if TYPE_CHECKING:
    from overfitlab.experiments.base import Experiment

_NOT_EXPERIMENTS = {"base", "budget", "display", "params", "registry", "results_io"}


@dataclass(frozen=True)
class CatalogEntry:
    """An experiment as its module declares it, read without importing the module."""

    name: str
    description: str
    order: int
    module: str


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
                                    path.stem)
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
    known = [e.name for e in catalog()]
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"choose one of {', '.join(known)}"
        raise ConfigError(f"unknown experiment {name!r}; {hint} (`overfitlab list` describes "
                          f"them)")
    return experiments()[name]
