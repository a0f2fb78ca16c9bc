"""Goal: a node's refusals come back as the library's errors, and its decimal strings as exact
minor units; an answer outside the error schema is one StorageError naming the node and the
request. Method: `NodePort` over httpx's MockTransport scripted with the node's answers (the
real node is exercised end to end in tests/cli/test_node_client.py and tests/node)."""

from __future__ import annotations

import httpx2
import pytest

from tachyon import errors
from tachyon.client.decode import minor
from tachyon.client.node_port import NodePort
from tachyon.client.refusals import error_class, refusal


def test_refusals_come_back_as_their_library_errors() -> None:
    assert error_class("insufficient_funds") is errors.InsufficientFunds
    assert error_class("fill_or_kill_unfillable") is errors.FillOrKillUnfillable
    assert error_class("no_such_code") is None
    unknown = refusal("not_a_tachyon_code", "slow down")
    assert type(unknown) is errors.TachyonError
    assert (unknown.code, str(unknown)) == ("not_a_tachyon_code", "slow down")
    assert (minor("0", 6, "x"), minor("12.5", 6, "x"), minor("0.000001", 6, "x")) == (
        0,
        12_500_000,
        1,
    )
    with pytest.raises(errors.InvalidAmount):
        minor("1.0000001", 6, "x")


def test_a_node_answering_without_the_error_schema_is_a_storage_error() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/v1/time":
            return httpx2.Response(502, text="bad gateway")
        return httpx2.Response(
            409, json={"error": {"code": "stale_nonce", "message": "nonce 1 is not above 2"}}
        )

    with NodePort("http://node.test/", transport=httpx2.MockTransport(handler)) as client:
        with pytest.raises(errors.StorageError, match=r"http://node\.test answered GET /v1/time"):
            client.server_time_ns()
        with pytest.raises(errors.StaleNonce, match="nonce 1 is not above 2"):
            client.markets()
