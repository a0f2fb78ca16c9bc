"""Run inside a private mount namespace whose DATA_DIR is a small tmpfs (see test_onramp): a
real `tachyon node serve` with the card on-ramp credits one session, the disk fills, a second
session's delivery cannot be recorded, the disk is freed and the same delivery is sent again
(as Stripe retries). Prints one JSON line: each delivery's status, and the balance the account
ends with after a restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx2

from tachyon.dex.ids import AccountId, TokenId
from tachyon.storage import EmbeddedExchange
from tests.node.server import free_port, wait_until_up
from tests.support.full_disk import fill
from tests.support.stripe_standin import API_KEY, WEBHOOK_SECRET, delivery, event

ACCOUNT = "cd" * 32


def _session(number: int) -> dict[str, object]:
    return {
        "id": f"cs_{number}", "object": "checkout.session", "amount_total": 1_000,
        "currency": "usd", "client_reference_id": ACCOUNT, "metadata": {},
        "payment_status": "paid", "payment_intent": f"pi_{number}",
    }  # fmt: skip


def _deliver(http: httpx2.Client, number: int) -> int:
    payload, headers = delivery(event("checkout.session.completed", _session(number), f"e{number}"))
    return http.post("/v1/onramp/stripe/webhook", content=payload, headers=headers).status_code


def _serving(exchange_dir: Path, port: int) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "tachyon", "node", "serve", "--data-dir", str(exchange_dir)]
    env = {**os.environ, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "STRIPE_API_KEY": API_KEY}
    return subprocess.Popen(
        [*argv, "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def main(data_dir: Path) -> None:
    exchange_dir = data_dir / "exchange"
    port = free_port()
    node = _serving(exchange_dir, port)
    statuses: dict[str, int] = {}
    filler = data_dir / "filler"
    with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=30.0) as http:
        wait_until_up(http, node)
        statuses["first"] = _deliver(http, 1)
        fill(filler)  # the disk full
        statuses["full"] = _deliver(http, 2)
        filler.unlink()
        statuses["retried"] = _deliver(http, 2)
    node.send_signal(signal.SIGTERM)
    node.communicate(timeout=60)
    port = free_port()
    node = _serving(exchange_dir, port)
    with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=30.0) as http:
        wait_until_up(http, node)
        statuses["after_restart"] = _deliver(http, 2)  # 200, applied already
        replayed = http.post(
            "/v1/onramp/stripe/webhook",
            content=delivery(event("checkout.session.completed", _session(2), "e2"))[0],
        ).status_code  # unsigned: refused
        statuses["unsigned"] = replayed
    node.send_signal(signal.SIGTERM)
    _, stderr = node.communicate(timeout=60)
    with EmbeddedExchange.open(exchange_dir) as reopened:
        usdc = reopened.balances(AccountId(ACCOUNT))[TokenId("USDC")].available
    answer = {**statuses, "usdc": usdc, "stderr": stderr.decode(errors="replace")}
    sys.stdout.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
