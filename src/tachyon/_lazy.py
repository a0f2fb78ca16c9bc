"""Lazy package exports (PEP 562), one way for every package that has heavy names.

A package binds its light names at import and names the heavy ones here (name -> module); each
loads on first use, and `__all__` (which `from package import *` reads) loads them all, so a
command that needs little of a package does not pay for the rest of it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping, Sequence


def exports(
    namespace: MutableMapping[str, object], lazy: Mapping[str, str], public: Sequence[str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The `__getattr__` and `__dir__` of the package whose globals are `namespace`: `lazy`
    maps each heavy name to the module it is defined in; `public` is the sorted `__all__`."""
    package = namespace["__name__"]

    def module_getattr(name: str) -> object:
        if name == "__all__":
            for each in lazy:
                module_getattr(each)
            namespace["__all__"] = list(public)
            return namespace["__all__"]
        module = lazy.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def module_dir() -> list[str]:
        return sorted({*namespace, *public})

    return module_getattr, module_dir
