"""The playground server: one static page, plotly.js and Swagger UI from installed packages, a
JSON API.

Routes:

* ``GET /`` the page (``static/index.html``); ``GET /static/...`` its script and style;
* ``GET /vendor/plotly.min.js`` the plotly.js bundle shipped inside the ``plotly`` Python package,
  and ``GET /vendor/swagger-ui/...`` Swagger UI's files from the ``swagger-ui-bundle-v2``
  package, so the page and ``/docs`` work offline and never ask a CDN;
* ``GET /api/defaults`` the default request, the limits of every numeric field, the choices and
  the combined limits;
* ``POST /api/train`` a :class:`~overfitlab.app.schemas.TrainRequest` in, a
  :class:`~overfitlab.app.schemas.TrainResponse` out;
* ``POST /api/export`` the same request in, the Python code that retrains it with
  ``RegularizedMLPRegressor`` out (:mod:`overfitlab.app.export`);
* ``GET /docs`` the OpenAPI page (Swagger UI, local assets), ``GET /openapi.json`` the schema.

Load. Training is CPU-bound JAX: it runs in worker threads so the event loop keeps answering.
At most ``workers`` trainings run at once (default: the usable cores), up to ``queue`` more
wait (default ``QUEUE_PER_WORKER`` per worker), and beyond that a request gets 503 with
``Retry-After`` (:mod:`overfitlab.app.admission`). A request whose client disconnects while it
waits is dropped before it starts. Recent answers are kept in an LRU cache keyed by the request,
so returning to a slider position is instant and takes no slot. Bad input gets a 422 naming the
field(s) (:mod:`overfitlab.app.api_errors`).
"""
from __future__ import annotations

import asyncio
from collections import OrderedDict
from contextlib import asynccontextmanager
from functools import lru_cache
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from overfitlab import __version__
from overfitlab.app import compute, export
from overfitlab.app.admission import Admission, Busy, ClientGone
from overfitlab.cores import usable_cores
from overfitlab.app.api_errors import HTTPException as AnyHTTPException
from overfitlab.app.api_errors import busy, invalid_request, unreadable_body
from overfitlab.app.schemas import (MAX_NETWORKS, MAX_WORK, Defaults, ExportResponse,
                                    RequestRefused, TrainRequest, TrainResponse,
                                    work_limit_error)
from overfitlab.app.schemas import Busy as BusyBody

STATIC_DIR = Path(str(resources.files("overfitlab.app") / "static"))
CACHE_SIZE = 64
QUEUE_PER_WORKER = 4
SWAGGER_URL = "/vendor/swagger-ui"
REFUSED = {422: {"model": RequestRefused, "description": "Invalid request: `detail[].fields` "
                                                           "names what to change"}}
BUSY = {503: {"model": BusyBody, "description": "Too busy: retry after the Retry-After "
                                                  "header's seconds"}}


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


def swagger_ui_dir() -> Path:
    """Swagger UI's dist files inside the installed ``swagger-ui-bundle-v2`` package."""
    from swagger_ui_bundle import swagger_ui_path

    return Path(swagger_ui_path)


class AnswerCache:
    """Least-recently-used answers by request; used from the event loop's thread only."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._items: OrderedDict[str, TrainResponse] = OrderedDict()
        self._size = size

    def get(self, key: str) -> TrainResponse | None:
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        return None

    def put(self, key: str, answer: TrainResponse) -> None:
        self._items[key] = answer
        self._items.move_to_end(key)
        if len(self._items) > self._size:
            self._items.popitem(last=False)


class Trainer:
    """Cached, admission-controlled access to :func:`overfitlab.app.compute.run`."""

    def __init__(self, workers: int, queue: int, cache_size: int = CACHE_SIZE) -> None:
        self.admission = Admission(workers, queue)
        self.cache = AnswerCache(cache_size)

    async def __call__(self, req: TrainRequest, disconnected=None) -> TrainResponse:
        """The answer from the cache, or trained in a worker thread once a slot is free.

        Raises :class:`Busy` (queue full) or :class:`ClientGone` (client left while waiting).
        """
        key = req.model_dump_json()
        answer = self.cache.get(key)
        if answer is not None:
            return answer
        async with self.admission.slot(disconnected):
            answer = self.cache.get(key)  # trained by another request while this one waited
            if answer is None:
                answer = await run_in_threadpool(compute.run, req)
                self.cache.put(key, answer)
        return answer

    async def warm_up(self) -> None:
        """Compile the default shapes (plain, with L1, with dropout) ahead of the first visit."""
        for extra in ({}, {"l1": 1e-3}, {"dropout": 0.1}):
            await self(TrainRequest(**extra))


def _limits() -> dict[str, dict[str, float]]:
    """Numeric bounds of every field, read from the schema (so they cannot drift)."""
    limits = {}
    for name, prop in TrainRequest.model_json_schema()["properties"].items():
        bounds = {k: prop[k] for k in ("minimum", "maximum") if k in prop}
        if bounds:
            limits[name] = bounds
    return limits


def create_app(warm_up: bool = False, workers: int | None = None, queue: int | None = None,
               max_work: float = MAX_WORK) -> FastAPI:
    """The playground application.

    ``workers``: trainings run at once (default: the usable cores); ``queue``: requests that may
    wait for one (default ``QUEUE_PER_WORKER`` x workers); ``max_work``: a work limit below the
    schema's ``MAX_WORK`` (e.g. for a shared server, or tests that must train only small
    networks); ``warm_up`` compiles the default shapes in the background at start-up.
    """
    workers = usable_cores() if workers is None else workers
    trainer = Trainer(workers, QUEUE_PER_WORKER * workers if queue is None else queue)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        task = asyncio.create_task(trainer.warm_up()) if warm_up else None
        yield
        if task is not None:
            task.cancel()

    app = FastAPI(title="overfitlab playground", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None,
                  description="Train many small regularized MLPs at once and compare them.")
    app.state.trainer = trainer
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(Busy, busy)
    app.add_exception_handler(AnyHTTPException, unreadable_body)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount(SWAGGER_URL, StaticFiles(directory=swagger_ui_dir()), name="swagger-ui")

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

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """Swagger UI on local assets; no validator badge (it would call an online service)."""
        return get_swagger_ui_html(
            openapi_url=app.openapi_url, title=f"{app.title} - API",
            swagger_js_url=f"{SWAGGER_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_URL}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_URL}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None})

    @app.get("/api/defaults", response_model=Defaults)
    def defaults() -> Defaults:
        """The default request (the course protocol), field limits, choices, combined limits."""
        schema = TrainRequest.model_json_schema()["properties"]
        return Defaults(config=TrainRequest(), limits=_limits(),
                        targets=list(schema["target"]["enum"]),
                        activations=list(schema["activation"]["enum"]),
                        max_networks=MAX_NETWORKS, max_work=min(max_work, MAX_WORK))

    @app.post("/api/train", response_model=TrainResponse, responses={**REFUSED, **BUSY})
    async def train(req: TrainRequest, request: Request) -> Response | TrainResponse:
        """Train seeds x ensemble networks; curves, predictions on a grid, weights, metrics."""
        if req.work > max_work:
            error = work_limit_error(req, max_work)
            raise RequestValidationError([{"type": error.type, "loc": ("body",),
                                           "msg": error.message(), "ctx": error.context,
                                           "input": req.model_dump()}])
        try:
            return await trainer(req, request.is_disconnected)
        except ClientGone:
            return Response(status_code=499)  # nobody is listening; nothing was trained

    @app.post("/api/export", response_model=ExportResponse, responses=REFUSED)
    def export_code(req: TrainRequest) -> ExportResponse:
        """Python code that retrains this request with ``RegularizedMLPRegressor``."""
        return ExportResponse(code=export.python_code(req))

    return app


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the playground with uvicorn until interrupted; prints nothing itself."""
    import uvicorn

    uvicorn.run(create_app(warm_up=True), host=host, port=port, log_level="warning",
                access_log=False)
