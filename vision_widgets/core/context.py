"""What every service call needs: settings, the database and a clock."""
from __future__ import annotations

from dataclasses import dataclass, field

from vision_widgets.core.clock import Clock, utcnow
from vision_widgets.core.config import Settings, load_settings
from vision_widgets.core.storage.engine import Store


@dataclass(frozen=True)
class Context:
    """The services' dependencies, passed explicitly (no module-level state)."""

    settings: Settings
    store: Store
    clock: Clock = field(default=utcnow)

    @classmethod
    def open(cls, settings: Settings | None = None, clock: Clock = utcnow) -> "Context":
        """Open the configured database (creating/upgrading its schema)."""
        settings = settings or load_settings()
        return cls(settings=settings, store=Store.open(settings), clock=clock)

    def now(self):
        """The current time according to this context's clock (UTC)."""
        return self.clock()
