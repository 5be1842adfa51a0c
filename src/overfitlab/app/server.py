"""The playground server: one static page, plotly.js from the installed package, a JSON API.

Routes:

* ``GET /`` the page (``static/index.html``); ``GET /static/...`` its script and style;
* ``GET /vendor/plotly.min.js`` the plotly.js bundle shipped inside the ``plotly`` Python package,
  so the page works offline and never asks a CDN;
* ``GET /api/defaults`` the default request, the limits of every numeric field, the choices;
* ``POST /api/train`` a :class:`~overfitlab.app.schemas.TrainRequest` in, a
  :class:`~overfitlab.app.schemas.TrainResponse` out (422 naming the field on bad input);
* ``GET /docs`` FastAPI's OpenAPI page (the only page that loads assets from a CDN).

Training runs one request at a time (a lock), so a burst of slider events cannot pile up
concurrent trainings; the page itself keeps at most one request in flight. Recent answers are
kept in a small LRU cache keyed by the request, so returning to a slider position is instant.
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict
from contextlib import asynccontextmanager
from functools import lru_cache
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from overfitlab import __version__
from overfitlab.app import compute
from overfitlab.app.schemas import (MAX_NETWORKS, MAX_WORK, Defaults, TrainRequest,
                                    TrainResponse)

STATIC_DIR = Path(str(resources.files("overfitlab.app") / "static"))
CACHE_SIZE = 64


@lru_cache(maxsize=1)
def plotly_js_path() -> Path:
    """plotly.min.js inside the installed ``plotly`` package (no network, no CDN)."""
    root = Path(str(resources.files("plotly")))
    preferred = root / "package_data" / "plotly.min.js"
    if preferred.is_file():
        return preferred
    found = sorted(root.rglob("plotly.min.js"))
    if not found:
        raise FileNotFoundError(f"plotly.min.js not found under {root}; reinstall plotly")
    return found[0]


class Trainer:
    """Serialised, cached access to :func:`overfitlab.app.compute.run`."""

    def __init__(self, cache_size: int = CACHE_SIZE) -> None:
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, TrainResponse] = OrderedDict()
        self._cache_size = cache_size

    def __call__(self, req: TrainRequest) -> TrainResponse:
        key = req.model_dump_json()
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            answer = compute.run(req)
            self._cache[key] = answer
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            return answer

    def warm_up(self) -> None:
        """Compile the default shapes (plain, with L1, with dropout) ahead of the first visit."""
        for extra in ({}, {"l1": 1e-3}, {"dropout": 0.1}):
            self(TrainRequest(**extra))


def _limits() -> dict[str, dict[str, float]]:
    """Numeric bounds of every field, read from the schema (so they cannot drift)."""
    limits = {}
    for name, prop in TrainRequest.model_json_schema()["properties"].items():
        bounds = {k: prop[k] for k in ("minimum", "maximum") if k in prop}
        if bounds:
            limits[name] = bounds
    return limits


def _json_safe(value):
    """Non-finite floats (e.g. a NaN the client sent) as strings, so the error can be encoded."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 body ({"detail": [{"loc", "msg", "type", "input"}, ...]}), JSON-safe."""
    detail = _json_safe(jsonable_encoder(exc.errors()))
    return JSONResponse(status_code=422, content={"detail": detail})


def create_app(warm_up: bool = False) -> FastAPI:
    """The playground application; ``warm_up`` compiles the default shapes in the background."""
    trainer = Trainer()

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        if warm_up:
            threading.Thread(target=trainer.warm_up, name="playground-warm-up",
                             daemon=True).start()
        yield

    app = FastAPI(title="overfitlab playground", version=__version__, lifespan=lifespan,
                  description="Train many small regularized MLPs at once and compare them.")
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> Response:
        try:
            path = plotly_js_path()
        except FileNotFoundError as err:
            raise HTTPException(status_code=500, detail=str(err)) from err
        return FileResponse(path, media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/api/defaults", response_model=Defaults)
    def defaults() -> Defaults:
        """The default request (the course protocol), field limits and choices."""
        schema = TrainRequest.model_json_schema()["properties"]
        return Defaults(config=TrainRequest(), limits=_limits(),
                        targets=list(schema["target"]["enum"]),
                        activations=list(schema["activation"]["enum"]),
                        max_networks=MAX_NETWORKS, max_work=MAX_WORK)

    @app.post("/api/train", response_model=TrainResponse)
    def train(req: TrainRequest) -> TrainResponse:
        """Train seeds x ensemble networks; curves, predictions on a grid, weights, metrics."""
        return trainer(req)

    return app


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the playground with uvicorn until interrupted; prints nothing itself."""
    import uvicorn

    uvicorn.run(create_app(warm_up=True), host=host, port=port, log_level="warning",
                access_log=False)
