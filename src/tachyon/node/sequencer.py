"""Sequencer: one worker thread owns the exchange host and group-commits what requests submit.

Requests (coroutines on the server's event loop) queue their commands; the worker takes the
first one waiting, then whatever else arrives within `batch_wait_ms` (at most `batch_max`
commands), submits them as one batch (one journal commit) and answers each request only after
that commit is durable. Reads run on the same thread, after the writes queued before them, so
a request reads what it has written. Bounds: a batch holds at most `batch_max` commands and
waits at most `batch_wait_ms` for company; the queue itself holds at most `queue_max` jobs.
An optional `on_commit` observer (metrics) is told of each durable batch on the worker thread,
after its requests are answered: the admitted commands, their outcomes and the commit's seconds.
A request may ask for its command's receipt too (`submit_with_receipt`): its journal time and
its trades' fees, from the batch's entries.
Commands arrive admitted (`tachyon.exchange.admission`: the node's gateway admits them on the
event loop), so the worker thread, the node's serial bottleneck, checks no signature.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar, final

from opentelemetry import trace as trace_api
from opentelemetry.trace import Link, SpanContext, Tracer

from tachyon.dex.records import Receipt
from tachyon.errors import StorageError, TachyonError
from tachyon.exchange.admission import Admitted
from tachyon.exchange.state_machine import Outcome
from tachyon.storage.changes import receipts
from tachyon.storage.host import EmbeddedExchange
from tachyon.storage.journal import JOURNAL_BATCH_MAX

T = TypeVar("T")

CommitObserver = Callable[[Sequence[Admitted], Sequence[Outcome | TachyonError], float], None]
"""Told (commands, outcomes, commit seconds) of each durable batch, on the worker thread."""

_log: Final = logging.getLogger("tachyon.node")

BATCH_WAIT_MS_DEFAULT: Final = 2.0
QUEUE_MAX: Final = 100_000


@dataclass(frozen=True)
class _Job:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    command: Admitted | None = None  # a write; else a `read`
    read: Callable[[EmbeddedExchange], Any] | None = None
    trace: SpanContext | None = None  # the request's span, linked from its batch's
    receipt: bool = False  # answered (outcome, receipt) rather than the outcome


@final
class Sequencer:
    """Owns one EmbeddedExchange on a worker thread; group-commits submissions."""

    def __init__(
        self,
        host: EmbeddedExchange,
        *,
        batch_max: int = JOURNAL_BATCH_MAX,
        batch_wait_ms: float = BATCH_WAIT_MS_DEFAULT,
        queue_max: int = QUEUE_MAX,
        on_commit: CommitObserver | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        assert 1 <= batch_max <= JOURNAL_BATCH_MAX
        assert batch_wait_ms >= 0
        self.host = host
        self.batch_max = batch_max
        self.batch_wait_s = batch_wait_ms / 1000
        self.on_commit = on_commit
        self.tracer = tracer
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=queue_max)
        self._thread: threading.Thread | None = None
        self.batches = 0  # journal commits made, for metrics and tests
        self.last_batch_size = 0

    async def start(self) -> None:
        assert self._thread is None, "started twice"
        self._thread = threading.Thread(target=self._run, name="tachyon-sequencer", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Answer everything queued, then stop the thread (the host stays open)."""
        thread = self._thread
        if thread is None:
            return
        self._queue.put(None)
        await asyncio.to_thread(thread.join)
        self._thread = None

    async def submit(self, command: Admitted, trace: SpanContext | None = None) -> Outcome:
        """The command's outcome once its batch is durable; raises what refused it. `trace`:
        the request's span, which its batch's span links to."""
        result: Outcome = await self._enqueue(command=command, trace=trace)
        return result

    async def submit_with_receipt(
        self, command: Admitted, trace: SpanContext | None = None
    ) -> tuple[Outcome, Receipt]:
        """As `submit`, with the command's receipt: its journal time and its trades' fees."""
        result: tuple[Outcome, Receipt] = await self._enqueue(
            command=command, trace=trace, receipt=True
        )
        return result

    async def read(self, fn: Callable[[EmbeddedExchange], T]) -> T:
        """`fn(host)` on the worker thread, after every write queued before it."""
        result: T = await self._enqueue(read=fn)
        return result

    async def _enqueue(
        self,
        command: Admitted | None = None,
        read: Callable[[EmbeddedExchange], Any] | None = None,
        trace: SpanContext | None = None,
        receipt: bool = False,
    ) -> Any:
        if self._thread is None:
            raise StorageError("the sequencer is not running")
        loop = asyncio.get_running_loop()
        job = _Job(loop, loop.create_future(), command, read, trace, receipt)
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise StorageError(
                f"the sequencer's queue is full ({self._queue.maxsize} jobs)"
            ) from None
        return await job.future

    # -- the worker thread -------------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            job = self._queue.get()
            if job is None:
                break
            writes: list[_Job] = []
            reads: list[_Job] = []
            (writes if job.command is not None else reads).append(job)
            deadline = time.monotonic() + self.batch_wait_s
            # Gather company for the first write; a read waits for the batch queued before it.
            while writes and not reads and len(writes) < self.batch_max:
                remaining = deadline - time.monotonic()
                try:
                    more = (
                        self._queue.get(timeout=remaining)
                        if remaining > 0
                        else self._queue.get_nowait()
                    )
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                (writes if more.command is not None else reads).append(more)
            if writes:
                self._commit(writes)
            for read in reads:
                self._answer_read(read)

    def _commit(self, writes: list[_Job]) -> None:
        """Submit the jobs' commands as one batch and answer each job with its outcome."""
        commands = [job.command for job in writes if job.command is not None]
        started = time.perf_counter()
        try:
            results = self.host.submit_batch(commands)
        except BaseException as exc:  # nothing of the batch is durable: each caller is told
            for job in writes:
                _settle(job, None, exc)
            if not isinstance(exc, Exception):
                raise
            return
        elapsed_s = time.perf_counter() - started
        if self.tracer is not None:
            self._trace(writes, results)
        self.batches += 1
        self.last_batch_size = len(commands)
        answers: list[object] = list(results)
        if any(job.receipt for job in writes):
            found = receipts(self.host.last_changes, results)
            for index, job in enumerate(writes):
                if job.receipt and found[index] is not None:
                    answers[index] = (results[index], found[index])
        _settle_all(
            [
                (job, None, result) if isinstance(result, TachyonError) else (job, answer, None)
                for job, result, answer in zip(writes, results, answers, strict=True)
            ]
        )
        if self.on_commit is not None:
            try:
                self.on_commit(commands, results, elapsed_s)
            except Exception:  # an observer's fault never stops the sequencer
                _log.exception("the commit observer failed")

    def _trace(self, writes: list[_Job], results: list[Outcome | TachyonError]) -> None:
        """The batch's spans, timed by the host, linked to the requests' spans."""
        assert self.tracer is not None
        started_ns, applied_ns, committed_ns = self.host.last_timing
        links = [Link(job.trace) for job in writes if job.trace is not None]
        accepted = sum(not isinstance(result, TachyonError) for result in results)
        batch = self.tracer.start_span("tachyon.batch", links=links, start_time=started_ns)
        batch.set_attribute("tachyon.commands", len(writes))
        batch.set_attribute("tachyon.accepted", accepted)
        batch.set_attribute("tachyon.seq", self.host.seq)
        context = trace_api.set_span_in_context(batch)
        for name, start_ns, end_ns in (
            ("tachyon.match_settle", started_ns, applied_ns),
            ("tachyon.commit", applied_ns, committed_ns),
        ):
            self.tracer.start_span(name, context=context, start_time=start_ns).end(end_ns)
        batch.end(committed_ns)

    def _answer_read(self, job: _Job) -> None:
        assert job.read is not None
        try:
            value = job.read(self.host)
        except Exception as exc:  # the reader's error goes back to its caller
            _settle(job, None, exc)
        else:
            _settle(job, value, None)


def _settle(job: _Job, value: object, error: BaseException | None) -> None:
    _settle_all([(job, value, error)])


def _settle_all(settled: list[tuple[_Job, object, BaseException | None]]) -> None:
    """Answer each job (value, or error) on its event loop: one wake-up of a loop for all of
    a batch's answers, not one each (each costs the worker a write to the loop's pipe)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, object, BaseException | None]]]
    by_loop = {}
    for each in settled:
        by_loop.setdefault(each[0].loop, []).append(each)
    for loop, items in by_loop.items():
        loop.call_soon_threadsafe(_resolve, items)


def _resolve(settled: list[tuple[_Job, object, BaseException | None]]) -> None:
    for job, value, error in settled:
        if job.future.done():  # the request was cancelled (client gone)
            continue
        if error is None:
            job.future.set_result(value)
        else:
            job.future.set_exception(error)
