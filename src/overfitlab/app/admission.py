"""Admission control for CPU-bound work behind an async server: bounded concurrency, a bounded
queue, and a refusal with a retry time beyond it.

At most ``workers`` jobs hold a slot at once; up to ``queue`` more wait for one, first come
first served; a job arriving when both are full is refused at once with :class:`Busy`, which
carries a retry time: the expected wait for a free slot,

    retry_after = ceil(mean_job_s * (running + waiting + 1) / workers),

with ``mean_job_s`` an exponential moving average of how long recent jobs held their slot (1 s
until the first has finished). A waiting job polls ``disconnected`` every ``poll_s`` seconds and
gives up its place (:class:`ClientGone`) as soon as its client has gone, so an abandoned request
never starts.

All bookkeeping runs on the event loop's thread (no locks): slots are handed directly from a
finishing job to the oldest waiter, so a newcomer cannot overtake the queue.
"""
from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from contextlib import asynccontextmanager
from typing import AsyncIterator, Awaitable, Callable


class Busy(Exception):
    """No slot and no room in the queue; retry after ``retry_after_s`` seconds."""

    def __init__(self, running: int, waiting: int, retry_after_s: int) -> None:
        self.running, self.waiting, self.retry_after_s = running, waiting, retry_after_s
        super().__init__(
            f"the playground is busy: {running} trainings running and {waiting} waiting, the "
            f"most it takes; retry in {retry_after_s} s (the Retry-After header), or ask for "
            "fewer seeds or iterations so that each training takes less time")


class ClientGone(Exception):
    """The client disconnected while its job waited for a slot; the job was dropped."""


class Admission:
    """At most ``workers`` concurrent jobs, at most ``queue`` waiting, the rest refused."""

    def __init__(self, workers: int, queue: int, poll_s: float = 0.1) -> None:
        if workers < 1 or queue < 0:
            raise ValueError(f"need workers >= 1 and queue >= 0, got {workers} and {queue}")
        self.workers, self.queue, self.poll_s = workers, queue, poll_s
        self.running = 0
        self._waiters: deque[asyncio.Future] = deque()
        self.mean_job_s = 1.0
        self._finished = 0

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def retry_after_s(self) -> int:
        """Expected seconds until a slot frees for a newcomer (see the module docstring)."""
        return max(1, math.ceil(self.mean_job_s * (self.running + self.waiting + 1)
                                / self.workers))

    @asynccontextmanager
    async def slot(self, disconnected: Callable[[], Awaitable[bool]] | None = None
                   ) -> AsyncIterator[None]:
        """Hold one of the ``workers`` slots for the body of the ``async with``.

        Raises :class:`Busy` at once when the queue is full, :class:`ClientGone` when
        ``disconnected()`` turns true while waiting or just before the slot is used.
        """
        await self._acquire(disconnected)
        try:
            gone = disconnected is not None and await disconnected()
        except BaseException:
            self._release(None)
            raise
        if gone:
            self._release(None)
            raise ClientGone
        start = time.perf_counter()
        try:
            yield
        finally:
            self._release(time.perf_counter() - start)

    async def _acquire(self, disconnected) -> None:
        if self.running < self.workers and not self._waiters:
            self.running += 1
            return
        if self.waiting >= self.queue:
            raise Busy(self.running, self.waiting, self.retry_after_s())
        ticket = asyncio.get_running_loop().create_future()
        self._waiters.append(ticket)
        try:
            while not ticket.done():
                await asyncio.wait({ticket}, timeout=self.poll_s)
                if not ticket.done() and disconnected is not None and await disconnected():
                    raise ClientGone
        except BaseException:
            if ticket.done():  # the slot was handed over just now: pass it on
                self._release(None)
            else:
                self._waiters.remove(ticket)
                ticket.cancel()
            raise

    def _release(self, held_s: float | None) -> None:
        if held_s is not None:
            self._finished += 1
            weight = max(0.2, 1.0 / self._finished)  # plain mean of the first five, then EMA
            self.mean_job_s += weight * (held_s - self.mean_job_s)
        while self._waiters:
            ticket = self._waiters.popleft()
            if not ticket.done():
                ticket.set_result(None)  # the slot passes to the oldest waiter
                return
        self.running -= 1
