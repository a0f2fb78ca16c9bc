"""The benchmark's gRPC clients (`bench.bench_node`'s gRPC phases): signed commands as
serialized `tachyon.v1.SignedCommand` messages, sent raw (no client-side protobuf work) over
one channel per wallet, unary `SubmitCommand` calls or one `EnterOrders` stream.

Each returns (statuses, latencies in s, bodies) in its requests' order: status 200 for an
answer (its body, when kept, the REST JSON of the typed answer), else the refusal's
HTTP-equivalent is unknown, so 0 with a JSON error body naming the gRPC code and reason (the
benchmark counts refusals by code)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence

import grpc

from tachyon.node.grpc_gen import exchange_pb2 as pb
from tachyon.node.grpc_messages import answer_json

Results = tuple[list[int], list[float], list[bytes]]
SUBMIT = "/tachyon.v1.Exchange/SubmitCommand"
ENTER = "/tachyon.v1.Exchange/EnterOrders"


def _body(answer: pb.CommandAnswer) -> bytes:
    """A typed answer as the REST answer's JSON."""
    return json.dumps(answer_json(answer)).encode()


def _refused(code: str, reason: str) -> bytes:
    return json.dumps({"error": {"code": f"gRPC {code}: {reason}"}}).encode()


async def unary_client(
    channel: grpc.aio.Channel,
    requests: Sequence[bytes],
    at: Sequence[float] | None,
    start: float,
    keep_bodies: bool,
) -> Results:
    """Each request after the previous answer (`at` None), or at its scheduled time (then
    one call each, in flight together: HTTP/2 multiplexes them)."""
    call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(SUBMIT)
    clock = time.perf_counter
    statuses, latencies, bodies = [0] * len(requests), [0.0] * len(requests), [b""] * len(requests)

    async def one(index: int, begin: float) -> None:
        try:
            reply = await call(requests[index])
        except grpc.aio.AioRpcError as exc:
            bodies[index] = _refused(exc.code().name, exc.details() or "")
        else:
            statuses[index] = 200
            bodies[index] = _body(pb.CommandAnswer.FromString(reply)) if keep_bodies else b""
        latencies[index] = clock() - begin

    if at is None:
        for index in range(len(requests)):
            await one(index, clock())
        return statuses, latencies, bodies
    sent = []
    for index, offset in enumerate(at):
        delay = start + offset - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        sent.append(asyncio.ensure_future(one(index, start + offset)))
    await asyncio.gather(*sent)
    return statuses, latencies, bodies


async def stream_client(
    channel: grpc.aio.Channel,
    requests: Sequence[bytes],
    at: Sequence[float] | None,
    start: float,
    keep_bodies: bool,
) -> Results:
    """The requests on one `EnterOrders` stream: each after the previous answer (`at` None)
    or at its scheduled time whatever is unanswered; answers come in order."""
    method: grpc.aio.StreamStreamMultiCallable[bytes, bytes] = channel.stream_stream(ENTER)
    call = method()
    clock = time.perf_counter
    begun = [0.0] * len(requests)
    statuses, latencies, bodies = [0] * len(requests), [0.0] * len(requests), [b""] * len(requests)

    async def receive(index: int) -> None:
        data = await call.read()
        assert isinstance(data, bytes), data
        latencies[index] = clock() - begun[index]
        reply = pb.CommandReply.FromString(data)
        if reply.WhichOneof("outcome") == "answer":
            statuses[index] = 200
            bodies[index] = _body(reply.answer) if keep_bodies else b""
        else:
            bodies[index] = _refused("OK", reply.refusal.code)

    if at is None:
        for index, request in enumerate(requests):
            begun[index] = clock()
            await call.write(request)
            await receive(index)
    else:

        async def receiver() -> None:
            for index in range(len(requests)):
                await receive(index)

        reading = asyncio.ensure_future(receiver())
        for index, (request, offset) in enumerate(zip(requests, at, strict=True)):
            begun[index] = start + offset
            delay = begun[index] - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            await call.write(request)
        await reading
    await call.done_writing()
    return statuses, latencies, bodies


def signed_message(body: bytes, signature: bytes) -> bytes:
    """A serialized `tachyon.v1.SignedCommand`."""
    return pb.SignedCommand(body=body, signature=signature).SerializeToString()
