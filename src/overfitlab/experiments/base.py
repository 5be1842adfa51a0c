"""The experiment contract: a Config in, a Result out.

Every experiment module in :mod:`overfitlab.experiments` defines ``EXPERIMENT``, an
:class:`Experiment` naming its :class:`Config` subclass and its ``run`` function. ``run`` never
prints: it reports progress through an optional callback and returns a :class:`Result`, which the
CLI, the report and the playground render.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import numpy as np

from overfitlab.errors import ConfigError
from overfitlab.experiments import budget
from overfitlab.experiments.params import check_fields, example, param, suggest
from overfitlab.formatting import format_band, format_value
from overfitlab.progress import Progress, no_progress
from overfitlab.stats import band

__all__ = ["Answer", "Config", "ConfigError", "Experiment", "Progress", "Result", "band",
           "no_progress"]


_REPR_VALUE_CHARS = 60  # text answers are cut to this length in ``repr(result)``

MAX_SEED = 2**32 - 1
"""Seeds are NumPy ``RandomState`` seeds, which take 0 .. 2**32 - 1, in every experiment."""


@dataclass(frozen=True)
class Config:
    """Base of every experiment configuration.

    Subclasses add fields with defaults equal to the ``full`` preset and list the overrides of
    the ``quick`` preset in ``QUICK``. Validation lives in ``validate`` (called after creation),
    raising :class:`ConfigError` with a message that names the field.
    """

    seed: int = param(0, "master seed: one seed makes the whole run bit-reproducible",
                      low=0, high=MAX_SEED)
    seeds: int = param(20, "initialisations (or repetitions) trained at once", low=1)

    QUICK: ClassVar[dict[str, Any]] = {}
    USES_SEEDS: ClassVar[bool] = True
    """False for deterministic experiments, which keep ``seed``/``seeds`` for the common
    interface only: the report then says "no seeds" instead of counting them."""

    def __post_init__(self) -> None:
        if not isinstance(self.seed, (int, np.integer)):
            raise ConfigError(f"seed must be an integer in 0..{MAX_SEED}, got {self.seed!r}")
        check_fields(self)
        self.validate()
        budget.check(self.footprint())

    def validate(self) -> None:
        """Check rules that tie several fields together; override in subclasses (the range of
        each single field is declared with :func:`~overfitlab.experiments.params.param`)."""

    def footprint(self) -> budget.Footprint:
        """Estimated peak memory of a run of this configuration (checked against the limit of
        :mod:`~overfitlab.experiments.budget`); override in subclasses."""
        return budget.Footprint()

    @classmethod
    def preset(cls, name: str = "full", **overrides: Any) -> "Config":
        """The ``full`` or ``quick`` preset, with ``overrides`` applied and validated."""
        if name not in ("full", "quick"):
            raise ConfigError(f"unknown preset {name!r}; use 'full' or 'quick'")
        values = dict(cls.QUICK) if name == "quick" else {}
        values.update(overrides)
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise ConfigError(f"unknown parameter {unknown[0]!r}{suggest(unknown[0], names)}; "
                              f"known parameters: {', '.join(names)}")
        return cls(**values)

    @classmethod
    def parse_assignments(cls, assignments: list[str]) -> dict[str, Any]:
        """Turn ``["key=value", ...]`` into typed overrides, using the field annotations."""
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        names = set(fields)
        out: dict[str, Any] = {}
        for item in assignments:
            if "=" not in item:
                raise ConfigError(f"--set expects key=value, got {item!r}")
            key, raw = (s.strip() for s in item.split("=", 1))
            if key not in names:
                raise ConfigError(
                    f"unknown parameter {key!r}{suggest(key, names)}; known parameters: "
                    f"{', '.join(sorted(names))} (see `overfitlab params NAME`)")
            out[key] = _coerce(raw, hints[key], key, example(fields[key]))
        return out

    def to_dict(self) -> dict[str, Any]:
        """Every parameter, resolved, as JSON-ready values."""
        return {k: _jsonable(v) for k, v in dataclasses.asdict(self).items()}


def _coerce(raw: str, annotation: Any, key: str, valid: str) -> Any:
    """Convert the text ``raw`` to the annotated type of field ``key`` (``valid``: a valid value,
    the error message's example)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if raw.lower() in ("none", "null", "") and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(raw, inner[0], key, valid)
    if origin is tuple:
        parts = [p for p in raw.replace("(", "").replace(")", "").split(",") if p.strip()]
        elem = args[0] if args else float
        return tuple(_coerce(p.strip(), elem, key, valid) for p in parts)
    try:
        if annotation is bool:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if annotation is int:
            value = float(raw)
            if not value.is_integer():
                raise ValueError
            return int(value)
        if annotation is float:
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError
            return value
    except ValueError:
        raise ConfigError(
            f"{key}={raw!r} is not a valid {annotation.__name__}; e.g. --set {key}={valid}"
        ) from None
    return raw


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.ndarray, np.generic)):
        value = value.tolist()
        return _jsonable(value) if isinstance(value, list) else _finite_or_none(value)
    return _finite_or_none(value)


def _finite_or_none(value: Any) -> Any:
    """JSON has no NaN/inf: report them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class Answer:
    """A question of the course answered with a number (or text) and why.

    ``low``/``high`` hold the 10-90 % band across seeds when the value varies by seed.
    ``at_edge`` is true when the value is an optimum found at either end of the searched grid (or
    at ``max_iter``): the true optimum may lie beyond it, and the explanation says how to widen
    the search.
    """

    id: str
    question: str
    value: float | int | str | None
    explanation: str
    low: float | int | None = None
    high: float | int | None = None
    at_edge: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "value": _jsonable(self.value),
            "low": _jsonable(self.low),
            "high": _jsonable(self.high),
            "explanation": self.explanation,
            "at_edge": bool(self.at_edge),
        }


@dataclass
class Result:
    """What an experiment returns: numbers, answers, figures and the arrays behind them."""

    experiment: str
    config: Config
    metrics: dict[str, float]
    answers: list[Answer]
    figures: dict[str, Any] = field(default_factory=dict)  # file name -> matplotlib Figure
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    captions: dict[str, str] = field(default_factory=dict)  # file name -> what to look at
    versions: dict[str, str] | None = None  # of the process that computed it; None: this one

    def answer(self, answer_id: str) -> Answer:
        """The answer with id ``answer_id`` (KeyError if absent)."""
        for a in self.answers:
            if a.id == answer_id:
                return a
        raise KeyError(answer_id)

    def __repr__(self) -> str:
        """A few lines: experiment, seeds, time, and each answer's value (no arrays)."""
        seeds = (f"seed {self.config.seed}, {self.config.seeds} seeds"
                 if self.config.USES_SEEDS else "no seeds")
        lines = [f"<Result {self.experiment}: {seeds}, {self.elapsed_s:.2f} s, "
                 f"{len(self.figures)} figures>"]
        for a in self.answers:
            value = format_value(a.value)
            if len(value) > _REPR_VALUE_CHARS:
                value = value[:_REPR_VALUE_CHARS - 3] + "..."
            band = format_band(a.low, a.high)
            edge = " (at the edge of the searched range)" if a.at_edge else ""
            lines.append(f"  {a.id} = {value}{f'  [10-90 %: {band}]' if band else ''}{edge}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """Jupyter's rich display: the report's section for this result (answers, figures)."""
        from overfitlab.experiments.display import result_html

        return result_html(self)


@dataclass(frozen=True)
class Experiment:
    """A named experiment: its description, config class and run function."""

    name: str
    description: str
    config_class: type[Config]
    run: Callable[..., Result]  # run(config, progress=no_progress) -> Result
    order: int = 100  # position in `overfitlab list` and in the report
    reuses: tuple[str, ...] = ()
    """Experiments whose computations this one reuses when they ran before it in the same process
    (a literal, read by the catalog: the report runs such experiments in one worker, in order)."""
