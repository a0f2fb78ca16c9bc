"""Integer units and their bounds, and exact decimal-string <-> minor-unit conversion.

Pure: no I/O, no floats. A value that does not convert exactly is rejected, never rounded.
"""

from __future__ import annotations

import re
from typing import Final

from tachyon.errors import InvalidAmount

AMOUNT_MINOR_MAX: Final = 2**64 - 1
"""Largest token amount in minor units (the seed's u64 range); it bounds each token's supply."""

PRICE_MAX: Final = 2**64 - 1
"""Largest price, in quote minor units per whole base token."""

QTY_MAX: Final = 2**64 - 1
"""Largest order quantity, in base minor units."""

DECIMALS_MAX: Final = 18
"""Most decimals a token may have."""

BPS_DENOMINATOR: Final = 10_000
"""Fees are in basis points: 1 bps = 1 / 10,000."""

_DECIMAL_TEXT = re.compile(r"(?P<whole>[0-9]+)(?:\.(?P<frac>[0-9]+))?")


def check_positive_int(value: object, name: str, maximum: int) -> int:
    """Return `value` if it is an int in 1..maximum, else raise InvalidAmount naming the rule."""
    if type(value) is not int:
        raise InvalidAmount(f"{name} {value!r} is not an integer")
    if value <= 0:
        raise InvalidAmount(f"{name} {value} must be positive")
    if value > maximum:
        raise InvalidAmount(f"{name} {value} exceeds the maximum {maximum}")
    return value


def to_minor(
    text: str, decimals: int, name: str = "amount", maximum: int = AMOUNT_MINOR_MAX
) -> int:
    """Convert a decimal string in token units to a positive integer of minor units.

    "1.5" with 6 decimals is 1_500_000. Signs, exponents, spaces and excess decimals are refused.
    """
    assert 0 <= decimals <= DECIMALS_MAX
    match = _DECIMAL_TEXT.fullmatch(text)
    if match is None:
        raise InvalidAmount(f"{name} {text!r} is not a decimal number (expected digits like 12.5)")
    frac = (match["frac"] or "").rstrip("0")
    if len(frac) > decimals:
        raise InvalidAmount(
            f"{name} {text} has more than {decimals} decimal places"
            f" (smallest unit {to_decimal(1, decimals)})"
        )
    minor = int(match["whole"] + frac.ljust(decimals, "0"))
    if minor > maximum:  # said in the units the value was given in
        raise InvalidAmount(f"{name} {text} exceeds the maximum {to_decimal(maximum, decimals)}")
    return check_positive_int(minor, name, maximum)


def to_decimal(minor: int, decimals: int) -> str:
    """Render minor units as the shortest exact decimal string: 1_500_000 at 6 decimals is "1.5"."""
    assert 0 <= decimals <= DECIMALS_MAX
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**decimals)
    if decimals == 0 or frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{str(frac).rjust(decimals, '0').rstrip('0')}"
