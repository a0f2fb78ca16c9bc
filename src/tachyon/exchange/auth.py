"""Account addresses and command signatures (Ed25519).

Pure: no I/O, no clock. An account whose id is an address (the hex of an Ed25519 public key)
belongs to whoever holds that key: the exchange accepts its commands only when they arrive as
a `SignedCommand`, a signature by that key over the command's canonical bytes. `cryptography`
(keys, signing) and PyNaCl (verifying) are imported on first use, so reading the exchange does
not pay for them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from tachyon.errors import BadSignature

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ADDRESS_LENGTH: Final = 64
"""An address is the 32-byte public key as 64 lowercase hex digits."""

SIGNATURE_LENGTH: Final = 64

SIGNING_DOMAIN: Final = b"tachyon/command/v1\n"
"""Prefixed to the bytes a key signs, so a command signature can never pass for another."""

ADDRESS_PATTERN: Final = "^[0-9a-f]{64}$"
"""An address as a regular expression (the node's OpenAPI description shows it)."""

_ADDRESS: Final = re.compile(ADDRESS_PATTERN)


def is_address(account: str) -> bool:
    return len(account) == ADDRESS_LENGTH and _ADDRESS.fullmatch(account) is not None


def address_of(private_key: Ed25519PrivateKey) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat  # noqa: PLC0415 (28 ms; see above)

    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def sign(private_key: Ed25519PrivateKey, body: bytes) -> bytes:
    """The signature of a command's canonical bytes."""
    return private_key.sign(SIGNING_DOMAIN + body)


def verify(address: str, body: bytes, signature: bytes) -> None:
    """Raise BadSignature unless `signature` is the key of `address` signing `body`."""
    if len(signature) != SIGNATURE_LENGTH:
        raise BadSignature(f"a signature is {SIGNATURE_LENGTH} bytes, not {len(signature)}")
    if not is_signed_by(address, SIGNING_DOMAIN + body, signature):
        raise BadSignature(f"the signature is not {address}'s over this command")


def is_signed_by(address: str, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is the key of `address` (hex) signing `message`. Checked by libsodium
    (PyNaCl): it verifies in about half the time OpenSSL takes, the node's largest cost per
    order, and it releases the GIL meanwhile. It also refuses non-canonical signatures and
    small-order keys, which no honest signer (the wallet signs with `cryptography`) makes."""
    from nacl.exceptions import CryptoError  # noqa: PLC0415 (30 ms; see above)
    from nacl.signing import VerifyKey  # noqa: PLC0415 (30 ms; see above)

    try:
        VerifyKey(bytes.fromhex(address)).verify(message, signature)
    except (CryptoError, ValueError):
        return False
    return True
