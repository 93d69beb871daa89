"""Registries: the one place where the names a params key may take are defined.

Each registry maps a name (`model.family: resnet`) to what it builds. The module that
defines an implementation registers it with a decorator; `config.py` takes the allowed
values from the registry, so adding a family, a loss, an encoding or a data source touches
only the module that defines it (and params.yaml / the README).
"""
from __future__ import annotations

from typing import Callable, TypeVar

from .errors import ConfigError

T = TypeVar("T")


class Registry:
    def __init__(self, key: str):
        self.key = key  # the params key whose values this registry defines, e.g. "model.family"
        self._entries: dict[str, object] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.key}: {name!r} is registered twice")
            self._entries[name] = obj
            return obj

        return deco

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def get(self, name: str):
        if name not in self._entries:
            raise ConfigError(f"{self.key}: {name!r} is not allowed; allowed values: {', '.join(self.names())}")
        return self._entries[name]
