"""Exact conversion of what a card paid (a currency's minor units) into a token's minor units.

Pure. A currency is converted only into a token it is mapped to (by default: US dollars to
USDC, one to one), and only when the token has at least the currency's decimals, so that the
conversion multiplies by a power of ten and never rounds. Anything else is refused, naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from tachyon.dex.units import AMOUNT_MINOR_MAX, to_minor
from tachyon.errors import InvalidInput

# Stripe's currencies whose minor unit is not a hundredth (stripe.com/docs/currencies).
_ZERO_DECIMAL: Final = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
_THREE_DECIMAL: Final = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])

TOKENS_DEFAULT: Final[Mapping[str, str]] = {"usd": "USDC"}
"""Each currency the on-ramp accepts, and the token a payment in it credits (1 to 1)."""


class Unmapped(InvalidInput):
    """A currency or token the on-ramp has no exact conversion for: refused, never rounded."""

    code = "unmapped_currency"


def currency_decimals(currency: str) -> int:
    """How many decimals `currency`'s minor unit has, as Stripe counts them."""
    if currency in _ZERO_DECIMAL:
        return 0
    return 3 if currency in _THREE_DECIMAL else 2


def check_pair(currency: str, token: str, tokens: Mapping[str, str]) -> None:
    """Unmapped unless payments in `currency` credit `token`."""
    mapped = tokens.get(currency)
    if mapped is None:
        accepted = ", ".join(sorted(tokens)) or "none"
        raise Unmapped(f"currency {currency!r} is not accepted (accepted: {accepted})")
    if token != mapped:
        raise Unmapped(f"a payment in {currency} credits {mapped}, not {token!r}")


def rate(currency: str, token_decimals: int) -> int:
    """Token minor units per minor unit of `currency`: a power of ten, or Unmapped."""
    shift = token_decimals - currency_decimals(currency)
    if shift < 0:
        raise Unmapped(
            f"a token with {token_decimals} decimals cannot hold {currency}'s"
            f" {currency_decimals(currency)} exactly"
        )
    return int(10**shift)


def to_token_units(currency: str, minor: object, token_decimals: int) -> int:
    """`minor` units of `currency` as the token's minor units, exactly."""
    if type(minor) is not int or minor <= 0:
        raise InvalidInput(f"a payment of {minor!r} {currency} minor units must be above zero")
    units = minor * rate(currency, token_decimals)
    if units > AMOUNT_MINOR_MAX:
        raise InvalidInput(f"a payment of {minor} {currency} minor units is above the maximum")
    return units


def from_decimal_text(text: str, currency: str) -> int:
    """A decimal amount of `currency` ("100.00") in its minor units, exactly."""
    return to_minor(text, currency_decimals(currency), f"amount in {currency}")


def to_decimal_text(minor: int, currency: str) -> str:
    """`minor` units of `currency` with all its decimals ("100.00")."""
    decimals = currency_decimals(currency)
    whole, fraction = divmod(minor, 10**decimals)
    return f"{whole}.{fraction:0{decimals}d}" if decimals else str(whole)
