"""``vision profile`` and ``vision drift`` (the statistics engine's CLI jobs)."""
from __future__ import annotations

import argparse


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the statistics sub-commands to the ``vision`` parser."""
