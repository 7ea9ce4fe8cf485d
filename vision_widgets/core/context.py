"""What every service call needs: settings, the database and a clock."""
from __future__ import annotations

from dataclasses import dataclass, field

from vision_widgets.core.clock import Clock, utcnow
from vision_widgets.core.config import Settings, load_settings
from vision_widgets.core.storage.engine import Store
from vision_widgets.core.storage.upgrade import upgrade as upgrade_schema


@dataclass(frozen=True)
class Context:
    """The services' dependencies, passed explicitly (no module-level state)."""

    settings: Settings
    store: Store
    clock: Clock = field(default=utcnow)

    @classmethod
    def open(cls, settings: Settings | None = None, clock: Clock = utcnow, *, upgrade: bool = False) -> "Context":
        """Open the configured database; ``ConfigurationError`` unless its schema is this code's.

        A kernel opens the database as ``vision init``/``vision serve`` left it.
        ``upgrade=True`` first creates or upgrades the schema, as ``vision init``
        does (the CLI, and tests that build a new database, ask for it).
        """
        settings = settings or load_settings()
        if upgrade:
            upgrade_schema(settings)
        return cls(settings=settings, store=Store.open(settings), clock=clock)

    def now(self):
        """The current time according to this context's clock (UTC)."""
        return self.clock()
