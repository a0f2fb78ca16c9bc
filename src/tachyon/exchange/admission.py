"""Admission: the one gate between what a caller submits and the state machine.

Pure: no I/O, no clock (a caller that checks a receive window passes its clock's reading). The
embedded host and the node's gateway both admit through here: a `SignedCommand` (or its body
and signature as they arrived), or an unsigned command from library code, becomes an
`Admitted` value holding the command decoded once, the canonical bytes to journal and the
envelope it was signed in. Everything that can be judged without the exchange's state is
judged here, as one ladder in precedence order: form, the rules of a signed command, the
caller's receive window, the signature, and that an address is acted for unsigned only to be
credited. The exchange judges the nonce (its own window and record) and the body (the state).
Replay admits journaled bytes with `admit_entry`, which skips the signature (the hash chain has
protected the bytes since they were checked) unless auditing.
"""

from __future__ import annotations

from typing import NamedTuple

import msgspec

from tachyon.errors import BadSignature, InvalidInput, Unauthorized
from tachyon.exchange.auth import SIGNATURE_LENGTH, is_address, verify
from tachyon.exchange.commands import (
    AccountCommand,
    AnyCommand,
    Deposit,
    PlainCommand,
    Refused,
    SetOperator,
    SignedCommand,
    decode_command,
    decode_entry,
    decode_journaled,
    encode_command,
)
from tachyon.exchange.nonces import check_window


class Admitted(msgspec.Struct, frozen=True, gc=False):
    """A command that passed admission (build one only through this module): `command` is
    what the state machine applies (a signed command's body, decoded), `data` the canonical
    bytes the journal holds if it is accepted, `signed` the envelope it came in (None if it
    came unsigned: then a refusal by the state machine uses nothing and is not journaled)."""

    command: PlainCommand
    data: bytes
    signed: SignedCommand | None


class Window(NamedTuple):
    """A receive window to judge a signed command's nonce by, at admission: the node's, by
    its own clock (the exchange applies its own window, by the command's sequencer time)."""

    now_ns: int
    window_ms: int


def admit(command: AnyCommand) -> Admitted:
    """Admit what library code submits: a signed command (its signature checked), or an
    unsigned one, encoded and decoded back so the state machine applies exactly the values
    the journal will replay (a field of the wrong type is refused here)."""
    if type(command) is SignedCommand:
        return admit_signed(command.body, command.signature)
    data = encode_command(command)
    plain = decode_journaled(data)  # canonical: `encode_command` wrote it
    assert not isinstance(plain, SignedCommand), "an unsigned command decoded as a signed one"
    _check_unsigned(plain)
    return Admitted(plain, data, None)


def admit_signed(
    body: bytes,
    signature: bytes,
    *,
    window: Window | None = None,
    signature_checked: bool = False,
) -> Admitted:
    """Admit a signed command from its canonical body and signature, the ladder in precedence
    order; `window`, if given, the caller's (a node's gateway); `signature_checked`: the
    caller found this signature good already (a node checks an array frame's together)."""
    command = decode_command(body)
    _check_signed_form(command, signature)
    assert isinstance(command, AccountCommand)
    if window is not None:
        check_window(
            command.nonce,
            window.now_ns,
            window.window_ms,
            "the command's nonce",
            "the server's clock",
        )
    if not signature_checked:
        verify(command.account, body, signature)
    signed = SignedCommand(body, signature)
    return Admitted(command, encode_command(signed), signed)


def admit_entry(data: bytes, *, audit: bool) -> tuple[Admitted, str | None]:
    """A journal entry's command admitted again, and the code it was refused with when
    journaled (a `Refused` entry; None if it was accepted). Recovery trusts the bytes' form
    and signatures (checked before they were journaled; the chain protects them since);
    `audit` checks both again. InvalidInput, BadSignature or Unauthorized if not admissible."""
    entry = decode_entry(data, canonical=audit)
    code: str | None = None
    if isinstance(entry, Refused):
        code = entry.code
        entry = entry.signed
    if isinstance(entry, SignedCommand):
        command = (decode_command if audit else decode_journaled)(entry.body)
        _check_signed_form(command, entry.signature)
        assert isinstance(command, AccountCommand)
        if audit:
            verify(command.account, entry.body, entry.signature)
        return Admitted(command, data, entry), code
    _check_unsigned(entry)
    return Admitted(entry, data, None), code


def _check_signed_form(command: AnyCommand, signature: bytes) -> None:
    """What a signed command must be before its signature is worth checking."""
    if not isinstance(command, AccountCommand):
        raise InvalidInput(f"only account commands are signed, not {type(command).__name__}")
    if not is_address(command.account):
        raise InvalidInput(
            f"a signed command's account must be an address, not {command.account!r}"
        )
    if len(signature) != SIGNATURE_LENGTH:
        raise BadSignature(f"a signature is {SIGNATURE_LENGTH} bytes, not {len(signature)}")
    if command.nonce <= 0:
        raise InvalidInput(f"a signed command needs a nonce above 0, not {command.nonce}")


def _check_unsigned(command: PlainCommand) -> None:
    """An unsigned command's own rules: a nonce is never negative (0: none), and only a
    credit (the faucet, an on-ramp, an operator) reaches an address unsigned, with no nonce:
    the account's nonces are its key's alone."""
    if not isinstance(command, AccountCommand):
        return
    if command.nonce < 0:
        raise InvalidInput(f"nonce {command.nonce} must not be negative (0: no nonce)")
    if not is_address(command.account):
        return
    if type(command) is SetOperator:
        if command.nonce:
            raise Unauthorized(
                f"an unsigned operator assignment to {command.account} carries no nonce (nonce"
                f" {command.nonce}): only the account's key advances its nonce"
            )
        return  # the directory's own host names its operator (`node serve --operator`)
    if type(command) is not Deposit:
        raise Unauthorized(
            f"account {command.account} is a wallet address: only commands signed by its"
            " key act for it"
        )
    if command.nonce:
        raise Unauthorized(
            f"an unsigned deposit to {command.account} carries no nonce (nonce"
            f" {command.nonce}): only the account's key advances its nonce"
        )
