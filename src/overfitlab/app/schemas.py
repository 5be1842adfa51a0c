"""Request and response models of the playground API, with the hard limits that protect the server.

Every field of :class:`TrainRequest` has a range; two combined limits bound the cost of one
request:

* networks = seeds x ensemble <= ``MAX_NETWORKS`` (checked on ``ensemble``);
* work = networks x iterations x n_train x parameters-per-network <= ``MAX_WORK``, a proxy for
  the floating-point operations of training (forward + backward pass is a few flops per weight
  and sample), about 40 times the course defaults (20 x 20000 x 10 x 61 = 2.4e8); the largest
  allowed request trains for about 10-20 s on a loaded 2-core CPU.

Out-of-range, malformed or unknown input is rejected by pydantic, which FastAPI turns into a 422
whose ``detail[].loc`` names the field and ``detail[].msg`` says what is allowed.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from overfitlab.data.synthetic import TARGETS
from overfitlab.engine.mlp import ACTIVATIONS, n_parameters

MAX_NETWORKS = 100
MAX_WORK = 1e10

# Literal types built from the registries, so a new target or activation appears here by itself.
Target = Literal[tuple(TARGETS)]  # type: ignore[valid-type]
Activation = Literal[tuple(ACTIVATIONS)]  # type: ignore[valid-type]


class TrainRequest(BaseModel):
    """One playground view: data, network, regularization and how many networks to train."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    target: Target = Field("x^2", description="Noise-free function f(x) the data is drawn from.")
    n_train: int = Field(10, ge=4, le=500, description="Training points on a grid of [-1, 1].")
    noise: float = Field(0.2, ge=0.0, le=2.0, description="Standard deviation of the label noise.")
    hidden_units: int = Field(20, ge=1, le=256, description="Units per hidden layer.")
    depth: int = Field(1, ge=1, le=4, description="Number of hidden layers.")
    activation: Activation = Field("tanh", description="Hidden-unit activation.")
    learning_rate: float = Field(1e-3, ge=1e-5, le=0.5, description="Adam step size.")
    iterations: int = Field(20000, ge=10, le=50000, description="Full-batch Adam iterations.")
    alpha: float = Field(1e-4, ge=0.0, le=100.0, description="L2 penalty (MLPRegressor's alpha).")
    l1: float = Field(0.0, ge=0.0, le=100.0, description="L1 penalty (proximal, exact zeros).")
    dropout: float = Field(0.0, ge=0.0, le=0.9, description="Dropout rate on hidden units.")
    seeds: int = Field(20, ge=1, le=MAX_NETWORKS, description="Independent repetitions (band).")
    ensemble: int = Field(1, ge=1, le=MAX_NETWORKS,
                          description="Networks averaged per repetition (1: no ensemble).")
    early_stopping: bool = Field(False, description="Stop on a validation split, restore best.")
    validation_fraction: float = Field(
        0.2, ge=0.1, le=0.5, description="Share of training points held out (early stopping).")
    patience: int = Field(
        500, ge=1, le=5000, description="Iterations without validation gain before stopping.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of the data and the networks.")

    @field_validator("ensemble")
    @classmethod
    def _networks_limit(cls, ensemble: int, info: ValidationInfo) -> int:
        seeds = info.data.get("seeds")
        if seeds is not None and seeds * ensemble > MAX_NETWORKS:
            raise ValueError(f"seeds x ensemble = {seeds} x {ensemble} = {seeds * ensemble} "
                             f"networks exceeds the limit {MAX_NETWORKS}; lower seeds or ensemble")
        return ensemble

    @model_validator(mode="after")
    def _work_limit(self) -> TrainRequest:
        work = self.networks * self.iterations * self.n_train * self.parameters
        if work > MAX_WORK:
            raise ValueError(
                f"seeds x ensemble x iterations x n_train x parameters = {work:.2g} exceeds "
                f"{MAX_WORK:.0e}; lower iterations, seeds, ensemble, n_train, hidden_units "
                "or depth")
        return self

    @property
    def networks(self) -> int:
        return self.seeds * self.ensemble

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return (1,) + (self.hidden_units,) * self.depth + (1,)

    @property
    def parameters(self) -> int:
        return n_parameters(self.layer_sizes)


class Band(BaseModel):
    """Median and 10-90 % band across seeds (None where undefined, e.g. after early stopping)."""

    median: list[float | None]
    low: list[float | None]
    high: list[float | None]


class Stat(BaseModel):
    """A scalar's median and 10-90 % band across seeds."""

    median: float | None
    low: float | None
    high: float | None


class Data(BaseModel):
    x_train: list[float]
    y_train: list[float]
    is_validation: list[bool]
    x_test: list[float]
    y_test: list[float]


class Fit(BaseModel):
    x: list[float]
    truth: list[float]
    prediction: Band


class Curves(BaseModel):
    iterations: list[int]
    train_mse: Band
    test_mse: Band


class Units(BaseModel):
    """First hidden layer: sqrt(|incoming|^2 + |outgoing|^2) per unit, sorted, across networks."""

    magnitude: Band


class Metrics(BaseModel):
    best_iteration: int
    test_mse_best: Stat
    test_mse_end: Stat
    train_mse_end: Stat
    noise_variance: float
    parameters: int
    total_parameters: int
    weights: int
    zero_weights: Stat
    dead_units: Stat
    stopped_at: Stat | None
    restored_from: Stat | None


class TrainResponse(BaseModel):
    config: TrainRequest
    data: Data
    fit: Fit
    curves: Curves
    units: Units
    metrics: Metrics
    compiled: bool = Field(description="Whether this request compiled a new program (new shape).")
    elapsed_ms: float


class Defaults(BaseModel):
    config: TrainRequest
    limits: dict[str, dict[str, float]]
    targets: list[str]
    activations: list[str]
    max_networks: int
    max_work: float
