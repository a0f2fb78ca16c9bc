"""Refusals over gRPC: the REST API's error model mapped to gRPC status codes.

A refusal's HTTP status (`tachyon.node.errors.status_of`) picks the gRPC code; the details
carry a `google.rpc.ErrorInfo` whose `reason` is the REST error code (domain "tachyon"), and
the status message is the REST message, so a client tells refusals apart as over REST.
"""

from __future__ import annotations

from typing import Final, NoReturn

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from tachyon.errors import TachyonError
from tachyon.node.errors import status_of

DOMAIN: Final = "tachyon"
CODE_BY_STATUS: Final[dict[int, grpc.StatusCode]] = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.FAILED_PRECONDITION,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    502: grpc.StatusCode.UNAVAILABLE,
    503: grpc.StatusCode.UNAVAILABLE,
}


def code_of(http_status: int) -> grpc.StatusCode:
    """The gRPC code of an HTTP status (INTERNAL for any other: the server's fault)."""
    return CODE_BY_STATUS.get(http_status, grpc.StatusCode.INTERNAL)


def status(code: grpc.StatusCode, reason: str, message: str) -> grpc.Status:
    """A gRPC status with an ErrorInfo of `reason` in its details."""
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN))
    value: int = code.value[0]
    return rpc_status.to_status(status_pb2.Status(code=value, message=message, details=[info]))


def status_of_error(exc: TachyonError) -> grpc.Status:
    """The status refusing a request with `exc`, as REST refuses it."""
    return status(code_of(status_of(exc)), exc.code, str(exc))


async def abort(
    context: grpc.aio.ServicerContext[object, object], refused: grpc.Status
) -> NoReturn:
    """End the call with `refused` (raises)."""
    await context.abort(refused.code, refused.details, refused.trailing_metadata)
    raise AssertionError("abort raises")
