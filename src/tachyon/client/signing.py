"""What a signed read covers, for the client that signs it and the node that checks it.

A read of an account's own data (balances, open orders, the account stream) carries the
address, a timestamp in ns and an Ed25519 signature over `read_message(...)`: the domain prefix
keeps a read's signature from ever passing for a command's.
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


def sign_read(private_key: Ed25519PrivateKey, method: str, path: str, timestamp_ns: int) -> str:
    """The base64 signature header of a read."""
    signature = private_key.sign(read_message(method, path, str(timestamp_ns)))
    return base64.b64encode(signature).decode()
