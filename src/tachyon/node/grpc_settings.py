"""Where and how the node serves gRPC (`tachyon node serve --grpc-port`): kept apart from the
server (`tachyon.node.grpc_server`) so that naming the settings does not load grpc."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tachyon.errors import InvalidConfig


@dataclass(frozen=True)
class GrpcTls:
    """The server's certificate chain and private key, PEM."""

    certificate_chain: bytes
    private_key: bytes

    @classmethod
    def read(cls, cert: Path, key: Path) -> GrpcTls:
        """The two files' contents; InvalidConfig naming a file that cannot be read."""
        return cls(_read(cert, "--grpc-tls-cert"), _read(key, "--grpc-tls-key"))


@dataclass(frozen=True)
class GrpcSettings:
    """The gRPC service on `host:port` (0: a free port, see `GrpcServer.port`), over TLS if
    `tls` is given, else in the clear (meant for loopback)."""

    host: str
    port: int
    tls: GrpcTls | None = None


def _read(path: Path, option: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise InvalidConfig(f"{option} {path}: {reason}; the node did not start") from exc
