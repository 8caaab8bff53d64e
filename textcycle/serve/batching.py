"""Dynamic batching: requests that arrive together are rewritten in one engine call.

    batcher = Batcher(run, max_batch=64, max_batch_cost=8192, max_wait_ms=10, max_queued=4096)
    await batcher.start()                                  # inside the event loop
    results = await batcher.submit(key, texts, costs)      # one result per text, in order
    await batcher.close()

Each request is a job: its texts, their costs (an estimate of each text's engine work; 1 each
by default) and a future. Jobs wait in a queue per key (a model and an option set: only jobs
with the same key can share an engine call). One dispatcher task takes the key whose first job
is oldest, waits until that key has `max_batch` texts or `max_batch_cost` of work waiting, or
no job has arrived for `max_wait_ms`, counted from the first job's arrival or the end of the
last batch, whichever is later (each arrival extends the wait, up to `GATHER_SPREAD` x
`max_wait_ms` in all), and hands as much of the oldest job as fits in `max_batch` texts and `max_batch_cost`
(at least one text), plus the cheapest others that fit whole, to `run(key, texts)` in a worker
thread, so the event loop stays free for other requests (health checks, new arrivals) while the
engine works. Every job gets back its own slice of the results. While a batch runs, new
arrivals queue up, so a busy server batches more by itself. The wait after a batch ends lets
the clients it just answered come back in time for the next batch: timed from arrival alone, a
job that queued during the batch starts the next one at once, and under closed-loop load the
clients split into two alternating halves, each batch half the size it could be. The clients
come back spread out (each answer is written, read, and a new request parsed, while the engine
thread holds the GIL for the Python side of the next batch), so the wait is a gap between
arrivals, not a fixed time: 32 clients may need more than `max_wait_ms` in all to come back, but
never that long between two of them.

Fairness: a job over `max_batch_cost` runs in parts, and after each part what is left of it
goes to the back of the queue, as if it had just arrived. So requests that arrived meanwhile
run between its parts: a cheap request waits for one part of an expensive one (one batch's
worth of work), not for all of it, and no job starves, since every job becomes the oldest in
time.

`max_inflight` batches may run at once (one worker thread each), so one batch's Python side
can run while CTranslate2, which releases the GIL, decodes another. On 2 cores this gained
nothing (docs/serve.md), hence the default of 1; it is for machines with more cores.

Bounds: at most `max_queued` texts and `max_queued_cost` of work wait at once (a job that would
go over either raises `QueueFull` at once, for a 503); a job whose caller gives up (its task is
cancelled, e.g. the client disconnected) before its batch started is removed from the queue and
costs nothing (what is left of it, if it was running in parts). If a batch of several jobs
fails, each job's part is retried alone, so one bad request cannot fail the others. With
`batching=False` every job runs alone (for comparison; still in parts when it is over
`max_batch_cost`).
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


# the longest gathering wait, in units of max_wait_ms: arrivals extend the wait only this far
GATHER_SPREAD = 4


class QueueFull(Exception):
    """No room in the queue for this job's texts (answered with 503 and Retry-After)."""


@dataclass(eq=False)
class Job:
    key: Hashable
    texts: list
    costs: list
    future: asyncio.Future
    enqueued: float = field(default_factory=time.monotonic)
    next: int = 0  # texts before it went to a batch already (a job over max_batch_cost runs in parts)
    done: int = 0  # texts whose results are in
    results: list = field(default_factory=list)

    def __post_init__(self):
        self.results = [None] * len(self.texts)

    @property
    def waiting(self) -> int:
        return len(self.texts) - self.next

    @property
    def waiting_cost(self) -> int:
        return sum(self.costs[self.next :])


Part = tuple  # (job, first text, end): a job's texts that go to one batch


class Batcher:
    def __init__(
        self,
        run: Callable[[Hashable, list], list],
        *,
        max_batch: int = 64,
        max_wait_ms: float = 10.0,
        max_queued: int = 4096,
        batching: bool = True,
        max_inflight: int = 1,
        max_batch_cost: int = 8192,
        max_queued_cost: int = 65536,
        thread_init: Callable[[], None] | None = None,
    ):
        if min(max_batch, max_queued, max_inflight, max_batch_cost, max_queued_cost) < 1 or max_wait_ms < 0:
            raise ValueError(
                "max_batch, max_queued, max_inflight and the costs must be at least 1, max_wait_ms at least 0"
            )
        self.run = run
        self.max_batch, self.max_wait = max_batch, max_wait_ms / 1000.0
        self.max_queued, self.batching, self.max_inflight = max_queued, batching, max_inflight
        self.max_batch_cost, self.max_queued_cost = max_batch_cost, max_queued_cost
        # thread_init runs once in each engine thread (e.g. a per-thread BLAS thread limit)
        self.executor = ThreadPoolExecutor(max_inflight, thread_name_prefix="textcycle-engine", initializer=thread_init)
        self.queued = 0  # texts waiting (not started)
        self.queued_cost = 0  # their cost
        self.running = 0  # texts in the batches the engine is working on
        self.busy = 0  # engine calls running now (close() cannot stop them)
        self.engine_calls = 0  # batches handed to `run` (retries of a failed batch included)
        self.texts_run = 0  # texts in those batches (texts_run / engine_calls: the mean batch)
        self._counting = threading.Lock()  # the counters above, from several engine threads
        self._free_since = 0.0  # monotonic time the last batch ended
        self._last_arrival: dict[Hashable, float] = {}  # per key: monotonic time its last job arrived
        self._queues: dict[Hashable, deque[Job]] = {}
        self._wake: asyncio.Event | None = None
        self._slots: asyncio.Semaphore | None = None  # one per batch that may run at once
        self._batches: set[asyncio.Task] = set()  # the batches running now
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
        self.queued = self.queued_cost = 0
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, key: Hashable, texts: list, costs: list[int] | None = None) -> list:
        """Queue `texts` under `key` and wait for their results (one per text, in order).
        `costs`: each text's engine work (default 1 each), for `max_batch_cost` and `max_queued_cost`."""
        if not texts:
            return []
        costs = [1] * len(texts) if costs is None else list(costs)
        n, cost = len(texts), sum(costs)
        if self.queued + n > self.max_queued:
            raise QueueFull(f"the queue is full ({self.queued} of {self.max_queued} texts waiting)")
        if self.queued_cost + cost > self.max_queued_cost:
            raise QueueFull(f"the queue is full ({self.queued_cost} of {self.max_queued_cost} units of work waiting)")
        job = Job(key, list(texts), costs, asyncio.get_running_loop().create_future())
        self._queues.setdefault(key, deque()).append(job)
        self.queued += n
        self.queued_cost += cost
        self._last_arrival[key] = job.enqueued
        self._wake.set()
        try:
            return await job.future
        except asyncio.CancelledError:
            self._drop(job)  # what has not started leaves the queue; a running part's result is discarded
            raise

    # ------------------------------------------------------------ inside
    def _drop(self, job: Job) -> None:
        q = self._queues.get(job.key)
        if q is not None and job in q:
            q.remove(job)
            self.queued -= job.waiting
            self.queued_cost -= job.waiting_cost
            if not q:
                del self._queues[job.key]

    def _requeue(self, job: Job) -> None:
        """A part of `job` has run: the rest goes to the back of the queue, as if just arrived."""
        q = self._queues.get(job.key)
        if q is not None and job in q:
            q.remove(job)
            job.enqueued = time.monotonic()
            q.append(job)

    def _oldest_key(self) -> Hashable | None:
        if not self._queues:
            return None
        return min(self._queues, key=lambda k: self._queues[k][0].enqueued)

    def _full(self, key: Hashable) -> bool:
        jobs = self._queues.get(key, ())
        return (
            sum(j.waiting for j in jobs) >= self.max_batch or sum(j.waiting_cost for j in jobs) >= self.max_batch_cost
        )

    def _take(self, key: Hashable) -> list[Part]:
        """The next batch under `key`: as much of its oldest job as fits in `max_batch` texts
        and `max_batch_cost` (at least one text), then the cheapest of the others that still fit
        whole (ties by arrival): a 1-text request is never held back for a batch's worth of big
        ones. The oldest job, if texts of it are left, stays in the queue (`_requeue` moves it
        back when its part has run)."""
        q = self._queues.get(key)
        if not q:
            return []
        head = q[0]
        end, count, cost = head.next + 1, 1, head.costs[head.next]
        while end < len(head.texts) and count < self.max_batch and cost + head.costs[end] <= self.max_batch_cost:
            cost += head.costs[end]
            end, count = end + 1, count + 1
        parts = [(head, head.next, end)]
        if self.batching:
            for job in sorted(list(q)[1:], key=lambda j: j.waiting_cost):  # stable: arrival order kept
                if count + job.waiting <= self.max_batch and cost + job.waiting_cost <= self.max_batch_cost:
                    parts.append((job, job.next, len(job.texts)))
                    count, cost = count + job.waiting, cost + job.waiting_cost
        for job, _, part_end in parts:
            job.next = part_end
        rest = deque(j for j in q if j.waiting)
        if rest:
            self._queues[key] = rest
        else:
            del self._queues[key]
        self.queued -= count
        self.queued_cost -= cost
        return parts

    async def _gather(self, key: Hashable) -> None:
        """Wait for a full batch under `key`, or for `max_wait` without an arrival (from the
        oldest job's arrival or the last batch's end, at most `GATHER_SPREAD` x `max_wait`)."""
        while self._queues.get(key) and not self._full(key):
            start = max(self._queues[key][0].enqueued, self._free_since)
            last = self._last_arrival.get(key, start)
            end = min(max(start, last) + self.max_wait, start + GATHER_SPREAD * self.max_wait)
            left = end - time.monotonic()
            if left <= 0:
                return
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), left)
            except asyncio.TimeoutError:
                return

    def _engine(self, key: Hashable, parts: list[Part]) -> list[Any]:
        """In the engine thread: `_run_parts`, counted in `busy` while it runs."""
        with self._counting:
            self.busy += 1
        try:
            return self._run_parts(key, parts)
        finally:
            with self._counting:
                self.busy -= 1

    def _run_parts(self, key: Hashable, parts: list[Part]) -> list[Any]:
        """The parts' texts in one call; on failure, each part alone.
        Returns per part its results or the exception it raised."""
        texts = [t for job, start, end in parts for t in job.texts[start:end]]
        with self._counting:
            self.engine_calls += 1
            self.texts_run += len(texts)
        try:
            results = self.run(key, texts)
            if len(results) != len(texts):
                raise RuntimeError(f"the engine returned {len(results)} results for {len(texts)} texts")
        except Exception as e:  # noqa: BLE001 - handed to the waiting requests
            if len(parts) == 1:
                return [e]
            return [self._run_parts(key, [p])[0] for p in parts]
        out, i = [], 0
        for _, start, end in parts:
            out.append(results[i : i + end - start])
            i += end - start
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
                parts = []
            else:
                if self.batching:
                    await self._gather(key)
                parts = self._take(key)  # empty if every waiting job was dropped meanwhile
        except BaseException:
            self._slots.release()
            raise
        if not parts:
            self._slots.release()
            return
        task = asyncio.create_task(self._run_batch(key, parts), name="textcycle-batch")
        self._batches.add(task)
        task.add_done_callback(self._batches.discard)

    async def _run_batch(self, key: Hashable, parts: list[Part]) -> None:
        """Run one batch in an engine thread, hand out the results, free its slot."""
        n = sum(end - start for _, start, end in parts)
        self.running += n
        try:
            outcomes = await asyncio.get_running_loop().run_in_executor(self.executor, self._engine, key, parts)
        except asyncio.CancelledError:
            for job, _, _ in parts:
                job.future.cancel()
            raise
        except Exception as e:  # noqa: BLE001 - e.g. the executor was shut down
            outcomes = [e] * len(parts)
        finally:
            self.running -= n
            self._free_since = time.monotonic()
            self._slots.release()
        for (job, start, end), outcome in zip(parts, outcomes):
            if job.future.done():  # its caller gave up while the batch ran
                continue
            if isinstance(outcome, BaseException):
                self._drop(job)  # the rest of it is not worth running
                job.future.set_exception(outcome)
                continue
            job.results[start:end] = outcome
            job.done += end - start
            if job.done == len(job.texts):
                job.future.set_result(job.results)
            else:
                self._requeue(job)
