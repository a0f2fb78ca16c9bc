"""Who signs for a client: a `Signer` has an address and signs bytes with its Ed25519 key.

`tachyon.client` sits below the wallet, so it never holds a `Wallet`: it is given a signer.
`KeySigner` wraps a private key (a wallet's unlocked one: `Wallet.signer()`); anything with
the same two members (a hardware key, a remote signer) serves as well.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, final

from tachyon.exchange.auth import address_of

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


class Signer(Protocol):
    """An account's key: `address` (64 hex digits) and `sign(message)`, its Ed25519 signature
    of exactly `message` (the client adds each message's domain prefix itself)."""

    @property
    def address(self) -> str: ...

    def sign(self, message: bytes) -> bytes: ...


@final
class KeySigner:
    """A `Signer` over an Ed25519 private key held in memory."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self._address = address_of(private_key)

    @property
    def address(self) -> str:
        return self._address

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)
