"""A node's refusals as library errors: the `TachyonError` subclass whose `code` the node
answered (HTTP error schema or a stream's close reason), with the node's message, so a caller
sees what the embedded exchange would have raised."""

from __future__ import annotations

from tachyon import errors


def error_class(code: str) -> type[errors.TachyonError] | None:
    """The loaded `TachyonError` subclass whose `code` is `code`, if any."""
    pending: list[type[errors.TachyonError]] = [errors.TachyonError]
    while pending:
        cls = pending.pop()
        if cls.__dict__.get("code") == code:
            return cls
        pending.extend(cls.__subclasses__())
    return None


def refusal(code: str, message: str) -> errors.TachyonError:
    """The library error a node's refusal stands for (a `TachyonError` carrying the code when
    no loaded class has it)."""
    cls = error_class(code)
    if cls is not None:
        return cls(message)
    error = errors.TachyonError(message)
    error.code = code
    return error
