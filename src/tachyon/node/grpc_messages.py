"""The gRPC service's typed messages from the REST answers' JSON objects, and back.

Each message of proto/tachyon/v1/exchange.proto names its fields as the REST answer's keys (or
the WebSocket frame's), so a REST object becomes its message by passing its keys to the
message's constructor (`parsed`), which refuses a key the message lacks (nested ones too), as
`json_format.ParseDict(..., ignore_unknown_fields=False)` does, at a thirtieth of its cost
(answers and stream messages are on the hot path): a field added to a REST answer and not to
the .proto fails the call (INTERNAL, `internal_error`) and the test comparing the two
protocols, rather than vanishing from gRPC; a command's answer, once the command applied, is
then sent as JSON text instead (`applied_answer`). A null becomes an unset `optional` field.
Stream messages are the WebSocket frames' JSON texts decoded (the hub encodes each once for
every subscriber), an account event's `type` naming its `AccountEvent` case. `message_json` and
`answer_json` go back (for tests, the benchmark and Python clients).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final, TypeVar

import msgspec
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from tachyon.node.grpc_gen import exchange_pb2 as pb
from tachyon.node.observability import logger
from tachyon.node.stream_events import encode

if TYPE_CHECKING:
    from google._upb._message import (
        Descriptor as UpbDescriptor,
        FieldDescriptor as UpbFieldDescriptor,
    )

M = TypeVar("M", bound=Message)
INT64_TYPES: Final = frozenset(
    {
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED64,
    }
)


class Unfit(ValueError):
    """A REST object that does not fit its message: a key the message lacks, or a value of
    another type (the node's fault: its .proto is behind its REST answers)."""


def parsed(answer: dict[str, object], message: type[M]) -> M:
    """A `message` holding the REST object `answer` (Unfit for a key it lacks)."""
    try:
        return message(**answer)
    except (ValueError, TypeError) as exc:
        raise Unfit(f"{message.DESCRIPTOR.full_name}: {exc}") from exc


def command_answer(answer: dict[str, object]) -> pb.CommandAnswer:
    """A command's answer, its case told by its shape's own key: a stop's `trigger_price`, a
    placement's `open_qty`, a mass cancel's `cancelled`, a balance's `balances`, a withdrawal's
    `withdrawal`; any other (the operator's venue commands) as JSON text."""
    if "withdrawal" in answer:  # REST's `{"withdrawal": {...}}`: the case is its key
        return pb.CommandAnswer(withdrawal=parsed(_only(answer, "withdrawal"), pb.Withdrawal))
    if "trigger_price" in answer:
        return pb.CommandAnswer(stop=parsed(answer, pb.StopOrder))
    if "open_qty" in answer:
        return pb.CommandAnswer(placement=parsed(answer, pb.Placement))
    if "cancelled" in answer:
        return pb.CommandAnswer(cancel_all=parsed(answer, pb.Cancellations))
    if "balances" in answer:
        return pb.CommandAnswer(balances=parsed(answer, pb.BalancesReply))
    return pb.CommandAnswer(json=encode(answer))


def applied_answer(answer: dict[str, object]) -> pb.CommandAnswer:
    """The answer of a command that applied: typed, or, if it does not fit its message (the
    node's fault, logged), its JSON text: a refusal would say that it did not apply."""
    try:
        return command_answer(answer)
    except Unfit as exc:
        logger.error(
            "a command's answer does not fit its gRPC message: answered as JSON",
            extra={"error": str(exc)},
        )
        return pb.CommandAnswer(json=encode(answer))


def _only(answer: dict[str, object], key: str) -> dict[str, object]:
    """`answer[key]`, Unfit if `answer` has any other key or it is not an object."""
    value = answer[key]
    if len(answer) != 1 or not isinstance(value, dict):
        raise Unfit(f"expected only an object {key!r}, not {sorted(answer)}")
    return value


ACCOUNT_EVENTS: Final = frozenset({"order", "fill", "stop"})


def book_update(text: str) -> pb.BookUpdate:
    """A depth channel's frame (snapshot or diff)."""
    return parsed(_frame(text), pb.BookUpdate)


def trades_update(text: str) -> pb.TradesUpdate:
    """A trades channel's frame (snapshot or a batch's trades)."""
    return parsed(_frame(text), pb.TradesUpdate)


def account_update(text: str) -> pb.AccountUpdate:
    """An account stream's frame (subscribed, or a batch's events)."""
    frame = _frame(text)
    events = frame.pop("events", [])
    if not isinstance(events, list):
        raise Unfit(f"events is not a list: {events!r}")
    update = parsed(frame, pb.AccountUpdate)
    update.events.extend(account_event(event) for event in events)
    return update


def account_event(event: object) -> pb.AccountEvent:
    """An account event: its `type` is the case, its other fields the case's."""
    if not isinstance(event, dict) or event.get("type") not in ACCOUNT_EVENTS:
        raise Unfit(f"not an order, fill or stop event: {event!r}")
    fields = {key: value for key, value in event.items() if key != "type"}
    return parsed({event["type"]: fields}, pb.AccountEvent)


def _frame(text: str) -> dict[str, object]:
    frame = msgspec.json.decode(text)
    if not isinstance(frame, dict):
        raise Unfit(f"a frame is not an object: {text[:100]!r}")
    return frame


def message_json(message: Message) -> dict[str, Any]:
    """The REST object a message holds: every field by its name, 64-bit integers as integers
    (proto JSON quotes them); an unset `optional` field is left out (REST says null)."""
    value = json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    return _integers(message.DESCRIPTOR, value)


def answer_json(answer: pb.CommandAnswer) -> dict[str, Any]:
    """The REST answer a command's answer holds (`json`: its text parsed)."""
    case = answer.WhichOneof("answer")
    if case is None:
        raise ValueError("an empty CommandAnswer")
    if case == "json":
        parsed_json: dict[str, Any] = json.loads(answer.json)
        return parsed_json
    if case == "withdrawal":  # REST's key is the case
        return message_json(answer)
    return message_json(getattr(answer, case))


def _integers(descriptor: Descriptor | UpbDescriptor, value: dict[str, Any]) -> dict[str, Any]:
    for field in descriptor.fields:
        if field.name in value:
            each = value[field.name]
            if isinstance(each, list):
                value[field.name] = [_integer(field, item) for item in each]
            else:
                value[field.name] = _integer(field, each)
    return value


def _integer(field: FieldDescriptor | UpbFieldDescriptor, item: Any) -> Any:
    if field.message_type is not None:
        return _integers(field.message_type, item)
    return int(item) if field.type in INT64_TYPES else item


def account_json(update: pb.AccountUpdate) -> dict[str, Any]:
    """The WebSocket frame an account stream's message holds (`subscribed`: no events)."""
    frame = message_json(update)
    frame["events"] = [event_json(event) for event in update.events]
    if update.type == "subscribed":
        del frame["events"]
    return frame


def event_json(event: pb.AccountEvent) -> dict[str, Any]:
    """The WebSocket event an account event holds: its case as its `type`."""
    case = event.WhichOneof("event")
    if case is None:
        raise ValueError("an empty AccountEvent")
    return {"type": case, **message_json(getattr(event, case))}
