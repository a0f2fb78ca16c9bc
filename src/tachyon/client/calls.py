"""The requests `Client` and `AsyncClient` send, and how they read the answers: no I/O here,
so the two clients differ only in how they wait.

A command is built for the signer's account with a fresh nonce, encoded canonically
(`tachyon.exchange.commands.encode_command`), signed under the command domain and posted as
base64 `{"body", "signature"}`; an account read carries the signer's address, a timestamp and
a signature over `tachyon.client.signing.request_message`. Amounts go in as exact decimal
strings (or ints, or `Decimal`s) and become minor units with the market's decimals, refused
(never rounded) if they do not fit.
"""

from __future__ import annotations

import base64
import enum
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, TypeVar

from tachyon import errors
from tachyon.client.data import Market, Order, Placement, Stop, parse
from tachyon.client.refusals import refusal
from tachyon.client.signer import Signer
from tachyon.client.signing import request_message
from tachyon.dex.model import STP_DEFAULT, SelfTradePrevention, Side, TimeInForce
from tachyon.dex.units import to_minor
from tachyon.exchange.auth import SIGNING_DOMAIN
from tachyon.exchange.commands import (
    AccountCommand,
    AmendOrder,
    PlaceOrder,
    PlaceStop,
    encode_command,
)

Amount = str | int | Decimal
"""An amount in token units, exact: "12.5", 12 or Decimal("12.5") (never a float)."""
Params = dict[str, str | int]
E = TypeVar("E", bound=enum.StrEnum)
COMMANDS_PATH: Final = "/v1/commands"


@dataclass(frozen=True)
class Call:
    """One HTTP request to a node."""

    method: str
    path: str
    params: Params | None = None
    content: bytes | None = None
    headers: dict[str, str] | None = None


class Nonces:
    """A command's nonce: the clock in ns, strictly above the last one given (a clock set
    back, or a burst within one tick), as `tachyon.wallet.Wallet` makes them."""

    def __init__(self, clock: Callable[[], int] = time.time_ns) -> None:
        self._clock = clock
        self._last = 0

    def next(self) -> int:
        self._last = max(self._clock(), self._last + 1)
        return self._last


def public(path: str, params: Params | None = None) -> Call:
    return Call("GET", path, params)


def signed(
    signer: Signer | None,
    method: str,
    path: str,
    params: Params | None = None,
    body: bytes | None = None,
) -> Call:
    """A request of the signer's own account, signed now (a fresh timestamp: the node answers
    each signature once)."""
    who = need(signer)
    timestamp = str(time.time_ns())
    signature = who.sign(request_message(method, path, timestamp, body))
    headers = {
        "X-Tachyon-Address": who.address,
        "X-Tachyon-Timestamp": timestamp,
        "X-Tachyon-Signature": base64.b64encode(signature).decode(),
    }
    if body is not None:
        headers["Content-Type"] = "application/json"
    return Call(method, path, params, body, headers)


def signed_query(signer: Signer | None, path: str) -> dict[str, str]:
    """A stream's subscription query, signed now as a read of `GET path` (the account
    stream's: `address`, `timestamp`, `signature`)."""
    who = need(signer)
    timestamp = str(time.time_ns())
    signature = who.sign(request_message("GET", path, timestamp, None))
    return {
        "address": who.address,
        "timestamp": timestamp,
        "signature": base64.b64encode(signature).decode(),
    }


def command(signer: Signer | None, value: AccountCommand) -> Call:
    """`value` signed by `signer` (its account's), as `POST /v1/commands`."""
    body = encode_command(value)
    return envelope(body, need(signer).sign(SIGNING_DOMAIN + body))


def envelope(body: bytes, signature: bytes) -> Call:
    """A command's canonical bytes and signature, posted."""
    document = {
        "body": base64.b64encode(body).decode(),
        "signature": base64.b64encode(signature).decode(),
    }
    content = json.dumps(document).encode()
    return Call("POST", COMMANDS_PATH, None, content, {"Content-Type": "application/json"})


def need(signer: Signer | None) -> Signer:
    if signer is None:
        raise errors.Unauthorized("acting for an account, or reading it, needs its signer")
    return signer


def answer(url: str, call: Call, status: int, text: bytes) -> Any:
    """The JSON document of a successful answer; else the refusal it carries, raised as the
    library's error of its code, or one StorageError if it is not a tachyon answer."""
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if 200 <= status < 300 and isinstance(document, dict):  # noqa: PLR2004 (HTTP success)
        return document
    problem = document.get("error") if isinstance(document, dict) else None
    if (
        isinstance(problem, dict)
        and isinstance(problem.get("code"), str)
        and isinstance(problem.get("message"), str)
    ):
        raise refusal(problem["code"], problem["message"])
    raise errors.StorageError(
        f"the node at {url} answered {call.method} {call.path} with HTTP {status}"
        " and no tachyon answer"
    )


def units(value: Amount, decimals: int, name: str) -> int:
    """An exact amount in token units as minor units (InvalidAmount if it does not fit)."""
    if isinstance(value, float):  # a float is not exact: the ccxt layer converts its own
        raise errors.InvalidAmount(f"{name} {value!r} is a float; give a decimal string")
    text = format(Decimal(value), "f") if not isinstance(value, str) else value
    return to_minor(text, decimals, name)


def optional_units(value: Amount | None, decimals: int, name: str) -> int | None:
    return None if value is None else units(value, decimals, name)


def choice(kind: type[E], value: str, name: str) -> E:
    """`value` as one of `kind`'s members; InvalidInput naming them if it is none."""
    try:
        return kind(value)
    except ValueError:
        names = ", ".join(member.value for member in kind)
        raise errors.InvalidInput(f"{name} {value!r} is not one of {names}") from None


@dataclass(frozen=True, kw_only=True)
class OrderOptions:
    """What an order may carry besides its side, quantity and price (see `PlaceOrder`)."""

    max_quote: Amount | None = None
    tif: str = "gtc"
    post_only: bool = False
    stp: str | None = None
    display_qty: Amount | None = None
    expire_at_ns: int | None = None
    client_order_id: str | None = None


def place_order(
    address: str,
    market: Market,
    side: str,
    qty: Amount | None,
    price: Amount | None,
    options: OrderOptions,
    nonce: int,
) -> PlaceOrder:
    """A limit order (a price) or a market order (None) in `market`'s minor units."""
    base, quote = market.base_decimals, market.quote_decimals
    stp = choice(SelfTradePrevention, options.stp, "stp") if options.stp else STP_DEFAULT
    return PlaceOrder(
        address,
        market.market,
        choice(Side, side, "side"),
        optional_units(price, quote, "price"),
        optional_units(qty, base, "qty"),
        optional_units(options.max_quote, quote, "max_quote"),
        choice(TimeInForce, options.tif.lower(), "tif"),
        options.post_only,
        stp,
        optional_units(options.display_qty, base, "display_qty"),
        options.expire_at_ns,
        options.client_order_id,
        nonce,
    )


def place_stop(
    address: str,
    market: Market,
    side: str,
    trigger_price: Amount,
    qty: Amount | None,
    price: Amount | None,
    options: OrderOptions,
) -> PlaceStop:
    """A stop-limit (a price) or stop-market (None) order; of `options`, only `max_quote`
    (a stop-market bid's budget), `stp` and `client_order_id` apply to a stop."""
    base, quote = market.base_decimals, market.quote_decimals
    stp = choice(SelfTradePrevention, options.stp, "stp") if options.stp else STP_DEFAULT
    return PlaceStop(
        address,
        market.market,
        choice(Side, side, "side"),
        units(trigger_price, quote, "trigger_price"),
        optional_units(price, quote, "price"),
        optional_units(qty, base, "qty"),
        optional_units(options.max_quote, quote, "max_quote"),
        stp,
        options.client_order_id,
    )


def amend_order(
    address: str,
    market: Market | None,
    order_id: int | None,
    client_order_id: str | None,
    price: Amount | None,
    qty: Amount | None,
    stp: str | None,
) -> AmendOrder:
    """An amend of the order named by exactly one of its ids (`market`: its market, for the
    units of `price` and `qty`; None only when neither is given)."""
    if (order_id is None) == (client_order_id is None):
        raise errors.InvalidInput("name the order by exactly one of order_id, client_order_id")
    quote = 0 if market is None else market.quote_decimals
    base = 0 if market is None else market.base_decimals
    return AmendOrder(
        address,
        order_id,
        optional_units(price, quote, "price"),
        optional_units(qty, base, "qty"),
        choice(SelfTradePrevention, stp, "stp") if stp else STP_DEFAULT,
        client_order_id,
    )


def placed(answer: Any) -> Placement | Stop:
    """A placement's or a cancel's answer: a stop's shape when it named a stop."""
    if isinstance(answer, dict) and "trigger_price" in answer:
        return parse(Stop, answer)
    return parse(Placement, answer)


def market_of(order_id: int | None, open_orders: list[Order]) -> str:
    """The market of the open order `order_id` (an amend's units); InvalidInput for an order
    named by its client order id, whose market the caller must give; OrderNotFound if it is
    not open."""
    if order_id is None:
        raise errors.InvalidInput("amending by client order id with a price or qty needs market")
    for row in open_orders:
        if row.order_id == order_id:
            return row.market
    raise errors.OrderNotFound(f"order {order_id} is not among the account's open orders")
