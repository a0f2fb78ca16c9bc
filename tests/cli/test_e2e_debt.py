"""Goal: an account that owes a reversed card payment sees its debt in `dex balance` (table and
JSON), is refused new orders and withdrawals naming what it owes (exit 1, nothing changed),
may cancel, and a deposit settles the debt first. Method: the installed `tachyon` on an
embedded exchange; the card payment and its refund are the on-ramp's commands submitted to the
same exchange by library code (as a node's webhook route submits them)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from tachyon.exchange.commands import CreditPayment, RefundPayment
from tachyon.storage import EmbeddedExchange
from tests.cli.helpers import REFUSED, Cli, assert_error

PASSWORD: Final = "debt-password-1"


def _on_the_exchange(cli: Cli, *commands: CreditPayment | RefundPayment) -> None:
    host = EmbeddedExchange.open(cli.exchange_dir)
    try:
        for command in commands:
            host.submit(command)
    finally:
        host.close()


def test_an_account_in_debt_sees_it_and_may_only_cancel_until_a_deposit_settles_it(
    tmp_path: Path,
) -> None:
    cli = Cli.fresh(tmp_path)
    wallet = ("--db-path", "~/w/payer", "--password", PASSWORD)
    address = cli.json("wallet", "create", *wallet, "--format", "json")["address"]
    cli.json("dex", "balance", *wallet, "--format", "json")  # the exchange exists now
    _on_the_exchange(
        cli, CreditPayment("evt_1", "cs_1", "pi_1", address, "USDC", 10_000_000, "usd", 1_000)
    )
    placed = cli.json(
        "dex", "place-limit", "--side", "bid", "--price", "2", "--qty", "4", *wallet,
        "--format", "json",
    )  # fmt: skip
    _on_the_exchange(cli, RefundPayment("evt_2", "pi_1", "usd", 1_000))  # all $10 back

    balances = cli.json("dex", "balance", *wallet, "--format", "json")["balances"]
    assert {"token": "USDC", "available": "0", "locked": "8", "debt": "8"} in balances
    assert {"token": "BASE", "available": "0", "locked": "0"} in balances
    table = cli.ok("dex", "balance", *wallet)
    assert "debt" in table
    for refused in (
        ("dex", "place-limit", "--side", "bid", "--price", "1", "--qty", "1"),
        ("dex", "withdraw", "--token", "USDC", "--amount", "1", "--to", "iban:X"),
    ):
        assert_error(cli.run(*refused, *wallet), REFUSED, "owes 8 USDC")
    assert cli.json("dex", "balance", *wallet, "--format", "json")["balances"] == balances

    cli.json("dex", "cancel", "--order-id", str(placed["order_id"]), *wallet, "--format", "json")
    settled = cli.json("dex", "deposit-usdc", "--amount", "3", *wallet, "--format", "json")
    assert settled["balances"] == [{"token": "USDC", "available": "8", "locked": "0", "debt": "5"}]
    cli.json("dex", "deposit-usdc", "--amount", "5", *wallet, "--format", "json")
    cli.json(
        "dex", "place-limit", "--side", "bid", "--price", "1", "--qty", "1", *wallet,
        "--format", "json",
    )  # fmt: skip
