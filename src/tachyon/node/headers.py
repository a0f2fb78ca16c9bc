"""The three headers of a signed read (and of a signed request with a body), as the OpenAPI
description shows them: each with the pattern the gateway enforces."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

from tachyon.node import schemas

AddressHeader = Annotated[
    str | None,
    Header(
        alias="X-Tachyon-Address",
        description="the signing account: 64 lowercase hex digits",
        json_schema_extra=schemas.ADDRESS_SCHEMA,
    ),
]
TimestampHeader = Annotated[
    str | None,
    Header(
        alias="X-Tachyon-Timestamp",
        description="nanoseconds since the epoch, near the server's clock",
        json_schema_extra=schemas.TIMESTAMP_SCHEMA,
    ),
]
SignatureHeader = Annotated[
    str | None,
    Header(
        alias="X-Tachyon-Signature",
        description="base64 Ed25519 signature of the read",
        json_schema_extra=schemas.BASE64_SCHEMA,
    ),
]
