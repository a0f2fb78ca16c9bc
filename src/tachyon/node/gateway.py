"""The gateway's checks on a signed request, before anything reaches the sequencer.

A command arrives as its canonical bytes and a signature and goes through the exchange's one
admission (`tachyon.exchange.admission.admit_signed`): it must decode to an account command for
an address, its nonce (the wallet's clock in ns) must lie within the node's receive window of
the server's clock (`--recv-window-ms`, at most the exchange's own), the signature must be the
address's key's over the bytes; then the node's own rule: the production profile takes no
deposits. This runs on the event loop rather than on the sequencer's thread, the node's serial
bottleneck: the sequencer submits the `Admitted` value as it is. (Handing each command's check
to another thread measured slower: the hand-over and the turns at the GIL cost more than the
check. An order-entry array frame's requests go to a worker thread together, `admit_many`,
one hand-over per frame.) The exchange then checks the nonce against its
own window and record, by the command's sequencer time (a replay is `stale_nonce`).
A signed read proves the key of the address it reads: an Ed25519 signature over
`tachyon.client.signing.request_message(...)`, its timestamp within the window.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Final

from tachyon.client.signing import request_message
from tachyon.dex.ids import AccountId
from tachyon.errors import BadSignature, InvalidInput, TachyonError, Unauthorized
from tachyon.exchange.admission import Admitted, Window, admit_signed
from tachyon.exchange.auth import is_address, is_signed_by
from tachyon.exchange.commands import Deposit
from tachyon.exchange.nonces import NOTHING_CHANGED, check_window
from tachyon.node.errors import DepositsDisabled

Clock = Callable[[], int]
"""Nanoseconds since the epoch."""

TIMESTAMP_DIGITS_MAX: Final = 20
PROFILES: Final = ("dev", "prod")


def decode_base64(text: str, name: str) -> bytes:
    """Standard base64 with padding; InvalidInput naming the field otherwise."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise InvalidInput(f"{name} is not base64: {exc}") from exc


def admit_command(
    body: bytes, signature: bytes, *, now_ns: int, window_ms: int, profile: str
) -> Admitted:
    """The signed request admitted as the exchange admits it (by the node's window and the
    server's clock `now_ns`), if the node's own checks let it through too."""
    assert profile in PROFILES, profile
    admitted = admit_signed(body, signature, window=Window(now_ns, window_ms))
    if profile == "prod" and type(admitted.command) is Deposit:
        raise DepositsDisabled(f"deposits are disabled in the prod profile; {NOTHING_CHANGED}")
    return admitted


def admit_many(
    requests: Sequence[tuple[str, str]], *, now_ns: int, window_ms: int, profile: str
) -> list[Admitted | TachyonError]:
    """Each (base64 body, base64 signature) admitted as `admit_command` admits it, or the
    error that refused it: an order-entry array frame's whole ladder at once, off the event
    loop (the signature checks release the GIL), each body decoded once."""
    admitted: list[Admitted | TachyonError] = []
    for body_text, signature_text in requests:
        try:
            body = decode_base64(body_text, "body")
            signature = decode_base64(signature_text, "signature")
            admitted.append(
                admit_command(body, signature, now_ns=now_ns, window_ms=window_ms, profile=profile)
            )
        except TachyonError as exc:
            admitted.append(exc)
    return admitted


def authenticate_read(
    address: str | None,
    timestamp: str | None,
    signature: str | None,
    *,
    method: str,
    path: str,
    now_ns: int,
    window_ms: int,
    body: bytes | None = None,
) -> AccountId:
    """The account a signed read (or a signed request with `body`) proves the key of."""
    if address is None or timestamp is None or signature is None:
        raise Unauthorized(
            "a signed read needs X-Tachyon-Address, X-Tachyon-Timestamp and X-Tachyon-Signature"
        )
    if not is_address(address):
        raise InvalidInput(f"X-Tachyon-Address must be 64 lowercase hex digits, not {address!r}")
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > TIMESTAMP_DIGITS_MAX:
        raise InvalidInput(f"X-Tachyon-Timestamp must be nanoseconds, not {timestamp!r}")
    raw = decode_base64(signature, "X-Tachyon-Signature")
    check_window(int(timestamp), now_ns, window_ms, "the request's timestamp", "the server's clock")
    if not is_signed_by(address, request_message(method, path, timestamp, body), raw):
        raise BadSignature(f"the signature is not {address}'s over {method} {path}")
    return AccountId(address)
