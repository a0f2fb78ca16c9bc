"""Goal: a real node process serves two wallets over loopback TCP and, on SIGTERM, drains,
snapshots and exits 0 (SIGINT likewise). Method: `serve` in a subprocess on a free 127.0.0.1 port; signed
requests over HTTP; the data directory reopened after the process is gone."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import httpx2
import pytest

from tachyon.dex import AccountId, Side, TokenId
from tachyon.errors import StorageError
from tachyon.exchange.commands import Deposit, PlaceLimit, PlaceMarket
from tachyon.node.serve import serve
from tachyon.storage import EmbeddedExchange
from tests.node.server import STOP_TIMEOUT_S, free_port, start_node, wait_until_up
from tests.node.support import MARKET, USDC, Trader, assert_error


@pytest.mark.network
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_real_node_trades_over_loopback_and_stops_cleanly(
    tmp_path: Path, stop: signal.Signals
) -> None:
    data_dir, port = tmp_path / "exchange", free_port()
    process = start_node(data_dir, port)
    try:
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as http:
            wait_until_up(http, process)
            alice, bob = Trader(http), Trader(http)
            alice.ok(Deposit(alice.address, "USDC", 1_000 * USDC, alice.nonce()))
            bob.ok(Deposit(bob.address, "BASE", 5, bob.nonce()))
            alice.ok(
                PlaceLimit(alice.address, MARKET, Side.BID, 100 * USDC, 3, nonce=alice.nonce())
            )
            ask = bob.ok(PlaceMarket(bob.address, MARKET, Side.ASK, 2, nonce=bob.nonce()))
            assert ask["status"] == "filled"
            assert alice.balances() == {"BASE": ("2", "0"), "USDC": ("700", "100")}
            assert bob.balances() == {"BASE": ("3", "0"), "USDC": ("200", "0")}
            assert_error(http.get("/v1/orderbook", params={"depth": 0}), 400, "invalid_request")
    finally:
        process.send_signal(stop)
        _, stderr = process.communicate(timeout=STOP_TIMEOUT_S)
    assert process.returncode == 0, stderr.decode()
    with EmbeddedExchange.open(data_dir) as host:
        assert host.recovered.snapshot_seq == host.seq  # written on the way out
        assert host.balances(AccountId(bob.address))[TokenId("USDC")].available == 200 * USDC


def test_a_node_that_cannot_open_its_data_directory_fails_to_start(tmp_path: Path) -> None:
    """Refused before the server starts: `serve` raises the exchange's error (the CLI prints
    it as one line) and serves nothing."""
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("not an exchange")
    port = free_port()
    with pytest.raises(StorageError, match="is not a directory"):
        serve(not_a_directory, port=port, log_level="warning")
    assert not_a_directory.read_text() == "not an exchange"
    with socket.socket() as again:  # the port was let go
        again.bind(("127.0.0.1", port))
