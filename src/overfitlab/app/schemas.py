"""Request and response models of the playground API, with the hard limits that protect the server.

Every field of :class:`TrainRequest` has a range; combined limits, checked after the fields,
bound the cost of one request and keep it trainable:

* networks = datasets x seeds x ensemble <= ``MAX_NETWORKS``;
* work = networks x iterations x n_train x parameters-per-network <= ``MAX_WORK``, a proxy for
  the floating-point operations of training (forward + backward pass is a few flops per weight
  and sample), about 40 times the course defaults (20 x 20000 x 10 x 61 = 2.4e8); the largest
  allowed request trains for about 10-20 s on a loaded 2-core CPU;
* with early stopping, ceil(validation_fraction x n_train) >= ``MIN_VALIDATION`` held-out points
  (scikit-learn's split size; a validation R^2 needs two points);
* user data: x_train and y_train together, of equal length (n_train is then their length), and
  only one data set (several data sets redraw the noise of generated data).

Out-of-range, malformed or unknown input is rejected by pydantic, which FastAPI turns into a 422
whose ``detail[].loc`` names the field (and the point's index inside x_train / y_train) and
``detail[].msg`` says what is allowed. A combined limit is a ``combined_limit`` error whose
``ctx.fields`` lists every field involved (the server copies them into ``detail[].fields``).
"""
from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from overfitlab.data.synthetic import TARGETS
from overfitlab.engine.mlp import ACTIVATIONS, n_parameters

MAX_NETWORKS = 100
MAX_DATASETS = 20
MAX_WORK = 1e10
MIN_VALIDATION = 2  # held-out points early stopping needs (R^2 of one point is undefined)
MIN_TRAIN, MAX_TRAIN = 4, 500  # training points, generated or the user's
X_RANGE = (-1.0, 1.0)  # user points: x on the plotted interval, where the test set lies
Y_RANGE = (-10.0, 10.0)

# Literal types built from the registries, so a new target or activation appears here by itself.
Target = Literal[tuple(TARGETS)]  # type: ignore[valid-type]
Activation = Literal[tuple(ACTIVATIONS)]  # type: ignore[valid-type]
XPoint = Annotated[float, Field(ge=X_RANGE[0], le=X_RANGE[1])]
YPoint = Annotated[float, Field(ge=Y_RANGE[0], le=Y_RANGE[1])]
XPoints = Annotated[list[XPoint], Field(min_length=MIN_TRAIN, max_length=MAX_TRAIN)]
YPoints = Annotated[list[YPoint], Field(min_length=MIN_TRAIN, max_length=MAX_TRAIN)]


def combined_limit(fields: list[str], message: str) -> PydanticCustomError:
    """A validation error about several fields at once, naming them in ``ctx.fields``."""
    return PydanticCustomError("combined_limit", message, {"fields": fields})


class TrainRequest(BaseModel):
    """One playground view: data, network, regularization and how many networks to train."""

    # strict: JSON types as documented (no true for 1, no "10" for 10), finite numbers only
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)

    target: Target = Field("x^2", description="Noise-free function f(x) the data is drawn from.")
    n_train: int = Field(10, ge=MIN_TRAIN, le=MAX_TRAIN,
                         description="Training points on a grid of [-1, 1] (with x_train given: "
                         "its length, whatever is sent).")
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
    datasets: int = Field(1, ge=1, le=MAX_DATASETS,
                          description="Independent noise draws of the training targets, each "
                          "trained from every seed; above 1 the response decomposes the test "
                          "error into noise, bias^2 and data and initialisation variance.")
    early_stopping: bool = Field(False, description="Stop on a validation split, restore best.")
    validation_fraction: float = Field(
        0.2, ge=0.1, le=0.5, description="Share of training points held out (early stopping).")
    patience: int = Field(
        500, ge=1, le=5000, description="Iterations without validation gain before stopping.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of the data and the networks.")
    x_train: XPoints | None = Field(
        None, description="Your own training inputs (replace the generated ones; with y_train).")
    y_train: YPoints | None = Field(
        None, description="Your own training targets, one per x_train value.")

    @model_validator(mode="after")
    def _combined_limits(self) -> TrainRequest:
        """The limits that involve several fields (see the module docstring), in that order."""
        if (self.x_train is None) != (self.y_train is None):
            raise combined_limit(["x_train", "y_train"], "give x_train and y_train together, "
                                 "or neither to use the generated data")
        if self.x_train is not None:
            if len(self.x_train) != len(self.y_train):
                raise combined_limit(["x_train", "y_train"], (
                    f"{len(self.x_train)} x values but {len(self.y_train)} y values; give one "
                    "y per x"))
            self.n_train = len(self.x_train)
            if self.datasets > 1:
                raise combined_limit(["datasets", "x_train"], (
                    "several data sets redraw the noise of the generated data; with your own "
                    "points use datasets=1"))
        if self.networks > MAX_NETWORKS:
            raise combined_limit(["datasets", "seeds", "ensemble"], (
                f"datasets x seeds x ensemble = {self.datasets} x {self.seeds} x "
                f"{self.ensemble} = {self.networks} networks exceeds the limit {MAX_NETWORKS}; "
                "lower datasets, seeds or ensemble"))
        if self.work > MAX_WORK:
            raise work_limit_error(self, MAX_WORK)
        if self.early_stopping and self.validation_points < MIN_VALIDATION:
            raise combined_limit(["validation_fraction", "n_train"], (
                f"early stopping holds out ceil({self.validation_fraction:g} x {self.n_train}) = "
                f"{self.validation_points} point(s) but needs {MIN_VALIDATION}; raise "
                "validation_fraction or n_train"))
        return self

    @property
    def work(self) -> int:
        """networks x iterations x n_train x parameters: the cost the work limit bounds."""
        return self.networks * self.iterations * self.n_train * self.parameters

    @property
    def validation_points(self) -> int:
        """Points held out by early stopping: scikit-learn's ceil(fraction x n_train)."""
        return math.ceil(self.validation_fraction * self.n_train)

    @property
    def networks(self) -> int:
        return self.datasets * self.seeds * self.ensemble

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return (1,) + (self.hidden_units,) * self.depth + (1,)

    @property
    def parameters(self) -> int:
        return n_parameters(self.layer_sizes)


def work_limit_error(req: TrainRequest, limit: float) -> PydanticCustomError:
    """The refusal of a request whose :attr:`TrainRequest.work` exceeds ``limit``."""
    return combined_limit(
        ["datasets", "seeds", "ensemble", "iterations", "n_train", "hidden_units", "depth"],
        f"datasets x seeds x ensemble x iterations x n_train x parameters = {req.work:.2g} "
        f"exceeds {limit:.0e}; lower iterations, datasets, seeds, ensemble, n_train, "
        "hidden_units or depth")


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
    test_mse_end_per_seed: list[float | None] = Field(
        description="Test MSE of each seed's final model (seed, seed + 1, ...).")
    train_mse_end: Stat
    noise_variance: float
    parameters: int
    total_parameters: int
    weights: int
    zero_weights: Stat
    dead_units: Stat
    stopped_at: Stat | None
    restored_from: Stat | None
    diverged: int = Field(description="Networks whose training loss exploded or became "
                                      "non-finite; left out of every band.")
    networks: int = Field(description="Networks trained (seeds x ensemble).")


class Decomposition(BaseModel):
    """The expected test MSE over data sets and seeds, split as noise + bias^2 + data variance
    + initialisation variance (on the plotted grid, where f is known); None where a term cannot
    be told apart (one seed: no initialisation variance of its own)."""

    noise: float
    bias2: float | None
    data_variance: float | None
    init_variance: float | None
    expected_mse: float = Field(description="Measured directly; equals the sum of the terms.")


class TrainResponse(BaseModel):
    config: TrainRequest
    data: Data
    fit: Fit
    curves: Curves
    units: Units
    metrics: Metrics
    decomposition: Decomposition | None = Field(
        None, description="With datasets > 1: where the test error comes from.")
    compiled: bool = Field(description="Whether this request compiled a new program (new shape).")
    elapsed_ms: float


class Defaults(BaseModel):
    """What the page needs to offer only requests the server accepts."""

    config: TrainRequest
    limits: dict[str, dict[str, float]]
    targets: list[str]
    activations: list[str]
    max_networks: int
    max_work: float
    min_validation: int = MIN_VALIDATION
    x_range: tuple[float, float] = X_RANGE
    y_range: tuple[float, float] = Y_RANGE


class ExportResponse(BaseModel):
    code: str = Field(description="A Python script that retrains the view with "
                                  "RegularizedMLPRegressor and prints its numbers.")


class FieldError(BaseModel):
    """One reason a request was refused (see :mod:`overfitlab.app.api_errors`)."""

    loc: list[str | int] = Field(description="Where pydantic found the error.")
    fields: list[str] = Field(description="The request fields to change, e.g. ['x_train[3]'] or "
                                          "['seeds', 'ensemble'] for a combined limit.")
    msg: str = Field(description="One line: what is allowed.")
    type: str
    input: object = None


class RequestRefused(BaseModel):
    """The body of a 422."""

    detail: list[FieldError]


class Busy(BaseModel):
    """The body of a 503; the same number of seconds is in the Retry-After header."""

    detail: str
    retry_after_s: int
