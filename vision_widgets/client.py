"""Vision AI client: profile a dataset where it lives and send only aggregates.

This is ONE self-contained file. Its only dependencies are the standard
library, numpy and pandas (pyarrow optional, for Parquet), so a security
team can audit exactly what leaves a client's machine. The server imports
this same file, so a profile computed on a client's machine and one computed
on the server are identical by construction.
"""
from __future__ import annotations


class VisionError(Exception):
    """Root of every error Vision AI raises on purpose.

    Defined here, not in ``vision_widgets.core.errors``, because this file must
    stand alone on a client's machine; ``core.errors`` re-exports it so the
    whole package shares one hierarchy.
    """


class InvalidInput(VisionError, ValueError):
    """The data or request is not usable; the message says what to change."""
