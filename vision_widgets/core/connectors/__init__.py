"""Where a model's data comes from. Connector types register themselves by name.

One module per connector type (``local.py`` …); each registers itself with
``@register(name)`` when imported, and this package imports them all at the end
so ``available()`` lists every type.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Protocol

from vision_widgets.core.config import Settings
from vision_widgets.core.errors import InvalidInput

DATA_SUFFIXES = (".csv", ".parquet", ".pq")


class Connector(Protocol):
    """Turns a user's data reference into something ``client.profile`` can read."""

    name: str
    title: str

    def resolve(self, reference: str) -> Path: ...


_REGISTRY: dict[str, Callable[[Settings], Connector]] = {}


def register(name: str) -> Callable:
    """Class decorator: make a connector type available under ``name``."""

    def wrap(factory):
        _REGISTRY[name] = factory
        return factory

    return wrap


def available() -> tuple[str, ...]:
    """The registered connector names."""
    return tuple(_REGISTRY)


def get(name: str, settings: Settings) -> Connector:
    """An instance of connector ``name`` configured from ``settings``."""
    factory = _REGISTRY.get(name)
    if factory is None:
        raise InvalidInput(f"There is no connector named {name!r}; choose one of: {', '.join(_REGISTRY)}.")
    return factory(settings)


def demo_folder(settings: Settings) -> Path:
    """Where ``vision init --demo`` writes the demo data files."""
    return settings.home / "demo-data"


def allowed_roots(settings: Settings) -> tuple[Path, ...]:
    roots = list(settings.data_roots)
    demo = demo_folder(settings)
    if demo not in roots:
        roots.append(demo)
    return tuple(roots)


def named_roots(settings: Settings) -> tuple[tuple[str, Path], ...]:
    """The allowed roots with the names people use for them: the folder's own name (``data``,
    ``demo-data``), made unique with ``-2``, ``-3`` … Server paths stay on the server: a file is
    given as ``<name>/<path inside it>``, and messages name the folders, not where they are."""
    named: list[tuple[str, Path]] = []
    seen: set[str] = set()
    for root in allowed_roots(settings):
        base = root.name or "data"
        name, n = base, 1
        while name in seen:
            n += 1
            name = f"{base}-{n}"
        seen.add(name)
        named.append((name, root))
    return tuple(named)


# Importing a connector module registers it (kept last: it uses ``register`` above).
from vision_widgets.core.connectors import local  # noqa: E402,F401
