"""Goal: the gateway admits a signed command only with its account's signature over exactly its
bytes, and refuses every other with the reason, before anything reaches the sequencer (which
then trusts it): the exchange's admission plus the node's window and profile.
Method: real Ed25519 keys; `admit_command` called directly."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tachyon.dex import Side
from tachyon.errors import BadSignature, InvalidInput, OutsideReceiveWindow
from tachyon.exchange.admission import Admitted
from tachyon.exchange.auth import address_of, sign
from tachyon.exchange.commands import Deposit, PlaceLimit, SignedCommand, encode_command
from tachyon.node.errors import DepositsDisabled
from tachyon.node.gateway import admit_command, admit_many
from tests.node.support import b64

NOW = 1_700_000_000_000_000_000
KEY = Ed25519PrivateKey.generate()
ADDRESS = address_of(KEY)
BID = encode_command(PlaceLimit(ADDRESS, "BASE/USDC", Side.BID, 5, 1, nonce=NOW))


def _admit(body: bytes, signature: bytes, profile: str = "dev") -> Admitted:
    return admit_command(body, signature, now_ns=NOW, window_ms=5_000, profile=profile)


def test_a_command_signed_by_its_account_is_admitted() -> None:
    signature = sign(KEY, BID)
    admitted = _admit(BID, signature)
    assert admitted.command == PlaceLimit(ADDRESS, "BASE/USDC", Side.BID, 5, 1, nonce=NOW)
    assert admitted.signed == SignedCommand(BID, signature)
    assert admitted.data == encode_command(SignedCommand(BID, signature))  # what is journaled


@pytest.mark.parametrize(
    ("signature", "error", "words"),
    [
        (sign(Ed25519PrivateKey.generate(), BID), BadSignature, f"not {ADDRESS}'s"),
        (sign(KEY, BID + b"x"), BadSignature, f"not {ADDRESS}'s"),
        (sign(KEY, BID)[:-1], BadSignature, "64 bytes, not 63"),
        (bytes(64), BadSignature, f"not {ADDRESS}'s"),
    ],
)
def test_a_signature_not_the_accounts_over_these_bytes_is_refused(
    signature: bytes, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        _admit(BID, signature)


def test_the_cheap_checks_refuse_before_the_signature_is_checked() -> None:
    late = encode_command(PlaceLimit(ADDRESS, "BASE/USDC", Side.BID, 5, 1, nonce=NOW + 10**10))
    with pytest.raises(OutsideReceiveWindow, match=r"from the server's clock .* nothing was"):
        _admit(late, bytes(64))  # forged too: the window speaks first
    with pytest.raises(InvalidInput, match="must be an address"):
        _admit(encode_command(Deposit("someone", "USDC", 1, NOW)), bytes(64))
    deposit = encode_command(Deposit(ADDRESS, "USDC", 1, NOW))
    with pytest.raises(DepositsDisabled):
        _admit(deposit, sign(KEY, deposit), profile="prod")
    with pytest.raises(BadSignature):  # a forged deposit is refused for its signature first
        _admit(deposit, bytes(64), profile="prod")


def test_admit_many_runs_the_whole_ladder_for_each_request_of_a_frame() -> None:
    good = (b64(BID), b64(sign(KEY, BID)))
    forged = (b64(BID), b64(sign(Ed25519PrivateKey.generate(), BID)))
    unsigned_name = encode_command(Deposit("someone", "USDC", 1, NOW))
    deposit = encode_command(Deposit(ADDRESS, "USDC", 1, NOW))
    requests = [
        good,
        forged,
        ("%%", good[1]),
        (b64(b"junk"), good[1]),
        (b64(unsigned_name), good[1]),
        (b64(deposit), b64(sign(KEY, deposit))),
    ]
    results = admit_many(requests, now_ns=NOW, window_ms=5_000, profile="prod")
    first = results[0]
    assert isinstance(first, Admitted)
    assert first.command == PlaceLimit(ADDRESS, "BASE/USDC", Side.BID, 5, 1, nonce=NOW)
    assert [type(result).__name__ for result in results[1:]] == [
        "BadSignature",
        "InvalidInput",
        "InvalidInput",
        "InvalidInput",
        "DepositsDisabled",
    ]
    # The window is the node's, by the clock at the frame's admission.
    (late,) = admit_many([good], now_ns=NOW + 10**10, window_ms=5_000, profile="dev")
    assert isinstance(late, OutsideReceiveWindow)
