"""What the node's OpenAPI description tells its users (shown at /docs and /redoc): how to
sign, what the answers and errors look like, where the streams are. Written for people who
call the API, so it names no module of the implementation."""

from __future__ import annotations

from typing import Final

API_DESCRIPTION: Final = """
A tachyon exchange over HTTP and WebSocket. Amounts, prices and quantities are exact decimal
strings in token units (never floats); times are integers of nanoseconds since the epoch.

**Public reads** (`/v1/time`, `/v1/markets`, `/v1/tokens`, `/v1/orderbook`, `/v1/trades`)
need nothing.

**Commands** (orders, cancels, amends, deposits, withdrawals, and the operator's commands) are
signed by the account's Ed25519 key: `POST /v1/commands` with `{"body", "signature"}`, both
standard base64, where `body` is the command's canonical bytes and `signature` the key's
signature over them. Each command carries a nonce (nanoseconds near the server's clock) that
it uses once. A command is answered once it is durable. Many commands can be in flight over
one WebSocket at `/v1/ws/orders` (`{"id", "body", "signature"}` frames, or arrays of them).

**An account's own data** (`/v1/account/...`) is read with three headers:
`X-Tachyon-Address` (64 lowercase hex digits), `X-Tachyon-Timestamp` (nanoseconds) and
`X-Tachyon-Signature`, the base64 signature of `tachyon/read/v1\\n<METHOD> <path>\\n<timestamp>`
(the path without its query). A signed request with a body (the card checkout) appends a
newline and the body's bytes.

**Errors** have one shape, `{"error": {"code", "message"}}`: 400 invalid input, 401 missing
or bad signature, 403 another account's order or not the operator, 404 unknown market, token
or order, 409 refused by the state (funds, stale nonce, rejected order, debt), 413 too large,
429 over a rate limit (with `Retry-After`), 503 storage unavailable. A refused command changed
nothing.

**Streams**: `/v1/ws/market?market=BASE/USDC&channels=depth,trades` (a snapshot, then diffs
with update ids) and `/v1/ws/account` (signed as a read, in the query). Prometheus metrics are
at `/metrics`.

**Card payments**: `POST /v1/onramp/checkout` starts a Stripe Checkout; Stripe's deliveries
go to `POST /v1/onramp/stripe/webhook`.
""".strip()
