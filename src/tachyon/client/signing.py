"""What a signed read covers, for the client that signs it and the node that checks it.

A read of an account's own data (balances, open orders, the account stream) carries the
address, a timestamp in ns and an Ed25519 signature over `read_message(...)`: the domain prefix
keeps a read's signature from ever passing for a command's. A request with a body (the
on-ramp's checkout) signs the same with a newline and the body after it.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

READ_SIGNING_DOMAIN: Final = b"tachyon/read/v1\n"
"""Prefixed to what a read signature covers, so it never passes for a command's."""


def read_message(method: str, path: str, timestamp: str) -> bytes:
    """What a signed read's signature covers."""
    return READ_SIGNING_DOMAIN + f"{method} {path}\n{timestamp}".encode()


def request_message(method: str, path: str, timestamp: str, body: bytes | None) -> bytes:
    """What a signed request's signature covers: a read's message, and a body's bytes after
    a newline (None: a read, which has no body)."""
    message = read_message(method, path, timestamp)
    return message if body is None else message + b"\n" + body


def sign_read(
    private_key: Ed25519PrivateKey,
    method: str,
    path: str,
    timestamp_ns: int,
    body: bytes | None = None,
) -> str:
    """The base64 signature header of a read (or of a request with `body`)."""
    signature = private_key.sign(request_message(method, path, str(timestamp_ns), body))
    return base64.b64encode(signature).decode()
