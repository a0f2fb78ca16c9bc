"""Order entry over one WebSocket: signed commands in, their answers out, many in flight.

`/v1/ws/orders` takes the requests `POST /v1/commands` takes, one per JSON text frame, with an
`id` of the client's choosing (a whole number or a string of at most 64 characters; null if
omitted) that its answer echoes:

    -> {"id": 7, "body": "<base64 command>", "signature": "<base64 signature>"}
    <- {"id": 7, "status": 200, "result": {...}}          the REST answer's body
    <- {"id": 7, "status": 409, "error": {"code": "...", "message": "..."}}

`status` is what the same request gets over HTTP. A frame may also hold a JSON array of 1 to
`FRAME_COMMANDS_MAX` requests (at most `FRAME_CHARS_MAX` characters): they enter the sequencer
in order and one array frame answers them, in the same order, once the last is done (a batch
order entry: the per-frame costs are paid once). A frame that cannot be read (not JSON, a
missing field, a binary frame) is answered with status 400, one over `REQUEST_BYTES_MAX` with
413, and id null when its id is unreadable; the connection stays open. Each command is answered once it is durable, in the
order answers become ready: a refusal by the gateway can overtake an earlier command still
waiting for its commit, so match answers by id. Without waiting, a client may have up to
`inflight_max` frames and `inflight_bytes_max` bytes (its frames' text and their answers, until
each answer is sent) unanswered; past either the node reads no further frame of the connection
until answers go out (and a client that does not read its answers stops itself so): memory
stays bounded. Commands of one connection enter the sequencer in the order they were sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Final, final

import msgspec
from starlette.websockets import WebSocket, WebSocketDisconnect

from tachyon.errors import BadSignature, InvalidInput, TachyonError
from tachyon.exchange.admission import Admitted
from tachyon.node.errors import REQUEST_BYTES_MAX, RequestTooLarge, status_of
from tachyon.node.streams import text_size

INFLIGHT_MAX_DEFAULT: Final = 1_024
INFLIGHT_BYTES_MAX_DEFAULT: Final = 1024 * 1024
"""Bytes of frames and answers one connection may have in flight (a frame is read while less
is: at most this plus one frame)."""
ID_TEXT_MAX: Final = 64
FRAME_COMMANDS_MAX: Final = 50
"""Most requests one array frame holds."""
FRAME_CHARS_MAX: Final = 64 * 1024
"""Longest array frame (a single request's frame is at most `REQUEST_BYTES_MAX`)."""
OK: Final = 200

Execute = Callable[[str, str, Admitted | TachyonError | None], Awaitable[dict[str, object]]]
"""(body, signature) in base64, and what `admit_many` made of them (None: not admitted yet) ->
the answer's body; raises the TachyonError that refused it."""
Observe = Callable[[int, float], None]
AdmitMany = Callable[[list[tuple[str, str]]], list[Admitted | TachyonError]]
"""The gateway's ladder for many (base64 body, base64 signature) at once (`admit_many`)."""
"""Told (status, seconds from the frame's arrival to its answer being queued) per request."""


class EntryRequest(msgspec.Struct, forbid_unknown_fields=True):
    body: str
    signature: str
    id: int | str | None = None


class _Answer(msgspec.Struct, omit_defaults=True):
    id: int | str | None
    status: int
    result: dict[str, object] | None = None
    error: dict[str, str] | None = None


SIGNATURE_CHECKERS: Final = 2
"""Threads checking array frames' signatures: with one, it was the bottleneck (measured)."""
_CHECKER: Final = ThreadPoolExecutor(SIGNATURE_CHECKERS, thread_name_prefix="tachyon-signatures")
_decoder: Final = msgspec.json.Decoder(EntryRequest)
_many_decoder: Final = msgspec.json.Decoder(list[EntryRequest])
_encoder: Final = msgspec.json.Encoder()


def read_request(text: str) -> EntryRequest:
    """The request in a text frame; InvalidInput naming what is wrong with it."""
    if len(text) > REQUEST_BYTES_MAX:
        raise RequestTooLarge(f"a request frame is at most {REQUEST_BYTES_MAX} characters")
    try:
        request = _decoder.decode(text)
    except msgspec.DecodeError as exc:
        raise InvalidInput(f"the frame is not a request: {exc}") from exc
    _check_id(request)
    return request


def read_requests(text: str) -> list[EntryRequest]:
    """The requests in an array frame; InvalidInput naming what is wrong with it."""
    if len(text) > FRAME_CHARS_MAX:
        raise RequestTooLarge(f"an array frame is at most {FRAME_CHARS_MAX} characters")
    try:
        requests = _many_decoder.decode(text)
    except msgspec.DecodeError as exc:
        raise InvalidInput(f"the frame is not an array of requests: {exc}") from exc
    if not 1 <= len(requests) <= FRAME_COMMANDS_MAX:
        raise InvalidInput(
            f"an array frame holds 1 to {FRAME_COMMANDS_MAX} requests, not {len(requests)}"
        )
    for request in requests:
        _check_id(request)
    return requests


def _check_id(request: EntryRequest) -> None:
    if isinstance(request.id, str) and len(request.id) > ID_TEXT_MAX:
        raise InvalidInput(f"an id is at most {ID_TEXT_MAX} characters")


def _id_of(text: str) -> int | str | None:
    """The id of a frame that failed to be read, if it has a usable one."""
    try:
        value = msgspec.json.decode(text)
    except msgspec.DecodeError:
        return None
    ident = value.get("id") if isinstance(value, dict) else None
    if isinstance(ident, bool) or not isinstance(ident, int | str):
        return None
    return ident if not isinstance(ident, str) or len(ident) <= ID_TEXT_MAX else None


def _pass_on(turn: asyncio.Future[None], mine: asyncio.Future[None]) -> None:
    """Done `mine` as soon as `turn` is."""

    def done(_: object = None) -> None:
        if not mine.done():
            mine.set_result(None)

    if turn.done():
        done()
    else:
        turn.add_done_callback(done)


def refusal(ident: int | str | None, exc: TachyonError) -> bytes:
    return _encoder.encode(
        _Answer(ident, status_of(exc), error={"code": exc.code, "message": str(exc)})
    )


@final
class OrderEntry:
    """One connection's requests: read in order, executed concurrently, answered as ready."""

    def __init__(
        self,
        websocket: WebSocket,
        execute: Execute,
        admit_many: AdmitMany,
        observe: Observe,
        inflight_max: int,
        charge: Callable[[], None] = lambda: None,
        inflight_bytes_max: int = INFLIGHT_BYTES_MAX_DEFAULT,
        failed: Callable[[int], None] = lambda _: None,
    ) -> None:
        assert inflight_max >= 1
        assert inflight_bytes_max >= 1
        self.websocket = websocket
        self.execute = execute
        self.admit_many = admit_many
        self.charge = charge  # the client's rate limit, one token a request of an array
        self.failed = failed  # told how many of an array's signatures were bad
        self.observe = observe
        self.frames_max = inflight_max
        self.bytes_max = inflight_bytes_max
        self.frames = 0  # read and not yet answered (the answer sent)
        self.bytes = 0  # their text, and their answers once queued
        self.room = asyncio.Event()  # set while another frame may be read
        self.room.set()
        self.answers: deque[tuple[bytes, int]] = deque()  # and the bytes each frees once sent
        self.ready = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()
        # Done once the last frame read has entered its commands into the sequencer: frames
        # enter in the order they were read, whichever finishes its checks first.
        self.turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.turn.set_result(None)

    async def serve(self) -> None:
        """Until the client leaves: read, execute and answer; then wait for what is in flight
        (their commands are durable or refused either way) and stop."""
        sender = asyncio.create_task(self._send())
        receiver = asyncio.create_task(self._receive())
        try:
            await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            receiver.cancel()
            if self.tasks:
                await asyncio.wait(self.tasks)
            sender.cancel()
            for task in (receiver, sender):
                # A client gone mid-send ends the writer; any other error is the node's, raised.
                with contextlib.suppress(
                    asyncio.CancelledError, WebSocketDisconnect, RuntimeError, OSError
                ):
                    await task

    async def _receive(self) -> None:
        receive = self.websocket.receive
        while True:
            await self.room.wait()
            message = await receive()
            arrived = time.perf_counter()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                self._hold(0)
                self._answer(refusal(None, InvalidInput("send requests as JSON text frames")), 0)
                self.observe(400, time.perf_counter() - arrived)
                continue
            size = text_size(text)
            self._hold(size)
            turn, self.turn = self.turn, asyncio.get_running_loop().create_future()
            task = asyncio.create_task(self._handle(text, size, arrived, turn, self.turn))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    def _hold(self, size: int) -> None:
        """A frame of `size` bytes read: in flight until its answer is sent."""
        self.frames += 1
        self.bytes += size
        if self.frames >= self.frames_max or self.bytes >= self.bytes_max:
            self.room.clear()

    async def _handle(
        self,
        text: str,
        size: int,
        arrived: float,
        turn: asyncio.Future[None],
        mine: asyncio.Future[None],
    ) -> None:
        """Read a frame and check its signatures, then, once the frame before it has entered
        the sequencer (`turn`), enter its own commands (then `mine` is done) and answer."""
        many = text[:1] == "["
        try:
            prepared = await self._prepare(text, size, many, arrived)
            await turn
            if prepared is None:
                return
            requests, admitted = prepared
            # Tasks start in creation order, each entering the sequencer in its first step.
            started = [
                asyncio.ensure_future(self._execute(each, arrived, done))
                for each, done in zip(requests, admitted, strict=True)
            ]
        finally:
            _pass_on(turn, mine)
        answers = await asyncio.gather(*started)
        self._answer(b"[" + b",".join(answers) + b"]" if many else answers[0], size)

    async def _prepare(
        self, text: str, size: int, many: bool, arrived: float
    ) -> tuple[list[EntryRequest], list[Admitted | TachyonError | None]] | None:
        """A frame's requests (`many`: an array frame) and whether each signature was found
        good; None if the frame was refused (and answered)."""
        try:
            requests = read_requests(text) if many else [read_request(text)]
        except TachyonError as exc:
            ident = None if many or isinstance(exc, RequestTooLarge) else _id_of(text)
            self._answer(refusal(ident, exc), size)
            self.observe(status_of(exc), time.perf_counter() - arrived)
            return None
        if not many:  # admitted on the event loop
            return requests, [None]
        # An array's signatures in one go on a worker thread: the check releases the GIL, so
        # the event loop serves on meanwhile (one hand-over per frame, not one per command).
        results: list[Admitted | TachyonError | None] = []
        allowed: list[tuple[str, str]] = []
        for each in requests:  # charged here, on the event loop, before any check
            try:
                self.charge()
            except TachyonError as exc:
                results.append(exc)
            else:
                results.append(None)
                allowed.append((each.body, each.signature))
        checked = await asyncio.get_running_loop().run_in_executor(
            _CHECKER, self.admit_many, allowed
        )
        failed = sum(isinstance(each, BadSignature) for each in checked)
        if failed:
            self.failed(failed)
        admitted = iter(checked)
        return requests, [next(admitted) if result is None else result for result in results]

    async def _execute(
        self, request: EntryRequest, arrived: float, admitted: Admitted | TachyonError | None
    ) -> bytes:
        """The encoded answer to one request (`admitted`: what `admit_many` made of it, None
        for a lone request, admitted on the event loop)."""
        try:
            result = await self.execute(request.body, request.signature, admitted)
        except TachyonError as exc:
            self.observe(status_of(exc), time.perf_counter() - arrived)
            return refusal(request.id, exc)
        self.observe(OK, time.perf_counter() - arrived)
        return _encoder.encode(_Answer(request.id, OK, result))

    def _answer(self, data: bytes, held: int) -> None:
        """Queue a frame's answer; `held`: the frame's bytes, freed with the answer's once it
        is sent."""
        self.bytes += len(data)
        if self.bytes >= self.bytes_max:
            self.room.clear()
        self.answers.append((data, held + len(data)))
        self.ready.set()

    async def _send(self) -> None:
        """The one writer of the connection: sends answers in the order they were queued, and
        frees what each one held."""
        send = self.websocket.send
        while True:
            await self.ready.wait()
            self.ready.clear()
            while self.answers:
                data, held = self.answers.popleft()
                await send({"type": "websocket.send", "text": data.decode()})
                self.frames -= 1
                self.bytes -= held
                if self.frames < self.frames_max and self.bytes < self.bytes_max:
                    self.room.set()
