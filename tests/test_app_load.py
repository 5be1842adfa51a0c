"""The playground under load: bounded concurrency, a bounded queue, 503 + Retry-After beyond it,
abandoned requests dropped before they start, an event loop that keeps answering.

Training is replaced by a stand-in that blocks until the test releases it (``compute.run`` is
the only thing patched), so these tests take well under a second and control the timing
exactly; the real training is tested in test_app_api.py.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import pytest

from overfitlab.app import compute
from overfitlab.app.admission import Admission, Busy, ClientGone
from overfitlab.app.server import create_app


class BlockingTraining:
    """Stands in for compute.run: records each request and blocks until released."""

    def __init__(self, run) -> None:
        self.run = run
        self.started: list[float] = []
        self.release = threading.Event()

    def __call__(self, req):
        self.started.append(req.alpha)
        if not self.release.wait(timeout=30):
            raise TimeoutError("the test never released the training")
        return self.run(req.model_copy(update={"iterations": 10, "seeds": 1}))


@pytest.fixture
def training(monkeypatch):
    fake = BlockingTraining(compute.run)
    monkeypatch.setattr(compute, "run", fake)
    yield fake
    fake.release.set()


async def _until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


def test_admission_queue_is_fifo_and_bounded():
    async def scenario():
        gate = Admission(workers=1, queue=1, poll_s=0.01)
        order = []

        async def job(name, hold):
            async with gate.slot():
                order.append(name)
                await hold.wait()

        first, second = asyncio.Event(), asyncio.Event()
        a = asyncio.create_task(job("a", first))
        await _until(lambda: gate.running == 1)
        b = asyncio.create_task(job("b", second))
        await _until(lambda: gate.waiting == 1)
        with pytest.raises(Busy) as busy:  # one running, one waiting: the third is refused
            async with gate.slot():
                pass
        assert busy.value.retry_after_s >= 1 and "retry in" in str(busy.value)
        first.set()
        await a
        await _until(lambda: order == ["a", "b"])
        assert gate.running == 1 and gate.waiting == 0  # the slot passed straight to b
        second.set()
        await b
        assert gate.running == 0

    asyncio.run(scenario())


def test_admission_drops_a_waiter_whose_client_left():
    async def scenario():
        gate = Admission(workers=1, queue=4, poll_s=0.01)
        hold, gone = asyncio.Event(), asyncio.Event()
        ran = []

        async def job(name, disconnected=None):
            async with gate.slot(disconnected):
                ran.append(name)
                await hold.wait()

        async def is_gone():
            return gone.is_set()

        a = asyncio.create_task(job("a"))
        await _until(lambda: gate.running == 1)
        b = asyncio.create_task(job("b", is_gone))
        await _until(lambda: gate.waiting == 1)
        gone.set()
        with pytest.raises(ClientGone):
            await b
        assert gate.waiting == 0  # its place in the queue is free again, nothing ran
        hold.set()
        await a
        assert ran == ["a"] and gate.running == 0

    asyncio.run(scenario())


def test_full_queue_gets_503_with_retry_after_and_the_loop_keeps_answering(training):
    app = create_app(workers=1, queue=1)

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            post = lambda alpha: client.post("/api/train", json={"alpha": alpha})  # noqa: E731
            running = asyncio.create_task(post(0.1))
            await _until(lambda: training.started == [0.1])
            waiting = asyncio.create_task(post(0.2))
            await _until(lambda: app.state.trainer.admission.waiting == 1)
            # The event loop is free while a training runs in its worker thread.
            t0 = time.perf_counter()
            assert (await client.get("/api/defaults")).status_code == 200
            assert time.perf_counter() - t0 < 5.0  # the training blocks until released
            refused = await post(0.3)
            assert refused.status_code == 503
            retry = int(refused.headers["Retry-After"])
            body = refused.json()
            assert retry >= 1 and body["retry_after_s"] == retry
            assert "busy" in body["detail"] and f"retry in {retry} s" in body["detail"]
            training.release.set()
            assert (await running).status_code == 200 and (await waiting).status_code == 200
        assert training.started == [0.1, 0.2]  # the refused request never trained

    asyncio.run(scenario())


async def _asgi_post(app, body: dict, gone: asyncio.Event) -> list[dict]:
    """POST /api/train straight through ASGI; the client disconnects when ``gone`` is set."""
    payload = json.dumps(body).encode()
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/api/train", "raw_path": b"/api/train",
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 5000),
             "server": ("127.0.0.1", 8000),
             "headers": [(b"content-type", b"application/json"),
                         (b"content-length", str(len(payload)).encode())]}
    sent_body = False
    messages: list[dict] = []

    async def receive():
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": payload, "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        messages.append(message)

    await app(scope, receive, send)
    return messages


def test_disconnected_client_leaves_no_work_queued(training):
    app = create_app(workers=1, queue=2)
    admission = app.state.trainer.admission

    async def scenario():
        stay, leave = asyncio.Event(), asyncio.Event()
        first = asyncio.create_task(_asgi_post(app, {"alpha": 0.1}, stay))
        await _until(lambda: training.started == [0.1])
        second = asyncio.create_task(_asgi_post(app, {"alpha": 0.2}, leave))
        await _until(lambda: admission.waiting == 1)
        leave.set()  # the second client goes away while it waits
        messages = await asyncio.wait_for(second, 5)
        assert messages[0]["status"] == 499
        assert admission.waiting == 0
        training.release.set()
        messages = await asyncio.wait_for(first, 30)
        assert messages[0]["status"] == 200
        assert training.started == [0.1]  # the abandoned request never started
        assert admission.running == 0

    asyncio.run(scenario())
