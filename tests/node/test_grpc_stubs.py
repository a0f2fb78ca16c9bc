"""Goal: the committed gRPC modules are what the .proto generates (scripts/gen_grpc was run
after the last change). Method: compile proto/tachyon/v1/exchange.proto with the pinned
grpc_tools.protoc into a temporary directory and compare its FileDescriptorProto with the
committed module's; and the committed service module has every method the .proto names."""

from __future__ import annotations

from pathlib import Path

from google.protobuf import descriptor_pb2
from grpc_tools import protoc

from tachyon.node.grpc_gen import exchange_pb2, exchange_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
PROTO = "tachyon/v1/exchange.proto"


def _compiled(tmp_path: Path) -> descriptor_pb2.FileDescriptorProto:
    out = tmp_path / "exchange.pb"
    include = str(ROOT / "proto")
    code = protoc.main(["protoc", f"-I{include}", f"--descriptor_set_out={out}", PROTO])
    assert code == 0, "protoc failed"
    files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    (compiled,) = files.file
    for message in compiled.message_type:  # derived from the names: the Python gencode omits it
        _without_json_names(message)
    return compiled


def _without_json_names(message: descriptor_pb2.DescriptorProto) -> None:
    for field in message.field:
        field.ClearField("json_name")
    for nested in message.nested_type:
        _without_json_names(nested)


def test_the_committed_stubs_match_the_proto(tmp_path: Path) -> None:
    committed = descriptor_pb2.FileDescriptorProto.FromString(exchange_pb2.DESCRIPTOR.serialized_pb)
    assert _compiled(tmp_path) == committed, "stale stubs: run scripts/gen_grpc and commit"


def test_the_committed_service_module_serves_every_method(tmp_path: Path) -> None:
    (service,) = _compiled(tmp_path).service
    servicer = exchange_pb2_grpc.ExchangeServicer
    assert service.name == "Exchange"
    for method in service.method:
        assert callable(getattr(servicer, method.name, None)), method.name
