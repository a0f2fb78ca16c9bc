"""Goal: the gRPC messages are the REST answers' shapes, and a REST field the .proto lacks is
refused, not dropped. Method: each OpenAPI shape of `tachyon.node.schemas` against its message
(the same field names; a nullable field `optional`); `parsed` and `command_answer` given
objects with a key too many; a placement round-tripped through its message."""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

import pytest
from google.protobuf.message import Message
from pydantic import BaseModel

from tachyon.node import schemas
from tachyon.node.grpc_gen import exchange_pb2 as pb
from tachyon.node.grpc_messages import (
    Unfit,
    answer_json,
    applied_answer,
    command_answer,
    message_json,
    parsed,
)

SHAPES: list[tuple[type[BaseModel], type[Message]]] = [
    (schemas.Markets, pb.MarketsReply),
    (schemas.Market, pb.Market),
    (schemas.Risk, pb.Risk),
    (schemas.Tokens, pb.TokensReply),
    (schemas.Token, pb.Token),
    (schemas.Book, pb.OrderBookReply),
    (schemas.Level, pb.Level),
    (schemas.Trades, pb.TradesReply),
    (schemas.PlacementShape, pb.Placement),
    (schemas.Cancellations, pb.Cancellations),
    (schemas.Balances, pb.BalancesReply),
    (schemas.Balance, pb.Balance),
    (schemas.OpenOrders, pb.OpenOrdersReply),
    (schemas.OpenOrder, pb.OpenOrder),
    (schemas.HistoryShape, pb.HistoryReply),
    (schemas.ClosedOrderShape, pb.ClosedOrder),
    (schemas.FillShape, pb.Fill),
    (schemas.StopOrders, pb.StopsReply),
    (schemas.StopOrder, pb.StopOrder),
    (schemas.Withdrawals, pb.WithdrawalsReply),
    (schemas.WithdrawalShape, pb.Withdrawal),
]
STREAM_ONLY = {"tachyon.v1.Trade": {"update_id"}}
"""Fields of a message that only a stream's messages set."""

PLACEMENT: dict[str, Any] = {
    "order_id": 7,
    "market": "BASE/USDC",
    "status": "filled",
    "filled_qty": "2",
    "open_qty": "0",
    "time_ns": 1_765_000_000_123_456_789,
    "trades": [
        {
            "trade_id": 3,
            "price": "100.5",
            "qty": "2",
            "maker_order_id": 5,
            "taker_order_id": 7,
            "taker_side": "bid",
            "maker_fee": None,
            "taker_fee": "-0.01",
            "time_ns": None,
        }
    ],
}


def _nullable(annotation: Any) -> bool:
    origin = get_origin(annotation)
    return origin in (Union, types.UnionType) and type(None) in get_args(annotation)


@pytest.mark.parametrize(("shape", "message"), SHAPES, ids=lambda each: each.__name__)
def test_each_rest_shape_is_its_message(shape: type[BaseModel], message: type[Message]) -> None:
    descriptor = message.DESCRIPTOR
    stream_only = STREAM_ONLY.get(descriptor.full_name, set())
    fields = {field.name: field for field in descriptor.fields if field.name not in stream_only}
    assert set(fields) == set(shape.model_fields)
    for name, info in shape.model_fields.items():
        field, nullable = fields[name], _nullable(info.annotation)
        if field.message_type is None:  # a scalar: `optional` if and only if REST's nullable
            assert field.has_presence == nullable, name
        else:
            assert not nullable, name


def test_a_rest_field_the_message_lacks_is_refused() -> None:
    with pytest.raises(Unfit, match="no_such_field"):
        parsed(
            {"market": "BASE/USDC", "bids": [], "asks": [], "no_such_field": 1}, pb.OrderBookReply
        )
    nested = {**PLACEMENT, "trades": [{**PLACEMENT["trades"][0], "no_such_field": 1}]}
    with pytest.raises(Unfit, match="no_such_field"):
        command_answer(nested)
    with pytest.raises(Unfit):
        command_answer({"withdrawal": {"withdrawal_id": 1}, "no_such_field": 1})
    with pytest.raises(Unfit):  # a value of another type
        parsed({"order_id": "7"}, pb.OpenOrder)


def test_an_applied_commands_answer_that_does_not_fit_goes_as_its_json_not_a_refusal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    nested = {**PLACEMENT, "trades": [{**PLACEMENT["trades"][0], "no_such_field": 1}]}
    answer = applied_answer(nested)
    assert answer.WhichOneof("answer") == "json"
    assert answer_json(answer) == nested
    assert "does not fit" in caplog.text
    assert applied_answer(PLACEMENT) == command_answer(PLACEMENT)


def test_each_answer_takes_the_case_of_its_shape() -> None:
    withdrawal = {"withdrawal_id": 1, "token": "USDC", "amount": "1", "destination": "x"}
    cases = {
        "placement": PLACEMENT,
        "stop": {"order_id": 1, "trigger_price": "101", "price": None},
        "cancel_all": {"cancelled": [PLACEMENT]},
        "balances": {"address": "ab" * 32, "balances": [{"token": "USDC", "available": "1"}]},
        "withdrawal": {"withdrawal": {**withdrawal, "state": "pending", "reference": None}},
        "json": {"market": "BASE/USDC", "halted": True},
    }
    for case, answer in cases.items():
        assert command_answer(answer).WhichOneof("answer") == case


def test_a_placement_round_trips_with_its_nulls_unset_and_its_integers_whole() -> None:
    answer = command_answer(PLACEMENT)
    (trade,) = answer.placement.trades
    assert not trade.HasField("maker_fee") and not trade.HasField("time_ns")
    expected = {**PLACEMENT, "trades": [{**PLACEMENT["trades"][0]}]}
    del expected["trades"][0]["maker_fee"], expected["trades"][0]["time_ns"]
    assert answer_json(answer) == expected
    assert message_json(answer.placement)["time_ns"] == PLACEMENT["time_ns"]
