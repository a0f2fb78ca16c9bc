"""The gateway's checks on a signed request, before anything reaches the sequencer.

A command arrives as its canonical bytes and a signature: it must decode to an account command
for an address, its nonce (the wallet's clock in ns) must lie within the receive window of the
server's clock, the signature must be the address's key's over the bytes, and the production
profile takes no deposits. The signature is checked here, on the event loop, rather than by the
exchange on the sequencer's thread, the node's serial bottleneck: the sequencer submits what
passed as verified. (Handing each command's check to another thread measured slower: the
hand-over and the turns at the GIL cost more than the check. An order-entry array frame's
signatures go to a worker thread together, `signatures_valid`, one hand-over per frame.) The
exchange still checks that the nonce is above the account's last (a replay is `stale_nonce`).
A signed read proves the key of the address it reads: an Ed25519 signature over
`tachyon.client.signing.read_message(...)`, its timestamp within the window.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Final

from tachyon.client.signing import read_message
from tachyon.dex.ids import AccountId
from tachyon.errors import BadSignature, InvalidInput, TachyonError, Unauthorized
from tachyon.exchange.auth import SIGNATURE_LENGTH, is_address, is_signed_by, verify
from tachyon.exchange.commands import AccountCommand, Deposit, SignedCommand, decode_command
from tachyon.node.errors import DepositsDisabled, OutsideReceiveWindow

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


def check_window(ts_ns: int, now_ns: int, window_ms: int, what: str) -> None:
    """OutsideReceiveWindow unless `ts_ns` is within `window_ms` of the server's `now_ns`."""
    skew_ns = abs(ts_ns - now_ns)
    if skew_ns > window_ms * 1_000_000:
        skew_ms = skew_ns // 1_000_000
        raise OutsideReceiveWindow(
            f"{what} {ts_ns} is {skew_ms} ms from the server's clock {now_ns};"
            f" the receive window is {window_ms} ms"
        )


def admit_command(
    body: bytes,
    signature: bytes,
    *,
    now_ns: int,
    window_ms: int,
    profile: str,
    signature_checked: bool = False,
) -> tuple[AccountCommand, SignedCommand]:
    """The account command inside a signed request and the envelope to submit, if the gateway
    lets it through (the ladder below, in precedence order): then its signature is verified."""
    assert profile in PROFILES, profile
    command = decode_command(body)
    if not isinstance(command, AccountCommand):
        raise InvalidInput(f"only account commands are accepted, not {type(command).__name__}")
    if not is_address(command.account):
        raise InvalidInput(f"the command's account must be an address, not {command.account!r}")
    if len(signature) != SIGNATURE_LENGTH:
        raise BadSignature(f"a signature is {SIGNATURE_LENGTH} bytes, not {len(signature)}")
    check_window(command.nonce, now_ns, window_ms, "the command's nonce")
    if not signature_checked:  # else `signatures_valid` found it good
        verify(command.account, body, signature)
    if profile == "prod" and isinstance(command, Deposit):
        raise DepositsDisabled("deposits are disabled in the prod profile")
    return command, SignedCommand(body, signature)


def signatures_valid(requests: Sequence[tuple[str, str]]) -> list[bool]:
    """Whether each (base64 body, base64 signature) is signed by its command's account: the
    check `admit_command` makes, for many commands at once (off the event loop). False for
    anything it cannot read: `admit_command` then says what is wrong."""
    valid = []
    for body_text, signature_text in requests:
        try:
            body = decode_base64(body_text, "body")
            command = decode_command(body)
            account = command.account if isinstance(command, AccountCommand) else ""
            verify(account, body, decode_base64(signature_text, "signature"))
        except TachyonError:
            valid.append(False)
        else:
            valid.append(True)
    return valid


def authenticate_read(
    address: str | None,
    timestamp: str | None,
    signature: str | None,
    *,
    method: str,
    path: str,
    now_ns: int,
    window_ms: int,
) -> AccountId:
    """The account a signed read proves the key of."""
    if address is None or timestamp is None or signature is None:
        raise Unauthorized(
            "a signed read needs X-Tachyon-Address, X-Tachyon-Timestamp and X-Tachyon-Signature"
        )
    if not is_address(address):
        raise InvalidInput(f"X-Tachyon-Address must be 64 lowercase hex digits, not {address!r}")
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > TIMESTAMP_DIGITS_MAX:
        raise InvalidInput(f"X-Tachyon-Timestamp must be nanoseconds, not {timestamp!r}")
    raw = decode_base64(signature, "X-Tachyon-Signature")
    check_window(int(timestamp), now_ns, window_ms, "the request's timestamp")
    if not is_signed_by(address, read_message(method, path, timestamp), raw):
        raise BadSignature(f"the signature is not {address}'s over {method} {path}")
    return AccountId(address)
