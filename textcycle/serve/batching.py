"""Dynamic batching: requests that arrive together are rewritten in one engine call.

    batcher = Batcher(run, max_batch=64, max_wait_ms=10, max_queued=4096)
    await batcher.start()                           # inside the event loop
    results = await batcher.submit(key, texts)      # one result per text, in order
    await batcher.close()

Each request is a job: its texts and a future. Jobs wait in a queue per key (a model and an
option set: only jobs with the same key can share an engine call). One dispatcher task takes
the key whose first job is oldest, waits until that key has `max_batch` texts waiting or
`max_wait_ms` have passed since the first job arrived or the last batch ended, whichever is
later, and hands the texts of the oldest job plus the smallest
others that fit in `max_batch` to `run(key, texts)` in a worker thread, so the event loop
stays free for other requests (health checks, new arrivals) while the engine works. Every job
gets back its own slice of the results. While a batch runs, new arrivals queue up, so a busy
server batches more by itself. The wait after a batch ends lets the clients it just answered
come back in time for the next batch: timed from arrival alone, a job that queued during the
batch starts the next one at once, and under closed-loop load the clients split into two
alternating halves, each batch half the size it could be.

`max_inflight` batches may run at once (one worker thread each), so one batch's Python side
can run while CTranslate2, which releases the GIL, decodes another. On 2 cores this gained
nothing (docs/serve.md), hence the default of 1; it is for machines with more cores.

Bounds: at most `max_queued` texts wait at once (a job that would go over raises `QueueFull`
at once, for a 503); a job whose caller gives up (its task is cancelled, e.g. the client
disconnected) before its batch started is removed from the queue and costs nothing. If a
batch of several jobs fails, each job is retried alone, so one bad request cannot fail the
others. With `batching=False` every job runs alone (for comparison).
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable


log = logging.getLogger("textcycle.serve")


class QueueFull(Exception):
    """No room in the queue for this job's texts (answered with 503 and Retry-After)."""


@dataclass(eq=False)
class Job:
    key: Hashable
    texts: list
    future: asyncio.Future
    enqueued: float = field(default_factory=time.monotonic)


class Batcher:
    def __init__(self, run: Callable[[Hashable, list], list], *, max_batch: int = 64, max_wait_ms: float = 10.0,
                 max_queued: int = 4096, batching: bool = True, max_inflight: int = 1,
                 thread_init: Callable[[], None] | None = None):
        if max_batch < 1 or max_queued < 1 or max_inflight < 1 or max_wait_ms < 0:
            raise ValueError("max_batch, max_queued and max_inflight must be at least 1, max_wait_ms at least 0")
        self.run = run
        self.max_batch, self.max_wait = max_batch, max_wait_ms / 1000.0
        self.max_queued, self.batching, self.max_inflight = max_queued, batching, max_inflight
        # thread_init runs once in each engine thread (e.g. a per-thread BLAS thread limit)
        self.executor = ThreadPoolExecutor(max_inflight, thread_name_prefix="textcycle-engine",
                                           initializer=thread_init)
        self.queued = 0          # texts waiting (not started)
        self.running = 0         # texts in the batches the engine is working on
        self.engine_calls = 0    # batches handed to `run` (retries of a failed batch included)
        self.texts_run = 0       # texts in those batches (texts_run / engine_calls: the mean batch)
        self._counting = threading.Lock()  # the counters above, from several engine threads
        self._free_since = 0.0   # monotonic time the last batch ended
        self._queues: dict[Hashable, deque[Job]] = {}
        self._wake: asyncio.Event | None = None
        self._slots: asyncio.Semaphore | None = None  # one per batch that may run at once
        self._batches: set[asyncio.Task] = set()      # the batches running now
        self._task: asyncio.Task | None = None

    # ------------------------------------------------------------ public
    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(self.max_inflight)
        self._task = asyncio.create_task(self._dispatch(), name="textcycle-batcher")

    async def close(self) -> None:
        """Stop dispatching; jobs still waiting or running get a CancelledError."""
        for task in [self._task, *self._batches]:
            if task is None:
                continue
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        for q in self._queues.values():
            for job in q:
                job.future.cancel()
        self._queues.clear()
        self.queued = 0
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, key: Hashable, texts: list) -> list:
        """Queue `texts` under `key` and wait for their results (one per text, in order)."""
        n = len(texts)
        if self.queued + n > self.max_queued:
            raise QueueFull(f"the queue is full ({self.queued} of {self.max_queued} texts waiting)")
        job = Job(key, list(texts), asyncio.get_running_loop().create_future())
        self._queues.setdefault(key, deque()).append(job)
        self.queued += n
        self._wake.set()
        try:
            return await job.future
        except asyncio.CancelledError:
            self._drop(job)  # not started yet: it leaves the queue; started: its result is discarded
            raise

    # ------------------------------------------------------------ inside
    def _drop(self, job: Job) -> None:
        q = self._queues.get(job.key)
        if q is not None and job in q:
            q.remove(job)
            self.queued -= len(job.texts)
            if not q:
                del self._queues[job.key]

    def _oldest_key(self) -> Hashable | None:
        if not self._queues:
            return None
        return min(self._queues, key=lambda k: self._queues[k][0].enqueued)

    def _waiting(self, key: Hashable) -> int:
        return sum(len(j.texts) for j in self._queues.get(key, ()))

    def _take(self, key: Hashable) -> list[Job]:
        """The key's oldest job, then the smallest of the others that still fit in
        `max_batch` (ties by arrival): a 1-text request is never held back for a batch's worth
        of big ones, and no job starves, since every job becomes the oldest in time."""
        q = self._queues.get(key)
        if not q:
            return []
        jobs, total = [q[0]], len(q[0].texts)
        if self.batching:
            for job in sorted(list(q)[1:], key=lambda j: len(j.texts)):  # stable: arrival order kept
                if total + len(job.texts) > self.max_batch:
                    break
                jobs.append(job)
                total += len(job.texts)
        taken = set(jobs)  # Job(eq=False): hashed by identity
        rest = deque(j for j in q if j not in taken)
        if rest:
            self._queues[key] = rest
        else:
            del self._queues[key]
        self.queued -= total
        return jobs

    async def _gather(self, key: Hashable) -> None:
        """Wait (at most until the oldest job's deadline) for `max_batch` texts under `key`."""
        while self._queues.get(key) and self._waiting(key) < self.max_batch:
            head = self._queues[key][0]
            left = max(head.enqueued, self._free_since) + self.max_wait - time.monotonic()
            if left <= 0:
                return
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), left)
            except asyncio.TimeoutError:
                return

    def _run_jobs(self, key: Hashable, jobs: list[Job]) -> list[Any]:
        """In the engine thread: the jobs' texts in one call; on failure, each job alone.
        Returns per job its results or the exception it raised."""
        texts = [t for j in jobs for t in j.texts]
        with self._counting:
            self.engine_calls += 1
            self.texts_run += len(texts)
        try:
            results = self.run(key, texts)
            if len(results) != len(texts):
                raise RuntimeError(f"the engine returned {len(results)} results for {len(texts)} texts")
        except Exception as e:  # noqa: BLE001 - handed to the waiting requests
            if len(jobs) == 1:
                return [e]
            return [self._run_jobs(key, [j])[0] for j in jobs]
        out, i = [], 0
        for j in jobs:
            out.append(results[i:i + len(j.texts)])
            i += len(j.texts)
        return out

    async def _dispatch(self) -> None:
        while True:
            try:
                await self._dispatch_one()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - never let the dispatcher die; the jobs got their errors
                log.exception("batcher: unexpected error (dispatching goes on)")

    async def _dispatch_one(self) -> None:
        """Wait for a free slot and for work, form one batch and start it."""
        await self._slots.acquire()
        try:
            key = self._oldest_key()
            if key is None:
                self._wake.clear()
                await self._wake.wait()
                jobs = []
            else:
                if self.batching:
                    await self._gather(key)
                jobs = self._take(key)  # empty if every waiting job was dropped meanwhile
        except BaseException:
            self._slots.release()
            raise
        if not jobs:
            self._slots.release()
            return
        task = asyncio.create_task(self._run_batch(key, jobs), name="textcycle-batch")
        self._batches.add(task)
        task.add_done_callback(self._batches.discard)

    async def _run_batch(self, key: Hashable, jobs: list[Job]) -> None:
        """Run one batch in an engine thread, hand out the results, free its slot."""
        n = sum(len(j.texts) for j in jobs)
        self.running += n
        try:
            outcomes = await asyncio.get_running_loop().run_in_executor(self.executor, self._run_jobs, key, jobs)
        except asyncio.CancelledError:
            for job in jobs:
                job.future.cancel()
            raise
        except Exception as e:  # noqa: BLE001 - e.g. the executor was shut down
            outcomes = [e] * len(jobs)
        finally:
            self.running -= n
            self._free_since = time.monotonic()
            self._slots.release()
        for job, outcome in zip(jobs, outcomes):
            if job.future.done():  # its caller gave up while the batch ran
                continue
            if isinstance(outcome, BaseException):
                job.future.set_exception(outcome)
            else:
                job.future.set_result(outcome)
